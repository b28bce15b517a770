"""Qt adapter around the Qt-free :class:`designer.app.document.Document`.

It turns the document's plain-Python events into Qt signals, owns the undo
stack, and computes new states (build + trace + analyze) in a worker
``QThread`` so the window stays responsive while DenseNet builds. An edit is
pushed onto the undo stack only after its recipe built: a failing op never
reaches the history and the design stays as it was.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.app.document import Document
from designer.base.errors import DesignerError
from designer.model.recipe import Recipe

BUSY_DELAY_MS = 150  # short jobs finish before the busy indicator shows


def error_text(exc: BaseException) -> str:
    if isinstance(exc, DesignerError):
        return str(exc)
    return f"Unexpected problem ({type(exc).__name__}): {exc}"


class PrepareWorker(QThread):
    """Runs ``Document.prepare(recipe)`` off the GUI thread."""

    prepared = Signal(object, object)  # (job, state)
    failed = Signal(object, str)  # (job, message)

    def __init__(self, doc: Document, job: dict, parent: QObject):
        super().__init__(parent)
        self.doc, self.job = doc, job

    def run(self) -> None:
        try:
            state = self.doc.prepare(self.job["recipe"])
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            self.failed.emit(self.job, error_text(exc))
            return
        self.prepared.emit(self.job, state)


class RecipeCommand(QUndoCommand):
    """Undo/redo swaps whole recipes on the document."""

    def __init__(self, qdoc: QtDocument, before: Recipe, after: Recipe, label: str):
        super().__init__(label)
        self.qdoc, self.before, self.after = qdoc, before, after
        self.applied = True  # pushed after the document already shows ``after``

    def redo(self) -> None:
        if self.applied:
            self.applied = False
            return
        self.qdoc.show(self.after)

    def undo(self) -> None:
        self.qdoc.show(self.before)


class QtDocument(QObject):
    recipe_changed = Signal(object)  # DesignState
    dirty_changed = Signal(bool)
    path_changed = Signal(object)  # str | None
    selection_changed = Signal(object)  # tuple[str, ...]
    settings_changed = Signal(str)
    busy_changed = Signal(bool, str)  # busy, what
    failed = Signal(str, str)  # title, message
    opened = Signal()  # a new model or project replaced everything
    open_failed = Signal(object, str)  # recipe, message: a model could not be opened

    def __init__(self, doc: Document | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = doc or Document()
        self.undo_stack = QUndoStack(self)
        self._worker: PrepareWorker | None = None
        self._pending: dict | None = None
        self._busy_timer = QTimer(self, singleShot=True, interval=BUSY_DELAY_MS)
        self._busy_timer.timeout.connect(self._show_busy)
        self._busy_what = ""
        self.doc.recipe_changed.connect(self.recipe_changed.emit)
        self.doc.dirty_changed.connect(self.dirty_changed.emit)
        self.doc.path_changed.connect(self.path_changed.emit)
        self.doc.selection_changed.connect(self.selection_changed.emit)
        self.doc.settings_changed.connect(self.settings_changed.emit)

    # --- state -----------------------------------------------------------------------------

    @property
    def state(self):
        return self.doc.state

    @property
    def recipe(self) -> Recipe | None:
        return self.doc.recipe

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def select(self, paths) -> None:
        self.doc.select(paths)

    # --- requests --------------------------------------------------------------------------------

    def open_recipe(self, recipe: Recipe, what: str = "") -> None:
        """Replace the design with a fresh one from ``recipe`` (a new model)."""
        self._submit({"mode": "open", "recipe": recipe, "what": what or f"Opening {recipe.base.name}…"})

    def open_project(self, path: str, **extra) -> None:
        try:
            from designer.app.project import load_project

            project = load_project(path)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit("Could not open the project", error_text(exc))
            return
        self._submit({"mode": "project", "recipe": project.recipe, "path": path, "project": project,
                      "what": f"Opening {path}…", **extra})

    def recover(self) -> None:
        """Open the autosaved recovery file as unsaved work."""
        self.open_project(self.doc.autosave_path, recovered_from=self.doc.recovery_origin() or "")

    def edit(self, ops, label: str = "") -> bool:
        """Append ``ops`` to the recipe; pushed for undo once it builds. False if refused now."""
        ops = tuple(ops) if isinstance(ops, (list, tuple)) else (ops,)
        if not ops:
            return False
        if self.recipe is None:
            self.failed.emit("Nothing to edit", "Open a model first.")
            return False
        label = label or (ops[0].describe() if len(ops) == 1 else f"{ops[0].describe()} and {len(ops) - 1} more")
        return self.set_recipe(self.recipe.with_ops(*ops), label)

    def set_recipe(self, recipe: Recipe, label: str) -> bool:
        if self.busy:
            self.failed.emit("Please wait", "The previous change is still being applied.")
            return False
        if recipe == self.recipe:
            return False
        self._submit({"mode": "push", "recipe": recipe, "before": self.recipe, "label": label,
                      "what": f"{label}…"})
        return True

    def show(self, recipe: Recipe) -> None:
        """Make ``recipe`` current (undo/redo); instant when recently computed."""
        if self.busy:
            self._pending = {"mode": "show", "recipe": recipe, "what": "Updating…"}
            return
        if recipe == self.recipe:
            return
        self._submit({"mode": "show", "recipe": recipe, "what": "Updating…"})

    def _submit(self, job: dict) -> None:
        if self.busy:
            self._pending = job  # only the latest request matters
            return
        state = self.doc.cached_state(job["recipe"])
        if state is not None:
            self._finish(job, state)
            return
        self._start(job)

    def _start(self, job: dict) -> None:
        self._worker = PrepareWorker(self.doc, job, self)
        self._worker.prepared.connect(self._on_prepared)
        self._worker.failed.connect(self._on_failed)
        self._worker.finished.connect(self._on_worker_finished)
        self._busy_what = job["what"]
        self._busy_timer.start()
        self._worker.start()

    # --- results (GUI thread) ----------------------------------------------------------------------

    @Slot(object, object)
    def _on_prepared(self, job: dict, state) -> None:
        self._finish(job, state)

    @Slot(object, str)
    def _on_failed(self, job: dict, message: str) -> None:
        if job["mode"] == "open":
            self.open_failed.emit(job["recipe"], message)
            return
        titles = {"open": "Could not open the model", "project": "Could not open the project",
                  "push": "This change cannot be applied", "show": "Could not update the design"}
        self.failed.emit(titles[job["mode"]], message)

    def _finish(self, job: dict, state) -> None:
        mode = job["mode"]
        if mode == "push":
            self.doc.apply(state)
            self.undo_stack.push(RecipeCommand(self, job["before"], job["recipe"], job["label"]))
        elif mode == "show":
            self.doc.apply(state)
        else:
            self._load(job, state)

    def _load(self, job: dict, state) -> None:
        from designer.app.document import project_settings

        if job["mode"] == "project":
            import os

            self.doc.load_state(state, os.path.abspath(job["path"]), project_settings(job["project"]))
            if "recovered_from" in job:
                self.doc.mark_recovered(job["recovered_from"] or None)
        else:
            self.doc.load_state(state, None, {})
        self.undo_stack.clear()
        self.opened.emit()

    @Slot()
    def _on_worker_finished(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        self._busy_timer.stop()
        self.busy_changed.emit(False, "")
        job, self._pending = self._pending, None
        if job is not None:
            self._submit(job)

    @Slot()
    def _show_busy(self) -> None:
        if self.busy:
            self.busy_changed.emit(True, self._busy_what)

    def wait_idle(self, timeout_ms: int = 60000) -> None:
        """Block until the worker is done (shutdown and tests)."""
        if self._worker is not None:
            self._worker.wait(timeout_ms)

    def shutdown(self) -> None:
        self._pending = None
        if self._worker is not None:
            self._worker.wait()
            worker, self._worker = self._worker, None
            worker.deleteLater()
