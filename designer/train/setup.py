"""Pieces of the training engine that need no loop state: device, LR curve,
optimizer, loss, and checkpoint files (written atomically, read with ``weights_only``)."""

from __future__ import annotations

import contextlib
import math
import traceback
import weakref
from pathlib import Path
from typing import Any

import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write
from designer.base.safeio import regular_file, write_new_text
from designer.data.split import class_weights
from designer.model import policy as model_policy
from designer.model.build import Design
from designer.train.options import DEFAULT_LR, TrainOptions
from designer.zoo.weights import read_torch_file


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda > mps > cpu; asking for an absent device is a DesignerError."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DesignerError("No CUDA GPU is available on this machine.",
                            hint="Choose device 'auto' or 'cpu'.")
    if name == "mps" and not has_mps:
        raise DesignerError("Apple GPU (MPS) is not available on this machine.",
                            hint="Choose device 'auto' or 'cpu'.")
    return torch.device(name)


def memory_format(model: nn.Module, device: torch.device) -> torch.memory_format:
    """How a run lays out 4-D weights and images: channels-last (NHWC) on the CPU when the network has
    2-D convolutions, where oneDNN's kernels want it. EfficientNet-Lite0 at 64x64, one thread: a
    training step 2.0x faster at batch 8, 1.5-1.7x at 32, eval 1.3-1.4x (bench/bench_memory_format.py,
    two runs).
    Elsewhere the default layout (not measured here)."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return torch.channels_last if device.type == "cpu" and has_conv else torch.contiguous_format


def to_device(x: torch.Tensor, device: torch.device, fmt: torch.memory_format) -> torch.Tensor:
    """A batch on the run's device, in the run's layout when it is a batch of images."""
    if x.dim() == 4 and fmt is not torch.contiguous_format:
        return x.to(device, non_blocking=True, memory_format=fmt)
    return x.to(device, non_blocking=True)


def layout_of(model: nn.Module) -> torch.memory_format:
    """The layout the model's 4-D weights are in now (a caller may have chosen one), read from the
    strides: a depthwise or 1-input kernel (C x 1 x k x k) counts as contiguous either way, but its
    strides say which layout it was put in, and the kernels that run on it follow them."""
    for p in model.parameters():
        if p.dim() == 4:
            nhwc = torch.empty_like(p, memory_format=torch.channels_last).stride()
            nchw = torch.empty_like(p, memory_format=torch.contiguous_format).stride()
            if nhwc != nchw:
                return torch.channels_last if p.stride() == nhwc else torch.contiguous_format
    return torch.contiguous_format


@contextlib.contextmanager
def fast_layout(model: nn.Module, device: torch.device):
    """The model in ``memory_format``'s layout for a block (yields it), then back as it was; a model
    already in it is left alone. (EfficientNet-Lite0 with a 1-channel input has only C x 1 x k x k and
    1 x 1 kernels: the old stride test took it for contiguous and put a training run's channels-last
    model back in the default layout after stage 1, which changed stage 2's gradients in the 6th digit
    (LFW: 492.806465 against 492.8063) and a chaotic fine-tuning grew that into 0.94 against 0.99.)"""
    before, fmt = layout_of(model), memory_format(model, device)
    if before == fmt:
        yield fmt
        return
    model.to(memory_format=fmt)
    try:
        yield fmt
    finally:
        model.to(memory_format=before)


def weights(model: nn.Module) -> dict:
    """The model's state dict in the default layout, as checkpoints keep it (safetensors and other
    readers want contiguous tensors, whatever layout the run trained in)."""
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def schedule_factor(step: int, steps_per_epoch: int, options: TrainOptions) -> float:
    """Multiplier on every group's LR at optimizer step ``step`` (0-based): warmup, then schedule."""
    warmup = round(options.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    if options.schedule == "step":
        every = options.step_size or max(1, options.epochs // 3)
        return options.gamma ** ((step // max(1, steps_per_epoch)) // every)
    if options.schedule == "cosine":
        total = max(1, options.epochs * steps_per_epoch - warmup)
        progress = min(1.0, (step - warmup) / total)  # clamped: a resumed partial epoch may overrun
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


def is_out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", ())
    return isinstance(exc, oom) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))


def save_checkpoint(obj, path) -> None:
    atomic_write(Path(path), lambda tmp: torch.save(obj, tmp))


def load_checkpoint(path) -> dict:
    """A ``last.pt`` written by this engine (tensors and plain data only: ``weights_only``)."""
    regular_file(path, "checkpoint", hint="Pick the run's last.pt.")
    ckpt = read_torch_file(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt:
        raise DesignerError(f"'{path}' is not a training checkpoint (last.pt) from NetSurgeon.")
    problem = _checkpoint_problem(ckpt)
    if problem:  # a run folder from elsewhere: every field is checked before the engine uses it
        raise DesignerError(f"The checkpoint '{path}' is damaged: {problem}.",
                            hint="Resume another run, or start a new one.")
    saved = ckpt.get("best")
    best = saved if isinstance(saved, dict) else {}
    return {**ckpt,
            "best": {"val_acc": _number(best.get("val_acc")), "epoch": _whole(best.get("epoch")) or 0},
            "history": [_record(r) for r in ckpt.get("history") or [] if isinstance(r, dict)
                        and _whole(r.get("epoch")) is not None]}


MAX_EPOCH = 1_000_000


def _checkpoint_problem(ckpt: dict) -> str:
    model = ckpt["model"]
    if not isinstance(model, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              and v.layout == torch.strided for k, v in model.items()):
        return "its 'model' entry is not a set of weight tensors"
    if _whole(ckpt["epoch"]) is None:
        return f"its epoch is not a whole number from 0 to {MAX_EPOCH:,}"
    for key in ("optimizer", "scheduler", "scaler", "best"):
        if ckpt.get(key) is not None and not isinstance(ckpt[key], dict):
            return f"its '{key}' entry is not a set of values"
    if not isinstance(ckpt.get("history") or [], list):
        return "its 'history' entry is not a list"
    step = (ckpt.get("scheduler") or {}).get("global_step", 0)
    if _whole(step, 10**12) is None:
        return "its step count is not a whole number"
    return ""


def _whole(value, most: int = MAX_EPOCH) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most
    return value if ok else None


def _number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _record(record: dict) -> dict:
    """One epoch's record with only plain, finite values (numbers, short text) kept."""
    out: dict[str, str | bool | int | float | None] = {}
    for key, value in list(record.items())[:64]:
        if not isinstance(key, str):
            continue
        if isinstance(value, str):
            out[key] = value[:200]
        elif isinstance(value, bool) or value is None:
            out[key] = value
        elif isinstance(value, int):
            out[key] = value if abs(value) <= 10**15 else None
        elif isinstance(value, float):
            out[key] = value if math.isfinite(value) else None
    return out



def lr_ceiling(options: TrainOptions, lr: float | None = None) -> float:
    """The highest rate an LR factor may give a layer: the optimizer's from-scratch rate (SGD 0.01, Adam
    0.001), or the run's own rate when it is set higher. x10 on the head of a fine-tune at 0.001 gives
    0.01, as the textbook preset means; x10 at the recommended mode's 0.01 would give 0.1, which drove
    stage 2's loss from 0.08 to 3-10 for the whole run (the README's own example), so it stays at 0.01."""
    lr = options.resolved_lr if lr is None else lr
    return max(lr, DEFAULT_LR.get(options.optimizer, lr))


def make_optimizer(model: nn.Module, policy, options: TrainOptions, lr: float) -> torch.optim.Optimizer:
    """Optimizer over the trainable parameters: the policy's groups (LR factors), or one group."""
    wd = options.weight_decay
    groups: list[dict[str, Any]]  # torch's param-group dicts: params, lr, name, weight_decay
    if policy is None:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr, "name": "all"}]
    else:
        groups = model_policy.param_groups(model, policy, lr, wd)
    groups = [g for g in groups if g["params"]]  # frozen parameters never reach the optimizer
    ceiling = lr_ceiling(options, lr)
    for g in groups:  # an LR factor never lifts a layer past a safe rate (see lr_ceiling)
        g["lr"] = min(g["lr"], ceiling)
    if not groups:
        raise DesignerError("Nothing to train: every layer is frozen.",
                            hint="Unfreeze at least the classifier.")
    for g in groups:
        g.setdefault("weight_decay", wd)
    if options.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=options.momentum, weight_decay=wd)
    cls = torch.optim.Adam if options.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=lr, weight_decay=wd)


