"""The training policy of a recipe: which parameters are frozen, each one's LR factor,
and how BatchNorm behaves while training.

Policy ops never change the network. They are replayed in recipe order on flags
per *parameter name*; a later op overrides an earlier one for the parameters it
touches (``Freeze("")`` then ``Freeze("fc", frozen=False)`` trains only the head).

Layer-wise decay (``LRPreset("layer_decay")``) needs "layers" to count from the
head. The units are the top-level children in registration order, each split once
more where it is a container of blocks: an ``nn.Sequential``/``nn.ModuleList``
(``features``, ``layer1``, ``_blocks``) is split into its children, and a module
that *holds* such a container (ViT's ``encoder`` with ``encoder.layers``) into its
children with that container split. A module's own parameters (ViT's class token,
position embedding) form a unit where the module starts. Units without parameters
do not count. The unit holding the classifier has distance 0 (factor 1), the one
before it distance 1 (factor ``decay``), and so on; units after the head count 0.
A timm network says what its blocks are itself (``group_matcher``, the grouping
timm's own ``param_groups_layer_decay`` uses); its groups are the units then.

Weight decay: every parameter group gets the same ``weight_decay``; biases and
norm weights are not split off into a no-decay group (simple, and what the
exported script does too).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

from torch import nn

from designer.base.errors import DesignerError
from designer.model.ops import BN_MODES, LR_PRESETS
from designer.model.surgery import find_classifier

CONTAINERS = (nn.Sequential, nn.ModuleList)


@dataclass
class Policy:
    frozen: dict[str, bool]  # parameter name -> frozen
    lr_factor: dict[str, float]  # parameter name -> factor
    bn_mode: str = "frozen_eval"
    head_path: str = ""  # the classifier the presets used ("" if none was found)
    notes: list[str] = field(default_factory=list)

    def is_frozen(self, name: str) -> bool:
        return bool(self.frozen.get(name, False))

    def factor(self, name: str) -> float:
        return float(self.lr_factor.get(name, 1.0))


# A module's (frozen: True / False / None when mixed or without parameters, LR factor), for the views.
LayerState = tuple[bool | None, float]


# --- resolving the recipe's policy ops -------------------------------------------------------------


def resolve_policy(recipe, model: nn.Module) -> Policy:
    """Replay ``recipe``'s policy ops on per-parameter flags of ``model``."""
    names = [n for n, _ in model.named_parameters()]
    policy = Policy({n: False for n in names}, {n: 1.0 for n in names})
    for step, op in enumerate(recipe.ops, 1):
        if op.structural:
            continue
        try:
            POLICY_HANDLERS[op.kind](policy, model, op)
        except DesignerError as exc:
            message = exc.message[:1].lower() + exc.message[1:] if exc.message[1:2].islower() else exc.message
            raise DesignerError(f"Step {step} '{op.describe()}': {message}", hint=exc.hint) from exc
    return policy


def params_under(model: nn.Module, path: str) -> list[str]:
    """Parameter names inside the module at ``path`` ("" = all), or the parameter named ``path``."""
    names = [n for n, _ in model.named_parameters()]
    if not path:
        return names
    inside = [n for n in names if n == path or n.startswith(path + ".")]
    if not inside and path not in dict(model.named_modules()):
        raise DesignerError(f"There is no layer named {path}.",
                            hint="Pick a layer name from the graph or `python -m designer inspect`.")
    return inside


def _freeze(policy: Policy, model: nn.Module, op) -> None:
    for name in params_under(model, op.path):
        policy.frozen[name] = op.frozen


def _freeze_until(policy: Policy, model: nn.Module, op) -> None:
    for name in params_up_to(model, op.path):
        policy.frozen[name] = True


def params_up_to(model: nn.Module, path: str) -> list[str]:
    """Parameters of every module up to and including ``path`` in ``named_modules`` order:
    those registered before it, its own and its children's."""
    modules = dict(model.named_modules())
    if path not in modules:
        raise DesignerError(f"There is no layer named {path}.",
                            hint="Pick a layer name from the graph or `python -m designer inspect`.")
    out: list[str] = []
    reached = False
    for name, module in modules.items():
        inside = name == path or name.startswith(path + ".") or not path
        if reached and not inside:
            break
        reached = reached or inside
        out += [f"{name}.{p}" if name else p for p, _ in module.named_parameters(recurse=False)]
    return out


def _set_lr_factor(policy: Policy, model: nn.Module, op) -> None:
    if op.factor < 0:
        raise DesignerError(f"An LR factor cannot be negative ({op.factor}).",
                            hint="Use 0 or more, e.g. 0.1 or 10.")
    for name in params_under(model, op.path):
        policy.lr_factor[name] = float(op.factor)


def _lr_preset(policy: Policy, model: nn.Module, op) -> None:
    if op.name not in LR_PRESETS:
        raise DesignerError(f"Unknown LR preset '{op.name}'.", hint=f"Use one of: {', '.join(LR_PRESETS)}.")
    head = find_classifier(model)
    policy.head_path = head
    if op.name == "head_x10_rest_x0.1":
        inside = set(params_under(model, head))
        for name in policy.lr_factor:
            policy.lr_factor[name] = float(op.head_factor if name in inside else op.rest_factor)
        return
    if not 0 < op.decay <= 1:
        raise DesignerError(f"Layer decay must be between 0 and 1, not {op.decay}.",
                            hint="A usual value is 0.7.")
    for name, distance in layer_distances(model, head).items():
        policy.lr_factor[name] = float(op.decay ** distance)


def _bn_mode(policy: Policy, model: nn.Module, op) -> None:
    if op.mode not in BN_MODES:
        raise DesignerError(f"Unknown BatchNorm mode '{op.mode}'.",
                            hint=f"Use one of: {', '.join(BN_MODES)}.")
    policy.bn_mode = op.mode


