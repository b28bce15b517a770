"""Training engine overhead: our ``train_loaders`` vs a plain hand-written PyTorch loop.

Same model (torchvision resnet18, weights=None), same synthetic in-memory data,
same optimizer (SGD, momentum 0.9), same batch size. Each variant runs in its own
subprocess so peak RSS is not polluted by the other; the peak is measured as
``ru_maxrss`` at the end minus the RSS just before the first training step
(model and data already built). Throughput is the batch size over the median step time after warmup
(robust to hiccups from other processes).

    .venv/bin/python bench/bench_engine.py [--size 112] [--steps 10] [--warmup 3] [--repeats 2]

Targets: engine >= 0.97x the plain loop's images/s, <= 1.1x its peak-memory growth.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_setup(size: int, batch: int, steps: int):
    import torch
    import torchvision
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    n = steps * batch
    data = TensorDataset(torch.randn(n, 3, size, size), torch.randint(0, 10, (n,)))
    val = TensorDataset(torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,)))
    gen = torch.Generator().manual_seed(0)
    loader = DataLoader(data, batch_size=batch, shuffle=True, generator=gen)
    return model, loader, DataLoader(val, batch_size=batch)


def run_plain(model, loader) -> list[float]:
    """The loop a PyTorch user writes by hand (with the customary loss.item() per batch), in the
    memory layout the engine picks (channels-last on the CPU): the ratio is the engine's overhead."""
    import torch

    sys.path.insert(0, ROOT)
    from designer.train.setup import memory_format

    layout = memory_format(model, torch.device("cpu"))
    model.to(memory_format=layout)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()
    running, stamps = 0.0, [time.perf_counter()]
    for x, y in loader:
        loss = criterion(model(x.contiguous(memory_format=layout)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running += loss.item()
        stamps.append(time.perf_counter())
    return stamps


def run_engine(model, loader, val_loader) -> list[float]:
    sys.path.insert(0, ROOT)
    from dataclasses import dataclass

    from designer.train.engine import train_loaders
    from designer.train.options import TrainOptions

    @dataclass
    class BenchDesign:
        model: object
        recipe: object = None

    options = TrainOptions(mode="full", epochs=1, batch_size=loader.batch_size, lr=0.01, schedule="constant",
                           device="cpu", weight_decay=1e-4, event_interval_s=0.0)
    stamps = [time.perf_counter()]
    with tempfile.TemporaryDirectory() as run_dir:
        for event in train_loaders(BenchDesign(model), loader, val_loader, options, run_dir):
            if event.kind == "batch":
                stamps.append(time.perf_counter())
            elif event.kind == "failed":
                raise RuntimeError(event.message)
    return stamps


def child(args) -> None:
    model, loader, val_loader = make_setup(args.size, args.batch, args.steps + args.warmup)
    import torch

    torch.set_num_threads(args.threads or torch.get_num_threads())
    base = current_rss_mb()
    if args.variant == "plain":
        stamps = run_plain(model, loader)
    else:
        stamps = run_engine(model, loader, val_loader)
    # Median step time after warmup: robust to the odd hiccup from other processes on the box.
    steps = [b - a for a, b in pairwise(stamps)][args.warmup:]
    print(json.dumps({"variant": args.variant, "img_s": args.batch / statistics.median(steps),
                      "peak_delta_mb": peak_rss_mb() - base, "base_mb": base}))


def run_variant(variant: str, args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", variant, "--size", str(args.size),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch", str(args.batch),
           "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--child", dest="variant", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        child(args)
        return
    results: dict[str, list[dict]] = {"plain": [], "engine": []}
    for _ in range(args.repeats):  # alternate, so drift in machine load hits both alike
        for variant, runs in results.items():
            runs.append(run_variant(variant, args))
    print(f"resnet18 @ {args.size}x{args.size}, batch {args.batch}, median step time over {args.steps} steps "
          f"after {args.warmup} warmup; best and median of {args.repeats} alternating runs per variant")
    print(f"{'variant':<9}{'best img/s':>11}{'median img/s':>14}{'peak RSS growth MB':>20}"
          f"{'ratio best':>12}{'ratio median':>14}{'ratio RSS':>11}")
    summary = {v: (max(r["img_s"] for r in rs), statistics.median(r["img_s"] for r in rs),
                   statistics.median(r["peak_delta_mb"] for r in rs)) for v, rs in results.items()}
    best0, med0, mem0 = summary["plain"]
    for variant, (best, med, mem) in summary.items():
        print(f"{variant:<9}{best:>11.1f}{med:>14.1f}{mem:>20.0f}{best / best0:>12.3f}{med / med0:>14.3f}"
              f"{mem / mem0:>11.3f}")
    for variant, runs in results.items():
        print(f"  {variant} runs: " + ", ".join(f"{r['img_s']:.1f} img/s / {r['peak_delta_mb']:.0f} MB"
                                                for r in runs))


if __name__ == "__main__":
    main()
