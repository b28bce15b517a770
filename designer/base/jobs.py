"""The one protocol every long task speaks: training, feature extraction, the linear probe,
evaluation, folder scans, previews and exports.

A job is a plain function ``fn(control, *args)`` (Orange's pattern: the work knows
nothing about threads or Qt).

- It may be a generator. What it yields are its *items*: ``Progress`` reports and
  domain events (training events, one ``ExportOutcome`` per format). What it
  returns is its *result*.
- It asks ``control.cancelled`` between steps (the one way to ask), or calls
  ``control.check()``, which raises ``JobCancelled``. Code below the jobs that takes a
  ``cancel`` flag asks ``is_cancelled(cancel)``, which also reads a ``threading.Event`` or a
  zero-argument callable (the CLI's and the tests' flags).
- Deep inside a plain function it reports progress with ``control.report(Progress(...))``.
- Failures are exceptions. A ``DesignerError`` carries the message the user reads;
  anything else is summarised in one line and its traceback goes to a log file.

``run_job`` drives any job and turns its life into one stream: items, then exactly
one of ``Done(result)``, ``Failure`` or ``Cancelled``. The GUI's single worker runs
every job through it; tests call it directly.
"""

from __future__ import annotations

import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from designer.base.errors import DesignerError, plain_reason
from designer.base.safeio import private_dir, write_new_text


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units (``total`` None: unknown), and what is happening, in words."""

    done: float = 0
    total: float | None = None
    text: str = ""

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, max(0.0, self.done / self.total))


@dataclass(frozen=True)
class Done:
    result: Any = None


@dataclass(frozen=True)
class Failure:
    """What the user reads (``message``, ``hint``) and where a developer finds the details."""

    message: str
    hint: str = ""
    log_path: str | None = None

    @property
    def text(self) -> str:
        return f"{self.message} {self.hint}".strip()


@dataclass(frozen=True)
class Cancelled:
    pass


class JobCancelled(DesignerError):
    """Raised by ``JobControl.check()``: the user asked the job to stop."""

    def __init__(self) -> None:
        super().__init__("Cancelled.")


class JobControl:
    """The cancel flag and progress channel a job gets: ``cancel()`` sets the flag, ``cancelled``
    asks it (the only way), ``check()`` raises ``JobCancelled`` once it is set."""

    def __init__(self, report: Callable[[Any], None] | None = None) -> None:
        self._event = threading.Event()
        self._report = report or (lambda item: None)

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self.cancelled:
            raise JobCancelled()

    def report(self, item: Any) -> None:
        """Send ``item`` (usually a ``Progress``) to whoever runs the job, from any depth."""
        self._report(item)

    def set_reporter(self, report: Callable[[Any], None]) -> None:
        self._report = report


def is_cancelled(flag) -> bool:
    """True when ``flag`` says stop: a ``JobControl`` (its ``cancelled``), an Event-like with
    ``is_set``, a zero-argument callable, or None (never)."""
    if flag is None:
        return False
    if isinstance(flag, JobControl):
        return flag.cancelled
    return bool(flag.is_set() if hasattr(flag, "is_set") else flag())


def throttled(report: Callable[[Progress], None], interval_s: float = 0.1) -> Callable[[Progress], None]:
    """``report`` at most every ``interval_s`` seconds (the first and a finished one always go)."""
    last = [0.0]

    def send(progress: Progress) -> None:
        now = time.perf_counter()
        if now - last[0] >= interval_s or progress.fraction == 1.0:
            last[0] = now
            report(progress)

    return send


def drain(gen):
    """Run a generator to its end, ignoring its items; return its value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def failure_of(exc: BaseException, log_dir: str | Path | None = None) -> Failure:
    """A ``Failure`` for ``exc``: a DesignerError's own words; otherwise one line, and the
    traceback written to ``log_dir/error.log`` (call inside the ``except`` block)."""
    if isinstance(exc, DesignerError):
        return Failure(exc.message, exc.hint)
    if isinstance(exc, MemoryError):
        return Failure("The computer ran out of memory.", "Try a smaller batch size or input size.")
    return Failure(f"Unexpected problem: {plain_reason(exc)}",
                   "The details are in the log file.", write_log(log_dir))


def write_log(log_dir: str | Path | None = None) -> str | None:
    """The current exception's traceback in ``log_dir/error.log`` (default: this user's private
    log folder, never the shared temp folder, where anyone can plant a link); its path, or None if
    unwritable. The file is replaced, never written through a link (``safeio.write_new_text``)."""
    try:
        folder = Path(log_dir) if log_dir else private_dir("logs")
        folder.mkdir(parents=True, exist_ok=True)
        path = write_new_text(folder / "error.log", traceback.format_exc())
    except (OSError, ValueError):
        return None
    return str(path)


def run_job(fn: Callable, control: JobControl, *args, log_dir: str | Path | None = None,
            **kwargs) -> Iterator[Any]:
    """Drive ``fn(control, *args, **kwargs)``: yields its items, then one ``Done``, ``Failure``
    or ``Cancelled``. Never raises for what the job does (KeyboardInterrupt aside). A job that
    returns None after the cancel flag was set counts as cancelled."""
    try:
        result = yield from _items(fn(control, *args, **kwargs))
    except JobCancelled:
        yield Cancelled()
        return
    except Exception as exc:  # noqa: BLE001 -- the user gets a Failure, never a traceback
        yield failure_of(exc, log_dir)
        return
    yield Cancelled() if control.cancelled and result is None else Done(result)


def _items(out):
    """A generator's items and return value; a plain function's value as it is."""
    if not isinstance(out, types.GeneratorType):
        return out
    try:
        return (yield from out)
    finally:
        out.close()
