"""Time to accuracy: EfficientNet-Lite0 (real ImageNet weights) on sklearn's digits.

Digits are grey 8x8 images, upscaled to 64x64 and replicated to 3 channels (exact
for Lite0's mean = std = 0.5). Every mode trains on the SAME split (seed 0):
- linear-probe: logistic regression on the frozen features (C picked on validation);
- cached-head: the Linear head trained on cached features (Adam);
- full: everything fine-tuned for a few epochs (SGD, the app's fine-tune LR, 10x below scratch);
- full:0.01: the same at the from-scratch LR (8x8 digits are far from ImageNet);
- scratch: the same architecture from random weights, same epochs (SGD, from-scratch LR).
Wall seconds include building features where a mode needs them (each mode its own cache).

    .venv/bin/python bench/bench_lite0_digits.py [--per-class 180] [--full-epochs 3] [--cached-epochs 30] [--threads 1]

One torch thread by default: on a shared 2-core machine two threads spin against other
processes (Lite0 forward ran 9x slower that way).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def first_time_to(history: list[dict], target: float) -> float | None:
    """Training seconds (sum of epoch times) until validation accuracy first reaches ``target``."""
    total = 0.0
    for epoch in history:
        total += epoch["epoch_time_s"]
        if (epoch["val_acc"] or 0) >= target:
            return total
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=180, help="images per digit (180 = all 1797)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--full-epochs", type=int, default=3)
    parser.add_argument("--cached-epochs", type=int, default=30)
    parser.add_argument("--modes", default="linear-probe,cached-head,full,full:0.01,scratch",
                        help="full:LR fine-tunes at base LR (plain full: the app's default, 10x below scratch)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from testkit.data import make_digits_folder

    from designer.data.folders import scan_folder
    from designer.model.build import build
    from designer.model.ops import Freeze, ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe
    from designer.train import features
    from designer.train.options import TrainOptions
    from designer.train.runs import load_run, scratch_recipe, train_run

    recipe = Recipe.for_model("efficientnet_lite0").with_ops(
        SetInput(args.size, args.size, 1, conv_mode="replicate"), ReplaceClassifier(10))
    head = build(recipe).classifier_path
    frozen = recipe.with_ops(Freeze(""), Freeze(head, frozen=False))
    settings = {
        "linear-probe": (frozen, {"epochs": 1}),
        "cached-head": (frozen, {"epochs": args.cached_epochs, "optimizer": "adam", "lr": 1e-3}),
        "full": (recipe, {"epochs": args.full_epochs}),
        "scratch": (scratch_recipe(recipe), {"epochs": args.full_epochs}),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        split = scan_folder(make_digits_folder(tmp / "data", per_class=args.per_class, size=args.size), 0.2, 0)
        for label in args.modes.split(","):
            mode, _, lr = label.partition(":")
            this_recipe, extra = settings[mode]
            extra = {**extra, "lr": float(lr)} if lr else extra
            design = build(this_recipe)
            features._MEMORY.clear()  # the in-process cache would hand one mode's features to the next
            options = TrainOptions(mode=mode, batch_size=32, device="cpu", seed=0, event_interval_s=5.0, **extra)
            t0 = time.perf_counter()
            events = list(train_run(design, split, options, tmp / mode, cache_dir=tmp / f"cache-{mode}"))
            wall = time.perf_counter() - t0
            if events[-1].kind != "finished":
                raise SystemExit(f"{mode}: {events[-1]}")
            history = load_run(tmp / mode).epochs
            lr_used = options.resolved_lr if mode in ("full", "scratch") else None
            rows.append((label, len(history), wall, events[-1].best_val_acc, first_time_to(history, 0.9),
                         [e["val_acc"] or 0 for e in history], lr_used))
            print(f"  {label} done in {wall:.1f}s", file=sys.stderr)
    print(f"EfficientNet-Lite0 (ImageNet weights), digits {args.size}x{args.size} grey->3ch, "
          f"{len(split.train)} train / {len(split.val)} val, batch 32, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'mode':<14} {'base LR':>8} {'epochs':>6} {'wall s':>8} {'val acc':>8} {'train s to 0.9':>15}  "
          "val acc per epoch")
    for label, epochs, wall, acc, t90, per_epoch, lr in rows:
        curve = " ".join(f"{a:.2f}" for a in per_epoch) if len(per_epoch) <= 8 else f"... {per_epoch[-1]:.2f}"
        print(f"{label:<14} {'-' if lr is None else f'{lr:g}':>8} {epochs:>6} {wall:>8.1f} {acc:>8.3f} "
              f"{'-' if t90 is None else f'{t90:.1f}':>15}  {curve}")


if __name__ == "__main__":
    main()
