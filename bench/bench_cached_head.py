"""Head-only training: through the frozen network every epoch vs on cached features.

resnet18 (weights none) with everything up to layer4 frozen, a 3-class head, a few
hundred generated shape images. "full" is the training engine on images (the
frozen backbone still runs forward every step); "cached-head" is
``features.train_cached_head`` (backbone features computed once, then the same
engine on them). Seconds per epoch include validation; the one-off feature cache
build is reported on its own.

    .venv/bin/python bench/bench_cached_head.py [--size 112] [--images 300] [--full-epochs 2] [--cached-epochs 20] [--threads 1]

Target: cached-head >= 100x faster per epoch. One torch thread by default: on a shared
2-core machine two threads spin against other processes (Lite0 ran 9x slower that way).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def run(gen):
    """(events, seconds until the first training event, total seconds)."""
    t0, first, events = time.perf_counter(), None, []
    for event in gen:
        events.append(event)
        if first is None and event.kind in ("batch", "epoch") and getattr(event, "epoch", 0) >= 1:
            first = time.perf_counter() - t0
    if events[-1].kind != "finished":
        raise SystemExit(f"run ended with {events[-1]}")
    return events, first, time.perf_counter() - t0


def row(name, events, prep, wall):
    """Median epoch time (train + validation) and the wall time per
    epoch with everything else (checkpoint files of the whole model each epoch)."""
    epochs = [e for e in events if e.kind == "epoch"]
    per_epoch = statistics.median(e.epoch_time_s for e in epochs)
    return [name, len(epochs), per_epoch, (wall - prep) / len(epochs), prep, epochs[-1].best_val_acc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--full-epochs", type=int, default=2)
    parser.add_argument("--cached-epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from testkit.data import make_shapes_folder

    from designer.data.folders import scan_folder
    from designer.model.build import build
    from designer.model.ops import FreezeUntil, ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe
    from designer.train import features
    from designer.train.engine import train
    from designer.train.options import TrainOptions

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_shapes_folder(tmp / "data", per_class=args.images // 3, size=args.size)
        split = scan_folder(data, val_fraction=0.2, seed=0)
        recipe = Recipe.for_model("resnet18", weights="none").with_ops(
            SetInput(args.size, args.size, 3), ReplaceClassifier(3), FreezeUntil("layer4"))
        design = build(recipe)
        common = {"batch_size": 32, "device": "cpu", "lr": 0.01, "event_interval_s": 1.0, "seed": 0}
        full, _, wall = run(train(copy.deepcopy(design), split, TrainOptions(epochs=args.full_epochs, **common),
                                      tmp / "full"))
        rows = [row("full (frozen backbone)", full, 0.0, wall)]
        cached, prep, wall = run(features.train_cached_head(
            design, split, TrainOptions(epochs=args.cached_epochs, mode="cached-head", **common), tmp / "cached"))
        rows.append(row("cached-head", cached, prep, wall))
    print(f"resnet18 weights=none, {args.size}x{args.size}, {len(split.train)} train / {len(split.val)} val "
          f"images, batch 32, torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs")
    print(f"{'mode':<24} {'epochs':>6} {'s/epoch':>9} {'wall s/epoch':>13} {'cache build s':>14} {'best val acc':>13}")
    for name, n, per_epoch, wall_epoch, build_s, acc in rows:
        print(f"{name:<24} {n:>6} {per_epoch:>9.4f} {wall_epoch:>13.4f} {build_s:>14.2f} {acc:>13.3f}")
    print(f"cached-head is {rows[0][2] / rows[1][2]:.0f}x faster per epoch ({rows[0][3] / rows[1][3]:.0f}x in wall "
          f"time with checkpoints); the cache build costs {rows[1][4] / rows[0][2]:.2f} full epochs once")


if __name__ == "__main__":
    main()
