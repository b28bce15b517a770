"""build: every structural op on resnet18 / mobilenet_v3_small / vit_b_16, exact grey input on
Lite0's real weights, replicate mode, clear errors naming the step, and the cache."""

import pytest
import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.model import build as build_mod
from designer.model.build import BaseCache, build
from designer.model.ops import (
    DeleteLayer,
    Freeze,
    InsertAfter,
    LayerSpec,
    ReplaceClassifier,
    ReplaceLayer,
    SetInput,
    SetLayerParams,
    SetLRFactor,
)
from designer.model.recipe import Recipe
from designer.zoo import lite0
from designer.zoo.base import BaseModel


@pytest.fixture(scope="module")
def cache():
    return BaseCache()


def recipe(name, *ops):
    return Recipe.for_model(name, weights="none").with_ops(*ops)


def run(model, x):
    with torch.no_grad():
        return model.eval()(x)


def test_base_design_has_the_gallery_defaults(cache):
    d = build(recipe("resnet18"), cache)
    assert d.input_shape == (3, 224, 224) and d.mean == pytest.approx((0.485, 0.456, 0.406))
    assert d.classifier_path == "fc" and d.num_classes == 1000 and not d.replicate_grey
    assert d.load_report is None


def test_lite0_grey_input_is_exact_with_real_weights():
    """1-channel Lite0 on grey x == the original RGB Lite0 on x repeated to 3 channels (mean = std = 0.5)."""
    base = BaseModel("lite0", "efficientnet_lite0", "default")
    cache = BaseCache()
    rgb = build(Recipe(base), cache)
    grey = build(Recipe(base, (SetInput(224, 224, 1),)), cache)
    assert grey.input_shape == (1, 224, 224) and grey.mean == (0.5,) and grey.std == (0.5,)
    assert grey.model._conv_stem.weight.shape[1] == 1 and type(grey.model._conv_stem) is type(rgb.model._conv_stem)
    assert len(grey.load_report.matched) == lite0.NUM_KEYS
    torch.manual_seed(0)
    x = (torch.rand(2, 1, 224, 224) - 0.5) / 0.5
    diff = (run(grey.model, x) - run(rgb.model, x.repeat(1, 3, 1, 1))).abs().max().item()
    print(f"lite0 grey max abs logit diff: {diff:.2e}")
    assert diff < 1e-4


def test_lite0_new_size_pads_like_a_model_built_for_it():
    cache = BaseCache()
    d = build(Recipe.for_model("efficientnet_lite0", weights="none").with_ops(SetInput(100, 100, 3)), cache)
    fresh = lite0.build_architecture(100)
    fresh.load_state_dict(d.model.state_dict())
    x = torch.randn(1, 3, 100, 100)
    assert torch.equal(run(d.model, x), run(fresh, x))


def test_static_paddings_follow_the_input_size():
    sizes = build_mod.static_paddings(lite0.build_architecture(), (3, 100, 100))
    assert sizes[lite0.FIRST_CONV] == (100, 100) and len(sizes) == 49


def test_resnet18_replicate_mode_keeps_the_network(cache):
    base = build(recipe("resnet18"), cache)
    d = build(recipe("resnet18", SetInput(64, 64, 1, "replicate")), cache)
    assert d.replicate_grey and d.input_shape == (1, 64, 64) and d.mean == base.mean and d.std == base.std
    assert d.model.conv1.weight.shape[1] == 3 and torch.equal(d.model.conv1.weight, base.model.conv1.weight)
    with pytest.raises(DesignerError, match="(?i)only grey"):
        build(recipe("resnet18", SetInput(64, 64, 3, "replicate")), cache)


def test_resnet18_adapt_to_four_channels_repeats_stats(cache):
    d = build(recipe("resnet18", SetInput(64, 64, 4)), cache)
    assert d.model.conv1.in_channels == 4 and len(d.mean) == 4 and d.mean[3] == d.mean[0]
    assert run(d.model, torch.randn(2, 4, 64, 64)).shape == (2, 1000)


