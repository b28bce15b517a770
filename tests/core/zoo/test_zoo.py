"""The gallery's metadata and building base models (never touching the network)."""

import os

import pytest
import torch
import torchvision

from designer.base.errors import DesignerError
from designer.zoo import builders, lite0, sources, timm_gallery
from designer.zoo.base import BaseModel

CATEGORIES = {"basic", "high-accuracy", "edge"}


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """An empty torch hub cache in a temp TORCH_HOME, offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setenv(sources.OFFLINE_ENV, "1")
    os.makedirs(tmp_path / "hub" / "checkpoints")
    return tmp_path / "hub" / "checkpoints"


def _put_in_cache(name, model):
    path = sources.cache_path(sources.model_info(name).weights_url)
    torch.save(model.state_dict(), path)
    return path


def test_list_models_covers_torchvision_and_lite0():
    infos = sources.list_models(("torchvision", "lite0"))
    names = [i.name for i in infos]
    assert len(infos) >= 80 and "efficientnet_lite0" in names and len(set(names)) == len(names)
    assert set(torchvision.models.list_models(module=torchvision.models)) <= set(names)
    for info in infos:
        assert info.category in CATEGORIES and info.family and info.params > 0
        assert info.gflops > 0 and 50 < info.top1 < 100 and info.input_size >= 224
        assert len(info.mean) == len(info.std) == 3 and all(0 < s < 1 for s in info.std)


def test_list_models_builds_no_model(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("list_models must not build models")

    monkeypatch.setattr(torchvision.models, "get_model", boom)
    monkeypatch.setattr(timm_gallery.require_timm(), "create_model", boom)
    sources._torchvision_infos.cache_clear()
    sources._timm_infos.cache_clear()
    assert len(sources.list_models()) >= 80 + 1000


def test_known_metadata():
    r50 = sources.model_info("resnet50")
    assert r50.params == 25557032 and r50.top1 == pytest.approx(80.858) and r50.gflops == pytest.approx(4.089)
    assert r50.input_size == 224 and r50.mean == sources.IMAGENET_MEAN and r50.family == "resnet"
    assert sources.model_info("inception_v3").input_size == 299
    lite = sources.model_info("efficientnet_lite0")
    assert lite.mean == lite.std == (0.5, 0.5, 0.5) and lite.weights_available
    assert lite.params == lite0.PARAMS and lite.category == "edge"
    assert sources.model_info("mobilenet_v2").category == "edge"
    assert sources.model_info("convnext_base").category == "high-accuracy"
    assert sources.model_info("resnet18").category == "basic"
    assert sources.model_info("wide_resnet50_2").family == "wide_resnet"


def test_unknown_name_suggests_close_matches():
    with pytest.raises(DesignerError) as err:
        sources.model_info("resnet5")
    assert "resnet5" in err.value.message and "resnet50" in err.value.hint


def test_defaults_for_builder_and_gallery():
    info = sources.defaults_for(BaseModel("builder", "torchvision.models:resnet18"))
    assert info.mean == sources.IMAGENET_MEAN and info.input_size == 224 and info.params == 0
    assert sources.defaults_for(BaseModel("lite0", "efficientnet_lite0")).mean == (0.5, 0.5, 0.5)


def test_random_weights_need_nothing():
    model, report = sources.build_base(BaseModel("torchvision", "resnet18", "none"))
    assert report is None and isinstance(model, torchvision.models.ResNet)


def test_default_weights_come_from_the_hub_cache(fake_hub):
    assert not sources.model_info("resnet18").weights_available
    saved = torchvision.models.resnet18(weights=None)
    _put_in_cache("resnet18", saved)
    assert sources.model_info("resnet18").weights_available
    model, report = sources.build_base(BaseModel("torchvision", "resnet18"))
    assert report.ok and torch.equal(model.conv1.weight, saved.conv1.weight)


def test_missing_default_weights_offline_is_a_clear_error(fake_hub):
    with pytest.raises(DesignerError) as err:
        sources.build_base(BaseModel("torchvision", "resnet18"))
    assert "not on this computer" in err.value.message and "--weights none" in err.value.hint


def test_pretrained_googlenet_has_no_aux_heads(fake_hub):
    # torchvision's ImageNet file has aux heads; the built eval graph must not.
    full = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    _put_in_cache("googlenet", full)
    model, report = sources.build_base(BaseModel("torchvision", "googlenet"))
    assert report.ok and model.aux1 is None and model.aux2 is None and not model.aux_logits
    assert model.transform_input  # as torchvision sets it for the ImageNet weights
    assert torch.equal(model.fc.weight, full.fc.weight)


def test_legacy_densenet_keys_are_renamed():
    legacy = {"features.denseblock1.denselayer1.norm.1.weight": 1, "aux1.fc.weight": 2}
    assert sources._fix_keys(legacy, "googlenet") == {"features.denseblock1.denselayer1.norm1.weight": 1}
    assert "aux1.fc.weight" in sources._fix_keys(legacy, "resnet18")  # only googlenet/inception drop aux


def test_user_file_reports_what_did_not_fit(tmp_path):
    path = tmp_path / "finetuned.pth"
    source = torchvision.models.resnet18(weights=None, num_classes=10)
    torch.save({"model": source.state_dict()}, path)
    model, report = sources.build_base(BaseModel("torchvision", "resnet18", str(path)))
    assert {k for k, _, _ in report.mismatched} == {"fc.weight", "fc.bias"}
    assert not report.missing and not report.unexpected
    assert torch.equal(model.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


def test_user_file_for_another_architecture_is_refused():
    with pytest.raises(DesignerError, match="does not fit resnet18"):
        sources.build_base(BaseModel("torchvision", "resnet18", lite0.weights_path()))


def test_lite0_base_with_its_packaged_weights():
    _, report = sources.build_base(BaseModel("lite0", "efficientnet_lite0"))
    assert report.ok and len(report.matched) == 296
    with pytest.raises(DesignerError):
        sources.build_base(BaseModel("lite0", "efficientnet_lite1"))


def test_an_untrusted_builder_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    (tmp_path / "helpers_beside_project.py").write_text(f"open({str(marker)!r}, 'w').close()\ndef build(): pass\n")
    monkeypatch.chdir(tmp_path)  # the project's folder: never on the import path
    with pytest.raises(builders.UntrustedBuilder, match="--trust-builder"):
        sources.build_base(BaseModel("builder", "helpers_beside_project:build", "none"))
    builders.trust("helpers_beside_project:build")
    with pytest.raises(DesignerError, match="could not be imported"):  # the current folder is not searched
        sources.build_base(BaseModel("builder", "helpers_beside_project:build", "none"))
    assert not marker.exists()


@pytest.fixture
def trusted(monkeypatch):
    monkeypatch.setattr(builders, "_TRUST_ALL", [True])


def test_builder_callable_and_a_file_on_top(tmp_path, trusted):
    model, report = sources.build_base(BaseModel("builder", "torchvision.models:resnet18", "none"))
    assert report is None and isinstance(model, torchvision.models.ResNet)
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    again, report = sources.build_base(BaseModel("builder", "torchvision.models:resnet18", str(path)))
    assert report.ok and torch.equal(again.conv1.weight, model.conv1.weight)


@pytest.mark.parametrize("spec, text", [
    ("collections:OrderedDict", "not a PyTorch network"),
    ("no_such_package_xyz:build", "could not be imported"),
    # (a dotted name without a colon reads as a timm name, so the source is what does not fit)
    ("torchvision.models", "only a builder is named package.module:function"),
    ("torchvision.models.x", "should be a gallery name .* or a builder reference"),
    ("torchvision.models:no_such_model", "has no"),
    ("math:pi", "can be called"),
    ("torchvision.models:ResNet", "Calling"),
])
def test_bad_builders_are_explained(spec, text, trusted):
    with pytest.raises(DesignerError, match=text):
        sources.build_base(BaseModel("builder", spec, "none"))
