"""The recommended mode: stage 1 (the head fitted on cached features) hands over to stage 2
(fine-tuning), which never returns worse weights; the step floor; validation pacing and early stop."""

from __future__ import annotations

import json

import pytest
import torch
from testkit.data import make_digits_folder
from testkit.train import final, tiny_design

from designer.base.jobs import drain
from designer.data.folders import scan_folder
from designer.train import engine, features
from designer.train import setup as ts
from designer.train.logistic import better, fit_grid
from designer.train.options import TrainOptions
from designer.train.pacing import Pacing
from designer.train.recommended import MIN_BATCH, describe, plan, steps_per_epoch, train_recommended
from designer.train.runs import load_run, train_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=10, size=16)
    return scan_folder(root, val_fraction=0.3, seed=0)


def opts(**kw) -> TrainOptions:
    return TrainOptions(**{"device": "cpu", "event_interval_s": 0.0, "batch_size": 16, **kw})


def _stage_one_head(design, split, options):
    """What stage 1 should put in the head: the best logistic fit on the classifier's input."""
    train_fs, val_fs = drain(features.cached_features(design, "7", [split.train, split.val], options))
    best = None
    for fit in fit_grid(train_fs.features, train_fs.labels, val_fs.features, val_fs.labels, 10):
        best = fit if better(fit, best) else best
    return best


