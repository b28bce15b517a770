"""Run folders: what a run writes, listing, loading, aligned curves, weights hand-over."""

from __future__ import annotations

import json
import threading

import pytest
import torch
from testkit.data import make_digits_folder
from testkit.train import final, tiny_design

from designer.base.errors import DesignerError
from designer.data.folders import scan_folder
from designer.train.options import TrainOptions
from designer.train.runs import compare_runs, list_runs, load_run, load_run_weights, new_run_dir, train_run
from designer.zoo import builders

# Tiny convs run ~10x slower with 2 threads on a busy 2-core box.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=8, size=16)
    return scan_folder(root, val_fraction=0.25, seed=0)


def opts(**kw) -> TrainOptions:
    return TrainOptions(**{"mode": "full", "epochs": 2, "batch_size": 16, "lr": 0.05, "device": "cpu", "event_interval_s": 0.0,
                           **kw})


@pytest.fixture(scope="module")
def two_runs(split, tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    full = runs_dir / "a-full"
    assert final(list(train_run(tiny_design(), split, opts(epochs=3), full))).kind == "finished"
    probe = runs_dir / "b-probe"
    probe_events = list(train_run(tiny_design(), split, opts(mode="linear-probe"), probe,
                                  probe={"strengths": (1e-2, 1e-1)}))
    assert final(probe_events).kind == "finished"
    (runs_dir / "not-a-run").mkdir()
    (runs_dir / ".features").mkdir(exist_ok=True)
    return runs_dir, full, probe


def test_a_run_writes_its_files(two_runs, split):
    _, full, _ = two_runs
    for name in ("options.json", "split.json", "history.json", "summary.json", "best.pt", "last.pt"):
        assert (full / name).is_file(), name
    summary = json.loads((full / "summary.json").read_text())
    assert summary["mode"] == "full" and summary["status"] == "finished" and summary["epochs"] == 3
    assert summary["best_val_acc"] is not None and summary["time_s"] > 0 and summary["classes"] == split.classes
    options = json.loads((full / "options.json").read_text())
    assert options["options"]["epochs"] == 3 and options["data"] == split.root
    run = load_run(full / "best.pt")  # a weights file names its run
    assert run.path == full and run.split().val == split.val


def test_list_load_and_compare(two_runs):
    runs_dir, full, probe = two_runs
    runs = list_runs(runs_dir)
    assert [r.name for r in runs] == ["a-full", "b-probe"]  # folders that are not runs are skipped
    assert [r.mode for r in runs] == ["full", "linear-probe"]
    cmp = compare_runs([full, probe])
    assert cmp["epochs"] == [1, 2, 3]
    a, b = cmp["runs"]
    assert len(a["val_acc"]) == len(b["val_acc"]) == 3
    # the first and last epochs always validate; between them pacing may skip (a quarter of the time at most)
    assert None not in a["val_acc"][::2] and b["val_acc"][2] is None and b["val_acc"][0] is not None
    assert a["elapsed_s"][0] <= a["elapsed_s"][2] and b["elapsed_s"][2] is None
    assert list_runs(runs_dir / "nowhere") == []
    with pytest.raises(DesignerError, match="not a training run"):
        load_run(runs_dir / "not-a-run")


def test_load_run_weights_reproduces_the_model(two_runs, split):
    _, full, _ = two_runs
    fresh, other = tiny_design(), tiny_design()
    report = load_run_weights(fresh, full)
    assert report.ok
    load_run_weights(other, full / "last.pt")  # last.pt nests the weights under "model"
    last = torch.load(full / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(last[k], v) for k, v in other.model.state_dict().items())
    state = torch.load(full / "best.pt", weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in fresh.model.state_dict().items())
    with pytest.raises(DesignerError, match="No weights"):
        load_run_weights(fresh, full / "missing.pt")


def test_bad_mode_and_new_run_dirs(split, tmp_path):
    with pytest.raises(DesignerError, match="'mode' is 'magic'; it should be 'recommended', 'full', 'cached-head'"):
        list(train_run(tiny_design(), split, opts(mode="magic"), tmp_path / "r"))
    assert not (tmp_path / "r").exists()
    a = new_run_dir(tmp_path, "full")
    a.mkdir()
    b = new_run_dir(tmp_path, "full")
    assert a != b and a.name.endswith("full") and not b.exists()


def test_fine_tune_vs_scratch_vs_probe_on_the_same_split(split, tmp_path, monkeypatch):
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe
    from designer.train.runs import compare_modes, scratch_recipe

    monkeypatch.setattr(builders, "_TRUSTED", set())  # trusted for this test only (the set is process-wide)
    builders.trust("testkit.train:tiny_rgb_cnn")
    recipe = Recipe.for_model("testkit.train:tiny_rgb_cnn").with_ops(
        SetInput(16, 16, 1, conv_mode="adapt"), ReplaceClassifier(10))
    assert scratch_recipe(recipe).base.weights == "none" and scratch_recipe(recipe).ops == recipe.ops
    seen: dict[str, list[str]] = {}
    gen = compare_modes(recipe, split, opts(epochs=1), tmp_path)
    while True:
        try:
            mode, _, event = next(gen)
        except StopIteration as stop:
            run_dirs = stop.value
            break
        seen.setdefault(mode, []).append(event.kind)
    assert list(seen) == ["recommended", "scratch", "linear-probe"]
    assert all(kinds[0] == "start" and kinds[-1] == "finished" for kinds in seen.values())
    runs = [load_run(d) for d in run_dirs]
    assert [r.mode for r in runs] == ["recommended", "scratch", "linear-probe"]
    assert all(r.split().val == split.val for r in runs)  # one split for all
    assert runs[1].options["options"]["lr"] is None  # scratch gets the from-scratch default LR
    assert len(compare_runs(run_dirs)["runs"]) == 3


def test_plan_resume_keeps_the_runs_options_and_split(split, tmp_path):
    from designer.train.runs import plan_resume

    run_dir = tmp_path / "r"
    options = TrainOptions(mode="full", epochs=1, batch_size=8, device="cpu", seed=4, optimizer="adam")
    final(list(train_run(tiny_design(), split, options, run_dir)))
    plan = plan_resume(run_dir, epochs=3)
    assert plan.options.epochs == 3 and plan.options.seed == 4 and plan.options.optimizer == "adam"
    assert plan.split.train == split.train and plan.checkpoint == run_dir / "last.pt"
    assert plan_resume(run_dir / "last.pt", epochs=2).run.path == run_dir  # a last.pt names its run
    with pytest.raises(DesignerError, match="already done 1 epochs"):
        plan_resume(run_dir, epochs=1)
    (run_dir / "last.pt").unlink()
    with pytest.raises(DesignerError, match="cannot be resumed"):
        plan_resume(run_dir, epochs=3)


@pytest.mark.parametrize("mode", ["full", "linear-probe"])
def test_a_run_stopped_before_its_first_epoch_is_no_result(split, tmp_path, mode):
    """Issue 13: such a run wrote best.pt (untrained weights) and was offered as a result."""
    run_dir = tmp_path / mode
    stopped = final(list(train_run(tiny_design(), split, opts(mode=mode), run_dir, cancel=lambda: True)))
    assert stopped.kind == "stopped" and stopped.epoch == 0 and stopped.best_val_acc is None
    assert not (run_dir / "best.pt").exists()
    run = load_run(run_dir)
    assert run.status == "stopped" and not run.has_weights


def test_finished_runs_have_weights(two_runs):
    _, full, probe = two_runs
    assert load_run(full).has_weights and load_run(probe).has_weights


def test_a_resumed_run_is_running_while_it_trains(split, tmp_path):
    """Issue 13: the history kept saying 'stopped' while a resumed run trained."""
    from designer.train.runs import plan_resume

    run_dir = tmp_path / "r"
    stop_after_one = threading.Event()
    for event in train_run(tiny_design(), split, opts(epochs=3), run_dir, cancel=stop_after_one):
        if event.kind == "epoch":
            stop_after_one.set()
    assert load_run(run_dir).status == "stopped"
    plan = plan_resume(run_dir)
    resumed = train_run(tiny_design(), plan.split, plan.options, run_dir, resume=plan.checkpoint)
    statuses = [load_run(run_dir).status for event in resumed if event.kind in ("start", "epoch")]
    assert statuses and set(statuses) == {"running"}
    assert load_run(run_dir).status == "finished"
