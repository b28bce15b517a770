"""File > Compress for a device…: the window's way into the Compress dialog.

The action is enabled while the project is saved and has a finished run with weights. The dialog offers
those runs (the best finished one first, ``designer.app.shipping``), the images the Data tab loaded
(else the run's own saved split), and a new folder beside the project, ``compressed-<run>``. A step
picked when the job has finished opens in this window as a project.
"""

from __future__ import annotations

from pathlib import Path

from designer.app.compress import CompressRequest
from designer.app.shipping import best_run, percent
from designer.base.errors import DesignerError
from widgets.compress.dialog import CompressDialog


def finished_runs(context) -> list:
    """The project's finished runs with weights, the best one first, then the newest."""
    try:
        runs = [r for r in context.runs() if r.status == "finished" and r.has_weights]
    except DesignerError:
        return []
    best = best_run(runs)
    newest_first = list(reversed(runs))
    return [best, *[r for r in newest_first if r is not best]] if best is not None else newest_first


def output_folder(project_path: str, run_folder: str) -> Path:
    """``compressed-<run>`` beside the project, numbered when that folder already holds results."""
    base = Path(project_path).resolve().parent / f"compressed-{Path(run_folder).name}"
    folder, n = base, 2
    while folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder


def run_label(run, best) -> str:
    acc = "-" if run.best_val_acc is None else percent(run.best_val_acc)
    return f"{run.name} ({acc}{', best finished run' if run is best else ''})"


def open_dialog(window, context) -> CompressDialog | None:
    """The Compress dialog for the window's saved project (non-modal: the window stays usable)."""
    doc = window.qdoc.doc
    if not doc.path or not window.files.maybe_save("compressing"):
        return None
    runs = finished_runs(context)
    if not runs:
        window.statusBar().showMessage("Train the network first: compressing needs a finished run.", 5000)
        return None
    split = context.split
    request = CompressRequest(doc.path, str(runs[0].path), str(output_folder(doc.path, str(runs[0].path))),
                              data=split.root or None if split is not None else None,
                              val_data=split.val_root or None if split is not None else None,
                              val_split=split.val_fraction if split is not None else 0.2,
                              seed=split.seed if split is not None else 0)
    best = best_run(runs)
    choices = [(run_label(run, best), str(run.path)) for run in runs]
    dialog = CompressDialog(request, window, runs=choices,
                            output_for=lambda folder: output_folder(doc.path, folder),
                            open_project=window.open_project)
    old = getattr(window, "compress_dialog", None)
    if old is not None and not old.runner.running:
        old.deleteLater()
    window.compress_dialog = dialog
    dialog.show()
    return dialog


def install_compress(window, context) -> None:
    """Wire the window's Compress action to this project's runs."""
    window.set_compress_handler(lambda: open_dialog(window, context), lambda: bool(finished_runs(context)))
    context.runs_changed.connect(window.update_actions)
    window.qdoc.path_changed.connect(window.update_actions)
    window.qdoc.opened.connect(window.update_actions)
