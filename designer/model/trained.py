"""A design with trained weights: the one way the CLI and the window load a run's weights.

The structure is built from the recipe with random base weights (the run's file
holds every weight, so the base's are never loaded or downloaded), the file is
loaded strictly, and the design keeps the *real* recipe: an export of it still
names the pretrained base weights the design starts from.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from designer.base.errors import DesignerError
from designer.base.safeio import regular_file
from designer.model.build import BaseCache, Design, build
from designer.model.recipe import Recipe
from designer.zoo.weights import load_strict

BEST = "best.pt"


def weights_file(source: str | os.PathLike) -> Path:
    """A weights file, or a run folder's best.pt; a clear error when there is none."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / BEST).is_file():
            raise DesignerError(f"The run folder '{path}' has no saved weights ({BEST} is missing).",
                                hint="Train the network first, or pick a run folder that has a best.pt.")
        return path / BEST
    # says what is there instead (a pipe, a device, a link to nothing), never opens it
    return regular_file(path, "weights file", hint="Check the path, or pick a run folder that has a best.pt.")


def structure_of(recipe: Recipe, cache: BaseCache | None = None) -> Design:
    """``recipe``'s network with random weights, carrying the real recipe: for when only the
    structure matters (code generation) or every weight comes from elsewhere (a checkpoint).
    Offline-safe: the base's pretrained weights are never needed."""
    return replace(build(recipe.with_weights("none"), cache), recipe=recipe, load_report=None)


def design_with_weights(recipe: Recipe, weights: str | os.PathLike, cache: BaseCache | None = None) -> Design:
    """``recipe``'s network with the weights in ``weights`` (a file or a run folder)."""
    path = weights_file(weights)
    design = structure_of(recipe, cache)
    load_strict(design.model, path)
    return design


def load_weights_into(design: Design, weights: str | os.PathLike) -> Design:
    """A design that could not be rebuilt from a recipe (a test's plain model): load in place."""
    load_strict(design.model, weights_file(weights))
    return design
