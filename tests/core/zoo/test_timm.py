"""timm networks through the whole app: a spread of families built with random weights.

Each family: build, trace, analyze, a new 7-class head, a 1-channel 64x64 input, one
training step with the recipe's policy (layer-wise decay from timm's ``group_matcher``),
and one export format with its parity check. Where 64x64 cannot work the analyzer
must say so and name the smallest size that does, as for torchvision. Nothing is
downloaded: weights are random (``weights="none"``).
"""

from __future__ import annotations

import gc

import pytest
import torch
from testkit.fast_build import zero_init_one_thread
from torch import nn

from designer.base.errors import DesignerError
from designer.export.formats import default_path, export
from designer.inspect.analysis import analyze
from designer.model.build import BaseCache, build
from designer.model.ops import LRPreset, ReplaceClassifier, SetInput
from designer.model.policy import resolve_policy
from designer.model.recipe import Recipe
from designer.train.options import TrainOptions
from designer.train.setup import make_optimizer
from designer.zoo import timm_gallery
from designer.zoo.base import BaseModel
from designer.zoo.sources import list_models, model_info

SIZE = 64
# One small pretrained name per family, with the export format it is checked with
# (the script export runs a fresh Python, so only a few take it).
FAMILIES = {
    "resnet18.a1_in1k": "script",
    "efficientnet_b0.ra_in1k": "safetensors",
    "mobilenetv3_small_050.lamb_in1k": "pt2",
    "mobilenetv4_conv_small.e2400_r224_in1k": "safetensors",
    "convnext_atto.d2_in1k": "pt",
    "convnextv2_atto.fcmae_ft_in1k": "safetensors",
    "regnetx_002.pycls_in1k": "pt2",
    "vit_tiny_patch16_224.augreg_in21k_ft_in1k": "script",
    "deit_tiny_distilled_patch16_224.fb_in1k": "script",
    "efficientvit_m0.r224_in1k": "safetensors",
    "levit_128s.fb_dist_in1k": "safetensors",
    "mixer_b16_224.goog_in21k_ft_in1k": "safetensors",
    "poolformer_s12.sail_in1k": "safetensors",
    "ghostnet_100.in1k": "safetensors",
    "rexnet_100.nav_in1k": "safetensors",
    "densenet121.tv_in1k": "safetensors",
    "dla34.in1k": "safetensors",
    "cspresnet50.ra_in1k": "safetensors",
    "hrnet_w18_small.gluon_in1k": "safetensors",
    "swin_tiny_patch4_window7_224.ms_in1k": "safetensors",
    "maxvit_tiny_tf_224.in1k": "safetensors",
    "coat_tiny.in1k": "safetensors",
    "mobilevit_xxs.cvnets_in1k": "safetensors",
    "edgenext_xx_small.in1k": "safetensors",
    "fastvit_t8.apple_in1k": "safetensors",
}
# Families that rightly cannot take 64x64, with the smallest square input the analyzer names.
# Their token grids / attention biases are fixed at build time and timm has no set_input_size for them.
TOO_SMALL = {"mixer_b16_224.goog_in21k_ft_in1k": 224, "coat_tiny.in1k": 224, "levit_128s.fb_dist_in1k": 209}


@pytest.fixture(scope="module", autouse=True)
def fast_and_quiet():
    with zero_init_one_thread():
        yield


def test_gallery_lists_timm_classifiers_beside_torchvision():
    infos = list_models()
    sources = {i.source for i in infos}
    timm_rows = [i for i in infos if i.source == "timm"]
    assert {"torchvision", "lite0", "timm"} <= sources
    assert len(timm_rows) > 1000
    assert all("." in i.name and i.input_size > 0 and i.family for i in timm_rows)
    resnet = model_info("resnet50.a1_in1k")
    assert resnet.top1 is not None and 11e6 < resnet.params < 26e6 * 1.1 and resnet.family == "resnet"
    v4 = [i for i in timm_rows if i.name.startswith("mobilenetv4")]
    v3 = [i for i in timm_rows if i.name.startswith("mobilenetv3")]
    assert v4 and v3 and {i.family for i in v4} == {"mobilenetv4"} and {i.family for i in v3} == {"mobilenetv3"}


