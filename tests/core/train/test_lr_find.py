"""The LR range test on a tiny model, and the logistic fit stage 1 and the probe use."""

from __future__ import annotations

import pytest
import torch
from testkit.data import make_digits_folder
from testkit.train import tiny_design

from designer.base.jobs import JobCancelled
from designer.data.folders import scan_folder
from designer.train.logistic import fit, fit_grid, score
from designer.train.lr_find import find_lr, valley
from designer.train.options import TrainOptions

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=8, size=16)
    return scan_folder(root, val_fraction=0.25, seed=0)


def test_lr_range_test_on_a_tiny_model(digits):
    design = tiny_design()
    before = {k: v.clone() for k, v in design.model.state_dict().items()}
    reports = []
    finding = find_lr(design, digits, TrainOptions(device="cpu", batch_size=8), steps=40, report=reports.append)
    assert 8 <= len(finding.lrs) <= 40 and finding.lrs == sorted(finding.lrs)
    assert len(finding.losses) == len(finding.lrs)
    assert finding.lrs[0] <= finding.suggestion <= finding.lrs[-1]
    assert finding.lrs[0] <= finding.steepest <= finding.lrs[-1] and finding.lrs[0] <= finding.lowest
    assert reports and reports[-1].total == 40 and "LR range test" in reports[-1].text
    for name, value in design.model.state_dict().items():  # the test trains a copy
        assert torch.equal(value, before[name]), name


def test_lr_range_test_stops_when_cancelled(digits):
    with pytest.raises(JobCancelled):
        find_lr(tiny_design(), digits, TrainOptions(device="cpu", batch_size=8), cancel=lambda: True, steps=20)


def test_valley_is_a_third_and_a_sixth_into_the_longest_fall():
    lrs = [10.0 ** k for k in range(-6, 1)]  # 7 points
    losses = [3.0, 2.9, 2.0, 1.0, 0.5, 0.4, 9.0]  # falls from index 0 to 5
    # fastai's arithmetic: start = 5 - 6 = -1, a third of 6 is 2, a sixth 1: index -1 + 2 + 1 = 2
    assert valley(lrs, losses) == lrs[2]


def test_logistic_fit_is_the_same_for_any_feature_scale():
    torch.manual_seed(0)
    x = torch.randn(60, 5)
    y = (x[:, 0] + x[:, 1] > 0).long()
    w1, b1 = fit(x, y, 2, l2=1e-2)
    w2, b2 = fit(x * 1000.0, y, 2, l2=1e-2)  # one global scale: the same head, rescaled
    torch.testing.assert_close(w1, w2 * 1000.0, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(b1, b2, rtol=1e-3, atol=1e-4)
    _, acc = score(w1, b1, x, y)
    assert acc > 0.9
    fits = list(fit_grid(x[:40], y[:40], x[40:], y[40:], 2))
    assert [f.l2 for f in fits] == [1e-3, 1e-2, 1e-1] and all(f.val_acc is not None for f in fits)
