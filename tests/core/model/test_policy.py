"""finetune: policy ops replayed per parameter, exact optimizer groups, presets, BatchNorm trap."""

import pytest
import torch
from torch import nn
from torchvision.models import get_model

from designer.base.errors import DesignerError
from designer.model.ops import (
    Freeze,
    FreezeUntil,
    LRPreset,
    ReplaceClassifier,
    SetBatchNormMode,
    SetInput,
    SetLRFactor,
)
from designer.model.policy import (
    apply_freeze,
    decay_units,
    module_state,
    param_groups,
    resolve_policy,
    set_train_mode,
)
from designer.model.recipe import Recipe


def meta(name):
    with torch.device("meta"):  # policies only need parameter names
        return get_model(name, weights=None)


def policy_of(model, *ops, name="resnet18"):
    return resolve_policy(Recipe.for_model(name, weights="none").with_ops(*ops), model)


def names_under(model, *prefixes):
    return [n for n, _ in model.named_parameters() if n.startswith(prefixes)]


def test_freeze_until_layer2_and_head_x10_give_exact_groups():
    model = meta("resnet18")
    policy = policy_of(model, FreezeUntil("layer2"), SetLRFactor("fc", 10))
    groups = param_groups(model, policy, base_lr=0.01, weight_decay=1e-4)
    assert [g["name"] for g in groups] == ["x1", "x10"]
    x1, x10 = groups
    assert x1["param_names"] == names_under(model, "layer3.", "layer4.") and len(x1["params"]) == 30
    assert x10["param_names"] == ["fc.weight", "fc.bias"] and len(x10["params"]) == 2
    assert x1["lr"] == pytest.approx(0.01) and x10["lr"] == pytest.approx(0.1)
    assert x1["weight_decay"] == x10["weight_decay"] == 1e-4
    frozen = [n for n, f in policy.frozen.items() if f]
    assert frozen == names_under(model, "conv1.", "bn1.", "layer1.", "layer2.") and len(frozen) == 30


def test_a_later_op_overrides_an_earlier_one_for_what_it_touches():
    model = meta("resnet18")
    policy = policy_of(model, Freeze(""), Freeze("fc", frozen=False), SetLRFactor("", 0.5), SetLRFactor("fc", 2))
    assert [n for n, f in policy.frozen.items() if not f] == ["fc.weight", "fc.bias"]
    groups = param_groups(model, policy, 1.0)
    assert len(groups) == 1 and groups[0]["name"] == "x2" and groups[0]["lr"] == 2.0


def test_freeze_until_a_layer_without_parameters_freezes_what_comes_before():
    model = meta("resnet18")
    assert [n for n, f in policy_of(model, FreezeUntil("maxpool")).frozen.items() if f] == [
        "conv1.weight", "bn1.weight", "bn1.bias"]
    until_bn = [n for n, f in policy_of(model, FreezeUntil("layer1.0.bn1")).frozen.items() if f]
    assert until_bn == ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight",
                        "layer1.0.bn1.weight", "layer1.0.bn1.bias"]


def test_head_preset_covers_a_whole_new_head():
    from designer.model.build import build

    d = build(Recipe.for_model("resnet18", weights="none").with_ops(
        SetInput(32, 32), ReplaceClassifier(4, hidden=16, batchnorm=True), LRPreset("head_x10_rest_x0.1")))
    policy = resolve_policy(d.recipe, d.model)
    assert policy.head_path == d.classifier_path == "fc"
    heads = {n: f for n, f in policy.lr_factor.items() if f == 10.0}
    assert sorted(heads) == sorted(names_under(d.model, "fc.")) and len(heads) == 6
    assert all(f == 0.1 for n, f in policy.lr_factor.items() if not n.startswith("fc."))


