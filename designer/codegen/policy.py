"""Freezing and LR factors as two small tables of module paths.

The app resolves the policy ops (freeze, freeze-until, LR factors, presets)
into a per-parameter flag and factor. The script gets the same result,
compressed to the coarsest module paths that cover it exactly, so it reads
``FROZEN = ["conv1", "bn1", "layer1"]`` rather than a list of 60 tensors.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from torch import nn

from designer.codegen.literals import comment_text, literal, number
from designer.model.build import Design
from designer.model.policy import resolve_policy


@dataclass
class PolicyCode:
    frozen: list[str]
    lr_factors: dict[str, float]
    bn_mode: str
    ops: list[str]  # the policy ops, described, for the comment

    def constants(self) -> list[str]:
        source = "; ".join(self.ops) or "no freezing or LR factors were set"
        comment = textwrap.wrap(comment_text(f"Training policy, from the design: {source}."), 96)
        return [
            "",
            *(f"# {line}" for line in comment),
            "# Parameters under FROZEN's modules do not train; under LR_FACTORS', lr = --lr x factor:",
            f"FROZEN = {_list(self.frozen)}",
            f"LR_FACTORS = {_dict(self.lr_factors)}",
            f"BN_MODE = {literal(self.bn_mode)}  # BatchNorm in training: see set_train_mode",
        ]


def policy_code(design: Design) -> PolicyCode:
    policy = resolve_policy(design.recipe, design.model)
    params = dict(design.model.named_parameters())
    frozen = {n: bool(policy.frozen.get(n, False)) for n in params}
    factors = {n: float(policy.lr_factor.get(n, 1.0)) for n in params if not frozen[n]}
    return PolicyCode(
        frozen=_cover(design.model, lambda n: frozen[n], lambda n: True),
        lr_factors=_factor_table(design.model, factors),
        bn_mode=policy.bn_mode,
        ops=[op.describe() for op in design.recipe.policy_ops],
    )


def _cover(model: nn.Module, selected, relevant, prefix: str = "") -> list[str]:
    """Coarsest module paths (or parameter names) whose relevant parameters are all selected."""
    names = [n for n, _ in _named_params(model, prefix) if relevant(n)]
    if names and all(selected(n) for n in names):
        return [prefix]
    if not any(selected(n) for n in names):
        return []
    out = [_join(prefix, n) for n, _ in model.named_parameters(recurse=False)
           if relevant(_join(prefix, n)) and selected(_join(prefix, n))]
    for child_name, child in model.named_children():
        out += _cover(child, selected, relevant, _join(prefix, child_name))
    return out


def _factor_table(model: nn.Module, factors: dict[str, float]) -> dict[str, float]:
    """Paths -> factor, coarsest first; trainable parameters left out of it get x1."""
    table: dict[str, float] = {}
    for value in sorted(set(factors.values())):
        if value != 1.0:
            for path in _cover(model, lambda n, v=value: factors.get(n) == v, lambda n: n in factors):
                table[path] = value
    return dict(sorted(table.items(), key=lambda kv: _order(model, kv[0])))


def _order(model: nn.Module, path: str) -> int:
    names = [n for n, _ in model.named_parameters()]
    return next((i for i, n in enumerate(names) if n == path or n.startswith(path + ".") or not path),
                len(names))


def _named_params(model: nn.Module, prefix: str):
    return ((_join(prefix, n), p) for n, p in model.named_parameters())


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _list(items: list[str]) -> str:
    if len(items) <= 6:
        return literal(list(items))
    return "[\n" + "".join(f"    {literal(item)},\n" for item in items) + "]"


def _dict(table: dict[str, float]) -> str:
    pairs = [f"{literal(k)}: {number(float(v))}" for k, v in table.items()]
    if len(pairs) <= 4:
        return "{" + ", ".join(pairs) + "}"
    return "{\n" + "".join(f"    {p},\n" for p in pairs) + "}"
