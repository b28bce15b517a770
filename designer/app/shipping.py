"""Which run ships: the one rule the Export dialog and ``export --weights best`` share.

A domain expert pressed Export and got the newest run (from scratch, at chance) while a run
with 84 % sat one line below (issue 22). So export offers the project's best *finished* run
by validation accuracy, and a run no better than guessing is named as such before it ships.
"""

from __future__ import annotations

from pathlib import Path

from designer.base.errors import DesignerError
from designer.train.runs import Run, list_runs, load_run

BEST = "best"  # the value of ``--weights`` that asks for the best run
CHANCE_MARGIN = 0.05  # within 5 points of guessing counts as "learned nothing"


def project_runs(runs_dir, listed=()) -> list[Run]:
    """Every run of a project, oldest first: those in its ``runs_dir`` and those its file lists
    (``listed``; a listed folder that is gone or is not a run is skipped)."""
    found = {str(r.path.resolve()): r for r in list_runs(runs_dir)}
    for path in listed or ():
        key = str(Path(path).resolve())
        if key not in found:
            try:
                found[key] = load_run(path)
            except DesignerError:
                continue
    return sorted(found.values(), key=lambda r: r.name)


def best_run(runs) -> Run | None:
    """The finished run with weights and the highest validation accuracy (the newer one on a
    tie), or None when no run finished. Stopped and failed runs are left out: what ships is a
    run that trained as planned."""
    done = [r for r in runs if r.status == "finished" and r.has_weights and r.best_val_acc is not None]
    return max(done, key=lambda r: (r.best_val_acc, r.name), default=None)


def best_run_of_project(runs_dir, listed=()) -> Run:
    """``best_run`` of a project, or a DesignerError saying why there is none."""
    runs = project_runs(runs_dir, listed)
    run = best_run(runs)
    if run is None:
        what = "no training runs" if not runs else "no finished training run with saved weights"
        raise DesignerError(f"This project has {what}, so there is no best run to export.",
                            hint=f"Train it first (runs go into '{runs_dir}'), or give --weights a run "
                                 "folder.")
    return run


def chance_level(classes: int) -> float:
    return 1.0 / classes if classes > 0 else 0.0


def chance_warning(run: Run, classes: int | None = None) -> str:
    """A warning when ``run``'s best validation accuracy is no better than guessing
    (at most 1/classes + 5 points), else "". ``classes`` serves when the run does not say."""
    n = len(run.classes) or int(classes or 0)
    acc = run.best_val_acc
    if n < 2 or acc is None or acc > chance_level(n) + CHANCE_MARGIN:
        return ""
    return (f"The run {run.name} reached {percent(acc)} on the validation images, about what guessing among "
            f"{n} classes gives ({percent(chance_level(n))}): this model has learned little or nothing.")


def percent(value: float) -> str:
    """An accuracy as the window writes it: 84.0 %."""
    return f"{100 * value:.1f} %"


def run_card(run: Run) -> dict:
    """What the model card says about the run its weights come from."""
    return {"folder": str(run.path), "name": run.name, "mode": run.mode, "status": run.status,
            "best_val_acc": run.best_val_acc}


def weights_warning(weights, classes: int | None = None) -> str:
    """``chance_warning`` for the run that ``weights`` (a run folder or a file in one) belong to;
    "" for a plain weights file: no run, no accuracy to judge."""
    if not weights:
        return ""
    try:
        run = load_run(weights)
    except DesignerError:
        return ""
    return chance_warning(run, classes)
