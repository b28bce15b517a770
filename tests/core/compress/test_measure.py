"""Measured figures: ONNX Runtime latency (median of at least 20 runs), size, MACs, int8 variants with
their parity against the float model."""

import math

import pytest
import torch
from testkit.data import make_digits_folder
from torch import nn

from designer.compress.measure import (
    MIN_RUNS,
    count_macs,
    count_params,
    latency_ms,
    onnx_accuracy,
    torch_accuracy,
    write_onnx,
)
from designer.compress.quantize import VARIANTS, int8_variants, parity
from designer.data.folders import scan_folder
from designer.model.build import build
from designer.model.ops import ReplaceClassifier, SetInput
from designer.model.recipe import Recipe


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("measure")
    split = scan_folder(make_digits_folder(root / "data", per_class=4, size=32), 0.5, 0)
    recipe = Recipe.for_model("mobilenet_v3_small", "none").with_ops(SetInput(height=32, width=32),
                                                                      ReplaceClassifier(num_classes=10))
    design = build(recipe)
    design.model.eval()
    path = write_onnx(design.model, (3, 32, 32), root / "float" / "model.onnx")
    return root, split, design, path


def test_latency_is_a_median_of_timed_runs(small, monkeypatch):
    _, _, _, path = small
    calls = []
    import designer.compress.measure as measure_mod

    real = measure_mod.statistics.median
    monkeypatch.setattr(measure_mod.statistics, "median", lambda xs: calls.append(len(xs)) or real(xs))
    for batch in (1, 32):
        value = latency_ms(path, (3, 32, 32), batch)
        assert math.isfinite(value) and value > 0
    assert calls == [MIN_RUNS, MIN_RUNS]


def test_macs_and_params_are_counted_on_the_network():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(8 * 4 * 4, 2))
    assert count_macs(model, (3, 4, 4)) == 3 * 8 * 9 * 16 + 128 * 2
    assert count_params(model) == 3 * 8 * 9 + 128 * 2 + 2


def test_onnx_accuracy_matches_torch(small):
    _, split, design, path = small
    acc, logits = onnx_accuracy(path, design, split.val)
    assert acc == pytest.approx(torch_accuracy(design, split.val, split.classes))
    assert logits.shape == (len(split.val), 10)


def test_each_int8_format_is_measured_with_its_parity(small):
    root, split, design, path = small
    results = list(int8_variants(design, path, root, split.train, split.val, 0, MIN_RUNS))
    assert len(results) == len(VARIANTS)
    measured = [(f, p) for f, p, failed in results if failed is None]
    assert measured, [failed for _, _, failed in results]
    for figures, match in measured:
        assert figures.label.startswith("int8 ") and figures.size_bytes < path.stat().st_size
        assert figures.latency_b1_ms > 0 and 0.0 <= match.top1_agreement <= 1.0


def test_parity_compares_logits_and_top1():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).numpy()
    b = torch.tensor([[0.5, 0.0], [1.0, 0.0]]).numpy()
    match = parity(a, b)
    assert match.max_abs_logit_diff == pytest.approx(1.0) and match.top1_agreement == 0.5
