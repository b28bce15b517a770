"""The script's training loop: one process or DDP, events, schedule, pacing, loaders, checkpoints.

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Subset

from designer.codegen.templates.data import (
    ImageFiles,
    class_weights,
    collate_loaded,
    load_datasets,
)
from designer.codegen.templates.modes import (
    settle,
)
from designer.codegen.templates.names import (
    CLASSES,
    DEFAULT_LR,
    GAMMA,
    STEP_SIZE,
)
from designer.codegen.templates.policy import (
    layout,
    param_groups,
    to_input,
    weights_of,
)

# --- the script: everything below this line is copied into it ---


EVENT_INTERVAL_S = 0.25  # with --events: a 'batch' event at most this often

def setup_distributed(device_name: str) -> tuple[torch.device, int, int]:
    """Under torchrun, join the process group (nccl on GPUs, gloo on CPU); else one process."""
    use_cuda = torch.cuda.is_available() and device_name != "cpu"
    if device_name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but PyTorch sees no CUDA GPU here.")
    if "RANK" not in os.environ:
        return torch.device("cuda" if use_cuda else "cpu"), 0, 1
    if use_cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    else:
        dist.init_process_group("gloo")
        device = torch.device("cpu")
    return device, dist.get_rank(), dist.get_world_size()


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum numbers over all processes (a no-op on one process)."""
    total = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(total)
    return total.tolist()


class Events:
    """Text for people; with --events, process 0 prints JSON events on stdout, text on stderr."""

    def __init__(self, enabled: bool, rank: int):
        self.enabled, self.rank = enabled and rank == 0, rank
        self.text = sys.stderr if enabled else sys.stdout

    def say(self, line: str) -> None:
        if self.rank == 0:
            print(line, file=self.text, flush=True)

    def emit(self, kind: str, **fields) -> None:
        if self.enabled:
            print(json.dumps({"kind": kind, **fields}), flush=True)


def stop_requested(stop_file: str | None, device: torch.device) -> bool:
    """True on every process once --stop-file exists (process 0 looks, all agree)."""
    if not stop_file:
        return False
    looks = not dist.is_initialized() or dist.get_rank() == 0
    seen = 1.0 if looks and os.path.exists(stop_file) else 0.0
    return all_sum([seen], device)[0] > 0


def trainable_groups(model: nn.Module, args) -> list[dict]:
    """The optimizer's groups. From scratch every layer trains at one rate (as in the app: the
    design's freezing and LR factors are for fine-tuning); else FROZEN and LR_FACTORS apply, and no
    factor lifts a layer above the from-scratch rate (x10 on the head at 0.01 diverges)."""
    if args.mode == "scratch":
        model.requires_grad_(True)
        names, params = zip(*model.named_parameters(), strict=True)
        return [{"params": list(params), "param_names": list(names), "lr": args.lr,
                 "weight_decay": args.weight_decay}]
    groups = param_groups(model, args.lr, args.weight_decay)
    ceiling = max(args.lr, DEFAULT_LR[args.optimizer])
    for group in groups:
        group["lr"] = min(group["lr"], ceiling)
    return groups


def reset_parameters(model: nn.Module) -> None:
    """Re-initialise every layer that knows how: the from-scratch mode's start."""
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()


def schedule_factor(args, steps_per_epoch: int):
    """The LR multiplier at each step: warm-up, then constant, step or cosine (to --epochs)."""

    def factor(step: int) -> float:
        warmup = round(args.warmup_epochs * steps_per_epoch)
        if step < warmup:
            return (step + 1) / warmup
        if args.schedule == "step":
            return GAMMA ** (step // ((STEP_SIZE or max(1, args.epochs // 3)) * steps_per_epoch))
        if args.schedule == "cosine":
            total = max(1, args.epochs * steps_per_epoch - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / total)))
        return 1.0

    return factor


def run_epoch(model, loader, criterion, device, optimizer=None, scheduler=None, amp=False,
              after_step=None):
    """One pass (training with an optimizer): (loss, accuracy, stopped) over all processes; it
    stops after a training step at which ``after_step(step, loss_sum, correct, seen)`` is True."""
    loss_sum, correct, seen, stopped, fmt = 0.0, 0, 0, False, layout(model, device)
    with torch.set_grad_enabled(optimizer is not None):
        for step, batch in enumerate(loader, 1):
            if batch is None:  # every image of this batch failed to load
                continue
            images, labels = batch
            images = to_input(images, device, fmt)
            labels = labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(images)
                loss = criterion(logits.float(), labels)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
            loss_sum += loss.item() * labels.numel()
            correct += (logits.argmax(1) == labels).sum().item()
            seen += labels.numel()
            if after_step is not None and after_step(step, loss_sum, correct, seen):
                stopped = True
                break
    total_loss, total_correct, total_seen = all_sum([loss_sum, correct, seen], device)
    return total_loss / max(total_seen, 1), total_correct / max(total_seen, 1), stopped


