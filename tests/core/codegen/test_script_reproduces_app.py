"""The script exported from a run of the app's default (recommended) mode reproduces that run.

The app trains EfficientNet-Lite0 (its packaged ImageNet weights) in its default mode; the script
is then exported from that run, as the Export dialog does (the run's options and split), and run
outside the project from the same starting weights (the design's fresh classifier) and seed. Its
best validation accuracy must be within 0.02 of the app's. Data as in bench/bench_transfer.py:
digits at 10 training images per class (1,697 validate) and scikit-image's LFW faces subset.

Two of the default's policies go by the clock, and this machine's load would make them differ
between the two runs: the time cap (off in both) and validation paced to a share of the time
(validation after every epoch in both). The rest is the default recipe in both.

Both runs compute alike, step by step: the same layout (channels-last on the CPU) and one thread
each. Stage 2 on digits is chaotic (gradient norms of ~500 at its first steps): a layout's other
rounding (1e-4 in the first gradient) grew into other weights within three steps, and the losing
guard then ended one run just above stage 1 and the other just below (0.69 against 0.59). On LFW the
app's own stage 1 put its channels-last model back in the default layout (setup.layout_of took
Lite0's depthwise kernels for contiguous): 0.94 against the script's 0.99 until that was fixed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from testkit import REPO
from testkit.script import run_outside, script_namespace

from designer.app.jobs import run_export_info
from designer.codegen.script import write_script
from designer.data.folders import scan_folder
from designer.export.splitfile import write_split
from designer.train import recommended
from designer.train.options import TrainOptions
from designer.train.runs import train_run

TOLERANCE = 0.02


SIZE = 32  # the images' and the network's input: a quarter of the bench's 64x64 pixels, to keep it short


def bench():
    """bench/bench_transfer.py: its data sets and its Lite0 design (grey input), at SIZE."""
    spec = importlib.util.spec_from_file_location("bench_transfer", REPO / "bench" / "bench_transfer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.SIZE = SIZE
    return module


def app_run(folder: Path, run_dir: Path):
    """The app's default mode on ``folder``; (best validation accuracy, the design it started from)."""
    design = bench().design_for(folder, scratch=False)  # seeded: the same fresh classifier every time
    start = {k: v.clone() for k, v in design.model.state_dict().items()}
    options = TrainOptions(device="cpu", max_minutes=0)
    split = scan_folder(str(folder))
    events = list(train_run(design, split, options, run_dir, cache_dir=run_dir.parent / "cache"))
    final = events[-1]
    assert final.kind == "finished", final
    return final.best_val_acc, design, start


def script_run(design, start: dict, run_dir: Path, out: Path) -> float:
    """Export the script from the run (its options and split) and run it from the same weights."""
    training, _, split = run_export_info(run_dir / "best.pt", None)
    assert training["mode"] == "recommended"
    folder = out / "export"
    folder.mkdir()
    write_split(split, folder)
    script = write_script(design.recipe, folder / "train.py", training=training, classes=list(split.classes),
                          split_file="split.json")
    torch.save(start, folder / "start.pt")
    proc = run_outside([sys.executable, str(script), "--weights", str(folder / "start.pt"), "--out",
                        str(out / "runs"), "--events", "--device", "cpu", "--val-budget", "1"], out,
                       timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert events[0]["kind"] == "start" and events[0]["mode"] == "recommended"
    assert any(e["kind"] == "epoch" and e["epoch"] == 0 for e in events), "no stage 1 in the script"
    print(proc.stderr[-1500:])
    return events[-1]["best_val_acc"]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["digits10", "lfw"])
@pytest.mark.usefixtures("one_thread")  # the script runs on one thread (run_outside): so does the app
def test_exported_script_reaches_the_apps_accuracy(dataset, tmp_path, monkeypatch):
    if dataset == "lfw":
        pytest.importorskip("skimage", reason="scikit-image (the LFW subset) is not installed")
    folder = bench().prepare(dataset, tmp_path / "data")  # bench's split: digits 10 a class, LFW 20
    monkeypatch.setattr(recommended, "VAL_BUDGET", 1.0)  # the app validates after every epoch
    app_acc, design, start = app_run(folder, tmp_path / "app" / "run")
    script_acc = script_run(design, start, tmp_path / "app" / "run", tmp_path)
    print(f"{dataset}: app {app_acc:.4f}, script {script_acc:.4f}")
    assert abs(script_acc - app_acc) <= TOLERANCE, (app_acc, script_acc)


@pytest.mark.parametrize("num_train", [7, 40, 100, 1438])
@pytest.mark.parametrize("fixed", [{}, {"epochs": 3, "batch_size": 16}])
def test_the_script_plans_stage_2_as_the_app_does(num_train, fixed, tmp_path):
    """The recommended mode's plan, run from the script's own code: batch, epochs, warm-up, schedule
    and rate as ``recommended.plan`` has them (and what the user fixed in the app, as given)."""
    from argparse import Namespace

    from testkit.designs import design

    options = TrainOptions(**fixed, fixed=list(fixed))
    script = write_script(design("resnet18_grey"), tmp_path / "train.py", training=options)
    namespace = script_namespace(script)
    args = Namespace(mode="recommended", optimizer="sgd", lr=None, epochs=None, batch_size=None,
                     warmup_epochs=None, schedule=None, val_budget=None, patience=None,
                     patience_fraction=None, max_minutes=None)
    namespace["settle"](args, num_train)
    plan = recommended.plan(options, num_train)
    assert (args.batch_size, args.epochs, args.schedule, args.lr) == (
        plan.options.batch_size, plan.options.epochs, plan.options.schedule, plan.options.resolved_lr)
    assert round(args.warmup_epochs * plan.steps_per_epoch) == plan.warmup_steps
    assert (args.val_budget, args.patience) == (recommended.VAL_BUDGET, recommended.PATIENCE)