def test_layer_decay_counts_blocks_back_from_the_head():
    model = meta("resnet18")
    policy = policy_of(model, LRPreset("layer_decay", decay=0.5))
    assert [path for path, _ in decay_units(model, "fc")] == [
        "conv1", "bn1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1",
        "layer4.0", "layer4.1", "fc"]
    f = policy.lr_factor
    assert f["fc.weight"] == 1 and f["layer4.1.conv2.weight"] == 0.5 and f["layer4.0.bn1.bias"] == 0.25
    assert f["conv1.weight"] == 0.5 ** 10
    vit = meta("vit_b_16")
    factors = policy_of(vit, LRPreset("layer_decay", decay=0.5), name="vit_b_16").lr_factor
    assert factors["heads.head.weight"] == 1 and factors["encoder.ln.weight"] == 0.5
    assert factors["encoder.layers.encoder_layer_11.mlp.0.weight"] == 0.25
    # Embeddings come first: class token (the model's own), patch conv, then the encoder's position embedding.
    assert factors["class_token"] * 4 == factors["conv_proj.weight"] * 2 == factors["encoder.pos_embedding"]


def test_bad_policy_ops_name_the_step():
    model = meta("resnet18")
    with pytest.raises(DesignerError) as info:
        policy_of(model, SetInput(64, 64), Freeze("layer9"))
    assert info.value.message == "Step 2 'Freeze layer9': there is no layer named layer9."
    # Bad values never make an op at all: the check names the field and what is allowed.
    with pytest.raises(DesignerError, match="LR factor: 'factor' is -1; it should be greater than or equal to 0"):
        SetLRFactor("fc", -1)
    with pytest.raises(DesignerError, match="BatchNorm mode: 'mode' is 'sometimes'; it should be 'frozen_eval'"):
        SetBatchNormMode("sometimes")
    with pytest.raises(DesignerError, match="LR preset: 'name' is 'fast'; it should be 'head_x10_rest_x0.1'"):
        LRPreset("fast")


def test_module_state_for_display():
    model = meta("resnet18")
    state = module_state(model, policy_of(model, FreezeUntil("layer2"), SetLRFactor("fc", 10)))
    assert state["layer2"] == (True, 1.0) and state["layer3.0.conv1"] == (False, 1.0)
    assert state["fc"] == (False, 10.0) and state["relu"] == (None, 1.0)
    assert state[""] == (None, 1.0)  # mixed; most trainable weights learn at x1


def _train_step(model, policy):
    apply_freeze(model, policy)
    opt = torch.optim.SGD(param_groups(model, policy, 0.1), lr=0.1, momentum=0.9)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def test_frozen_batchnorm_stays_put_with_set_train_mode_and_drifts_without():
    torch.manual_seed(0)
    model = get_model("resnet18", weights=None, num_classes=4)
    policy = resolve_policy(Recipe.for_model("resnet18", weights="none").with_op(FreezeUntil("layer2")), model)
    probe = torch.randn(2, 64, 8, 8)
    bn = model.layer1[0].bn1
    before = (bn.running_mean.clone(), bn.eval()(probe).detach().clone())
    late_bn = model.layer4[0].bn1.running_mean.clone()

    set_train_mode(model, policy, True)
    assert not bn.training and model.layer4[0].bn1.training and model.training
    _train_step(model, policy)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.eval()(probe), before[1])
    assert not torch.equal(model.layer4[0].bn1.running_mean, late_bn)  # trainable BN still learns

    model.train()  # the trap: frozen weights, but BN in train mode updates its statistics
    _train_step(model, policy)
    assert not torch.equal(bn.running_mean, before[0]) and not torch.equal(bn.eval()(probe), before[1])


def test_batchnorm_modes():
    model = get_model("resnet18", weights=None)
    recipe = Recipe.for_model("resnet18", weights="none")
    set_train_mode(model, resolve_policy(recipe.with_op(SetBatchNormMode("eval")), model), True)
    assert model.training and not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    policy = resolve_policy(recipe.with_ops(Freeze(""), SetBatchNormMode("train")), model)
    set_train_mode(model, policy, True)
    assert all(m.training for m in model.modules())
    set_train_mode(model, policy, False)
    assert not any(m.training for m in model.modules())