def test_stage_one_fits_the_head_and_stage_two_starts_from_a_fresh_one(digits, tmp_path, monkeypatch):
    """Stage 1's fitted head is epoch 0 (the baseline kept unless beaten); stage 2 fine-tunes from the
    design's fresh classifier: from the fitted one it lost 2.5-5 points on letters (docs/transfer-learning.md)."""
    design = tiny_design()
    fresh = {k: v.clone() for k, v in design.model[7].state_dict().items()}
    expected = _stage_one_head(tiny_design(), digits, opts())
    seen = {}
    fine_tune = engine._Trainer._epochs

    def spy(trainer):
        seen["start"] = {k: v.clone() for k, v in trainer.model[7].state_dict().items()}
        seen["stage1"] = trainer.stage1_state
        yield from fine_tune(trainer)

    monkeypatch.setattr(engine._Trainer, "_epochs", spy)
    events = list(train_recommended(design, digits, opts(), tmp_path))
    torch.testing.assert_close(seen["start"], fresh)
    torch.testing.assert_close(seen["stage1"]["7.weight"], expected.weight, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(seen["stage1"]["7.bias"], expected.bias, atol=1e-6, rtol=1e-5)
    head = next(e for e in events if e.kind == "epoch")
    assert head.epoch == 0 and head.stage == "head" and head.val_acc == pytest.approx(expected.val_acc)
    start = events[0]
    assert start.stages == 2 and "Stage 1" in start.plan and "Stage 2" in start.plan
    done = final(events)
    assert done.kind == "finished" and done.best_val_acc >= head.val_acc  # never worse than stage 1
    assert "stage 1" in done.outcome
    history = json.loads((tmp_path / "history.json").read_text())
    assert "stage2_start" not in history["epochs"][0]  # weights never go into the history


def test_stage_one_is_kept_when_fine_tuning_does_not_beat_it(digits, tmp_path):
    design = tiny_design()
    events = list(train_recommended(design, digits, opts(lr=1e-7), tmp_path))  # stage 2 cannot improve
    head = next(e for e in events if e.kind == "epoch")
    done = final(events)
    assert done.best_epoch == 0 and done.best_val_acc == head.val_acc
    assert "never beat the head fitted in stage 1" in done.outcome
    kept = torch.load(tmp_path / "best.pt", weights_only=True)
    for name, value in design.model.state_dict().items():  # the model holds stage 1's weights again
        assert torch.equal(value, kept[name]), name
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["best_epoch"] == 0 and "never beat" in history["outcome"] and history["plan"]


def test_a_run_recorded_by_train_run_says_which_stage_won(digits, tmp_path):
    run_dir = tmp_path / "run"
    final(list(train_run(tiny_design(), digits, opts(), run_dir)))
    run = load_run(run_dir)
    assert run.mode == "recommended" and run.has_weights
    assert run.epochs[0]["epoch"] == 0 and run.epochs[0]["stage"] == "head"
    assert run.trained_epochs == len(run.epochs) - 1
    assert "optimizer steps" in run.plan and "stage 1" in run.outcome


def test_stopped_while_fitting_the_head_is_no_result(digits, tmp_path):
    run_dir = tmp_path / "run"
    stopped = final(list(train_run(tiny_design(), digits, opts(), run_dir, cancel=lambda: True)))
    assert stopped.kind == "stopped" and stopped.best_val_acc is None
    assert not (run_dir / "best.pt").exists() and not load_run(run_dir).has_weights


def test_the_length_comes_from_the_data():
    small = plan(TrainOptions(), 100)  # 100 images in batches of 8 (a twelfth): 13 steps an epoch
    assert small.options.batch_size == 8 and small.steps_per_epoch == 13 and small.options.epochs == 20
    assert small.total_steps == 260  # ~2,000 images seen
    assert small.warmup_steps == 26 and small.options.warmup_epochs * 13 == pytest.approx(26)
    assert small.options.mode == "full" and small.options.schedule == "cosine" and small.options.lr == 0.01
    assert plan(TrainOptions(), 40).options.epochs == 25  # never more than 25 epochs
    big = plan(TrainOptions(), 1437)  # full digits: 45 steps an epoch, the default 5 epochs are enough
    assert big.options.epochs == 5 and big.total_steps == 225 and big.warmup_steps == 22
    assert plan(TrainOptions(epochs=40), 100).options.epochs == 20  # not fixed: the plan decides
    assert plan(TrainOptions(epochs=40, fixed=["epochs"]), 100).options.epochs == 40  # fixed: as given
    assert plan(TrainOptions(lr=0.003), 100).options.lr == 0.003  # a rate set by the user is kept
    assert steps_per_epoch(33, 32) == 1  # a last batch of one image is dropped (BatchNorm)


def test_what_the_user_fixed_is_used_as_given():
    mine = plan(TrainOptions(epochs=2, batch_size=32, fixed=["epochs", "batch_size"]), 100)
    assert mine.options.epochs == 2 and mine.options.batch_size == 32 and mine.total_steps == 2 * 4
    own = plan(TrainOptions(schedule="constant", warmup_epochs=0.0, fixed=["schedule", "warmup_epochs"]), 100)
    assert own.options.schedule == "constant" and own.warmup_steps == 0 and own.options.epochs == 20
    assert "You set the epochs, the batch size" in describe(tiny_design(), mine)


def test_tiny_data_takes_small_batches_and_never_bigger_ones_than_asked():
    assert plan(TrainOptions(), 40).options.batch_size == MIN_BATCH  # never below 8 (BatchNorm)
    assert plan(TrainOptions(), 240).options.batch_size == 20
    assert plan(TrainOptions(), 1437).options.batch_size == 32  # the setting, on data that is not tiny
    assert plan(TrainOptions(batch_size=4), 100).options.batch_size == 4  # a smaller batch asked: kept


def test_the_engine_runs_the_planned_steps(digits, tmp_path):
    events = list(train_recommended(tiny_design(), digits, opts(epochs=1), tmp_path))
    start, planned = events[0], plan(opts(epochs=1), len(digits.train))
    assert start.epochs * start.steps_per_epoch == planned.total_steps > planned.steps_per_epoch
    steps = max(e.global_step for e in events if e.kind == "batch")
    assert planned.steps_per_epoch < steps <= planned.total_steps  # far past the one epoch asked for


def test_validation_is_paced_to_its_share_of_the_time():
    pacing = Pacing(val_budget=0.25)
    assert pacing.validate_now(1, 10, epoch_train_s=1.0, num_val=100)  # cost unknown: measure it
    pacing.validated(1, seconds=3.0, improved=True)  # one pass costs 3 training epochs
    assert [pacing.validate_now(e, 10, 1.0, 100) for e in range(2, 11)] == \
        [False] * 8 + [True]  # 9 epochs (3 x 3 s) needed, so only the last epoch validates
    pacing.validated(4, seconds=0.1, improved=False)
    assert pacing.validate_now(5, 10, 1.0, 100)  # cheap passes: every epoch
    every_epoch = Pacing(val_budget=1.0)
    every_epoch.validated(1, 100.0, True)
    assert every_epoch.validate_now(2, 10, 1.0, 100)
    hinted = Pacing(val_budget=0.1, val_seconds_per_image=0.01)  # 1,000 images: 10 s a pass
    assert not hinted.validate_now(1, 100, 1.0, 1000) and hinted.validate_now(100, 100, 1.0, 1000)


def test_early_stop_needs_patience_and_a_quarter_of_the_steps():
    pacing = Pacing(patience=3, patience_fraction=0.25)
    pacing.validated(1, 1.0, True)
    for epoch in (2, 3, 4):
        pacing.validated(epoch, 1.0, False)
    assert pacing.should_stop(steps_since_best=30, total_steps=100)
    assert not pacing.should_stop(steps_since_best=20, total_steps=100)  # too early in the run
    assert not Pacing(patience=0).should_stop(1000, 100)


def test_the_policy_is_resolved_once_per_run(digits, tmp_path, monkeypatch):
    """Issue 24: the plan's words, stage 1, the engine and the optimizer share one resolved policy."""
    from designer.model import policy as model_policy
    from designer.model.build import build
    from designer.model.ops import FreezeUntil, ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe

    design = build(Recipe.for_model("mobilenet_v3_small", weights="none").with_ops(
        SetInput(16, 16, 1), ReplaceClassifier(10), FreezeUntil("features.2")))
    calls = []
    real = model_policy.resolve_policy
    monkeypatch.setattr(model_policy, "resolve_policy", lambda recipe, model: calls.append(1) or real(recipe, model))
    ts._POLICIES.pop(design.model, None)  # the same design may have been built (and resolved) before
    done = final(list(train_recommended(design, digits, opts(epochs=5, fixed=["epochs"]), tmp_path)))
    assert done.kind == "finished" and len(calls) == 1
