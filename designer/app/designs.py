"""The design commands: list the gallery, inspect a network, create a project, append edits.

What ``python -m designer models | inspect | new | edit`` does, as plain functions that return
what was found or made; the CLI only parses its flags into these calls and prints the results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from designer.app.project import Project, load_project, save_project
from designer.base.errors import DesignerError
from designer.base.safeio import regular_file
from designer.inspect.analysis import analyze, layer_rows
from designer.inspect.fold import fold
from designer.model.build import build
from designer.model.ops import Op
from designer.model.recipe import Recipe
from designer.zoo.sources import ModelInfo, list_models, model_info


def gallery(source: str | None = None, category: str | None = None,
            family: str | None = None) -> list[ModelInfo]:
    """The gallery's networks, only those of ``source``, ``category`` and ``family`` when given."""
    infos = list_models((source,) if source else ())
    return [i for i in infos
            if (not category or i.category == category) and (not family or i.family == family)]


@dataclass
class Inspection:
    """A built design, its analysis and its layer rows (folded to ``depth`` when asked)."""

    recipe: Recipe
    design: Any  # designer.model.build.Design
    report: Any  # designer.inspect.analysis.AnalysisReport
    rows: list[dict]


def target_recipe(target: str) -> Recipe:
    """A project file's recipe, or a gallery/builder name with random weights (fast)."""
    # Anything on disk (a pipe, a device, a link) is a would-be project: load_project says what it is.
    if target.endswith(".json") or os.path.lexists(target):
        return load_project(target).recipe
    if ":" not in target:
        model_info(target)  # unknown names fail here, with suggestions
    return Recipe.for_model(target, weights="none")


def inspect_target(target: str, input_op: Op | None = None, depth: int | None = None) -> Inspection:
    """Build ``target`` (with ``input_op`` appended) and analyze it."""
    recipe = target_recipe(target)
    if input_op is not None:
        recipe = recipe.with_op(input_op)
    design = build(recipe)
    report = analyze(design)
    if report.graph is None:  # the analyzer could not trace it: its messages say why
        return Inspection(recipe, design, report, [])
    graph = fold(report.graph, depth) if depth else report.graph
    return Inspection(recipe, design, report, layer_rows(graph))


def new_project(model: str, weights: str, output: str) -> tuple[Recipe, Any]:
    """Write a project for ``model`` with ``weights`` (default | none | a file); (recipe, design)."""
    if weights not in ("default", "none"):
        regular_file(weights, "weights file",
                     hint="Pass --weights default, --weights none, or an existing file.")
        weights = os.path.abspath(weights)  # the project may be opened from another folder
    if ":" not in model:
        model_info(model)
    recipe = Recipe.for_model(model, weights=weights)
    design = build(recipe)  # loads the weights now, so a missing file fails before anything is written
    save_project(Project(recipe=recipe), output)
    return recipe, design


def edit_project(path: str, ops: Sequence[Op], output: str | None = None, allow_errors: bool = False,
                 spell_fix: Callable[[Op], str] = lambda op: op.describe()) -> Inspection:
    """Append ``ops`` to the project at ``path`` and save it (at ``output`` when given). The design is
    built and analyzed first: an op that cannot apply, or (unless ``allow_errors``) a design the
    analyzer finds broken, raises and nothing is written. ``spell_fix`` words a one-click fix."""
    project = load_project(path)
    if not ops:
        raise DesignerError("No edits given.", hint="See `python -m designer edit --help`.")
    recipe = project.recipe.with_ops(*ops)
    design = build(recipe)  # an impossible op fails here, naming itself; nothing is written yet
    report = analyze(design)
    if report.errors and not allow_errors:
        first = report.errors[0]
        fix = f" Fix: {spell_fix(first.fix)}." if first.fix else ""
        raise DesignerError(f"The edited design does not run: {first.text}{fix}",
                            hint="Nothing was saved (use --allow-errors to save it anyway).")
    save_project(replace(project, recipe=recipe), output or path)
    return Inspection(recipe, design, report, [])