class BatchReports:
    """After each step: a 'batch' event now and then, and whether to stop (--stop-file)."""

    def __init__(self, args, events: Events, steps: int, world_size: int, device: torch.device):
        self.args, self.events, self.steps = args, events, steps
        self.world_size, self.device, self.last = world_size, device, 0.0

    def begin(self, epoch: int, global_step: int, lr) -> None:
        self.epoch, self.global_step, self.lr = epoch, global_step, lr
        self.start = time.perf_counter()

    def __call__(self, step: int, loss_sum: float, correct: int, seen: int) -> bool:
        now = time.perf_counter()
        if step in (1, self.steps) or now - self.last >= EVENT_INTERVAL_S:
            self.last = now
            self.events.emit("batch", epoch=self.epoch, step=step, steps_per_epoch=self.steps,
                             global_step=self.global_step + step, loss=loss_sum / seen,
                             acc=correct / seen, lr=self.lr(self.global_step + step - 1), eta_s=0.0,
                             images_per_s=seen * self.world_size / max(now - self.start, 1e-9))
        return stop_requested(self.args.stop_file, self.device)


class Pacing:
    """When to validate (about --val-budget of the time, and after the last epoch) and when to
    stop early: once this stage's best is --patience validations and --patience-fraction of the
    epochs old."""

    def __init__(self, args, epochs_done: int):
        self.args, self.last, self.since_best = args, epochs_done, 0
        self.val_s: float | None = None  # what the last validation took

    def validate_now(self, epoch: int, train_s: float, device: torch.device) -> bool:
        budget = self.args.val_budget
        due = epoch >= self.args.epochs or budget >= 1 or self.val_s is None or (
            (epoch - self.last) * train_s >= self.val_s * (1 - budget) / budget)
        return all_sum([float(due)], device)[0] > 0  # one process due: all validate together

    def validated(self, epoch: int, seconds: float, improved: bool) -> None:
        self.last, self.val_s = epoch, seconds
        self.since_best = 0 if improved else self.since_best + 1

    def stop_early(self, epoch: int, best_epoch: int) -> bool:
        args = self.args
        if not args.patience or epoch >= args.epochs or self.since_best < args.patience:
            return False
        return epoch - best_epoch >= args.patience_fraction * args.epochs


def make_loaders(args, rank: int, world_size: int):
    """The loaders, a shard per process; one process shuffles as the app does."""
    train_set, val_set, notes = load_datasets(args)
    settle(args, len(train_set))
    sampler: DistributedSampler | None = None
    generator: torch.Generator | None = None
    if world_size > 1:
        sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, seed=args.seed)
    else:
        generator = torch.Generator().manual_seed(args.seed)
    val_shard = Subset(val_set, range(rank, len(val_set), world_size))
    shard, batch_size = len(sampler) if sampler else len(train_set), args.batch_size
    drop_last = shard > batch_size and shard % batch_size == 1  # BatchNorm needs 2+
    train_loader = DataLoader(train_set, batch_size, shuffle=sampler is None, sampler=sampler,
                              generator=generator, num_workers=args.workers, drop_last=drop_last,
                              pin_memory=torch.cuda.is_available(), collate_fn=collate_loaded)
    val_loader = DataLoader(val_shard, batch_size, num_workers=args.workers,
                            collate_fn=collate_loaded)
    return train_loader, val_loader, train_set, val_set, notes


def shuffle_epoch(loader: DataLoader, seed: int, epoch: int) -> None:
    """Each epoch's order and random draws come from seed + epoch, as in the app."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    elif loader.generator is not None:
        loader.generator.manual_seed(seed + epoch)
    torch.manual_seed(seed + epoch)


def make_criterion(args, train_set: ImageFiles, device: torch.device) -> nn.Module:
    """Cross-entropy; with --class-weights, classes weigh by inverse frequency (mean 1)."""
    if not args.class_weights:
        return nn.CrossEntropyLoss()
    return nn.CrossEntropyLoss(weight=torch.tensor(class_weights(train_set), device=device))


def report_skipped(events: Events, skipped: list, shown: int = 10) -> None:
    """Say which files were left out and why (the app lists the same ones)."""
    if not skipped:
        return
    events.say(f"Skipped {len(skipped)} file(s) that are not usable images:")
    for path, reason in skipped[:shown]:
        events.say(f"  {path}: {reason}")
    if len(skipped) > shown:
        events.say(f"  ... and {len(skipped) - shown} more")


def save_file(obj, path: Path) -> None:
    """torch.save to a temporary file first, so a crash never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def checkpoint(model, optimizer, state: dict) -> dict:
    """What last.pt holds to continue the run with --resume (the same keys as the app's)."""
    return {"model": weights_of(model), "optimizer": optimizer.state_dict(),
            "scheduler": {"global_step": state["global_step"]}, "epoch": state["epoch"],
            "best": dict(state["best"]), "history": list(state["history"]), "classes": CLASSES}


def seek(optimizer, scheduler, factor, step: int) -> None:
    """Put the schedule at ``step`` (a resumed run, or a restart after divergence)."""
    scheduler.last_epoch = step
    for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base_lr * factor(step)


def resume_from(path: str, model, optimizer, scheduler, factor, events: Events) -> dict:
    """Continue from last.pt: weights, optimizer, schedule position, best and history."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(saved["model"])
    names = [group.get("param_names") for group in saved["optimizer"]["param_groups"]]
    if names == [group["param_names"] for group in optimizer.param_groups]:
        optimizer.load_state_dict(saved["optimizer"])
    else:
        events.say("Note: the checkpoint's optimizer state is for other layers; it starts afresh.")
    step = int(saved["scheduler"]["global_step"])
    seek(optimizer, scheduler, factor, step)
    return {"epoch": int(saved["epoch"]), "global_step": step, "best": dict(saved["best"]),
            "history": list(saved.get("history", []))}
