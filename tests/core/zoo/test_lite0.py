"""EfficientNet-Lite0 with its packaged ImageNet weights (no download)."""

import pytest
import torch

from designer.zoo import lite0
from designer.zoo.weights import read_state_dict


@pytest.fixture(scope="module")
def pretrained():
    model, report = lite0.build(pretrained=True)
    return model.eval(), report


def test_packaged_weights_load_strictly(pretrained):
    _, report = pretrained
    assert report.ok and len(report.matched) == lite0.NUM_KEYS == 296
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    assert len(read_state_dict(lite0.weights_path())) == 296


def test_metadata_matches_the_model(pretrained):
    model, _ = pretrained
    assert sum(p.numel() for p in model.parameters()) == lite0.PARAMS
    assert lite0.MEAN == lite0.STD == (0.5, 0.5, 0.5)
    assert type(model.get_submodule(lite0.FIRST_CONV)).__name__ == "Conv2dStaticSamePadding"
    assert isinstance(model.get_submodule(lite0.CLASSIFIER), torch.nn.Linear)


def test_classifies_a_synthetic_image_deterministically(pretrained):
    model, _ = pretrained
    torch.manual_seed(0)
    # A smooth colour gradient, normalised the TF way: (x - 0.5) / 0.5.
    ramp = torch.linspace(0, 1, lite0.INPUT_SIZE)
    image = torch.stack([ramp.expand(224, 224), ramp.expand(224, 224).T, torch.full((224, 224), 0.3)])
    x = ((image - 0.5) / 0.5).unsqueeze(0)
    with torch.no_grad():
        first, second = model(x), model(x)
    assert first.shape == (1, 1000) and torch.isfinite(first).all()
    assert torch.equal(first, second)


def test_padding_is_baked_in_and_set_image_size_fixes_it(pretrained):
    model, _ = pretrained
    # Multiples of 32 pad exactly like 224: nothing to change.
    assert lite0.set_image_size(model, 256) == 0
    reference, _ = lite0.build(pretrained=True, image_size=225)
    reference.eval()
    x = torch.randn(1, 3, 225, 225)
    with torch.no_grad():
        stale = model(x)
        assert lite0.set_image_size(model, 225) > 0
        assert torch.allclose(model(x), reference(x))
        assert not torch.allclose(stale, reference(x))
    lite0.set_image_size(model, 224)  # leave the shared fixture as it was
    assert not model.training


def test_batchnorm_momentum_is_pytorchs_default(pretrained):
    """Not the TF port's 0.01, with which short fine-tuning runs validate on ImageNet statistics."""
    model, _ = pretrained
    momenta = [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(momenta) == 49 and momenta == pytest.approx([0.1] * 49)


def test_random_build_has_no_report():
    model, report = lite0.build(pretrained=False, image_size=(96, 128))
    assert report is None and lite0.has_static_padding(model)
    assert model.eval()(torch.zeros(1, 3, 96, 128)).shape == (1, 1000)
