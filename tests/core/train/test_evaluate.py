"""Evaluation and prediction on a tiny probe-trained CNN over sklearn digits (CPU, seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from testkit.data import make_digits_folder, truncate_file
from testkit.train import tiny_cnn, tiny_design

from designer.base.errors import DesignerError
from designer.data.folders import scan_folder
from designer.data.transforms import make_transform
from designer.train.evaluate import evaluate, predict
from designer.train.options import TrainOptions
from designer.train.probe import linear_probe

# Tiny convs run ~10x slower with 2 threads on a busy 2-core box.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=12, size=16)
    split = scan_folder(root, val_fraction=0.34, seed=0)
    design = tiny_design()
    options = TrainOptions(device="cpu", event_interval_s=0.0)
    events = list(linear_probe(design, split, options, tmp_path_factory.mktemp("run"), strengths=(1e-2,)))
    assert events[-1].kind == "finished"
    return design, split


def test_metrics_agree_with_each_other_and_with_predict(trained):
    design, split = trained
    ev = evaluate(design, split.val, split.classes, batch_size=7, device="cpu")
    n = len(split.val)
    assert ev.num_images == n and ev.confusion.shape == (10, 10) and ev.confusion.dtype == np.int64
    assert ev.accuracy == pytest.approx(np.trace(ev.confusion) / n)
    assert ev.accuracy > 0.5  # chance is 0.1
    assert len(ev.misclassified) == n - np.trace(ev.confusion)
    for i, name in enumerate(split.classes):
        assert ev.counts[name] == ev.confusion[i].sum()
        assert ev.per_class[name] == pytest.approx(ev.confusion[i, i] / ev.confusion[i].sum())
    if ev.misclassified:  # each mistake is what predict says for that file
        wrong = ev.misclassified[0]
        top = predict(design, [wrong.path], topk=1, classes=split.classes, device="cpu")[0].top[0]
        assert top[0] == wrong.predicted != wrong.true and top[1] == pytest.approx(wrong.confidence, abs=1e-5)
    json.dumps(ev.to_dict())
    text = ev.format()
    assert "accuracy" in text and "confusion matrix" in text


def test_evaluation_reports_its_progress(trained):
    """Issue 13: evaluating took ~11 s with no sign of progress."""
    design, split = trained
    seen: list[tuple[int, int]] = []
    evaluate(design, split.val, split.classes, batch_size=7, device="cpu", progress=lambda d, t: seen.append((d, t)))
    n = len(split.val)
    assert len(seen) == -(-n // 7) and seen[-1] == (n, n)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and {t for _, t in seen} == {n}


def test_unreadable_file_is_listed_not_fatal(trained, tmp_path):
    design, split = trained
    import shutil

    bad = tmp_path / "bad.png"
    shutil.copy(split.val[0][0], bad)
    truncate_file(bad)
    samples = [(str(bad), split.val[0][1])] + split.val[1:]
    ev = evaluate(design, samples, split.classes, device="cpu")
    assert ev.num_images == len(split.val) - 1
    assert [p for p, _ in ev.failed] == [str(bad)]


def test_predict_topk_and_per_file_errors(trained, tmp_path):
    design, split = trained
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    paths = [split.val[0][0], str(tmp_path / "missing.png"), str(text), split.val[1][0]]
    out = predict(design, paths, topk=3, classes=split.classes, device="cpu")
    assert [p.path for p in out] == paths
    assert out[1].error == "file not found" and "cannot be read" in out[2].error
    for p in (out[0], out[3]):
        probs = [v for _, v in p.top]
        assert p.error is None and len(p.top) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1
    assert out[0].top[0][0] in split.classes
    unnamed = predict(design, paths[:1], topk=2, device="cpu")[0]
    assert unnamed.top[0][0] in {str(k) for k in range(10)}


def test_plain_model_needs_a_transform(trained):
    design, split = trained
    with pytest.raises(DesignerError, match="transform"):
        predict(design.model, [split.val[0][0]])
    out = predict(design.model, [split.val[0][0]], transform=make_transform(design), device="cpu")
    assert out[0].top


def test_wrong_class_count_is_explained(trained):
    design, split = trained
    model = tiny_cnn(1, classes=4)
    with pytest.raises(DesignerError, match="--classes 10"):
        evaluate(model, split.val, split.classes, transform=make_transform(design), device="cpu")