def test_every_name_in_the_spread_is_a_listed_classifier():
    assert set(FAMILIES) <= set(timm_gallery.entries())
    assert len({timm_gallery.entries()[n].family for n in FAMILIES}) >= 20


def test_weights_on_this_computer_means_in_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    name = "resnet18.a1_in1k"
    assert not model_info(name).weights_available
    item = timm_gallery.entries()[name]
    snapshot = tmp_path / ("models--" + item.hf_hub_id.replace("/", "--")) / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"")
    assert model_info(name).weights_available
    assert timm_gallery.weights_file(item) == snapshot / "model.safetensors"


def test_metadata_cache_round_trips(tmp_path, monkeypatch):
    monkeypatch.setenv(timm_gallery.CACHE_ENV, str(tmp_path))
    timm_gallery.entries.cache_clear()
    try:
        first = timm_gallery.entries()  # scanned from timm, then written
        assert list(tmp_path.glob("timm-gallery-*.json"))
        timm_gallery.entries.cache_clear()
        assert timm_gallery.entries() == first  # read back from the cache
    finally:
        timm_gallery.entries.cache_clear()


@pytest.mark.parametrize("name", ["resnet18.no_such_tag", "nosuchnet.in1k"])
def test_unknown_timm_names_fail_before_anything_is_built(name, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("timm.create_model was called for a name not in the registry")

    monkeypatch.setattr(timm_gallery.require_timm(), "create_model", never)
    with pytest.raises(DesignerError, match="no pretrained classifier"):
        build(Recipe(BaseModel("timm", name, "none")))


@pytest.mark.parametrize("name", ["resnet18", "resnet18.a1_in1k;import os", "a.b.c", "resnet18.a1 in1k",
                                  "x:y", "resnet18.a1_in1k\n"])
def test_hostile_timm_names_are_refused_by_the_schema(name):
    with pytest.raises(DesignerError):
        BaseModel.from_dict({"source": "timm", "name": name, "weights": "none"})


def test_offline_default_weights_say_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("NETSURGEON_OFFLINE", "1")
    with pytest.raises(DesignerError, match="not on this computer"):
        build(Recipe.for_model("resnet18.a1_in1k"))


def _train_step(design) -> None:
    model = design.model
    policy = resolve_policy(design.recipe, model)
    optimizer = make_optimizer(model, policy, TrainOptions(optimizer="sgd"), 0.01)
    model.train()
    x = torch.randn(2, *design.input_shape)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1]))
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    model.eval()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAMILIES))
def test_timm_family(name, tmp_path):
    cache = BaseCache()
    recipe = Recipe.for_model(name, weights="none")
    assert recipe.base.source == "timm"
    design = build(recipe, cache)
    report = analyze(design)
    assert report.ok, [m.text for m in report.errors]
    assert report.output_shape == (1, design.num_classes) == (1, timm_gallery.entries()[name].num_classes)
    del design, report

    edited = build(recipe.with_ops(ReplaceClassifier(7), SetInput(SIZE, SIZE, 1), LRPreset("layer_decay")), cache)
    report = analyze(edited)
    if name in TOO_SMALL:
        error = report.errors[0]
        assert report.min_input_size == TOO_SMALL[name] and f"{TOO_SMALL[name]}x" in error.text
        return
    assert report.ok, [m.text for m in report.errors]
    assert report.output_shape == (1, 7)
    factors = resolve_policy(edited.recipe, edited.model).lr_factor
    assert len(set(factors.values())) > 2  # timm's group_matcher (or the module tree) gave several units
    _train_step(edited)
    fmt = FAMILIES[name]
    result = export(edited, fmt, default_path(tmp_path, fmt), classes=[f"c{i}" for i in range(7)])
    assert result.ok and result.max_abs_diff <= 1e-4, result
    del edited, report, cache
    gc.collect()
