"""Feature cache, head-only training on cached features, and the linear probe.

The cached-head tests use resnet18 (weights none) at 32x32 on tiny generated data;
the probe tests a random tiny CNN and EfficientNet-Lite0 (real weights) on sklearn digits.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
import torch
from testkit.data import make_digits_folder, make_shapes_folder
from testkit.train import final, tiny_design

from designer.base.errors import DesignerError
from designer.base.jobs import drain
from designer.data.folders import scan_folder
from designer.train import features
from designer.train.evaluate import evaluate
from designer.train.options import TrainOptions
from designer.train.probe import linear_probe, probe_layer, probe_layer_accuracy, probe_weights

# Tiny convs run ~10x slower with 2 threads on a busy 2-core box.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=15, size=16)
    return scan_folder(root, val_fraction=0.34, seed=0)


def opts(**kw) -> TrainOptions:
    return TrainOptions(**{"mode": "full", "device": "cpu", "event_interval_s": 0.0, "batch_size": 8, **kw})


# --- linear probe -------------------------------------------------------------------------------


def test_probe_on_digits_beats_chance_and_becomes_the_head(digits, tmp_path):
    design = tiny_design()
    events = list(linear_probe(design, digits, opts(), tmp_path, strengths=(1e-3, 1e-2, 1e-1)))
    assert [e.kind for e in events if e.kind != "batch"] == ["start"] + ["epoch", "checkpoint"] * 3 + ["finished"]
    assert all(e.epoch == 0 for e in events if e.kind == "batch")  # extraction progress
    done = final(events)
    assert done.best_val_acc > 0.5  # chance is 0.1
    # The model itself now predicts like the probe: evaluate through the full network.
    ev = evaluate(design, digits.val, digits.classes, device="cpu")
    assert ev.accuracy == pytest.approx(done.best_val_acc, abs=1e-6)
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert torch.equal(best["7.weight"], design.model[7].weight)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["status"] == "finished" and [e["l2"] for e in history["epochs"]] == [1e-3, 1e-2, 1e-1]


def test_svm_probe(digits, tmp_path):
    done = final(list(linear_probe(tiny_design(), digits, opts(), tmp_path, classifier="svm", strengths=(1e-2,))))
    assert done.kind == "finished" and done.best_val_acc > 0.5
    with pytest.raises(DesignerError, match="logistic or svm"):
        list(linear_probe(tiny_design(), digits, opts(), tmp_path, classifier="forest"))


def test_probe_weights_fold_standardisation_and_binary_case():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(60, 5))
    y = (x[:, 0] + x[:, 1] > 6).astype(int)
    mean, std = x.mean(0), x.std(0)
    est = LogisticRegression().fit((x - mean) / std, y)
    weight, bias = probe_weights(est, mean, std, num_classes=2)
    probs = torch.softmax(torch.tensor(x, dtype=torch.float32) @ weight.T + bias, 1)[:, 1].numpy()
    assert np.allclose(probs, est.predict_proba((x - mean) / std)[:, 1], atol=1e-5)


def test_probe_cancel_keeps_the_best_so_far(digits, tmp_path):
    design = tiny_design()
    fits = []

    def cancel():
        return len(fits) >= 1

    events = []
    for e in linear_probe(design, digits, opts(), tmp_path, cancel=cancel, strengths=(1e-2, 1e-1)):
        events.append(e)
        if e.kind == "epoch":
            fits.append(e)
    stopped = final(events)
    assert stopped.kind == "stopped" and stopped.epoch == 1 and stopped.best_epoch == 1
    assert (tmp_path / "best.pt").is_file() and stopped.checkpoint.endswith("last.pt")


def test_probe_fits_the_heads_last_linear_and_refuses_hidden_layers(digits, tmp_path):
    from torch import nn

    design = tiny_design()
    design.model[7] = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 10))  # a head with dropout: fine
    assert probe_layer(design) == "7.1"
    assert final(list(linear_probe(design, digits, opts(), tmp_path, strengths=(1e-2,)))).best_val_acc > 0.5
    design.model[7] = nn.Sequential(nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 10))
    with pytest.raises(DesignerError, match="hidden layer"):
        list(linear_probe(design, digits, opts(), tmp_path))
    design.classifier_path = "6"  # the Flatten
    with pytest.raises(DesignerError, match="plain Linear"):
        list(linear_probe(design, digits, opts(), tmp_path))


def test_probe_any_layer_for_comparison(digits):
    design = tiny_design()
    before = copy.deepcopy(design.model.state_dict())
    acc = probe_layer_accuracy(design, digits, "3", opts())  # the second conv's input, pooled
    assert 0.3 < acc <= 1.0
    assert all(torch.equal(before[k], v) for k, v in design.model.state_dict().items())


# --- the feature cache -------------------------------------------------------------------------------


def _extract(design, split, cache_dir):
    return drain(features.cached_features(design, "7", [split.train], opts(), cache_dir))


def test_cache_hits_memory_then_disk_and_misses_on_change(digits, tmp_path):
    design = tiny_design()
    features._MEMORY.clear()
    (first,) = _extract(design, digits, tmp_path)
    files = list(tmp_path.glob("features-*.pt"))
    assert len(files) == 1 and first.features.shape == (len(digits.train), 128)
    assert _extract(design, digits, tmp_path)[0] is first  # memory
    features._MEMORY.clear()
    again = _extract(design, digits, tmp_path)[0]  # disk
    assert torch.equal(again.features, first.features) and again.paths == first.paths
    with torch.no_grad():
        design.model[0].weight.add_(0.1)  # other backbone weights: other features
    assert not torch.equal(_extract(design, digits, tmp_path)[0].features, first.features)
    path = digits.train[0][0]
    os.utime(path, ns=(1, 1))  # a changed file: a new key
    assert features.feature_key(design.model, "7", digits.train, "t") != features.feature_key(
        design.model, "7", digits.train[1:] + digits.train[:1], "t")
    assert len(list(tmp_path.glob("features-*.pt"))) == 2


# --- head-only training on cached features (needs designer.model.build) -------------------------------


@pytest.fixture(scope="module")
def build():
    from designer.model.build import build

    return build


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = make_shapes_folder(tmp_path_factory.mktemp("shapes"), per_class=8, size=32)
    return scan_folder(root, val_fraction=0.25, seed=0)


def _recipe(*extra):
    from designer.model.ops import FreezeUntil, ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe

    return Recipe.for_model("resnet18", weights="none").with_ops(
        SetInput(32, 32, 3), ReplaceClassifier(3), FreezeUntil("layer4"), *extra)


def _head_opts(**kw):
    return opts(epochs=2, optimizer="sgd", lr=0.1, momentum=0.9, schedule="constant", seed=3, **kw)


def test_cached_head_gives_the_same_head_update_as_full_training(build, shapes, tmp_path):
    from designer.train.engine import train

    design = build(_recipe())
    twin = copy.deepcopy(design)
    full = list(train(design, shapes, _head_opts(), tmp_path / "full"))
    cached = list(features.train_cached_head(twin, shapes, _head_opts(mode="cached-head"), tmp_path / "cached"))
    assert final(full).kind == final(cached).kind == "finished"
    assert torch.allclose(design.model.fc.weight, twin.model.fc.weight, atol=1e-5)
    assert torch.allclose(design.model.fc.bias, twin.model.fc.bias, atol=1e-5)
    a = json.loads((tmp_path / "full" / "history.json").read_text())["epochs"]
    b = json.loads((tmp_path / "cached" / "history.json").read_text())["epochs"]
    for ea, eb in zip(a, b):
        assert ea["train_loss"] == pytest.approx(eb["train_loss"], abs=1e-5) and ea["val_acc"] == eb["val_acc"]
    kinds = {e.kind for e in cached}
    assert kinds == {"start", "batch", "epoch", "checkpoint", "finished"}
    for name in ("best.pt", "last.pt", "history.json"):
        assert (tmp_path / "cached" / name).is_file()
    assert json.loads((tmp_path / "cached" / "history.json").read_text())["options"]["mode"] == "cached-head"
    assert "forward" not in vars(twin.model)  # the feature forward was only for the run


def test_cached_head_on_an_unfrozen_design_freezes_the_rest_for_the_run_and_says_so(build, shapes, tmp_path):
    from designer.data.transforms import Augment
    from designer.model.ops import Freeze

    design = build(_recipe(Freeze("layer4", frozen=False)))  # layer4 trains in this design
    recipe, before = design.recipe, {k: v.clone() for k, v in design.model.state_dict().items()}
    events = list(features.train_cached_head(design, shapes, _head_opts(mode="cached-head",
                                                                        augment=Augment(hflip=True)), tmp_path))
    start, done = events[0], final(events)
    assert done.kind == "finished"
    assert "frozen for this run only" in start.plan and "Augmentation is not used" in start.plan
    head = sum(p.numel() for p in design.model.fc.parameters())
    assert start.trainable_params == head  # only the classifier trains, whatever the design says
    after = design.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}
    assert design.recipe is recipe  # the design itself is unchanged
    assert json.loads((tmp_path / "history.json").read_text())["plan"] == start.plan


def test_cached_head_needs_a_trainable_classifier(build, shapes, tmp_path):
    from designer.model.ops import Freeze

    frozen = build(_recipe(Freeze("fc")))
    with pytest.raises(DesignerError, match="classifier 'fc' is frozen"):
        list(features.train_cached_head(frozen, shapes, _head_opts(mode="cached-head"), tmp_path))


def test_hand_over_to_fine_tuning_starts_from_the_trained_head(build, shapes, tmp_path):
    from designer.model.ops import Freeze
    from designer.train.engine import train
    from designer.train.runs import load_run_weights

    design = build(_recipe())
    head_run = tmp_path / "head"
    done = final(list(features.train_cached_head(design, shapes, _head_opts(mode="cached-head"), head_run)))
    unfrozen = build(_recipe(Freeze("layer4", frozen=False)))
    assert load_run_weights(unfrozen, head_run).ok
    assert torch.equal(unfrozen.model.fc.weight, design.model.fc.weight)
    assert evaluate(unfrozen, shapes.val, shapes.classes, device="cpu").accuracy == pytest.approx(done.best_val_acc)
    events = list(train(unfrozen, shapes, opts(epochs=1), tmp_path / "fine"))
    assert final(events).kind == "finished"
    assert not torch.equal(unfrozen.model.layer4[1].conv2.weight, design.model.layer4[1].conv2.weight)


def test_cancel_while_caching_stops_without_weights(build, shapes, tmp_path):
    """Nothing was trained, so there is no best.pt to offer as a result (issue 13)."""
    design = build(_recipe())
    features._MEMORY.clear()
    events = list(features.train_cached_head(design, shapes, _head_opts(mode="cached-head"), tmp_path,
                                             cancel=lambda: True))
    stopped = final(events)
    assert stopped.kind == "stopped" and stopped.epoch == 0
    assert not (tmp_path / "best.pt").exists()


def test_probe_on_lite0_real_weights_digits(build, digits, tmp_path):
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe

    design = build(Recipe.for_model("efficientnet_lite0").with_ops(
        SetInput(32, 32, 1, conv_mode="replicate"), ReplaceClassifier(10)))
    done = final(list(linear_probe(design, digits, opts(), tmp_path, strengths=(1e-2,))))
    assert done.kind == "finished" and done.best_val_acc > 0.5  # chance is 0.1
