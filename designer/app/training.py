"""What a training run needs before its job starts, for a saved project: its options (the project's,
with what the caller fixed), its folder, its images, a stopped run's plan to resume, and the project
file updated afterwards. ``jobs.train_job`` then trains it, for the window and the CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from designer.app.project import Project, save_project
from designer.base.errors import DesignerError
from designer.base.safeio import valid_text
from designer.data.split import DatasetSplit
from designer.launch.placement import Placement, saved_placement
from designer.train.options import PLAN_FIELDS, TrainOptions
from designer.train.runs import check_new_run_dir, new_run_dir, plan_resume

RESUME_MAY_CHANGE = ("epochs", "device", "workers")  # a resumed run keeps every other setting


def merged_options(saved: dict | None, given: dict[str, Any]) -> TrainOptions:
    """The project's saved training settings overridden by ``given``; a plan field given (epochs,
    batch size, ...) is used as given, in every mode (the recommended mode plans the others)."""
    options = TrainOptions.from_dict({**(saved or {}), **given})
    flagged = [f for f in PLAN_FIELDS if f in given]
    return replace(options, fixed=sorted(set(options.fixed) | set(flagged))) if flagged else options


def data_settings(project_data: dict | None, root: str, val_root: str | None, val_fraction: float,
                  seed: int) -> dict:
    """The settings ``jobs.scan_job`` reads: these folders, with the project's relabel / exclude
    decisions and duplicate groups (as the window's Data tab keeps them)."""
    return {**(project_data or {}), "root": root, "val_root": val_root or "", "val_fraction": val_fraction,
            "seed": seed}


def placement_for(where: str | None, training: dict | None) -> Placement:
    """Where a run trains: ``where`` as the user wrote it, else the project's saved choice."""
    return Placement.parse(where) if where else saved_placement(training)


def new_run_folder(project_path: str | Path, mode: str, output: str | Path | None = None) -> Path:
    """``output``, else a new ``runs/<time>-<mode>`` beside the project; checked before the slow
    scan: never over another run, and a name the project file can hold."""
    run_dir = Path(output) if output else new_run_dir(Path(project_path).parent / "runs", mode)
    check_new_run_dir(run_dir)
    if not valid_text(str(run_dir)):  # it goes into the project file, which could then not be saved
        raise DesignerError(f"The run folder name {str(run_dir)!r} is not valid text (UTF-8).",
                            hint="Choose a name with ordinary characters.")
    return run_dir


def feature_cache(run_dir: Path, shared: bool) -> Path | None:
    """Where computed features are kept: ``runs/.features``, shared by the project's own runs, when
    the run is made there (``shared``); else inside the run folder (None), whose parent may be a
    folder others write to (a shared cache there could be read or replaced by anyone)."""
    return run_dir.parent / ".features" if shared else None


@dataclass
class Resumption:
    """A stopped (or finished) run to continue: its options, images, folder and checkpoint."""

    options: TrainOptions
    split: DatasetSplit
    run_dir: Path
    checkpoint: str
    was_finished: bool
    run: Any  # designer.train.runs.Run


def resume_run(run_path: str, epochs: int | None, changes: dict[str, Any]) -> Resumption:
    """The plan to continue ``run_path`` (``runs.plan_resume``, as the window does) with its own
    options and images; only ``RESUME_MAY_CHANGE`` may differ (``changes``, ``epochs``)."""
    unknown = sorted(set(changes) - set(RESUME_MAY_CHANGE))
    if unknown:
        raise DesignerError(f"A resumed run keeps its {', '.join(unknown)}.")
    plan = plan_resume(run_path, epochs)
    if plan.split is None:
        raise DesignerError(f"The run '{plan.run.name}' has no saved data split, so it cannot be resumed.")
    options = replace(plan.options, **changes)
    return Resumption(options, plan.split, plan.run.path, str(plan.checkpoint),
                      plan.run.status == "finished", plan.run)


def remember_run(path: str | Path, project: Project, classes: list[str], run_dir: str | Path) -> None:
    """Record the classes and the run in the project file (atomic save)."""
    runs = list(project.runs) + [str(run_dir)] if str(run_dir) not in project.runs else list(project.runs)
    save_project(replace(project, classes=list(classes), runs=runs), path)
