"""Run long work off the GUI thread: any function or generator in a worker ``QThread``.

``JobRunner.start(fn, *args)`` calls ``fn(cancel, *args)`` in a fresh ``QThread``;
``cancel`` is a ``JobControl`` (a ``threading.Event`` with a
``report(value)`` method for progress) that ``JobRunner.cancel()`` sets. If ``fn``
returns a generator, every value it yields is sent to the GUI thread through the
``item`` signal (queued, so slots run in the GUI thread) and its return value
through ``result``; a plain function's return value goes to ``result``. A
``DesignerError`` becomes ``failed(message)`` with the user's message; anything
else becomes ``failed`` with a one-line summary (the traceback goes to stderr),
never a traceback dialog. ``finished`` is emitted once the thread has ended, so a
slot connected to it may start the next job.

This is Orange's pattern: the work is a plain function with an interruption flag,
testable without Qt; the widget only starts it, cancels it and shows its results.
"""

from __future__ import annotations

import sys
import threading
import traceback
import types

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from designer.base.errors import DesignerError


def error_text(exc: BaseException) -> str:
    """What the user reads: the DesignerError's message and hint, or a one-line summary."""
    if isinstance(exc, DesignerError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory. Try a smaller batch size or input size."
    return f"Unexpected problem ({type(exc).__name__}): {exc}"


class JobControl(threading.Event):
    """The ``cancel`` flag a job gets; ``report(value)`` sends progress to the GUI (``item``)."""

    def __init__(self) -> None:
        super().__init__()
        self.report = lambda value: None


class _Worker(QObject):
    """Lives in the worker thread; ``run`` iterates the job and reports through signals."""

    item = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, fn, args, kwargs, cancel: JobControl):
        super().__init__()
        self.fn, self.args, self.kwargs, self.cancel = fn, args, kwargs, cancel
        cancel.report = self.item.emit  # thread-safe: queued to the runner in the GUI thread

    @Slot()
    def run(self) -> None:
        try:
            out = self.fn(self.cancel, *self.args, **self.kwargs)
            if isinstance(out, types.GeneratorType):
                out = self._drain(out)
            self.result.emit(out)
        except Exception as exc:  # noqa: BLE001 -- the user gets a message, never a traceback
            if not isinstance(exc, DesignerError):
                traceback.print_exc(file=sys.stderr)
            self.failed.emit(error_text(exc))
        finally:
            self.fn = self.args = self.kwargs = None  # drop references (models) in this thread
            self.done.emit()

    def _drain(self, gen):
        try:
            while True:
                try:
                    value = next(gen)
                except StopIteration as stop:
                    return stop.value
                self.item.emit(value)
        finally:
            gen.close()


class JobRunner(QObject):
    """One job at a time in its own ``QThread``; see the module docstring."""

    started = Signal()
    item = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, parent: QObject | None = None, name: str = "job"):
        super().__init__(parent)
        self.name = name
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._cancel = JobControl()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def start(self, fn, *args, **kwargs) -> bool:
        """Run ``fn(cancel, *args, **kwargs)`` in a worker thread; False if one is still running."""
        if self.running:
            return False
        self._cancel = JobControl()
        self._thread = QThread()
        self._thread.setObjectName(f"netsurgeon-{self.name}")
        self._worker = _Worker(fn, args, kwargs, self._cancel)
        self._worker.moveToThread(self._thread)
        self._worker.item.connect(self._on_item)
        self._worker.result.connect(self._on_result)
        self._worker.failed.connect(self._on_failed)
        self._worker.done.connect(self._thread.quit, Qt.DirectConnection)  # wait() must not need the GUI loop
        self._thread.started.connect(self._worker.run)
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.start()
        self.started.emit()
        return True

    def cancel(self) -> None:
        """Ask the job to stop (it checks the flag between steps)."""
        self._cancel.set()

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
    def _on_item(self, value) -> None:
        self.item.emit(value)

    @Slot(object)
    def _on_result(self, value) -> None:
        self.result.emit(value)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.failed.emit(message)

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