def amp_dtype(options: TrainOptions, device: torch.device):
    """Autocast dtype, or None: mixed precision only pays (and is only safe) on CUDA here."""
    if not options.amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def make_criterion(options: TrainOptions, class_counts, device) -> nn.Module:
    weight = None
    if options.class_weights and class_counts:
        weight = torch.tensor(class_weights(list(class_counts)), dtype=torch.float32, device=device)
    return nn.CrossEntropyLoss(weight=weight)


def reset_parameters(model: nn.Module) -> None:
    """Re-initialise every layer that knows how: a true from-scratch baseline."""
    for module in model.modules():
        reset: Any = getattr(module, "reset_parameters", None)  # a layer's own, where it has one
        if callable(reset):
            reset()


_POLICIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (recipe, its policy)


def policy_of(recipe, model: nn.Module):
    """The recipe's freeze/LR-factor policy on ``model``, resolved once per (recipe, model): a run
    asks for it from the plan's words, stage 1, the engine and the launcher, and the recipe's
    policy ops are replayed only the first time."""
    cached = _POLICIES.get(model)
    if cached is not None and cached[0] is recipe:
        return cached[1]
    policy = model_policy.resolve_policy(recipe, model)
    _POLICIES[model] = (recipe, policy)
    return policy


def apply_policy(design: Design, model: nn.Module, mode: str):
    """Set ``requires_grad`` on ``model`` as the design's policy says (every layer trains in the
    scratch mode and for a design without a recipe); returns the policy, or None for one LR."""
    recipe = getattr(design, "recipe", None)
    if recipe is None or mode == "scratch":
        for p in model.parameters():
            p.requires_grad_(True)
        return None
    policy = policy_of(recipe, model)
    model_policy.apply_freeze(model, policy)
    return policy


