"""surgery: paths, first conv and classifier of every torchvision family, channel adaptation,
heads, the layer library with size inference, hyperparameters, shapes on the meta device."""

import pytest
import torch
from torch import nn
from torchvision.models import get_model

from designer.base.errors import DesignerError
from designer.model.ops import LayerSpec
from designer.model.surgery import (
    LAYER_LIBRARY,
    adapt_input_conv,
    adapt_stats,
    find_classifier,
    find_first_conv,
    get_module,
    io_shapes,
    layer_params,
    make_head,
    make_layer,
    meta_copy,
    rebuild_layer,
    set_module,
)
from designer.zoo import lite0

# One model per torchvision family: (first conv, classifier).
FAMILIES = {
    "resnet18": ("conv1", "fc"),
    "resnext50_32x4d": ("conv1", "fc"),
    "wide_resnet50_2": ("conv1", "fc"),
    "alexnet": ("features.0", "classifier.6"),
    "vgg11": ("features.0", "classifier.6"),
    "densenet121": ("features.conv0", "classifier"),
    "mobilenet_v2": ("features.0.0", "classifier.1"),
    "mobilenet_v3_small": ("features.0.0", "classifier.3"),
    "efficientnet_b0": ("features.0.0", "classifier.1"),
    "efficientnet_v2_s": ("features.0.0", "classifier.1"),
    "vit_b_16": ("conv_proj", "heads.head"),
    "swin_t": ("features.0.0", "head"),
    "swin_v2_t": ("features.0.0", "head"),
    "convnext_tiny": ("features.0.0", "classifier.2"),
    "regnet_y_400mf": ("stem.0", "fc"),
    "maxvit_t": ("stem.0.0", "classifier.5"),
    "shufflenet_v2_x0_5": ("conv1.0", "fc"),
    "mnasnet0_5": ("layers.0", "classifier.1"),
    "inception_v3": ("Conv2d_1a_3x3.conv", "fc"),
    "googlenet": ("conv1.conv", "fc"),
    "squeezenet1_0": ("features.0", "classifier.1"),
}
NO_AUX = {"inception_v3": {"aux_logits": False, "init_weights": False},
          "googlenet": {"aux_logits": False, "init_weights": False}}


def meta_model(name):
    """Structure only, on the meta device: instant, no memory for weights."""
    try:
        with torch.device("meta"):
            return get_model(name, weights=None, **NO_AUX.get(name, {}))
    except NotImplementedError:  # regnet computes its widths with tensors: build it for real
        return get_model(name, weights=None)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_first_conv_and_classifier_of_every_family(name):
    model = meta_model(name)
    conv, head = FAMILIES[name]
    assert find_first_conv(model) == conv and isinstance(get_module(model, conv), nn.Conv2d)
    assert find_classifier(model) == head


def test_lite0_first_conv_and_classifier():
    model = lite0.build_architecture()
    assert find_first_conv(model) == lite0.FIRST_CONV and find_classifier(model) == lite0.CLASSIFIER


def test_a_new_head_or_an_insert_after_it_is_still_the_classifier():
    model = meta_model("mobilenet_v3_small")
    set_module(model, "classifier.3", make_head(1024, 5, dropout=0.1, hidden=16))
    assert find_classifier(model) == "classifier.3"
    model = meta_model("resnet18")
    model.fc = nn.Sequential(model.fc, nn.Dropout())
    assert find_classifier(model) == "fc"


def test_classifier_fallback_is_the_last_linear():
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(1))
    assert find_classifier(model) == "3"
    with pytest.raises(DesignerError, match="No classifier"):
        find_classifier(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))


