"""Resuming a finished run (issue 22, item 8): it asks for the new total, and the run keeps its first
finish and that finish's time instead of silently becoming a longer run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from testkit.data import make_digits_folder, make_shapes_folder
from testkit.train import final, tiny_design

from designer.base.errors import DesignerError
from designer.cli.main import main
from designer.data.folders import scan_folder
from designer.train.options import TrainOptions
from designer.train.runs import load_run, plan_resume, train_run
from designer.zoo import builders

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return scan_folder(make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=8, size=16), 0.25, 0)


def opts(**kw) -> TrainOptions:
    return TrainOptions(**{"mode": "full", "epochs": 1, "batch_size": 16, "lr": 0.05, "device": "cpu",
                           "event_interval_s": 0.0, **kw})


def test_a_finished_run_needs_its_new_total_and_keeps_its_first_finish(split, tmp_path):
    run_dir = tmp_path / "r"
    assert final(list(train_run(tiny_design(), split, opts(), run_dir))).kind == "finished"
    first = load_run(run_dir)
    assert [f["epochs"] for f in first.finishes] == [1]
    with pytest.raises(DesignerError, match="has finished its 1 epochs") as error:
        plan_resume(run_dir)  # "more" must be said: the run did what it was asked
    assert "new total" in error.value.hint
    plan = plan_resume(run_dir, epochs=3)
    assert final(list(train_run(tiny_design(), plan.split, plan.options, run_dir, resume=plan.checkpoint))
                 ).kind == "finished"
    run = load_run(run_dir)
    assert run.status == "finished" and run.trained_epochs == 3
    assert [f["epochs"] for f in run.finishes] == [1, 3]
    assert run.finishes[0] == first.finishes[0]  # the first finish, its accuracy and its time, unchanged
    assert run.time_s >= first.time_s  # the run's time counts both legs
    assert json.loads((run_dir / "history.json").read_text())["finishes"] == run.finishes


def test_a_finished_run_stopped_while_trained_further_still_shows_its_finish(split, tmp_path):
    run_dir, stop = tmp_path / "r", threading.Event()
    final(list(train_run(tiny_design(), split, opts(), run_dir)))
    plan = plan_resume(run_dir, epochs=5)
    for event in train_run(tiny_design(), plan.split, plan.options, run_dir, resume=plan.checkpoint, cancel=stop):
        if event.kind == "epoch":
            stop.set()
    run = load_run(run_dir)
    assert run.status == "stopped" and [f["epochs"] for f in run.finishes] == [1]


def test_cli_resume_of_a_finished_run_asks_for_epochs_and_says_what_it_does(tmp_path, capsys, monkeypatch):
    data = make_shapes_folder(tmp_path / "data", per_class=6, size=24)
    path, run = str(tmp_path / "p.json"), tmp_path / "run"
    assert main(["new", "testkit.train:tiny_rgb_cnn", "-o", path, "--trust-builder"]) == 0
    assert main(["edit", path, "--input", "3x24x24", "--classes", "3", "--trust-builder"]) == 0
    # trusted for this test only: other tests check that an untrusted builder is refused
    monkeypatch.setattr(builders, "_TRUSTED", {*builders._TRUSTED, "testkit.train:tiny_rgb_cnn"})
    assert main(["train", path, "--data", str(data), "--mode", "full", "--epochs", "1", "--batch-size", "8",
                 "--device", "cpu", "--json", "-o", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", path, "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "has finished its 1 epochs" in err and "new total" in err
    assert main(["train", path, "--resume", str(run), "--epochs", "2", "--json"]) == 0
    err = capsys.readouterr().err
    assert "had finished its 1 epochs; it now trains on to 2 epochs in all" in err
    summary = json.loads(Path(run, "summary.json").read_text())
    assert [f["epochs"] for f in summary["finishes"]] == [1, 2] and summary["status"] == "finished"


def test_a_run_finished_before_finishes_were_kept_keeps_its_finish_too(split, tmp_path):
    run_dir = tmp_path / "r"
    final(list(train_run(tiny_design(), split, opts(), run_dir)))
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["finishes"]  # as older versions wrote it
    (run_dir / "summary.json").write_text(json.dumps(summary))
    plan = plan_resume(run_dir, epochs=2)
    final(list(train_run(tiny_design(), plan.split, plan.options, run_dir, resume=plan.checkpoint)))
    finishes = load_run(run_dir).finishes
    assert [f["epochs"] for f in finishes] == [1, 2]
    assert finishes[0]["time_s"] == pytest.approx(summary["time_s"])
