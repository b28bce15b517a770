"""The app's modes in the script: the settings they decide, the recommended plan, stage 1
(features once and an L-BFGS logistic fit) and stage 2's guards (``designer.train.guards``).

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

from designer.codegen.templates.data import (
    ImageFiles,
    class_weights,
    collate_loaded,
)
from designer.codegen.templates.names import (
    DEFAULT_LR,
    FULL_RATE_MODES,
    GUARDS,
    HEAD,
    L2_GRID,
    LR_DIVISOR,
    NUM_CLASSES,
    PACING,
    PLAN,
    PLANNED,
    SETTINGS,
)
from designer.codegen.templates.policy import (
    layout,
)

# --- the script: everything below this line is copied into it ---


def settle(args, num_train: int) -> None:
    """Each setting not given as a flag: SETTINGS, or planned from the data as the app plans the
    recommended mode's stage 2 (those in PLANNED); then the mode's PACING."""
    if args.lr is None:  # the app's default: the from-scratch rate, a tenth of it to fine-tune
        rate = DEFAULT_LR[args.optimizer]
        args.lr = SETTINGS["lr"] or (rate if args.mode in FULL_RATE_MODES else rate / LR_DIVISOR)
    planned = {name for name in PLANNED if args.mode == "recommended"
               and getattr(args, name) is None}
    pacing = zip(("val_budget", "patience", "patience_fraction", "max_minutes"), PACING[args.mode],
                 strict=True)
    for name, value in [*SETTINGS.items(), *pacing]:  # what neither a flag nor the plan set
        if getattr(args, name) is None and name not in planned:
            setattr(args, name, value)
    if "batch_size" in planned:
        tiny = max(PLAN["min_batch"], num_train // PLAN["steps_per_tiny_epoch"])
        args.batch_size = max(1, min(SETTINGS["batch_size"], tiny))
    if "epochs" in planned:
        wanted = math.ceil(PLAN["images"] / max(1, num_train))
        args.epochs = max(PLAN["min_epochs"], min(PLAN["max_epochs"], wanted))
    if "warmup_epochs" in planned:
        per_epoch = steps_per_epoch(num_train, args.batch_size)
        total = args.epochs * per_epoch
        warmup = max(PLAN["min_warmup_steps"], round(PLAN["warmup_fraction"] * total))
        args.warmup_epochs = min(total, warmup) / per_epoch
    if "schedule" in planned:
        args.schedule = "cosine"


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    """Optimizer steps in one epoch (a last batch of one image is dropped: BatchNorm)."""
    drop_last = num_train > batch_size and num_train % batch_size == 1
    return max(1, num_train // batch_size if drop_last else math.ceil(num_train / batch_size))


@torch.no_grad()
def features(model: nn.Module, dataset: ImageFiles, device: torch.device, args):
    """(HEAD's inputs, labels) in eval mode, in the app's batches (they round apart), or Nones."""
    if not len(dataset):
        return None, None
    seen, labels, fmt = [], [], layout(model, device)
    batch_size = 32 if device.type == "cpu" else max(args.batch_size, 64)
    loader = DataLoader(dataset, batch_size, num_workers=args.workers, collate_fn=collate_loaded)
    hook = model.get_submodule(HEAD).register_forward_pre_hook(
        lambda _, inputs: seen.append(inputs[0].flatten(1).float().cpu()))
    model.eval()
    try:
        for batch in loader:
            if batch is not None:
                model(batch[0].to(device, non_blocking=True, memory_format=fmt))
                labels.append(batch[1])
    finally:
        hook.remove()
    return torch.cat(seen), torch.cat(labels)


def logistic_fit(x, y, l2: float, scale: float, weight=None):
    """Multinomial logistic regression by L-BFGS in float64 on x / scale: (weight, bias)."""
    x = x.double() / scale
    w = torch.zeros(NUM_CLASSES, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(NUM_CLASSES, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], lr=1, max_iter=200, history_size=20, tolerance_grad=1e-6,
                                  tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(x @ w.T + b, y, weight=weight) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return (w.detach() / scale).float(), b.detach().float()


def score(weight, bias, x, y, split: str) -> dict:
    """The loss and accuracy of a Linear head on ``split``'s features (None without any)."""
    if x is None:
        return {f"{split}_loss": None, f"{split}_acc": None}
    logits = x @ weight.T + bias
    loss = nn.functional.cross_entropy(logits, y).item()
    return {f"{split}_loss": loss, f"{split}_acc": int((logits.argmax(1) == y).sum()) / len(y)}


def fit_head(args, model: nn.Module, train_set, val_set, device: torch.device) -> dict:
    """Stage 1: fit HEAD on features for each L2 in L2_GRID, keep the best; epoch 0's record."""
    start, eval_train = time.perf_counter(), ImageFiles(train_set.samples, train=False)
    train_x, train_y = features(model, eval_train, device, args)
    val_x, val_y = features(model, val_set, device, args)
    scale = float(train_x.double().pow(2).mean().sqrt().clamp_min(1e-12))
    weight = (torch.tensor(class_weights(train_set), dtype=torch.float64) if args.class_weights
              else None)
    fits = []
    for l2 in L2_GRID:
        w, b = logistic_fit(train_x, train_y, l2, scale, weight)
        fits.append({"w": w, "b": b, "l2": l2, **score(w, b, train_x, train_y, "train"),
                     **score(w, b, val_x, val_y, "val")})
    # the best on validation (the first of equals), or on training without validation images
    on = "val" if val_x is not None else "train"
    best = max(fits, key=lambda fit: (fit[f"{on}_acc"], -fit[f"{on}_loss"]))
    model.get_submodule(HEAD).load_state_dict({"weight": best.pop("w"), "bias": best.pop("b")})
    seconds = time.perf_counter() - start
    return {"epoch": 0, "stage": "head", **best, "lr": 0.0, "epoch_time_s": seconds}


def diverged(history: list[dict], warmup_done: bool) -> bool:
    """Stage 2's last epochs, all after the warm-up, had a runaway (or non-finite) loss."""
    limit = GUARDS["diverged_x"] * math.log(max(2, NUM_CLASSES))
    recent = [r["train_loss"] for r in history if r["epoch"] > 0][-int(GUARDS["diverged_epochs"]):]
    return warmup_done and len(recent) == GUARDS["diverged_epochs"] and all(
        loss is not None and (not math.isfinite(loss) or loss > limit) for loss in recent)


def losing(history: list[dict], done_steps: int, total_steps: int) -> bool:
    """Validated past GUARDS["losing_after"] of the steps, and still well below stage 1."""
    head = history[0]["val_acc"] if history and history[0]["epoch"] == 0 else None
    tuned = [r["val_acc"] for r in history if r["epoch"] > 0 and r["val_acc"] is not None]
    if head is None or not tuned or history[-1]["val_acc"] is None:
        return False
    late = done_steps >= GUARDS["losing_after"] * total_steps
    return late and max(tuned) < head - GUARDS["losing_margin"]