def test_all_ops_on_resnet18(cache):
    d = build(recipe(
        "resnet18", SetInput(64, 64, 1), ReplaceClassifier(5, dropout=0.2, hidden=32, batchnorm=True),
        DeleteLayer("layer4.1.relu"), InsertAfter("layer1", LayerSpec.of("BatchNorm2d")),
        InsertAfter("layer3", LayerSpec.of("Conv2d", out_channels=128)),
        SetLayerParams.of("layer4.0.conv1", in_channels=128), SetLayerParams.of("layer4.0.downsample.0", in_channels=128),
        ReplaceLayer("avgpool", LayerSpec.of("AdaptiveMaxPool2d")), SetLayerParams.of("layer1.0.0.conv1", bias=True),  # layer1 is now Sequential(layer1, BN)
    ), cache)
    m = d.model
    assert isinstance(m.layer4[1].relu, nn.Identity) and isinstance(m.avgpool, nn.AdaptiveMaxPool2d)
    assert isinstance(m.layer1, nn.Sequential) and m.layer1[1].num_features == 64  # inferred
    assert m.layer3[1].in_channels == 256 and m.layer3[1].out_channels == 128
    assert m.layer4[0].conv1.in_channels == 128 and m.layer1[0][0].conv1.bias is not None
    assert d.classifier_path == "fc" and d.num_classes == 5 and m.fc[1].in_features == 512
    assert run(m, torch.randn(2, 1, 64, 64)).shape == (2, 5)


def test_set_layer_params_keeps_fitting_weights_and_reinits_the_rest(cache):
    base = build(recipe("resnet18"), cache)
    d = build(recipe("resnet18", SetLayerParams.of("fc", out_features=10), SetLayerParams.of("conv1", stride=1)), cache)
    assert d.num_classes == 10 and d.model.fc.weight.shape == (10, 512)
    assert torch.equal(d.model.conv1.weight, base.model.conv1.weight) and d.model.conv1.stride == (1, 1)
    with pytest.raises(DesignerError, match="block of layers"):
        build(recipe("resnet18", SetLayerParams.of("layer1", stride=2)), cache)


def test_ops_on_mobilenet_v3_small(cache):
    d = build(recipe(
        "mobilenet_v3_small", SetInput(64, 64, 1), InsertAfter("classifier.0", LayerSpec.of("Linear")),
        ReplaceClassifier(4, dropout=0.2, hidden=32), DeleteLayer("features.3"),
        ReplaceLayer("classifier.2", LayerSpec.of("Dropout", p=0.5)),
    ), cache)
    assert d.model.classifier[0][1].in_features == 1024 == d.model.classifier[0][1].out_features
    assert d.classifier_path == "classifier.3" and d.num_classes == 4 and d.mean == pytest.approx((0.449,))
    assert run(d.model, torch.randn(2, 1, 64, 64)).shape == (2, 4)


@pytest.mark.slow
def test_vit_at_64_matches_a_rebuild_with_interpolated_embeddings(cache):
    from torchvision.models.vision_transformer import VisionTransformer, interpolate_embeddings

    base = build(recipe("vit_b_16"), cache)
    d = build(recipe("vit_b_16", SetInput(64, 64, 1), ReplaceClassifier(3)), cache)
    assert d.model.image_size == 64 and d.model.encoder.pos_embedding.shape == (1, 17, 768)
    x = torch.randn(2, 1, 64, 64)
    assert run(d.model, x).shape == (2, 3)
    # The in-place resize equals torchvision's recipe: rebuild with image_size, load interpolated weights strictly.
    with torch.device("meta"):  # no time spent on an init that the strict load overwrites
        rebuilt = VisionTransformer(image_size=64, patch_size=16, num_layers=12, num_heads=12, hidden_dim=768,
                                    mlp_dim=3072)
    state = interpolate_embeddings(64, 16, base.model.state_dict())
    rebuilt.load_state_dict(state, strict=True, assign=True)
    rgb = build(recipe("vit_b_16", SetInput(64, 64, 3)), cache)
    y = torch.randn(1, 3, 64, 64)
    assert torch.equal(run(rgb.model, y), run(rebuilt, y))
    with pytest.raises(DesignerError, match="square images only"):
        build(recipe("vit_b_16", SetInput(64, 96)), cache)


