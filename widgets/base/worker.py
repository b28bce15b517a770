"""The one worker every view runs its long jobs through: any job, in its own ``QThread``.

A job speaks the protocol of ``designer.base.jobs``: ``fn(control, *args)``, a plain
function or a generator. ``JobRunner.start(fn, *args)`` drives it with ``run_job``
in a fresh ``QThread`` and relays, queued to the GUI thread:

- ``progress(Progress)`` for progress reports (yielded or sent with ``control.report``),
- ``item(object)`` for every other item (training events, export outcomes),
- then exactly one of ``result(object)``, ``failed(Failure)`` or ``cancelled()``,
- and ``finished()`` once the thread has ended, so a slot may start the next job.

``cancel()`` sets the job's flag; it stops at its next check. Nothing here knows
what a job does: Orange's pattern, where the widget only starts, stops and shows.
Views do not wire a runner by hand: ``widgets.base.panel_job.PanelJob`` owns one and
calls the view's handlers.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from designer.base.jobs import Cancelled, Done, Failure, JobControl, Progress, run_job


class _Worker(QObject):
    """Lives in the worker thread; ``run`` drives the job and reports through one signal."""

    out = Signal(object)
    done = Signal()

    def __init__(self, fn, args, kwargs, control: JobControl):
        super().__init__()
        self.fn, self.args, self.kwargs, self.control = fn, args, kwargs, control
        control.set_reporter(self.out.emit)  # thread-safe: queued to the runner in the GUI thread

    @Slot()
    def run(self) -> None:
        try:
            for message in run_job(self.fn, self.control, *self.args, **self.kwargs):
                self.out.emit(message)
        finally:
            self.fn = self.args = self.kwargs = None  # drop references (models) in this thread
            self.done.emit()


class JobRunner(QObject):
    """One job at a time in its own ``QThread``; see the module docstring."""

    started = Signal()
    progress = Signal(object)  # Progress
    item = Signal(object)
    result = Signal(object)
    failed = Signal(object)  # Failure
    cancelled = Signal()
    finished = Signal()

    def __init__(self, parent: QObject | None = None, name: str = "job"):
        super().__init__(parent)
        self.name = name
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._control = JobControl()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def cancel_requested(self) -> bool:
        return self._control.cancelled

    def start(self, fn, *args, **kwargs) -> bool:
        """Run ``fn(control, *args, **kwargs)`` in a worker thread; False if one is still running."""
        if self.running:
            return False
        self._control = JobControl()
        self._thread = QThread()
        self._thread.setObjectName(f"netsurgeon-{self.name}")
        self._worker = _Worker(fn, args, kwargs, self._control)
        self._worker.moveToThread(self._thread)
        self._worker.out.connect(self._on_out)
        self._worker.done.connect(self._thread.quit, Qt.DirectConnection)  # wait() must not need the GUI loop
        self._thread.started.connect(self._worker.run)
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.start()
        self.started.emit()
        return True

    def cancel(self) -> None:
        """Ask the job to stop (it checks the flag between steps)."""
        self._control.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the thread ends (shutdown and tests); delivers its last signals."""
        thread = self._thread
        if thread is None:
            return True
        ok = thread.wait() if timeout_ms < 0 else thread.wait(timeout_ms)
        if ok:
            QCoreApplication.sendPostedEvents(self)
            if self._thread is thread:
                self._on_thread_finished()
        return ok

    @Slot()
    def shutdown(self) -> None:
        """Cancel and wait: no thread outlives its owner."""
        if self.running:
            self.cancel()
            self.wait()

    # --- relays (GUI thread) -----------------------------------------------------------------

    @Slot(object)
    def _on_out(self, message) -> None:
        if isinstance(message, Progress):
            self.progress.emit(message)
        elif isinstance(message, Done):
            self.result.emit(message.result)
        elif isinstance(message, Failure):
            self.failed.emit(message)
        elif isinstance(message, Cancelled):
            self.cancelled.emit()
        else:
            self.item.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is None:
            return
        self._thread = self._worker = None
        thread.wait()
        worker.deleteLater()
        thread.deleteLater()
        self.finished.emit()
