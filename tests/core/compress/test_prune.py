"""Pruning stays a design: a pruned network is the gallery model plus its recorded pruning, replayed
exactly on build, saved as plain JSON; kept layers are left alone; a network that breaks is refused."""

import json

import pytest
import torch
from torch import nn

from designer.app.project import Project, load_project, save_project
from designer.base.errors import DesignerError
from designer.compress.prune import check_prunable, kept_layers, make_pruner, prune_step, refusal
from designer.model.build import build
from designer.model.ops import PruneChannels, ReplaceClassifier, SetInput, op_from_dict
from designer.model.recipe import Recipe

FAMILIES = ["resnet18", "mobilenet_v3_small", "efficientnet_lite0", "convnext_atto.d2_in1k"]


def _design(name: str, side: int = 64, classes: int = 3):
    recipe = Recipe.for_model(name, "none").with_ops(SetInput(height=side, width=side),
                                                     ReplaceClassifier(num_classes=classes))
    return build(recipe)


def _pruned(design, how="magnitude", keep=()):
    """Prune ``design`` in place by one step of four (to 50%); the op recording it."""
    shape = tuple(design.network_input.shape)
    pruner = make_pruner(design.model, shape, how, kept_layers(design, keep), 2, 0.5)
    taylor = [(torch.randn(4, *shape), torch.tensor([0, 1, 2, 0]))] if how == "taylor" else None
    prune_step(pruner, design.model, taylor)
    history = tuple((p, bool(o), tuple(int(i) for i in idx)) for p, o, idx in pruner.pruning_history())
    return PruneChannels(history=history, note="test")


@pytest.mark.parametrize("name", FAMILIES)
def test_pruning_replays_exactly_from_the_recipe(name, tmp_path):
    design = _design(name)
    before = sum(p.numel() for p in design.model.parameters())
    op = _pruned(design)
    assert sum(p.numel() for p in design.model.parameters()) < 0.8 * before
    # the op survives the project file as plain JSON, and the rebuilt network takes the weights exactly
    path = tmp_path / "p.nsd.json"
    save_project(Project(design.recipe.with_op(op)), path)
    recipe = load_project(path).recipe
    assert recipe.ops[-1] == op
    rebuilt = build(recipe).model.eval()
    rebuilt.load_state_dict(design.model.state_dict(), strict=True)
    x = torch.randn(2, *design.network_input.shape)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), design.model.eval()(x), atol=1e-5)


def test_first_conv_classifier_and_kept_layers_are_left_alone():
    design = _design("resnet18", side=32)
    paths = ("conv1", "fc", "layer1.0.conv1")
    first, head, block = (design.model.get_submodule(p).weight.shape for p in paths)
    _pruned(design, keep=("layer1.0.conv1",))
    model = design.model
    assert model.conv1.weight.shape == first and model.get_submodule("layer1.0.conv1").weight.shape == block
    assert model.fc.out_features == head[0] == 3
    assert model.layer3[0].conv1.out_channels < 256  # and the rest was pruned


def test_taylor_importance_prunes_too():
    design = _design("mobilenet_v3_small", side=32)
    op = _pruned(design, how="taylor")
    assert op.history and design.model(torch.randn(1, 3, 32, 32)).shape == (1, 3)


def test_keep_names_a_missing_layer_in_one_line():
    with pytest.raises(DesignerError, match="'layer9.conv', which is not a layer"):
        kept_layers(_design("resnet18", side=32), ("layer9.conv",))


class FlattensByNumber(nn.Module):
    """A network that hard-codes a channel count in a reshape: pruning its conv breaks the view."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        x = self.mid(self.conv(x)).mean((2, 3))
        return self.fc(x.view(-1, 16))


def test_a_network_that_breaks_is_refused_naming_the_layer():
    model = FlattensByNumber()
    with pytest.raises(DesignerError) as info:
        check_prunable(model, (3, 16, 16), "magnitude", ["conv"], 3)
    assert "cannot be pruned" in info.value.message and "\n" not in info.value.message


def test_refusal_names_the_innermost_failing_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.Flatten(), nn.Linear(5, 2)))
    error = refusal(model, torch.zeros(1, 3, 8, 8), RuntimeError("shapes cannot be multiplied"))
    assert "layer '1.1'" in error.message and "--keep 1.1" in error.hint


@pytest.mark.parametrize("bad", [
    [["fc", True, [-1]]], [["fc; import os", True, [0]]], [["fc", "yes", [0]]], [["fc", True]],
])
def test_a_bad_recorded_pruning_is_refused(bad):
    with pytest.raises(DesignerError):
        op_from_dict({"op": "prune_channels", "history": bad}, 3)


def test_a_recorded_pruning_on_another_design_is_one_line():
    design_recipe = _design("resnet18", side=32).recipe
    op = op_from_dict({"op": "prune_channels", "history": [["layer9.conv", True, [0, 1]]]})
    with pytest.raises(DesignerError, match="layer9.conv"):
        build(design_recipe.with_op(op))
    assert json.loads(json.dumps(op.to_dict()))["history"] == [["layer9.conv", True, [0, 1]]]


def test_shufflenet_is_refused_in_one_line_naming_a_layer():
    design = _design("shufflenet_v2_x0_5", side=64)
    with pytest.raises(DesignerError) as info:
        check_prunable(design.model, (3, 64, 64), "magnitude", kept_layers(design), 3)
    message = info.value.message
    assert message.startswith("This network cannot be pruned") and "after layer 'stage" in message
    assert "\n" not in message


def test_channel_counts_round_to_the_nearest_multiple_not_down():
    """Torch-Pruning's own rounding kept 8 of a 16-channel layer asked to lose 2 (10 %): half of it."""
    from designer.compress.prune import nearest_round_pruned

    assert nearest_round_pruned(2, 16, 8) == 0  # 14 kept rounds to 16: this layer waits for a later step
    assert nearest_round_pruned(5, 16, 8) == 8  # 11 kept rounds to 8
    assert nearest_round_pruned(3, 24, 8) == 0
    assert nearest_round_pruned(13, 40, 8) == 16  # 27 kept rounds to 24
    assert nearest_round_pruned(4, 40, 8) == 0  # 36 is as near 40 as 32: a tie keeps the channels
    assert nearest_round_pruned(100, 16, 8) == 8  # never below one multiple
    assert nearest_round_pruned(2, 6, 8) == 2  # a layer narrower than a multiple: as asked, one channel left


def test_a_ten_percent_step_of_lite0_cuts_no_layer_by_much_more():
    """The first of eight steps to 80 % asks 10 % of each layer: before the rounding fix, Lite0's
    16- and 24-channel blocks lost half and a third of their channels in it."""
    design = build(Recipe.for_model("efficientnet_lite0", "none"))
    model = design.model.eval()
    before = {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    pruner = make_pruner(model, (3, 224, 224), "magnitude", kept_layers(design), 8, 0.8)
    prune_step(pruner, model)
    after = {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    lost = {n: 1 - after[n] / before[n] for n in before}
    assert max(lost.values()) <= 0.15, sorted(lost.items(), key=lambda kv: -kv[1])[:3]
    assert sum(1 for v in lost.values() if v > 0) >= len(lost) // 2  # the step did prune most layers
