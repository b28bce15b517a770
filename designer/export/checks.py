"""What every export is checked with: the seeded sample batches and how outputs are compared.

Each format writes its file, reads it back the way a user would, runs the same
seeded batch through it and through the model, and reports the largest absolute
difference (``max_abs_diff``). An ``ExportJob`` carries the eval-mode model, the
two sample batches, and the job protocol's progress and cancel hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.base.jobs import JobCancelled, Progress, is_cancelled

EXAMPLE_BATCH = 2  # what exporters trace with
VERIFY_BATCH = 3  # differs from the export batch, so a fixed batch size would show up


def sample_input(input_shape: tuple[int, ...], batch: int, seed: int = 0) -> torch.Tensor:
    """A seeded standard-normal batch, shaped like normalised images."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *input_shape), generator=generator)


@dataclass
class ExportJob:
    """What one export needs: the eval-mode model, its sample inputs, progress and cancel."""

    model: nn.Module
    example: torch.Tensor
    verify_input: torch.Tensor
    report: Callable[[Progress], None]
    cancel: Any = None  # anything ``is_cancelled`` understands

    @classmethod
    def for_model(cls, model: nn.Module, input_shape: tuple[int, ...], report=None, cancel=None) -> ExportJob:
        example = sample_input(input_shape, EXAMPLE_BATCH)
        verify = sample_input(input_shape, VERIFY_BATCH, seed=1)
        return cls(model, example, verify, report or (lambda progress: None), cancel)

    def step(self, fraction: float, text: str) -> None:
        """Report progress between slow steps; stop here if the user cancelled."""
        if is_cancelled(self.cancel):
            raise JobCancelled()
        self.report(Progress(fraction, 1.0, text))

    @torch.no_grad()
    def reference(self) -> torch.Tensor:
        return self.model(self.verify_input)


def max_abs_diff(reference: torch.Tensor, other: Any) -> float:
    if not torch.isfinite(reference).all():
        raise DesignerError("The model's own outputs are not finite numbers (NaN or infinity), "
                            "so its exports cannot be checked.", hint="Check the weights you exported.")
    other = torch.as_tensor(other)
    if other.shape != reference.shape:
        raise DesignerError(
            f"The exported model's output has shape {tuple(other.shape)}, "
            f"the original's {tuple(reference.shape)}."
        )
    return float((reference - other).abs().max())


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
