"""One helper wires a job to a panel: start, progress, done, error, cancel (Orange3's
``ConcurrentWidgetMixin``, as a small object).

A panel makes one ``PanelJob`` per kind of job it runs and says what to do with each outcome::

    self.scan_job = PanelJob(self, "scan", on_progress=self._on_scan_progress, on_done=self._on_scanned,
                             on_failed=self._on_scan_failed, error_title="Cannot load the images")
    self.scan_job.start(scan_job, data)

An object rather than a mixin: the Data tab scans and previews at once, the Export dialog
exports and renders its script at once, and a mixin holds one task per widget.

The helper owns its ``JobRunner``:

- ``start`` while a job runs cancels that job and runs the new one once it has ended; what the
  cancelled job still sends is dropped, so the panel hears only from the job it asked for last.
- A failure reaches ``on_failed`` as a ``Failure`` (the user's words, never a traceback) and, with
  ``error_title``, a message box shows ``failure.text``.
- ``shutdown`` cancels and waits (a panel's own shutdown calls it); a ``Close`` event its owner receives
  (a dialog or window closing) and the application quitting do the same.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QWidget

from widgets.base import feedback
from widgets.base.worker import JobRunner

Handler = Callable | None


class PanelJob(QObject):
    """Runs one kind of job for ``owner`` and calls its handlers in the GUI thread (module docstring).

    ``on_done(result)``, ``on_progress(Progress)``, ``on_item(item)``, ``on_failed(Failure)``,
    ``on_cancelled()``, then ``on_finished()`` once the job's thread has ended and no newer job waits.
    """

    def __init__(self, owner: QObject, name: str, *, on_done: Handler = None, on_progress: Handler = None,
                 on_item: Handler = None, on_failed: Handler = None, on_cancelled: Handler = None,
                 on_finished: Handler = None, error_title: str = ""):
        super().__init__(owner)
        self.handlers = {"done": on_done, "progress": on_progress, "item": on_item, "failed": on_failed,
                         "cancelled": on_cancelled, "finished": on_finished}
        self.error_title = error_title
        self.runner = JobRunner(self, name)
        self._next: tuple | None = None  # (fn, args, kwargs) asked for while the running job stops
        self.runner.progress.connect(self._on_progress)
        self.runner.item.connect(self._on_item)
        self.runner.result.connect(self._on_result)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.finished.connect(self._on_finished)
        if isinstance(owner, QWidget):
            owner.installEventFilter(self)

    # --- what the panel calls ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.runner.running

    @property
    def cancel_requested(self) -> bool:
        """The running job was asked to stop (it ends at its next check)."""
        return self.runner.cancel_requested

    def start(self, fn, *args, **kwargs) -> None:
        """Run ``fn(control, *args, **kwargs)``; a job still running is cancelled and this one follows it."""
        if self.runner.running:
            self._next = (fn, args, kwargs)
            self.runner.cancel()
            return
        self.runner.start(fn, *args, **kwargs)

    @Slot()
    def cancel(self) -> None:
        """Ask the running job to stop; nothing queued behind it starts."""
        self._next = None
        self.runner.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the running job's thread ends (tests and shutdown); its last outcomes are delivered."""
        return self.runner.wait(timeout_ms)

    @Slot()
    def shutdown(self) -> None:
        """Cancel and wait: no job outlives its panel."""
        self._next = None
        self.runner.shutdown()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and watched is self.parent():
            self.shutdown()
        return False

    # --- relays (GUI thread) -------------------------------------------------------------------------

    def _call(self, kind: str, *args) -> None:
        handler = self.handlers[kind]
        if handler is not None and self._next is None:  # a job being replaced speaks no more
            handler(*args)

    @Slot(object)
    def _on_progress(self, progress) -> None:
        self._call("progress", progress)

    @Slot(object)
    def _on_item(self, item) -> None:
        self._call("item", item)

    @Slot(object)
    def _on_result(self, result) -> None:
        self._call("done", result)

    @Slot(object)
    def _on_failed(self, failure) -> None:
        if self._next is not None:
            return
        self._call("failed", failure)
        if self.error_title:
            feedback.show_error(self._dialog_parent(), self.error_title, failure.text)

    @Slot()
    def _on_cancelled(self) -> None:
        self._call("cancelled")

    @Slot()
    def _on_finished(self) -> None:
        queued, self._next = self._next, None
        if queued is not None:
            fn, args, kwargs = queued
            self.runner.start(fn, *args, **kwargs)
            return
        self._call("finished")

    def _dialog_parent(self) -> QWidget | None:
        """The nearest widget above this helper: message boxes sit over the panel that ran the job."""
        owner = self.parent()
        while owner is not None and not isinstance(owner, QWidget):
            owner = owner.parent()
        return owner
