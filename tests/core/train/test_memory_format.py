"""Runs train in channels-last on the CPU (faster there) and hand the network back as it came."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from testkit.data import make_digits_folder
from testkit.train import tiny_cnn, tiny_design
from torch import nn

from designer.data.folders import scan_folder
from designer.data.transforms import make_transform
from designer.train import setup as ts
from designer.train.engine import train
from designer.train.features import extract
from designer.train.options import TrainOptions

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = torch.device("cpu")


def conv_weights(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.dim() == 4]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = make_digits_folder(tmp_path_factory.mktemp("digits"), per_class=4)
    return scan_folder(root, val_fraction=0.25, seed=0)


def opts(**kw) -> TrainOptions:
    return TrainOptions(**{"mode": "full", "epochs": 2, "batch_size": 8, "event_interval_s": 0.0,
                           "device": "cpu", **kw})


def test_convolutional_networks_on_the_cpu_train_channels_last():
    assert ts.memory_format(tiny_cnn(), CPU) is torch.channels_last
    assert ts.memory_format(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), CPU) is torch.contiguous_format
    assert ts.memory_format(tiny_cnn(), torch.device("cuda")) is torch.contiguous_format  # not measured there
    images = torch.randn(2, 3, 8, 8)
    assert ts.to_device(images, CPU, torch.channels_last).is_contiguous(memory_format=torch.channels_last)
    assert ts.to_device(torch.randn(2, 5), CPU, torch.channels_last).shape == (2, 5)  # not images: as it is


def test_a_run_hands_back_default_layout_weights_and_checkpoints(split, tmp_path):
    design = tiny_design()
    seen = []
    for event in train(design, split, opts(epochs=2), tmp_path):
        if event.kind == "batch":  # during the run the weights are channels-last
            seen.append(ts.layout_of(design.model))
    assert events_done(tmp_path) and seen and set(seen) == {torch.channels_last}
    assert all(p.is_contiguous() for p in conv_weights(design.model))
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert all(t.is_contiguous() for t in best.values())
    save_file(best, str(tmp_path / "best.safetensors"))  # refuses tensors that are not contiguous
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert all(t.is_contiguous() for t in last["model"].values())


def test_a_run_dropped_half_way_hands_back_default_layout_weights(split, tmp_path):
    design = tiny_design()
    events = train(design, split, opts(epochs=2), tmp_path)
    next(e for e in events if e.kind == "batch")
    assert ts.layout_of(design.model) is torch.channels_last
    events.close()
    assert ts.layout_of(design.model) is torch.contiguous_format


def test_channels_last_gives_the_same_numbers(split):
    model = tiny_cnn().eval()
    images = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        before = model(images)
        with ts.fast_layout(model, CPU) as fmt:
            after = model(ts.to_device(images, CPU, fmt))
    assert torch.allclose(before, after, atol=1e-5)
    assert ts.layout_of(model) is torch.contiguous_format  # put back as it was


def test_feature_extraction_keeps_the_layout_it_found(split):
    design = tiny_design()
    model, transform = design.model, make_transform(design)
    for layout in (torch.contiguous_format, torch.channels_last):
        model.to(memory_format=layout)
        gen = extract(model, "7", split.train, transform)
        try:
            while True:
                next(gen)
        except StopIteration as stop:
            assert stop.value.features.shape == (len(split.train), 128)
        assert ts.layout_of(model) is layout


def test_a_model_already_in_the_fast_layout_is_not_converted_again(monkeypatch):
    """A training run's model is channels-last already when stage 1 extracts features: converting it
    again, to the same layout, changed the run's later gradients (LFW: in the 6th digit), so the
    block leaves it alone; a model in the other layout is converted and then put back."""
    # as in EfficientNet-Lite0 on grey images: a 1-input stem, 1 x 1 and depthwise kernels only
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 3, groups=8))
    calls = []
    convert = model.to
    def recording(*args, **kwargs):
        calls.append(kwargs.get("memory_format"))
        return convert(*args, **kwargs)

    monkeypatch.setattr(model, "to", recording)
    for start, conversions in ((torch.channels_last, []), (torch.contiguous_format,
                                                           [torch.channels_last, torch.contiguous_format])):
        convert(memory_format=start)
        calls.clear()
        with ts.fast_layout(model, torch.device("cpu")) as fmt:
            assert fmt is torch.channels_last and ts.layout_of(model) is torch.channels_last
        assert calls == conversions and ts.layout_of(model) is start


def events_done(run_dir) -> bool:
    return (run_dir / "best.pt").is_file() and (run_dir / "last.pt").is_file()
