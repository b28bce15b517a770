"""The analyzer: errors name the failing node and carry a fix op that works when applied."""

import pytest

from designer.inspect.analysis import analyze, smallest_input_size
from designer.model.build import BaseCache, build
from designer.model.ops import DeleteLayer, Freeze, InsertAfter, ReplaceClassifier, ReplaceLayer, SetInput
from designer.model.recipe import Recipe


@pytest.fixture(scope="module")
def cache():
    return BaseCache()


def design_of(name, *ops, cache=None):
    return build(Recipe.for_model(name, weights="none").with_ops(*ops), cache)


def test_healthy_design_has_totals_and_layers(cache):
    design = design_of("resnet18", cache=cache)
    report = analyze(design)
    assert report.ok and not report.errors
    assert report.params_total == 11_689_512 == report.params_trainable + report.params_frozen
    assert report.output_shape == (1, 1000)
    assert 1.7e9 < report.flops < 1.9e9  # torchvision lists 1.81 GFLOPS
    assert report.activation_bytes > 0 and report.train_memory_bytes > 32 * report.activation_bytes
    assert report.layers[0]["name"] == "input" and report.layers[-1]["name"] == "output"
    conv = next(row for row in report.layers if row["name"] == "conv1")
    assert conv == {"name": "conv1", "type": "Conv2d", "out_shape": "64x112x112", "params": 9408,
                    "trainable": 9408, "frozen": False, "lr_factor": 1.0, "flops": conv["flops"]}
    assert report.to_dict()["messages"] == []


@pytest.mark.slow
def test_vgg16_without_its_pooling_at_32_names_the_linear_and_the_fix_works(cache):
    ops = (DeleteLayer("avgpool"), SetInput(32, 32))
    report = analyze(design_of("vgg16", *ops, cache=cache))
    error = report.errors[0]
    assert error.node == "classifier.0" and "25088" in error.text and "512" in error.text
    assert isinstance(error.fix, (InsertAfter, ReplaceLayer)) and error.fix.layer.type == "AdaptiveAvgPool2d"
    assert any(m.level == "info" and m.fix is not None for m in report.messages)  # the resize alternative
    fixed = analyze(design_of("vgg16", *ops, error.fix, cache=cache))
    assert fixed.ok and fixed.output_shape == (1, 1000)


def test_alexnet_at_32_reports_the_pooling_node_and_smallest_size(cache):
    report = analyze(design_of("alexnet", SetInput(32, 32), cache=cache))
    assert not report.ok
    error = report.errors[0]
    assert error.node == "features.12" and "MaxPool2d" in error.text
    assert report.min_input_size == 63 and "63x63" in error.text and "too small" in error.text
    assert error.fix == SetInput(64, 64, 3, "adapt")
    assert analyze(design_of("alexnet", SetInput(32, 32), error.fix, cache=cache)).ok


def test_inception_v3_minimum_is_75(cache):
    report = analyze(design_of("inception_v3", SetInput(64, 64), cache=cache))
    assert report.min_input_size == 75 and report.errors[0].node.startswith("Mixed_")
    assert smallest_input_size(report.graph.graph["gm"], 3, 128) == (75, 80)


def test_classifier_mismatch_warns_with_replace_classifier_fix(cache):
    report = analyze(design_of("resnet18", cache=cache), num_classes=5)
    warning = report.warnings[0]
    assert warning.node == "fc" and "1000" in warning.text and "5" in warning.text
    assert warning.fix == ReplaceClassifier(5)
    fixed = design_of("resnet18", warning.fix, cache=cache)
    assert not analyze(fixed, num_classes=5).warnings


def test_everything_frozen_warns_and_unfreezes_the_head(cache):
    report = analyze(design_of("resnet18", Freeze(""), cache=cache))
    assert report.params_trainable == 0
    warning = next(m for m in report.warnings if "frozen" in m.text)
    assert warning.fix == Freeze("fc", frozen=False)
    assert analyze(design_of("resnet18", Freeze(""), warning.fix, cache=cache)).params_trainable == 513_000


def test_grey_data_for_an_rgb_network_suggests_replicate(cache):
    report = analyze(design_of("resnet18", cache=cache), data_channels=1)
    warning = report.warnings[0]
    assert warning.node == "input" and warning.fix == SetInput(224, 224, 1, "replicate")


def test_batchnorm_on_a_1x1_map_notes_batch_size(cache):
    report = analyze(design_of("resnet18", SetInput(32, 32), cache=cache))
    note = next(m for m in report.messages if m.level == "info" and "batch size" in m.text)
    assert note.node.startswith("layer4")