def test_get_and_set_module_by_dotted_path_with_indices():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    assert isinstance(get_module(model, "1.1"), nn.Linear) and get_module(model, "") is model
    set_module(model, "1.0", nn.GELU())
    assert isinstance(model[1][0], nn.GELU)
    with pytest.raises(DesignerError, match="no layer named 1.7"):
        get_module(model, "1.7")
    with pytest.raises(DesignerError, match="no layer named 2"):
        set_module(model, "2", nn.ReLU())
    with pytest.raises(DesignerError, match="whole network"):
        set_module(model, "", nn.ReLU())


def test_adapt_input_conv_sum_repeat_and_unchanged():
    w = torch.randn(8, 3, 3, 3)
    assert torch.equal(adapt_input_conv(w, 3), w)
    grey = adapt_input_conv(w, 1)
    assert grey.shape == (8, 1, 3, 3) and torch.allclose(grey, w.sum(1, keepdim=True))
    five = adapt_input_conv(w, 5)
    assert five.shape == (8, 5, 3, 3)
    assert torch.allclose(five, torch.cat([w, w[:, :2]], 1) * 3 / 5)
    # A grey image through the summed filter = the same image repeated to RGB through the original.
    x = torch.randn(2, 1, 16, 16)
    assert torch.allclose(nn.functional.conv2d(x, grey), nn.functional.conv2d(x.repeat(1, 3, 1, 1), w), atol=1e-5)
    # Six channels that repeat RGB twice give the original response (repeat, then scale by 3/6).
    rgb = torch.randn(2, 3, 16, 16)
    assert torch.allclose(nn.functional.conv2d(rgb.repeat(1, 2, 1, 1), adapt_input_conv(w, 6)),
                          nn.functional.conv2d(rgb, w), atol=1e-5)


def test_adapt_stats_follows_the_channels():
    assert adapt_stats((0.5, 0.5, 0.5), 1) == (0.5,)
    assert adapt_stats((0.1, 0.2, 0.3), 1) == pytest.approx((0.2,))
    assert adapt_stats((0.1, 0.2, 0.3), 5) == (0.1, 0.2, 0.3, 0.1, 0.2)


def test_make_head_variants():
    assert isinstance(make_head(512, 10, 0.0, 0, False), nn.Linear)
    head = make_head(512, 10, dropout=0.3, hidden=64, batchnorm=True)
    assert [type(m).__name__ for m in head] == ["Dropout", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert head[1].in_features == 512 and head[4].out_features == 10 and head[0].p == 0.3
    bn_only = make_head(512, 3, batchnorm=True)
    assert [type(m).__name__ for m in bn_only] == ["BatchNorm1d", "Linear"]
    conv = make_head(512, 4, conv=True)
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1) and conv.out_channels == 4
    with pytest.raises(DesignerError, match="at least 1 class"):
        make_head(512, 0)