def check_split(design: Design, split) -> None:
    num_classes = getattr(design, "num_classes", None)
    if num_classes is not None and num_classes != len(split.classes):
        raise DesignerError(
            f"The network has {num_classes} outputs but the data has {len(split.classes)} classes.",
            hint=f"Replace the classifier for {len(split.classes)} classes.")
    if len(split.train) < 2:
        raise DesignerError("Training needs at least 2 training images.", hint="Add images to the folder.")


def oom_message(device: torch.device, options: TrainOptions) -> tuple[str, str]:
    bs = options.batch_size
    extra = " or mixed precision" if device.type == "cuda" and not options.amp else ""
    return (f"Ran out of memory on {device} with batch size {bs}.",
            f"Try a smaller batch size (e.g. {max(1, bs // 2)}), a smaller input size{extra}.")


def log_traceback(run_dir: Path) -> None:
    """The full traceback goes to run_dir/error.log for developers; the user sees one line."""
    with contextlib.suppress(OSError, ValueError):  # a run folder from elsewhere may hold a planted link
        run_dir.mkdir(parents=True, exist_ok=True)
        write_new_text(run_dir / "error.log", traceback.format_exc())


def logits(out):
    """Some torchvision models return (logits, aux...) tuples in train mode."""
    return out[0] if isinstance(out, (tuple, list)) else out
