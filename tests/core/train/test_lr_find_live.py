"""The LR range test shows its curve as it runs, and Stop keeps what it measured (issue 22, item 6)."""

from __future__ import annotations

import math

import pytest
from testkit.data import make_digits_folder
from testkit.train import tiny_design

from designer.data.folders import scan_folder
from designer.train.lr_find import LRProgress, find_lr, lr_sweep, stopped_finding
from designer.train.options import TrainOptions

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return scan_folder(make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=8, size=16), 0.25, 0)


def test_each_step_reports_every_point_so_far(digits):
    reports = []
    finding = find_lr(tiny_design(), digits, TrainOptions(device="cpu", batch_size=8), steps=12,
                      report=reports.append)
    assert all(isinstance(r, LRProgress) for r in reports)
    assert [len(r.lrs) for r in reports] == list(range(1, len(reports) + 1))
    assert list(reports[-1].lrs) == finding.lrs and list(reports[-1].losses) == finding.losses
    assert not finding.stopped


def test_stop_keeps_the_points_measured(digits):
    stop = {"after": 15, "seen": 0}

    def cancel() -> bool:
        return stop["seen"] >= stop["after"]

    sweep = lr_sweep(tiny_design(), digits, TrainOptions(device="cpu", batch_size=8), cancel=cancel, steps=100)
    while True:
        try:
            progress = next(sweep)
        except StopIteration as end:
            finding = end.value
            break
        stop["seen"] = len(progress.lrs)
    assert finding.stopped and len(finding.lrs) == len(finding.losses) == 15
    assert finding.lrs == sorted(finding.lrs)


def _curve(losses):
    return [1e-6 * 10 ** (k / 10) for k in range(len(losses))], losses


def test_a_stopped_test_suggests_from_a_loss_that_has_fallen():
    falling = [2.3] * 10 + [2.3 - 0.1 * k for k in range(15)]  # past the noisy first tenth, then a clear fall
    lrs, losses = _curve(falling)
    finding = stopped_finding(lrs, losses, steps=100)
    assert finding.stopped and finding.suggestion is not None
    assert lrs[10] <= finding.suggestion <= lrs[-1] and math.isfinite(finding.steepest)


@pytest.mark.parametrize("losses", [[2.3] * 14, [2.3] * 10 + [2.2, 2.1, 2.0]],
                         ids=["flat: no valley yet", "too few points"])
def test_a_stopped_test_suggests_nothing_it_cannot_back(losses):
    lrs, losses = _curve(losses)
    finding = stopped_finding(lrs, losses, steps=100)
    assert finding.stopped and finding.suggestion is None and finding.lrs == lrs
