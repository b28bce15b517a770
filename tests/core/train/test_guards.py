"""Stage 2's guards, time cap and LR ceiling (issue 21): each decision on plain data, then the engine
acting on it."""

import math

import pytest
import torch
from testkit.data import make_digits_folder
from testkit.train import final, tiny_design

from designer.data.folders import scan_folder
from designer.model.policy import Policy
from designer.train import engine, guards
from designer.train.options import TrainOptions
from designer.train.pacing import Pacing
from designer.train.recommended import train_recommended
from designer.train.setup import lr_ceiling, make_optimizer

pytestmark = pytest.mark.usefixtures("one_thread")


def rows(*records):
    return [dict(zip(("epoch", "train_loss", "val_acc"), r)) for r in records]


def test_a_runaway_loss_after_warmup_is_divergence():
    ln10 = math.log(10)
    bad = rows((0, 0.1, 0.9), (1, 3 * ln10, None), (2, 3 * ln10, None))
    assert guards.diverged(bad, 10, warmup_done=True)
    assert not guards.diverged(bad, 10, warmup_done=False)  # the warm-up may be rough
    assert not guards.diverged(rows((0, 0.1, 0.9), (1, 3 * ln10, None), (2, 1.0, None)), 10, True)  # it came back
    assert guards.loss_too_high(float("nan"), 10) and not guards.loss_too_high(None, 10)


def test_losing_is_judged_only_on_a_late_validation():
    late = rows((0, 0.0, 0.90), (5, 1.0, 0.80), (7, 0.9, 0.82))
    assert guards.losing(late, done_steps=70, total_steps=100)
    assert not guards.losing(late, done_steps=50, total_steps=100)  # too early to judge
    assert not guards.losing(late + rows((8, 0.8, None)), 80, 100)  # this epoch did not validate
    assert not guards.losing(rows((0, 0.0, 0.90), (7, 0.9, 0.88)), 70, 100)  # within the margin
    assert not guards.losing(rows((1, 1.0, 0.5), (7, 0.9, 0.6)), 70, 100)  # no stage 1 to lose to


def test_the_time_cap_shortens_the_plan_to_what_fits():
    pacing = Pacing(time_cap_s=100.0)
    assert pacing.epochs_within_cap(1, 30, elapsed_s=12.0, epoch_s=10.0) == 9  # 1 done + 8 more fit
    assert pacing.epochs_within_cap(5, 30, elapsed_s=150.0, epoch_s=10.0) == 5  # past the cap: stop now
    assert pacing.epochs_within_cap(1, 5, elapsed_s=2.0, epoch_s=1.0) == 5  # fits: unchanged
    assert Pacing().epochs_within_cap(1, 30, elapsed_s=1e9, epoch_s=1.0) == 30  # no cap


def test_lr_factors_never_lift_a_layer_past_the_ceiling():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    names = [n for n, _ in model.named_parameters()]
    policy = Policy({n: False for n in names}, {n: 10.0 if n.startswith("1.") else 0.1 for n in names})
    fast = make_optimizer(model, policy, TrainOptions(lr=0.01), 0.01)
    assert sorted(g["lr"] for g in fast.param_groups) == pytest.approx([0.001, 0.01])  # x10 capped at 0.01
    slow = make_optimizer(model, policy, TrainOptions(mode="full"), 0.001)  # textbook: x10 on a 0.001 base
    assert sorted(g["lr"] for g in slow.param_groups) == pytest.approx([0.0001, 0.01])
    assert lr_ceiling(TrainOptions(lr=0.05)) == 0.05  # a higher rate set by hand is the user's call
    assert lr_ceiling(TrainOptions(optimizer="adam")) == 0.001


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return scan_folder(make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=10, size=16),
                       val_fraction=0.3, seed=0)


def opts(**kw):
    return TrainOptions(**{"device": "cpu", "event_interval_s": 0.0, "batch_size": 16, "epochs": 6, **kw})


def test_a_diverging_stage_two_restarts_once_from_stage_one(digits, tmp_path, monkeypatch):
    calls = []

    def always_diverged(history, classes, warmup_done):
        calls.append(len(history))
        return True

    monkeypatch.setattr(guards, "diverged", always_diverged)
    done = final(list(train_recommended(tiny_design(), digits, opts(), tmp_path)))
    assert done.kind == "finished" and "restarted once from stage 1" in done.outcome
    assert done.outcome.count("restarted") == 1


def test_a_nan_loss_in_stage_two_restarts_instead_of_failing(digits, tmp_path, monkeypatch):
    real = engine._check_finite
    seen = {"n": 0}

    def first_nan(loss_sum, epoch, step):
        seen["n"] += 1
        real(float("nan") if seen["n"] == 1 else loss_sum, epoch, step)

    monkeypatch.setattr(engine, "_check_finite", first_nan)
    done = final(list(train_recommended(tiny_design(), digits, opts(), tmp_path)))
    assert done.kind == "finished" and "restarted once" in done.outcome


def test_a_losing_stage_two_gives_up_and_keeps_stage_one(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(guards, "losing", lambda history, done, total: True)
    done = final(list(train_recommended(tiny_design(), digits, opts(), tmp_path)))
    assert done.kind == "finished" and "gave up" in done.outcome


def test_the_time_cap_ends_the_run_and_says_so(digits, tmp_path):
    done = final(list(train_recommended(tiny_design(), digits, opts(epochs=50, max_minutes=1e-4), tmp_path)))
    assert done.kind == "finished" and "time cap" in done.outcome and done.epochs_done < 50
