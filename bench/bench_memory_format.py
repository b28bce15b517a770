"""Channels-last against the default layout on this machine's CPU: what ``train.setup.memory_format`` chose.

For each network and batch size: the median time of a training step (forward, backward, SGD with momentum)
and of an eval forward per image, in the default (NCHW) layout and in channels-last (NHWC), one torch
thread, random weights and images (the layout's speed does not depend on the values).

    .venv/bin/python bench/bench_memory_format.py [--models efficientnet_lite0:64,resnet18:112]
        [--batches 8,32] [--steps 8] [--threads 1]

The training engine and the feature pass use channels-last on the CPU when the network has 2-D
convolutions; the figures here are why.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]


def network(name: str, size: int, channels: int = 1):
    from designer.model.build import build
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe
    from designer.train.runs import scratch_recipe

    recipe = Recipe.for_model(name).with_ops(SetInput(size, size, channels), ReplaceClassifier(10))
    return build(scratch_recipe(recipe)).model  # random weights: nothing to download


def step_times(model, batch: int, size: int, fmt, steps: int) -> float:
    import torch

    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 1, size, size).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    times = []
    for _ in range(steps + 2):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])


def eval_time_per_image(model, size: int, fmt, batch: int = 64, repeats: int = 3) -> float:
    import torch

    model = model.to(memory_format=fmt).eval()
    x = torch.randn(batch, 1, size, size).contiguous(memory_format=fmt)
    times = []
    with torch.no_grad():
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) / batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="efficientnet_lite0:64,resnet18:112")
    parser.add_argument("--batches", default="8,32")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    nchw, nhwc = torch.contiguous_format, torch.channels_last
    print(f"{'network':<24}{'batch':>6}{'step NCHW ms':>14}{'step NHWC ms':>14}{'speed-up':>10}")
    for spec in args.models.split(","):
        name, size = spec.split(":")
        model = network(name, int(size))
        for batch in (int(b) for b in args.batches.split(",")):
            a = step_times(model, batch, int(size), nchw, args.steps)
            b = step_times(model, batch, int(size), nhwc, args.steps)
            print(f"{spec:<24}{batch:>6}{a * 1000:>14.0f}{b * 1000:>14.0f}{a / b:>9.2f}x", flush=True)
        a, b = eval_time_per_image(model, int(size), nchw), eval_time_per_image(model, int(size), nhwc)
        print(f"{spec:<24}{'eval':>6}{a * 1000:>12.2f}/i{b * 1000:>12.2f}/i{a / b:>9.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
