"""A design is a recipe: a base model plus an ordered list of edit ops.

The model is built by replaying the recipe (``designer.model.build``); undo/redo
swaps recipes; the project file is the recipe as JSON; the exported script is
each op rendered as Python. Recipes are immutable, so a training thread can
hold one without sharing mutable state with the GUI.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from designer.base.errors import DesignerError
from designer.base.schema import checked, describe_value
from designer.model.ops import Op, op_from_dict
from designer.zoo.base import BaseModel
from designer.zoo.families import source_for

MAX_OPS = 10_000


@dataclasses.dataclass(frozen=True)
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
            raise DesignerError(f"The design's edit list should be a list, not {describe_value(ops)}.")
        if len(ops) > MAX_OPS:
            raise DesignerError(f"The design has {len(ops):,} edit steps; at most {MAX_OPS:,} are allowed.")
        return cls(BaseModel.from_dict(data["base"]), tuple(op_from_dict(o, k) for k, o in enumerate(ops, 1)))

    @classmethod
    def for_model(cls, name: str, weights: str = "default") -> Recipe:
        """Recipe for a gallery name or a ``module:callable`` builder."""
        with checked("The model"):
            return cls(BaseModel(source_for(name), name, weights))
