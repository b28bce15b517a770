"""Compare runs tells the truth (issue 22, item 5): each run's x axis comes from the steps it trained
(its history.json, not the form's options.json), its stage-1 result is part of its curves, and a resumed
run continues at the step where it stopped."""

from __future__ import annotations

import threading

import pytest
from testkit.data import make_digits_folder
from testkit.runs import recommended_run_folder
from testkit.train import tiny_design

from designer.data.folders import scan_folder
from designer.train.options import TrainOptions
from designer.train.runs import compare_runs, load_run, plan_resume, train_run

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_runs_steps_per_epoch_are_the_ones_it_trained(tmp_path):
    """60 images in batches of 8 are 8 steps, not the 4 of the form's batch of 16."""
    run = load_run(recommended_run_folder(tmp_path / "r"))
    assert run.steps_per_epoch == 8


def test_compared_curves_carry_stage_one_and_the_runs_own_steps(tmp_path):
    curves = compare_runs([recommended_run_folder(tmp_path / "r")])["runs"][0]
    assert curves["stage1"] == {"val_acc": 0.6, "val_loss": 1.2}
    assert curves["steps_per_epoch"] == 8
    assert [v is not None for v in curves["val_acc"]].count(True) == 3


def test_a_run_trained_in_processes_counts_each_process_steps(tmp_path):
    """In child processes each takes a share of the images and of each batch, and the plot numbers
    their steps per process (the launcher's own rule, ``planned_length``)."""
    from designer.base.fileio import write_json
    from designer.launch.placement import Placement
    from designer.launch.run import planned_length

    run_dir = recommended_run_folder(tmp_path / "r")
    history = load_run(run_dir).history
    placement = Placement("processes", 3)
    write_json(run_dir / "history.json", {**history, "options": {"mode": "full", "batch_size": 8},
                                          "placement": placement.to_dict()})
    write_json(run_dir / "summary.json", {"mode": "full", "status": "finished", "num_train": 50})
    steps, epochs = planned_length(TrainOptions(mode="full", batch_size=8, epochs=1), 50, placement)
    assert load_run(run_dir).steps_per_epoch == steps // epochs == 8  # 7 in one process


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return scan_folder(make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=8, size=16), 0.25, 0)


def test_a_resumed_recommended_run_continues_at_the_step_it_stopped(digits, tmp_path):
    """The plot puts a run's epoch records at epoch x steps_per_epoch and the resumed leg's batches at
    their global step: both must count the same steps."""
    run_dir, stop = tmp_path / "r", threading.Event()
    options = TrainOptions(mode="recommended", epochs=2, batch_size=16, device="cpu", event_interval_s=0.0)
    starts, done = [], 0
    for event in train_run(tiny_design(), digits, options, run_dir, cancel=stop):
        starts += [event] if event.kind == "start" else []
        if event.kind == "epoch" and event.epoch == 2:
            done = event.epoch
            stop.set()
    run = load_run(run_dir)
    assert run.steps_per_epoch == starts[0].steps_per_epoch != 1
    plan = plan_resume(run_dir)
    resumed = train_run(tiny_design(), plan.split, plan.options, run_dir, resume=plan.checkpoint)
    first = next(e for e in resumed if e.kind == "batch")
    resumed.close()
    assert first.epoch == done + 1
    assert first.global_step == done * run.steps_per_epoch + first.step
