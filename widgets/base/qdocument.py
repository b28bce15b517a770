"""Qt adapter around the Qt-free :class:`designer.app.document.Document`.

It turns the document's plain-Python events into Qt signals, owns the undo
stack, and computes new states (build + trace + analyze) in a worker
``QThread`` so the window stays responsive while DenseNet builds. An edit is
pushed onto the undo stack only after its recipe built: a failing op never
reaches the history and the design stays as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.app.document import Document, project_settings
from designer.app.project import load_project
from designer.base.errors import DesignerError
from designer.base.jobs import failure_of
from designer.model.recipe import Recipe
from designer.zoo import builders
from widgets.base.panel_job import PanelJob

BUSY_DELAY_MS = 150  # short jobs finish before the busy indicator shows
FAILURE_TITLES = {"open": "Could not open the model", "project": "Could not open the project",
                  "push": "This change cannot be applied", "show": "Could not update the design"}


def error_text(exc: BaseException) -> str:
    return failure_of(exc).text


@dataclass
class Request:
    """A state the document is asked to compute and show. ``mode``: "open" (a new model),
    "project" (a project file), "push" (an edit, pushed for undo) or "show" (undo/redo)."""

    mode: str
    recipe: Recipe
    what: str  # what the status bar says while it is computed
    label: str = ""
    before: Recipe | None = None
    path: str = ""
    project: Any = None
    recovered_from: str | None = None  # set when the project is the autosaved recovery file
    cancellable: bool = False  # an open that may wait on a download: the user may give up on it


def _prepare(control, doc: Document, recipe: Recipe):
    """The job: build, trace and analyze ``recipe`` (in the worker thread)."""
    return doc.prepare(recipe)


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
    notice = Signal(str)  # a passing word for the status bar

    def __init__(self, doc: Document | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = doc or Document()
        self.undo_stack = QUndoStack(self)
        self.runner = PanelJob(self, "prepare", on_done=self._on_prepared, on_failed=self._on_failed,
                               on_finished=self._on_runner_finished)
        self.confirm_builder = None  # (spec) -> bool: asks the user before a project's builder code runs
        self._current: Request | None = None  # the request the runner is computing
        self._pending: Request | None = None  # the latest one asked for meanwhile
        self._abandoned = False  # the user cancelled the running request: its outcome is dropped
        self._busy_timer = QTimer(self, singleShot=True, interval=BUSY_DELAY_MS)
        self._busy_timer.timeout.connect(self._show_busy)
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
        return self.runner.running

    def select(self, paths) -> None:
        self.doc.select(paths)

    # --- requests --------------------------------------------------------------------------------

    def open_recipe(self, recipe: Recipe, what: str = "", cancellable: bool = False) -> None:
        """Replace the design with a fresh one from ``recipe`` (a new model). ``cancellable``: it may
        wait on a download, so the window offers Cancel (see ``cancel_open``)."""
        self._submit(Request("open", recipe, what or f"Opening {recipe.base.name}…", cancellable=cancellable))

    @property
    def can_cancel(self) -> bool:
        return self._current is not None and self._current.cancellable and not self._abandoned

    def cancel_open(self) -> None:
        """Give up on the model being opened: the window is idle at once and the design stays as it
        was. A download cannot be cut off mid-file, so the worker thread ends on its own (its
        outcome is dropped; a finished file stays in the cache for next time)."""
        if not self.can_cancel:
            return
        self._abandoned = True
        self.runner.cancel()
        self._busy_timer.stop()
        self.busy_changed.emit(False, "")
        self.notice.emit(f"Cancelled: {self._current.recipe.base.name} was not opened.")

    def open_project(self, path: str, recovered_from: str | None = None) -> None:
        try:
            project = load_project(path)
        except Exception as exc:  # noqa: BLE001 -- shown to the user, never a traceback
            self.failed.emit("Could not open the project", error_text(exc))
            return
        if not self._builder_allowed(project.recipe):
            self.failed.emit("Did not open the project", f"It builds its network by running Python code from "
                             f"'{project.recipe.base.name}', and that code was not trusted. Nothing was run.")
            return
        self._submit(Request("project", project.recipe, f"Opening {path}…", path=path, project=project,
                             recovered_from=recovered_from))

    def _builder_allowed(self, recipe: Recipe) -> bool:
        """A design whose base is a Python builder opens only if the user trusts that code."""
        spec = recipe.base.name
        if recipe.base.source != "builder" or builders.is_trusted(spec):
            return True
        if self.confirm_builder is not None and self.confirm_builder(spec):
            builders.trust(spec)
            return True
        return False

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
        label = label or (ops[0].describe() if len(ops) == 1
                          else f"{ops[0].describe()} and {len(ops) - 1} more")
        return self.set_recipe(self.recipe.with_ops(*ops), label)

    def edit_checked(self, make_ops, label: str = "") -> bool:
        """``edit(make_ops())``, where making the ops checks values the user typed: a refused
        value is shown as a message (the design stays as it was), never raised into a slot."""
        try:
            ops = make_ops()
        except DesignerError as exc:
            self.failed.emit("This change cannot be applied", str(exc))
            return False
        return self.edit(ops, label)

    def set_recipe(self, recipe: Recipe, label: str) -> bool:
        if self.busy:
            self.failed.emit("Please wait", "The previous change is still being applied.")
            return False
        if recipe == self.recipe:
            return False
        self._submit(Request("push", recipe, f"{label}…", label=label, before=self.recipe))
        return True

    def show(self, recipe: Recipe) -> None:
        """Make ``recipe`` current (undo/redo); instant when recently computed."""
        if self.busy:
            self._pending = Request("show", recipe, "Updating…")
            return
        if recipe == self.recipe:
            return
        self._submit(Request("show", recipe, "Updating…"))

    def _submit(self, request: Request) -> None:
        if self.busy:
            self._pending = request  # only the latest request matters
            if self._abandoned:  # nothing else says why it waits
                self.busy_changed.emit(True, f"Waiting for the cancelled download to end, then: "
                                             f"{request.what}")
            return
        state = self.doc.cached_state(request.recipe)
        if state is not None:
            self._finish(request, state)
            return
        self._current = request
        self._busy_timer.start()
        self.runner.start(_prepare, self.doc, request.recipe)

    # --- results (GUI thread) ----------------------------------------------------------------------

    @Slot(object)
    def _on_prepared(self, state) -> None:
        if not self._abandoned:
            self._finish(self._current, state)

    @Slot(object)
    def _on_failed(self, failure) -> None:
        request = self._current
        if self._abandoned:
            return  # the user gave up on it already: no message about it
        if request.mode == "open":
            self.open_failed.emit(request.recipe, failure.text)
            return
        self.failed.emit(FAILURE_TITLES[request.mode], failure.text)

    def _finish(self, request: Request, state) -> None:
        if request.mode == "push":
            self.doc.apply(state)
            self.undo_stack.push(RecipeCommand(self, request.before, request.recipe, request.label))
        elif request.mode == "show":
            self.doc.apply(state)
        else:
            self._load(request, state)

    def _load(self, request: Request, state) -> None:
        if request.mode == "project":
            self.doc.load_state(state, os.path.abspath(request.path), project_settings(request.project))
            if request.recovered_from is not None:
                self.doc.mark_recovered(request.recovered_from or None)
        else:
            self.doc.load_state(state, None, {})
        self.undo_stack.clear()
        self.opened.emit()

    @Slot()
    def _on_runner_finished(self) -> None:
        self._current, self._abandoned = None, False
        self._busy_timer.stop()
        self.busy_changed.emit(False, "")
        request, self._pending = self._pending, None
        if request is not None:
            self._submit(request)

    @Slot()
    def _show_busy(self) -> None:
        if self.busy and self._current is not None and not self._abandoned:
            self.busy_changed.emit(True, self._current.what)

    def wait_idle(self, timeout_ms: int = 60000) -> None:
        """Block until the worker is done (shutdown and tests)."""
        self.runner.wait(timeout_ms)

    def shutdown(self) -> None:
        self._pending = None
        self.runner.wait()
