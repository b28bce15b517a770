"""The search mode: trials within a budget, weak ones pruned, the best one kept as an ordinary run."""

from __future__ import annotations

import itertools
import json
import time

import optuna
import pytest
import torch
from testkit.data import make_digits_folder
from testkit.train import final, tiny_design

from designer.base.errors import DesignerError
from designer.data.folders import scan_folder
from designer.train import search
from designer.train.options import TrainOptions
from designer.train.runs import load_run, train_run
from designer.train.search_text import budget_text

pytestmark = pytest.mark.usefixtures("one_thread")


class PruneAfterTheFirst(optuna.pruners.BasePruner):
    """Every trial but Optuna's first stops at its first validation: a prune the test can count on."""

    def prune(self, study, trial) -> bool:
        return trial.number > 0


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=8, size=16)
    return scan_folder(root, val_fraction=0.3, seed=0)


def opts(**kw) -> TrainOptions:
    # two planned epochs (fixed), so trials take 1, 2 or 4 epochs: each well under a second
    return TrainOptions(**{"device": "cpu", "event_interval_s": 0.0, "batch_size": 16, "mode": "search",
                           "epochs": 2, "fixed": ["epochs"], "budget_s": 60.0, "max_trials": 3, **kw})


def test_a_search_prunes_weak_trials_and_keeps_the_best_as_an_ordinary_run(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(search, "default_pruner", lambda base: PruneAfterTheFirst())
    design = tiny_design()
    t0 = time.perf_counter()
    events = list(train_run(design, digits, opts(), tmp_path))
    elapsed = time.perf_counter() - t0
    end = final(events)
    assert end.kind == "finished", end
    assert elapsed < 60.0
    start = events[0]
    assert start.unit == "trial" and start.stages == 2 and "Search" in start.plan and "in this process" in start.plan

    trials = json.loads((tmp_path / "trials.json").read_text())["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert trials[0]["params"] == {"stage": "classifier fitted on cached features"}
    assert trials[1]["params"] == {"lr": 0.01, "length": 1.0, "augment": "off", "freeze": "none"}  # the plan
    assert trials[1]["state"] == "complete" and {t["state"] for t in trials[2:]} == {"pruned"}
    assert all(len(t["curve"]) == 1 for t in trials[2:])  # stopped at their first validation
    for t in trials[1:]:
        assert set(t["params"]) == {"lr", "length", "augment", "freeze"} and t["time_s"] > 0
        assert all(set(p) >= {"step", "val_acc"} for p in t["curve"])
        assert 0.002 <= t["params"]["lr"] <= 0.05

    best = max(trials, key=lambda t: t["best_val_acc"])  # the first of equals: max keeps it
    assert end.best_val_acc == best["best_val_acc"] and end.best_epoch == best["number"]
    assert f"rial {best['number']}" in end.outcome or best["number"] == 0
    run = load_run(tmp_path)
    assert run.mode == "search" and run.status == "finished" and run.has_weights
    assert run.best_val_acc == best["best_val_acc"]
    assert [e["epoch"] for e in run.epochs] == [0, 1, 2, 3]
    assert not (tmp_path / search.TRIALS_DIR).exists()  # each trial's folder is gone once read
    kept = torch.load(tmp_path / "best.pt", weights_only=True)
    torch.testing.assert_close(kept, design.model.state_dict())  # the caller's network holds the winner


def test_no_trial_starts_once_the_budget_is_spent(digits, tmp_path, monkeypatch):
    """A clock that runs fast: each reading is 1 s later, so a 10 s budget ends after a trial or two,
    and the trial it ends in is cut."""
    clock = itertools.count(start=time.perf_counter(), step=1.0)
    monkeypatch.setattr(search, "_now", lambda: next(clock))
    events = list(train_run(tiny_design(), digits, opts(budget_s=10.0, max_trials=20, epochs=4), tmp_path))
    assert final(events).kind == "finished"
    trials = json.loads((tmp_path / "trials.json").read_text())["trials"]
    assert 2 <= len(trials) < 21
    assert trials[-1]["state"] in ("cut", "complete", "pruned")
    assert "cut" in {t["state"] for t in trials}


def test_stop_ends_the_search_and_keeps_the_best_so_far(digits, tmp_path):
    stop = []
    events = []
    for event in train_run(tiny_design(), digits, opts(), tmp_path, cancel=lambda: bool(stop)):
        events.append(event)
        if event.kind == "epoch" and event.epoch == 1:
            stop.append(True)
    end = final(events)
    assert end.kind == "stopped" and end.best_val_acc is not None and end.checkpoint == ""
    assert (tmp_path / "best.pt").is_file()
    assert [t["number"] for t in json.loads((tmp_path / "trials.json").read_text())["trials"]] == [0, 1]


def test_freeze_depth_and_trial_options():
    design = tiny_design()
    assert search.early_layers(design) == "0"  # conv 0 of conv 0, conv 3 (the Linear head is 7)
    frozen = search.trial_design(design, "0")
    assert [op.path for op in frozen.recipe.ops] == ["0"] and design.recipe is None
    base = search.rec.plan(opts(), 60)
    params = {"lr": 0.02, "length": 2.0, "augment": "light", "freeze": "early"}
    plan = search.trial_plan(opts(), params, base, 60, remaining_s=30.0)
    assert plan.options.mode == "full" and plan.options.lr == 0.02 and plan.options.epochs == 2 * base.options.epochs
    assert plan.options.augment == search.AUGMENTS["light"] and plan.options.max_minutes == 0.5
    assert budget_text(90) == "1 min 30 s" and budget_text(5400) == "1 h 30 min"


def test_a_search_needs_validation_images_and_a_sane_budget(digits, tmp_path):
    with pytest.raises(DesignerError, match="budget_s"):
        opts(budget_s=float("inf"))
    with pytest.raises(DesignerError, match="budget_s"):
        opts(budget_s=1.0)
    no_val = scan_folder(digits.root, val_fraction=0.0, seed=0)
    with pytest.raises(DesignerError, match="validation images"):
        list(train_run(tiny_design(), no_val, opts(), tmp_path))


def test_early_layers_of_a_real_network_are_frozen_through_its_recipe():
    from testkit.designs import design as example

    from designer.model.ops import FreezeUntil
    from designer.model.policy import resolve_policy

    lite0 = example("lite0_real")
    path = search.early_layers(lite0)
    assert path.startswith("_blocks.")  # the stem and the first blocks, not the head
    frozen = search.trial_design(lite0, path)
    assert frozen.recipe.ops[-1] == FreezeUntil(path) and FreezeUntil(path) not in lite0.recipe.ops
    policy = resolve_policy(frozen.recipe, lite0.model)
    assert policy.is_frozen("_conv_stem.weight") and not policy.is_frozen("_fc.weight")
    assert not policy.is_frozen("_conv_head.weight")


def test_the_script_of_a_search_trains_the_plan_it_tries_first():
    from testkit.designs import design as example

    from designer.codegen.script import script_files

    lite0 = example("lite0_real")
    search_script = script_files(lite0, training={"mode": "search", "budget_s": 60.0}, num_train=100)
    assert search_script == script_files(lite0, training={"mode": "recommended"}, num_train=100)