@pytest.mark.slow
def test_maxvit_at_another_size_still_builds():
    d = build(recipe("maxvit_t", SetInput(64, 64, 1)), BaseCache())
    assert d.input_shape == (1, 64, 64) and d.model.stem[0][0].in_channels == 1  # analysis says 224 only


def test_a_missing_path_names_the_step(cache):
    r = recipe("mobilenet_v3_small", SetInput(64, 64), Freeze("features.0"), DeleteLayer("features.99"))
    with pytest.raises(DesignerError) as info:
        build(r, cache)
    assert info.value.message == "Step 3 'Delete features.99': there is no layer named features.99."


def test_insert_where_size_cannot_be_inferred_names_the_problem(cache):
    with pytest.raises(DesignerError, match=r"Step 1 'Insert Conv2d after fc'.*\(N, C, H, W\)"):
        build(recipe("resnet18", InsertAfter("fc", LayerSpec.of("Conv2d"))), cache)


def test_later_layers_that_no_longer_fit_do_not_fail_the_build(cache):
    d = build(recipe("resnet18", SetLayerParams.of("layer4.1.conv2", out_channels=256)), cache)
    with pytest.raises(RuntimeError):
        run(d.model, torch.randn(1, 3, 64, 64))


def test_cache_loads_once_replays_only_new_ops_and_never_shares_models(monkeypatch):
    from torchvision.models import get_model

    loads, calls = [], []
    cache = BaseCache(loader=lambda base: (loads.append(base) or get_model(base.name, weights=None), None))
    for kind, handler in list(build_mod.OP_HANDLERS.items()):
        monkeypatch.setitem(build_mod.OP_HANDLERS, kind,
                            lambda work, op, h=handler: (calls.append(op.kind), h(work, op))[1])
    r = recipe("resnet18", SetInput(64, 64, 1), ReplaceClassifier(3))
    first = build(r, cache)
    assert calls == ["set_input", "replace_classifier"]
    policy = build(r.with_op(SetLRFactor("fc", 10.0)), cache)
    longer = build(r.with_op(DeleteLayer("layer4.1.relu")), cache)
    assert calls == ["set_input", "replace_classifier", "delete_layer"] and len(loads) == 1
    assert policy.model is not first.model and policy.recipe.ops[-1] == SetLRFactor("fc", 10.0)
    with torch.no_grad():
        first.model.fc.weight.zero_()
    again = build(r, cache)
    assert again.model.fc.weight.abs().sum() > 0 and isinstance(longer.model.layer4[1].relu, nn.Identity)
    assert not isinstance(again.model.layer4[1].relu, nn.Identity)


def test_a_big_base_is_released_once_another_network_is_opened(monkeypatch):
    """Issue 13: vgg16 stayed in the cache (and memory) after another design was opened; small
    bases stay cached for instant reopening."""
    import gc
    import weakref

    from torchvision.models import get_model

    monkeypatch.setattr(build_mod, "CACHE_MAX_PARAMS", 30_000_000)  # resnet18 + mobilenet fit, vgg11 not
    loaded = {}

    def loader(base):
        loaded[base.name] = get_model(base.name, weights=None)
        return loaded[base.name], None

    cache = BaseCache(loader=loader)
    build(recipe("resnet18", ReplaceClassifier(3)), cache)
    build(recipe("vgg11", ReplaceClassifier(3)), cache)
    vgg = weakref.ref(loaded.pop("vgg11"))
    build(recipe("mobilenet_v3_small", ReplaceClassifier(3)), cache)
    gc.collect()
    assert vgg() is None, "vgg11 is still held after another network was opened"
    assert [b.name for b in cache._bases] == ["resnet18", "mobilenet_v3_small"]
    build(recipe("resnet18", SetInput(64, 64, 1)), cache)
    assert list(loaded) == ["resnet18", "mobilenet_v3_small"]  # resnet18 came from the cache
