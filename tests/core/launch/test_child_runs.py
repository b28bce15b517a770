"""Training in child processes (``designer.launch``): a 2-process gloo run gives the in-process
engine's curves, a stop leaves no process behind and can be resumed, a killed rank is reported."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from testkit.data import make_shapes_folder
from testkit.procs import processes_naming

from designer.base.errors import DesignerError
from designer.data.folders import scan_folder
from designer.launch.child import group_members
from designer.launch.placement import Placement
from designer.launch.run import planned_length, train_run_placed
from designer.model.build import build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.train.options import TrainOptions
from designer.train.runs import load_run, plan_resume
from designer.zoo import builders

pytestmark = pytest.mark.usefixtures("one_thread")
BUILDER = "testkit.train:tiny_rgb_cnn"  # no BatchNorm: 2 processes of 8 images step like 1 of 16


@pytest.fixture(autouse=True)
def one_thread_children(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two processes on two shared cores


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = make_shapes_folder(tmp_path_factory.mktemp("shapes"), per_class=32, size=24)
    return scan_folder(root, val_fraction=0.25, seed=0)


def design():
    builders.trust(BUILDER)
    return build(Recipe.for_model(BUILDER).with_ops(SetInput(24, 24, 3), ReplaceClassifier(3)))


def opts(**kw) -> TrainOptions:
    return TrainOptions(**{"mode": "full", "epochs": 4, "batch_size": 16, "lr": 0.05, "device": "cpu",
                           "event_interval_s": 0.0, **kw})


def run(split, run_dir, options, placement=None, cancel=None, resume=None):
    return list(train_run_placed(design(), split, options, run_dir, cancel, resume=resume, placement=placement))


def curves(events) -> dict[str, list[float]]:
    epochs = [e for e in events if e.kind == "epoch"]
    return {k: [getattr(e, k) for e in epochs] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}


@pytest.mark.slow
def test_two_gloo_processes_give_the_in_process_curves(shapes, tmp_path):
    here = run(shapes, tmp_path / "here", opts())
    two = run(shapes, tmp_path / "two", opts(), Placement("processes", 2))
    assert two[0].kind == "start" and two[-1].kind == "finished", two[-1]
    assert {e.kind for e in two} >= {"start", "batch", "epoch", "checkpoint", "finished"}
    etas = [e.eta_s for e in two if e.kind == "batch"]  # the time left, from the pace since the first step
    assert etas[0] == 0.0 and all(eta > 0 for eta in etas[1:-1]) and etas[-1] == 0.0, etas
    a, b = curves(here), curves(two)
    assert len(a["train_loss"]) == len(b["train_loss"]) == 4
    # The same model, LR schedule and global batch; only the order of the images differs.
    # (Both validate when it is worth the time, always after the last epoch: compare where both did.)
    for key, tolerance in (("train_loss", 0.15), ("val_loss", 0.15), ("train_acc", 0.2), ("val_acc", 0.2)):
        pairs = [(x, y) for x, y in zip(a[key], b[key], strict=True) if x is not None and y is not None]
        assert pairs and max(abs(x - y) for x, y in pairs) <= tolerance, (key, a[key], b[key])
    assert b["train_loss"][-1] < b["train_loss"][0]
    # The run folder is any run's: records, weights, and the script that trained.
    folder = tmp_path / "two"
    for name in ("options.json", "split.json", "history.json", "summary.json", "best.pt", "last.pt", "train.log",
                 "script/train.py"):
        assert (folder / name).is_file(), name
    record = load_run(folder)
    assert record.status == "finished" and record.trained_epochs == 4 and record.best_val_acc == two[-1].best_val_acc
    assert json.loads((folder / "options.json").read_text())["placement"] == {"where": "processes", "processes": 2}
    assert "2 processes on the CPU" in two[0].plan and two[0].device == "2 x cpu"
    # What the window draws the axes for when Start is pressed is what the start event says.
    for events, placement in ((here, None), (two, Placement("processes", 2))):
        start = events[0]
        assert planned_length(opts(), len(shapes.train), placement) == (start.epochs * start.steps_per_epoch,
                                                                        start.epochs)
    assert not processes_naming(folder)


def _run_in_thread(split, run_dir, options, placement, cancel=None, resume=None):
    events: list = []
    thread = threading.Thread(target=lambda: events.extend(
        train_run_placed(design(), split, options, run_dir, cancel, resume=resume, placement=placement)))
    thread.start()
    return thread, events


def _wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_stop_ends_every_process_keeps_the_best_weights_and_resumes(shapes, tmp_path):
    cancel = threading.Event()
    run_dir = tmp_path / "r"
    many = opts(epochs=200)
    thread, events = _run_in_thread(shapes, run_dir, many, Placement("processes", 2), cancel)
    _wait_for(lambda: (run_dir / "best.pt").is_file() and len(processes_naming(run_dir)) >= 3)
    cancel.set()
    thread.join(timeout=120)
    assert not thread.is_alive()
    stopped = events[-1]
    assert stopped.kind == "stopped", stopped
    assert stopped.epoch >= 1 and stopped.checkpoint == str(run_dir / "last.pt") and stopped.best_val_acc is not None
    assert not processes_naming(run_dir)
    assert not (run_dir / "stop").exists()
    assert load_run(run_dir).status == "stopped" and (run_dir / "best.pt").is_file()
    # Resume it, in one child process this time, up to two more epochs.
    plan = plan_resume(run_dir, epochs=stopped.epoch + 2)
    resumed = run(plan.split, run_dir, plan.options, Placement("processes", 1), resume=plan.checkpoint)
    assert resumed[-1].kind == "finished", resumed[-1]
    assert [e.epoch for e in resumed if e.kind == "epoch"] == [stopped.epoch + 1, stopped.epoch + 2]
    assert load_run(run_dir).trained_epochs == stopped.epoch + 2


def _rank_one(run_dir: Path) -> int | None:
    for pid in processes_naming(run_dir):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"RANK=1" in environ:
            return pid
    return None


@pytest.mark.slow
def test_a_killed_rank_is_reported_in_one_message_with_the_log(shapes, tmp_path):
    run_dir = tmp_path / "r"
    thread, events = _run_in_thread(shapes, run_dir, opts(epochs=200), Placement("processes", 2))
    _wait_for(lambda: (run_dir / "best.pt").is_file() and _rank_one(run_dir) is not None)
    os.kill(_rank_one(run_dir), signal.SIGKILL)
    thread.join(timeout=120)
    failed = events[-1]
    assert failed.kind == "failed", failed
    assert "rank 1" in failed.message and "SIGKILL" in failed.message, failed.message
    assert "best weights so far are kept" in failed.message
    assert str(run_dir / "train.log") in failed.hint
    assert not processes_naming(run_dir)
    assert load_run(run_dir).status == "failed"


@pytest.mark.slow
def test_the_recommended_mode_fits_the_head_here_and_fine_tunes_in_the_child(shapes, tmp_path):
    events = run(shapes, tmp_path / "r", opts(mode="recommended", epochs=1, lr=0.01), Placement("processes", 1))
    assert events[0].stages == 2 and events[-1].kind == "finished", events[-1]
    epochs = [e for e in events if e.kind == "epoch"]
    assert epochs[0].stage == "head" and epochs[0].epoch == 0 and epochs[1].epoch == 1
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert history["epochs"][0]["stage"] == "head"
    best = max(e.val_acc for e in epochs if e.val_acc is not None)  # stage 2 validates when worth it
    assert events[-1].best_val_acc == pytest.approx(best)  # stage 2 never hands back worse weights
    assert "stage 1" in events[-1].outcome
    assert (tmp_path / "r" / "script" / "stage1.pt").is_file()  # stage 2's guards in the child have it
    options = opts(mode="recommended", epochs=1, lr=0.01)
    here = run(shapes, tmp_path / "here", options)[0]
    for start, placement in ((events[0], Placement("processes", 1)), (here, None)):
        assert planned_length(options, len(shapes.train), placement) == (start.epochs * start.steps_per_epoch,
                                                                         start.epochs)


@pytest.mark.slow
def test_a_diverging_stage_two_in_the_child_restarts_from_the_apps_stage_one(shapes, tmp_path):
    """The app fits stage 1 and hands the child its weights: the child's divergence guard restarts
    from them (a rate of 10 sends the loss far above a guess's at once)."""
    events = run(shapes, tmp_path / "r", opts(mode="recommended", epochs=4, lr=10.0, warmup_epochs=0.0),
                 Placement("processes", 1))
    assert events[-1].kind == "finished", events[-1]
    assert "restarted" in events[-1].outcome, events[-1].outcome


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_all_gpus_on_a_machine_without_one_is_refused_before_anything_starts(shapes, tmp_path):
    with pytest.raises(DesignerError, match="no GPU"):
        run(shapes, tmp_path / "a", opts(device="auto"), Placement("gpus"))
    assert not (tmp_path / "a").exists()


def test_a_placement_is_read_and_checked():
    assert Placement.parse("here") == Placement() and not Placement().in_child
    assert Placement.parse(" 3 ") == Placement("processes", 3) and Placement.parse("gpus").where == "gpus"
    for bad in ("0", "-1", "two", "65", ""):
        with pytest.raises(DesignerError):
            Placement.parse(bad)
    for bad in ({"where": "moon"}, {"where": "processes", "processes": True}, {"processes": "2"}, []):
        with pytest.raises(DesignerError):
            Placement.from_dict(bad)
    assert Placement.from_dict({"where": "processes", "processes": 4}).count() == 4


def test_group_members_lists_only_the_living():
    assert group_members(os.getpgid(0))  # this test's own group
    assert group_members(2**22 + 12345) == []


TORCHRUN_ROOT_CAUSE = """\
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
Failures:
[1]:
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 26942)  (SIGTERM)
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 26943)  (SIGKILL)
  traceback : Signal 9 (SIGKILL) received by PID 26943
"""


def test_a_failure_is_told_in_one_sentence():
    from designer.launch.child import diagnose, root_cause

    assert root_cause(TORCHRUN_ROOT_CAUSE) == (1, -9)
    text = diagnose(1, TORCHRUN_ROOT_CAUSE, 2)
    assert text.startswith("Training process 2 of 2 (rank 1) was killed (SIGKILL)") and "memory" in text
    crash = "Traceback (most recent call last):\n  ...\nValueError: bad value in layer 3\n"
    assert diagnose(1, crash, 1) == "The training process ended with exit code 1: ValueError: bad value in layer 3."
    assert diagnose(-15, "", 1) == "The training process was killed (SIGTERM)."
    # gloo aborts the surviving rank when a peer vanishes, and torchrun may observe that abort first
    aborted_first = TORCHRUN_ROOT_CAUSE.replace("exitcode  : -15 (pid: 26942)  (SIGTERM)", "exitcode  : -9 (pid: 1)")
    aborted_first = aborted_first.replace("rank      : 1 (local_rank: 1)\n  exitcode  : -9 (pid: 26943)  (SIGKILL)",
                                          "rank      : 0 (local_rank: 0)\n  exitcode  : -6 (pid: 26943)  (SIGABRT)")
    aborted_first = aborted_first.replace("rank      : 0 (local_rank: 0)\n  exitcode  : -9 (pid: 1)",
                                          "rank      : 1 (local_rank: 1)\n  exitcode  : -9 (pid: 1)")
    assert root_cause(aborted_first) == (1, -9)
    assert root_cause(aborted_first.replace("-9 (pid: 1)", "-6 (pid: 1)")) == (0, -6)  # all aborted: the first


ORPHAN = """\
import sys
from designer.data.folders import scan_folder
from designer.launch.placement import Placement
from designer.launch.run import planned_length, train_run_placed
from designer.zoo import builders
from designer.model.build import build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe
from designer.train.options import TrainOptions

builders.trust("testkit.train:tiny_rgb_cnn")
design = build(Recipe.for_model("testkit.train:tiny_rgb_cnn").with_ops(SetInput(24, 24, 3), ReplaceClassifier(3)))
options = TrainOptions(mode="full", epochs=100000, batch_size=16, lr=0.05, device="cpu")
for event in train_run_placed(design, scan_folder(sys.argv[1], 0.25, 0), options, sys.argv[2],
                              placement=Placement("processes", 2)):
    print(event.kind, flush=True)
"""


@pytest.mark.slow
def test_children_end_when_the_app_is_killed(shapes, tmp_path):
    """The app killed outright (no Stop, no clean-up): the script's next event meets a closed pipe,
    so its processes end instead of training on unseen."""
    import subprocess
    import sys

    run_dir = tmp_path / "r"
    app = subprocess.Popen([sys.executable, "-c", ORPHAN, shapes.root, str(run_dir)], stdout=subprocess.PIPE,
                           text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        while app.stdout.readline().strip() != "epoch":  # the children are training
            assert app.poll() is None, "the app ended before training"
        assert processes_naming(run_dir)
        app.kill()
        app.wait(timeout=30)
        _wait_for(lambda: not processes_naming(run_dir), timeout=60)
    finally:
        app.kill()


@pytest.mark.parametrize(("first", "then"), [("here", "1"), ("1", "here")])
@pytest.mark.slow
def test_a_run_stopped_in_one_place_resumes_in_the_other(shapes, tmp_path, first, then):
    """last.pt has the same keys whoever wrote it: the engine or the script."""
    cancel, run_dir, events = threading.Event(), tmp_path / "r", []
    for event in train_run_placed(design(), shapes, opts(epochs=3), run_dir, cancel, placement=Placement.parse(first)):
        events.append(event)
        if event.kind == "epoch":
            cancel.set()
    assert events[-1].kind == "stopped" and events[-1].epoch == 1, events[-1]
    plan = plan_resume(run_dir)
    resumed = run(plan.split, run_dir, plan.options, Placement.parse(then), resume=plan.checkpoint)
    assert resumed[-1].kind == "finished", resumed[-1]
    assert [e.epoch for e in resumed if e.kind == "epoch"] == [2, 3]
    assert [r["epoch"] for r in load_run(run_dir).epochs] == [1, 2, 3]
