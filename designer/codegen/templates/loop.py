"""The script's training loop: one process or DDP, events, schedule, pacing, loaders, checkpoints.

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Subset

from designer.codegen.templates.data import (
    collate_loaded,
    load_datasets,
)
from designer.codegen.templates.modes import (
    settle,
)
from designer.codegen.templates.names import (
    GAMMA,
    STEP_SIZE,
)

# --- the script: everything below this line is copied into it ---


EVENT_INTERVAL_S = 0.25  # with --events: a 'batch' event at most this often


def setup_distributed(device_name: str) -> tuple[torch.device, int, int]:
    """Under torchrun, join the process group (nccl on GPUs, gloo on CPU); else one process."""
    if device_name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but PyTorch sees no CUDA GPU here.")
    use_cuda = torch.cuda.is_available() and device_name != "cpu"
    if "RANK" not in os.environ:
        return torch.device("cuda" if use_cuda else "cpu"), 0, 1
    device = torch.device("cpu")
    if use_cuda:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return device, dist.get_rank(), dist.get_world_size()


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum numbers over all processes (a no-op on one process)."""
    total = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(total)
    return total.tolist()


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


def make_loaders(args, rank: int, world_size: int):
    """The loaders, a shard per process; one process shuffles as the app does."""
    train_set, val_set, notes = load_datasets(args)
    settle(args, len(train_set))
    sampler: DistributedSampler | None = DistributedSampler(
        train_set, num_replicas=world_size, rank=rank, seed=args.seed) if world_size > 1 else None
    generator = None if sampler else torch.Generator().manual_seed(args.seed)
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


def save_file(obj, path: Path) -> None:
    """torch.save to a temporary file first, so a crash never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
