"""The training engine on tiny generated shape folders with a tiny CNN (CPU, seconds)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest
import torch
from testkit.data import make_shapes_folder, truncate_file
from torch import nn

from designer.base.errors import DesignerError
from designer.data.folders import scan_folder
from designer.data.transforms import Augment
from designer.train.engine import train
from designer.train.events import event_from_dict
from designer.train.options import TrainOptions, default_lr
from designer.train.setup import load_checkpoint, resolve_device, schedule_factor

# Tiny convs run ~10x slower with 2 threads on a busy 2-core box.
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_cnn(classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes),
    )


@dataclass
class FakeDesign:
    model: nn.Module
    input_shape: tuple = (3, 24, 24)
    mean: tuple = (0.5, 0.5, 0.5)
    std: tuple = (0.5, 0.5, 0.5)
    replicate_grey: bool = False
    num_classes: int = 3
    recipe: object = None


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = make_shapes_folder(tmp_path_factory.mktemp("shapes"), per_class=16, size=24, corrupt=4)
    return scan_folder(root, val_fraction=0.25, seed=0)


def opts(**kw) -> TrainOptions:
    base = {"mode": "full", "epochs": 3, "batch_size": 8, "lr": 0.05, "event_interval_s": 0.0,
            "device": "cpu"}
    return TrainOptions(**{**base, **kw})


def run_all(gen) -> list:
    return list(gen)


def test_accuracy_rises_and_events_are_complete(split, tmp_path):
    design = FakeDesign(tiny_cnn())
    events = run_all(train(design, split, opts(epochs=4, checkpoint_interval_s=0), tmp_path))
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finished"
    assert kinds.count("epoch") == 4 and kinds.count("checkpoint") == 4
    epochs = [e for e in events if e.kind == "epoch"]
    assert epochs[-1].best_val_acc > 0.6  # chance is 1/3
    assert epochs[-1].train_acc > epochs[0].train_acc or epochs[0].train_acc > 0.9
    batch = next(e for e in events if e.kind == "batch")
    assert batch.steps_per_epoch == 5 and batch.images_per_s > 0 and batch.eta_s >= 0
    for e in events:  # every event is a JSON line and comes back the same
        assert event_from_dict(json.loads(json.dumps(e.to_dict()))) == e
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["status"] == "finished" and len(history["epochs"]) == 4
    assert history["classes"] == ["circle", "square", "triangle"]
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()


def test_cancel_stops_within_one_batch_and_keeps_best(split, tmp_path):
    design = FakeDesign(tiny_cnn())
    cancel = threading.Event()
    best_state, after_cancel = None, []
    for event in train(design, split, opts(epochs=5), tmp_path, cancel=cancel):
        if cancel.is_set():
            after_cancel.append(event.kind)
        if event.kind == "epoch" and event.is_best:
            best_state = {k: v.clone() for k, v in design.model.state_dict().items()}
        if event.kind == "batch" and event.epoch == 3 and event.step == 2:
            cancel.set()
    assert after_cancel[-1] == "stopped" and after_cancel.count("batch") <= 1
    assert set(after_cancel) <= {"batch", "stopped"}
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    for key, value in best_state.items():
        assert torch.equal(saved[key], value), key
        assert torch.equal(design.model.state_dict()[key], value), key  # the model holds the best weights
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2


def test_cancel_callable_before_any_epoch_writes_no_best(split, tmp_path):
    """Nothing was trained: no best.pt (issue 13), but last.pt so that the run can be resumed."""
    events = run_all(train(FakeDesign(tiny_cnn()), split, opts(), tmp_path, cancel=lambda: True))
    assert [e.kind for e in events] == ["start", "stopped"]
    assert not (tmp_path / "best.pt").exists() and events[-1].epoch == 0
    assert (tmp_path / "last.pt").is_file()


def test_resume_continues_from_next_epoch_exactly(split, tmp_path):
    aug = Augment(hflip=True, rotation=10, color=0.2)  # random draws must replay too
    o = opts(epochs=4, schedule="constant", augment=aug)
    run_all(train(FakeDesign(tiny_cnn()), split, o, tmp_path / "straight"))
    run_all(train(FakeDesign(tiny_cnn()), split, opts(epochs=2, schedule="constant", augment=aug),
                  tmp_path / "part"))
    events = run_all(train(FakeDesign(tiny_cnn()), split, o, tmp_path / "part",
                           resume=tmp_path / "part" / "last.pt"))
    assert events[0].kind == "start" and events[0].start_epoch == 3
    assert [e.epoch for e in events if e.kind == "epoch"] == [3, 4]
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "part" / "last.pt")
    assert [h["epoch"] for h in b["history"]] == [1, 2, 3, 4]
    for key in a["model"]:
        assert torch.allclose(a["model"][key].float(), b["model"][key].float(), atol=1e-5), key


def test_checkpoints_are_throttled_but_the_last_epoch_and_a_stop_always_write_one(split, tmp_path):
    o = opts(epochs=3, checkpoint_interval_s=1e9)
    events = run_all(train(FakeDesign(tiny_cnn()), split, o, tmp_path / "done"))
    assert [e.epoch for e in events if e.kind == "checkpoint"] == [3]
    assert load_checkpoint(tmp_path / "done" / "last.pt")["epoch"] == 3
    history = json.loads((tmp_path / "done" / "history.json").read_text())
    assert history["status"] == "finished" and len(history["epochs"]) == 3
    # Between checkpoints history.json still follows every epoch (the GUI and CLI read it live).
    cancel = threading.Event()
    for event in train(FakeDesign(tiny_cnn()), split, o, tmp_path / "stop", cancel=cancel):
        if event.kind == "batch" and event.epoch == 2 and event.step == 1:
            assert len(json.loads((tmp_path / "stop" / "history.json").read_text())["epochs"]) == 1
            assert not (tmp_path / "stop" / "last.pt").exists()
        if event.kind == "batch" and event.epoch == 2 and event.step == 2:
            cancel.set()
    assert event.kind == "stopped" and event.epoch == 1
    assert load_checkpoint(tmp_path / "stop" / "last.pt")["epoch"] == 1
    with pytest.raises(DesignerError,
                       match="'checkpoint_interval_s' is -1; it should be greater than or equal to 0"):
        opts(checkpoint_interval_s=-1)


def test_resume_with_wrong_file_raises(split, tmp_path):
    with pytest.raises(DesignerError, match="does not exist"):
        run_all(train(FakeDesign(tiny_cnn()), split, opts(), tmp_path, resume=tmp_path / "nope.pt"))


def test_bad_files_skipped_including_one_broken_after_scan(tmp_path):
    root = make_shapes_folder(tmp_path / "data", per_class=8, size=24, corrupt=4)
    split = scan_folder(root, val_fraction=0.25)
    assert len(split.skipped) == 4
    broken = split.train[3][0]
    truncate_file(broken)
    events = run_all(train(FakeDesign(tiny_cnn()), split, opts(epochs=2), tmp_path / "run"))
    assert events[-1].kind == "finished"
    assert [p for p, _ in events[-1].skipped] == [broken]


def test_lone_last_batch_is_dropped_for_batchnorm(tmp_path):
    root = make_shapes_folder(tmp_path / "data", classes=("circle", "square"), per_class=5, size=16)
    split = scan_folder(root, val_fraction=0.0)  # 10 train images, batch 3 -> 3+3+3+1
    events = run_all(train(FakeDesign(tiny_cnn(2), (3, 16, 16), num_classes=2), split,
                           opts(batch_size=3, epochs=1), tmp_path / "run"))
    assert events[-1].kind == "finished" and events[0].steps_per_epoch == 3


def test_class_weights_option_runs(tmp_path):
    root = make_shapes_folder(tmp_path / "d", classes=("circle", "square"),
                              per_class={"circle": 12, "square": 4}, size=16)
    split = scan_folder(root)
    events = run_all(train(FakeDesign(tiny_cnn(2), (3, 16, 16), num_classes=2), split,
                           opts(epochs=1, class_weights=True), tmp_path / "run"))
    assert events[-1].kind == "finished"


class Exploding(nn.Module):
    def __init__(self, exc: Exception):
        super().__init__()
        self.linear = nn.Linear(1, 3)
        self.exc = exc

    def forward(self, x):
        raise self.exc


def test_out_of_memory_becomes_failed_event(split, tmp_path):
    design = FakeDesign(Exploding(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")))
    events = run_all(train(design, split, opts(batch_size=64), tmp_path))
    failed = events[-1]
    assert failed.kind == "failed" and failed.out_of_memory
    assert "batch size" in failed.hint and "32" in failed.hint and "Traceback" not in failed.message


def test_other_errors_become_failed_event_with_log(split, tmp_path):
    events = run_all(train(FakeDesign(Exploding(ValueError("shapes do not match"))), split, opts(), tmp_path))
    assert events[-1].kind == "failed" and "shapes do not match" in events[-1].message
    assert "ValueError" not in events[-1].message  # words for the user, not a class name (issue 22)
    assert "Traceback" in (tmp_path / "error.log").read_text()


def test_mismatched_classes_raise_before_start(split, tmp_path):
    with pytest.raises(DesignerError, match="3 classes"):
        next(train(FakeDesign(tiny_cnn(5), num_classes=5), split, opts(), tmp_path))


def test_default_lrs_plain_fine_tuning_is_ten_times_below_the_rest():
    for name in ("sgd", "adam", "adamw"):
        assert default_lr(name, "scratch") == pytest.approx(10 * default_lr(name, "full"))
        assert default_lr(name, "recommended") == default_lr(name, "scratch") \
            == default_lr(name, "cached-head")
    assert TrainOptions().mode == "recommended" and TrainOptions().resolved_lr == pytest.approx(1e-2)
    assert TrainOptions(mode="full").resolved_lr == pytest.approx(1e-3)
    assert TrainOptions(mode="scratch").resolved_lr == pytest.approx(1e-2)
    assert TrainOptions(optimizer="adam", mode="full").resolved_lr == pytest.approx(1e-4)
    assert TrainOptions(optimizer="adam", lr=0.5).resolved_lr == 0.5


def test_options_roundtrip_and_validation():
    o = TrainOptions(optimizer="adamw", schedule="step", epochs=7,
                     augment={"hflip": True, "scale": [0.9, 1.1]})
    assert TrainOptions.from_dict(json.loads(json.dumps(o.to_dict()))) == o
    for bad in ({"optimizer": "lbfgs"}, {"epochs": 0}, {"device": "tpu"}, {"lr": -1.0}):
        with pytest.raises(DesignerError):
            TrainOptions(**bad)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(DesignerError, match="CUDA"):
            resolve_device("cuda")


def test_lr_schedule_shapes():
    o = TrainOptions(epochs=4, schedule="cosine", warmup_epochs=1)
    assert schedule_factor(0, 10, o) == pytest.approx(0.1) and schedule_factor(9, 10, o) == pytest.approx(1.0)
    assert schedule_factor(10, 10, o) == pytest.approx(1.0) and schedule_factor(39, 10, o) < 0.01
    assert schedule_factor(99, 10, o) == pytest.approx(0.0)  # clamped past the end
    s = TrainOptions(epochs=6, schedule="step", step_size=2, gamma=0.5)
    assert [schedule_factor(e * 10, 10, s) for e in range(6)] == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_scratch_mode_reinitialises(split, tmp_path):
    model = tiny_cnn()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    run_all(train(FakeDesign(model), split, opts(epochs=1, mode="scratch", lr=1e-9), tmp_path))
    assert model[0].weight.abs().sum() > 0


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from testkit.data import make_digits_folder

    return scan_folder(make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=6, size=16), 0.34)


@pytest.mark.parametrize("channels, replicate", [(1, False), (3, True)])
def test_grey_digits_train_with_adapted_or_replicated_input(digits, tmp_path, channels, replicate):
    split = digits
    model = tiny_cnn(10)
    model[0] = nn.Conv2d(channels, 8, 3, padding=1)
    design = FakeDesign(model, (channels, 16, 16), (0.5,) * channels, (0.5,) * channels, replicate, 10)
    events = run_all(train(design, split, opts(epochs=1), tmp_path / "run"))
    assert events[-1].kind == "finished"


def _resnet_design(*policy_ops):
    from designer.model import build
    from designer.model.ops import ReplaceClassifier, SetInput
    from designer.model.recipe import Recipe

    recipe = Recipe.for_model("resnet18", weights="none").with_ops(SetInput(24, 24), ReplaceClassifier(3),
                                                                   *policy_ops)
    return build.build(recipe)


def test_frozen_layers_and_their_batchnorm_stay_unchanged(split, tmp_path):
    from designer.model.ops import FreezeUntil

    design = _resnet_design(FreezeUntil("layer3"))
    before = {k: v.clone() for k, v in design.model.state_dict().items()}
    events = run_all(train(design, split, opts(epochs=2, lr=0.05), tmp_path))
    assert events[-1].kind == "finished", events[-1]
    assert [e.epoch for e in events if e.kind == "epoch"] == [1, 2]
    assert 0 < events[0].trainable_params < events[0].trainable_params + events[0].frozen_params
    after = design.model.state_dict()
    frozen = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.")
    for key, value in before.items():
        if key.startswith(frozen):  # weights and BN running statistics alike
            assert torch.equal(after[key], value), key
    assert not torch.equal(after["layer4.0.bn1.running_mean"], before["layer4.0.bn1.running_mean"])
    head = [k for k in before if k.startswith(design.classifier_path) and k.endswith("weight")]
    assert head and not torch.equal(after[head[0]], before[head[0]])