POLICY_HANDLERS = {
    "freeze": _freeze,
    "freeze_until": _freeze_until,
    "set_lr_factor": _set_lr_factor,
    "lr_preset": _lr_preset,
    "set_batchnorm_mode": _bn_mode,
}


# --- layer-wise decay units ------------------------------------------------------------------------


def decay_units(model: nn.Module, head: str = "") -> list[tuple[str, list[str]]]:
    """(unit path, its parameter names) in order; see the module docstring for the rule.
    The head is never split: it is one unit however it is built."""
    units = [("", _params(model, "", recurse=False))]
    for name, child in model.named_children():
        units += _split(child, name, head)
    return [(path, names) for path, names in units if names]


def _split(module: nn.Module, path: str, head: str) -> list[tuple[str, list[str]]]:
    kids = list(module.named_children())
    if path == head or not kids:
        return [(path, _params(module, path))]
    if isinstance(module, CONTAINERS):
        return [(path, _params(module, path, recurse=False))] + [
            (f"{path}.{n}", _params(c, f"{path}.{n}")) for n, c in kids]
    if not any(isinstance(c, CONTAINERS) and len(c) > 1 for _, c in kids):
        return [(path, _params(module, path))]
    units = [(path, _params(module, path, recurse=False))]
    for name, child in kids:
        sub = f"{path}.{name}"
        units += _split(child, sub, head) if isinstance(child, CONTAINERS) else [(sub, _params(child, sub))]
    return units


def _params(module: nn.Module, path: str, recurse: bool = True) -> list[str]:
    return [f"{path}.{n}" if path else n for n, _ in module.named_parameters(recurse=recurse)]


def timm_layer_ids(model: nn.Module) -> dict[str, int]:
    """Parameter name -> block number from timm's ``group_matcher`` (the head, which no pattern
    matches, gets the last), or {} for networks timm did not build."""
    matcher = getattr(model, "group_matcher", None)
    manipulate = sys.modules.get("timm.models._manipulate")  # loaded whenever timm built a network
    if not callable(matcher) or manipulate is None:
        return {}
    try:
        return dict(manipulate.group_parameters(model, matcher(coarse=False), reverse=True))
    # an edit renamed what the patterns expect: fall back to the module tree
    except Exception:  # noqa: BLE001
        return {}


def layer_distances(model: nn.Module, head: str) -> dict[str, int]:
    """Parameter name -> how many units before the head's unit it sits (0 for the head and after)."""
    timm_ids = timm_layer_ids(model)
    if timm_ids and len(set(timm_ids.values())) > 1:
        top = max(timm_ids.values())
        return {name: top - layer for name, layer in timm_ids.items()}
    units = decay_units(model, head)
    head_index = next((i for i, (path, _) in enumerate(units) if path == head or head.startswith(path + ".")),
                      len(units) - 1)
    return {name: max(head_index - i, 0) for i, (_, names) in enumerate(units) for name in names}


# --- applying a policy -------------------------------------------------------------------------------


def apply_freeze(model: nn.Module, policy: Policy) -> None:
    """``requires_grad`` per the policy (parameters it does not know stay trainable)."""
    for name, p in model.named_parameters():
        p.requires_grad_(not policy.is_frozen(name))


def param_groups(model: nn.Module, policy: Policy, base_lr: float, weight_decay: float = 0.0) -> list[dict]:
    """Optimizer groups: frozen parameters left out, one group per distinct LR factor (in the
    order the factors first appear), ``lr = base_lr * factor``, named like ``"x10"``."""
    groups: dict[float, dict] = {}
    for name, p in model.named_parameters():
        if policy.is_frozen(name):
            continue
        factor = policy.factor(name)
        group = groups.setdefault(factor,
                                  {"name": f"x{factor:g}", "lr": base_lr * factor, "lr_factor": factor,
                                           "weight_decay": weight_decay, "params": [], "param_names": []})
        group["params"].append(p)
        group["param_names"].append(name)
    return list(groups.values())


def is_batchnorm(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


def set_train_mode(model: nn.Module, policy: Policy | None, training: bool) -> None:
    """``model.train(training)``, then BatchNorm layers that must not drift go to eval:
    all of them for ``bn_mode="eval"``, the frozen ones for ``"frozen_eval"``. A frozen BN
    left in train mode still changes its running statistics and so its outputs."""
    model.train(training)
    if not training or policy is None or policy.bn_mode == "train":
        return
    for path, module in model.named_modules():
        if not is_batchnorm(module):
            continue
        names = [f"{path}.{n}" if path else n for n, _ in module.named_parameters()]
        if policy.bn_mode == "eval" or (names and all(policy.is_frozen(n) for n in names)):
            module.eval()


def module_state(model: nn.Module, policy: Policy | None) -> dict[str, LayerState]:
    """Module path -> (frozen: True / False / None when mixed or without parameters, LR factor).
    The factor is the one most of the module's trainable weights (by count) get."""
    out: dict[str, LayerState] = {}
    for path, module in model.named_modules():
        rows = [((f"{path}.{n}" if path else n), p.numel()) for n, p in module.named_parameters()]
        if policy is None:
            frozen = [not p.requires_grad for _, p in module.named_parameters()]
            factors = Counter({1.0: 1})
        else:
            frozen = [policy.is_frozen(n) for n, _ in rows]
            live = [(n, k) for n, k in rows if not policy.is_frozen(n)] or rows
            factors = Counter()
            for n, k in live:
                factors[policy.factor(n)] += k
        state = None if not frozen or len(set(frozen)) > 1 else frozen[0]
        out[path] = (state, factors.most_common(1)[0][0] if factors else 1.0)
    return out
