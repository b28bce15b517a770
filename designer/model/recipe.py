"""A design is a recipe: a base model plus an ordered list of edit ops.

The model is built by replaying the recipe (``designer.model.build``); undo/redo
swaps recipes; the project file is the recipe as JSON; the exported script is
each op rendered as Python. Recipes are immutable, so a training thread can
hold one without sharing mutable state with the GUI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from designer.base.errors import DesignerError
from designer.model.families import SOURCES, source_for
from designer.model.ops import Op, op_from_dict


@dataclass(frozen=True)
class BaseModel:
    """Where the network comes from.

    ``source``: ``"torchvision"`` (``name`` is a ``torchvision.models`` name),
    ``"lite0"`` (EfficientNet-Lite0, ``name="efficientnet_lite0"``) or
    ``"builder"`` (``name`` is ``"package.module:callable"`` returning an ``nn.Module``).
    ``weights``: ``"default"`` (pretrained, from cache or download), ``"none"``
    (random init) or a path to a ``.pth``/``.pt``/``.safetensors`` state dict.
    """

    source: str
    name: str
    weights: str = "default"

    def to_dict(self) -> dict:
        return {"source": self.source, "name": self.name, "weights": self.weights}

    @classmethod
    def from_dict(cls, data: dict) -> BaseModel:
        try:
            base = cls(str(data["source"]), str(data["name"]), str(data.get("weights", "default")))
        except (KeyError, TypeError) as exc:
            raise DesignerError(f"The base model entry is incomplete: {data!r}.") from exc
        if base.source not in SOURCES:
            raise DesignerError(f"Unknown model source '{base.source}'; expected one of {tuple(SOURCES)}.")
        return base

    def describe(self) -> str:
        return f"{self.name} ({self.source}, weights={self.weights})"


@dataclass(frozen=True)
class Recipe:
    base: BaseModel
    ops: tuple[Op, ...] = ()

    def with_op(self, op: Op) -> Recipe:
        return replace(self, ops=self.ops + (op,))

    def with_ops(self, *ops: Op) -> Recipe:
        return replace(self, ops=self.ops + tuple(ops))

    def with_base(self, base: BaseModel) -> Recipe:
        return replace(self, base=base)

    def with_weights(self, weights: str) -> Recipe:
        """The same design starting from other base weights ("none": random, the from-scratch
        baseline, or the structure to load a run's weights into)."""
        return replace(self, base=replace(self.base, weights=weights))

    @property
    def structural_ops(self) -> tuple[Op, ...]:
        return tuple(op for op in self.ops if op.structural)

    @property
    def policy_ops(self) -> tuple[Op, ...]:
        return tuple(op for op in self.ops if not op.structural)

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "ops": [op.to_dict() for op in self.ops]}

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        if not isinstance(data, dict) or "base" not in data:
            raise DesignerError("The design has no base model.")
        ops = data.get("ops", [])
        if not isinstance(ops, list):
            raise DesignerError("The design's edit list is not a list.")
        return cls(BaseModel.from_dict(data["base"]), tuple(op_from_dict(o) for o in ops))

    @classmethod
    def for_model(cls, name: str, weights: str = "default") -> Recipe:
        """Recipe for a gallery name or a ``module:callable`` builder."""
        return cls(BaseModel(source_for(name), name, weights))