@pytest.mark.parametrize(("spec", "in_shape", "expect"), [
    (LayerSpec.of("Linear"), (1, 512), "Linear(in_features=512, out_features=512, bias=True)"),
    (LayerSpec.of("Linear", out_features=10), (1, 7, 256), "Linear(in_features=256, out_features=10, bias=True)"),
    (LayerSpec.of("Conv2d"), (1, 64, 8, 8), "Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"),
    (LayerSpec.of("BatchNorm2d"), (1, 64, 8, 8), ("BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                                                  "track_running_stats=True)")),
    (LayerSpec.of("BatchNorm1d"), (1, 128), ("BatchNorm1d(128, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                                             "track_running_stats=True)")),
    (LayerSpec.of("LayerNorm"), (1, 17, 768), "LayerNorm((768,), eps=1e-05, elementwise_affine=True, bias=True)"),
    (LayerSpec.of("Dropout", p=0.1), None, "Dropout(p=0.1, inplace=False)"),
    (LayerSpec.of("AdaptiveAvgPool2d", output_size=[7, 7]), None, "AdaptiveAvgPool2d(output_size=(7, 7))"),
    (LayerSpec.of("Linear", in_features=32, out_features=4), None, "Linear(in_features=32, out_features=4, bias=True)"),
    (LayerSpec.of("ZeroPad2d", padding=1), None, "ZeroPad2d((1, 1, 1, 1))"),  # any torch.nn layer
])
def test_make_layer_infers_missing_sizes(spec, in_shape, expect):
    assert repr(make_layer(spec, in_shape)) == expect


def test_every_library_layer_builds_from_an_image_or_vector_shape():
    for name, entry in LAYER_LIBRARY.items():
        shape = (1, 16) if name in ("Linear", "BatchNorm1d", "LayerNorm") else (1, 16, 8, 8)
        layer = make_layer(LayerSpec.of(name), shape)
        assert isinstance(layer, entry["cls"])
        layer.eval()(torch.randn(2, *shape[1:]))  # it runs on the shape it was inferred from


def test_make_layer_errors_say_what_to_do():
    with pytest.raises(DesignerError, match=r"needs 'in_features'.*Give in_features explicitly"):
        make_layer(LayerSpec.of("Linear"), None)
    with pytest.raises(DesignerError, match=r"Conv2d layer needs an input shaped like \(N, C, H, W\).*\(1, 512\)"):
        make_layer(LayerSpec.of("Conv2d"), (1, 512))
    with pytest.raises(DesignerError, match="Unknown layer type 'Banana'"):
        make_layer(LayerSpec.of("Banana"), (1, 3))
    with pytest.raises(DesignerError, match="cannot be made"):
        make_layer(LayerSpec.of("Dropout", p=3.0), None)


def test_layer_params_are_the_editable_constructor_arguments():
    assert layer_params(nn.Linear(4, 2, bias=False)) == {"in_features": 4, "out_features": 2, "bias": False}
    conv = layer_params(nn.Conv2d(3, 8, 3, stride=2, padding=1))
    assert conv["kernel_size"] == (3, 3) and conv["stride"] == (2, 2) and conv["bias"] is True
    assert conv["in_channels"] == 3 and conv["padding_mode"] == "zeros"
    assert layer_params(nn.BatchNorm2d(16))["num_features"] == 16
    assert layer_params(nn.Dropout(0.2)) == {"p": 0.2, "inplace": False}
    assert layer_params(nn.Sequential(nn.ReLU())) == {}


def test_rebuild_layer_keeps_weights_that_fit():
    conv = nn.Conv2d(3, 8, 3)
    strided = rebuild_layer(conv, {"stride": 2, "padding": [1, 1]})
    assert strided.stride == (2, 2) and strided.padding == (1, 1)
    assert torch.equal(strided.weight, conv.weight) and torch.equal(strided.bias, conv.bias)
    fc = nn.Linear(512, 1000)
    small = rebuild_layer(fc, {"out_features": 10})
    assert small.weight.shape == (10, 512) and small.bias.shape == (10,)
    wider = rebuild_layer(nn.Linear(4, 3, bias=False), {"bias": True})
    assert wider.bias is not None
    with pytest.raises(DesignerError, match="no setting 'banana'.*in_features, out_features, bias"):
        rebuild_layer(fc, {"banana": 1})


def test_io_shapes_run_on_meta_without_touching_the_model():
    model = get_model("resnet18", weights=None)
    before = model.fc.weight.clone()
    assert io_shapes(model, "fc", (3, 64, 64)) == ((1, 512), (1, 1000))
    assert io_shapes(model, "layer2", (3, 64, 64)) == ((1, 64, 16, 16), (1, 128, 8, 8))
    assert torch.equal(model.fc.weight, before) and model.fc.weight.device.type == "cpu"
    with pytest.raises(DesignerError, match="does not run up to fc"):
        io_shapes(model, "fc", (1, 64, 64))


def test_meta_copy_shares_structure_not_data():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    copy = meta_copy(model)
    assert repr(copy) == repr(model) and copy[0].weight.is_meta and copy[1].running_mean.is_meta
    assert not model[0].weight.is_meta and copy[0].weight is not model[0].weight
