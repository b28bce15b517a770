"""The user's compression goal: ``latency=0.5x``, ``size=4MB`` or ``params=0.3x``.

A goal is a kind (latency, size, params) and a target, either relative to the
uncompressed network (``0.5x``) or absolute (``20ms``, ``4MB``, ``1.5M``). It is
checked against *measured* figures (``measure.Figures``), never estimates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from designer.base.errors import DesignerError

KINDS = ("latency", "size", "params")
UNITS = {"latency": {"ms": 1.0, "s": 1000.0}, "size": {"kb": 1e3, "mb": 1e6, "gb": 1e9, "b": 1.0},
         "params": {"k": 1e3, "m": 1e6, "": 1.0}}
FIGURE_OF = {"latency": "latency_b1_ms", "size": "size_bytes", "params": "params"}
HINT = "Write the goal as latency=0.5x, size=4MB or params=0.3x (x: a fraction of the network as it is now)."
_GOAL = re.compile(r"^\s*(latency|size|params)\s*=\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


@dataclass(frozen=True)
class Goal:
    kind: str  # latency (batch 1, ms), size (ONNX file, bytes) or params
    value: float  # a fraction when relative, else in ms / bytes / parameters
    relative: bool

    def target(self, baseline) -> float:
        """The figure to reach, in the figure's own unit."""
        return self.value * getattr(baseline, FIGURE_OF[self.kind]) if self.relative else self.value

    def met(self, figures, baseline) -> bool:
        return getattr(figures, FIGURE_OF[self.kind]) <= self.target(baseline)

    def describe(self) -> str:
        if self.relative:
            return f"{self.kind} at most {self.value:g}x of the original"
        unit = {"latency": "ms", "size": "bytes", "params": "parameters"}[self.kind]
        return f"{self.kind} at most {self.value:,.6g} {unit}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value, "relative": self.relative, "text": self.describe()}


def parse_goal(text: str) -> Goal:
    """``latency=0.5x`` / ``size=4MB`` / ``params=0.3x`` (also ``latency=20ms``, ``params=1.5M``)."""
    match = _GOAL.match(text or "")
    if not match:
        raise DesignerError(f"'{str(text)[:60]}' is not a compression goal.", hint=HINT)
    kind, number, unit = match.group(1), float(match.group(2)), match.group(3).lower()
    if not math.isfinite(number) or number <= 0:
        raise DesignerError(f"The goal '{text}' must be a finite number above zero.", hint=HINT)
    if unit == "x":
        if number >= 1:
            raise DesignerError(f"The goal '{text}' asks for no shrinking: a fraction below 1x is needed.",
                                hint=HINT)
        return Goal(kind, number, True)
    if unit not in UNITS[kind]:
        units = ", ".join(u for u in UNITS[kind] if u) or "none"
        raise DesignerError(f"'{unit}' is not a unit for {kind} (use x, or {units}).", hint=HINT)
    return Goal(kind, number * UNITS[kind][unit], False)
