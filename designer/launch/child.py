"""A training script running as a child process group: its JSON event lines, a clean stop, and
one plain sentence when it dies.

The child runs in a session of its own, so torchrun, its worker processes and their data loaders
form one process group: stopping asks the script to stop (``--stop-file``; every worker agrees at
the same step, keeps last.pt and best.pt and exits), and ends the whole group with SIGTERM, then
SIGKILL, if it has not gone within the grace time. Whatever it prints that is not an event goes
to its log file, which a failure message names.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

from designer.base.safeio import write_new_text

STOP_GRACE_S = 60.0  # a step of a large model on a CPU can take this long
KILL_GRACE_S = 5.0
_EOF = object()


class ChildProcess:
    """``cmd`` started in ``cwd`` with its stderr (and any stdout that is not JSON) in ``log_path``."""

    def __init__(self, cmd: list[str], cwd: Path, env: dict, log_path: Path, stop_file: Path):
        self.log_path, self.stop_file = Path(log_path), Path(stop_file)
        self.stop_file.unlink(missing_ok=True)
        # Appended to, never through a link planted in a run folder from elsewhere (O_NOFOLLOW).
        # Non-blocking: a pipe planted there fails at once instead of waiting for a reader.
        flags = (os.O_WRONLY | os.O_CREAT | os.O_APPEND
                 | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        fd = os.open(self.log_path, flags, 0o644)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(f"{self.log_path} is not a regular file")
        os.set_blocking(fd, True)
        self._log = os.fdopen(fd, "ab")
        self._lines: queue.Queue = queue.Queue()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True, name="child-events")
        self._reader.start()
        self.stop_asked: float | None = None

    def _read(self) -> None:
        if self.proc.stdout is None:  # never: Popen was asked for a pipe
            return
        for raw in self.proc.stdout:
            event = _event(raw)
            if event is None:
                self._log.write(raw)
                self._log.flush()
            else:
                self._lines.put(event)
        self._lines.put(_EOF)

    def events(self, cancelled, poll_s: float = 0.1):
        """The child's events (dicts) until its output ends. When ``cancelled()`` turns true the
        child is asked to stop, and the group is ended if it has not within ``STOP_GRACE_S``."""
        while True:
            if cancelled() and self.stop_asked is None:
                self.request_stop()
            if self.stop_asked is not None and time.monotonic() - self.stop_asked > STOP_GRACE_S:
                self.kill()
            try:
                item = self._lines.get(timeout=poll_s)
            except queue.Empty:
                continue
            if item is _EOF:
                return
            yield item

    def request_stop(self) -> None:
        """Ask every worker to stop after its current step (they keep last.pt and best.pt)."""
        self.stop_asked = time.monotonic()
        with contextlib.suppress(OSError):
            write_new_text(self.stop_file, "stop\n")

    def wait(self, timeout: float = STOP_GRACE_S) -> int:
        """The exit code once the child has ended (the group is ended if it has not in ``timeout``)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """End the whole process group: SIGTERM, then SIGKILL for what is left after a grace time."""
        if not self.group_alive():
            return
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_S
        while self.group_alive() and time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.1)
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=KILL_GRACE_S)

    def group_alive(self) -> bool:
        """Whether any process of the child's group is still running (zombies aside)."""
        self.proc.poll()
        return bool(group_members(self.proc.pid))

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def close(self) -> None:
        """End the group if it still runs, and let go of the pipe and the log."""
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=KILL_GRACE_S)
        self._reader.join(timeout=KILL_GRACE_S)
        self._log.close()
        self.stop_file.unlink(missing_ok=True)


def _event(raw: bytes) -> dict | None:
    """A JSON event line the script printed, or None for any other output."""
    line = raw.strip()
    if not line.startswith(b"{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("kind"), str) else None


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid`` (Linux: from /proc; elsewhere, the
    leader alone is checked)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            # /proc/PID/stat: "pid (name) state ppid pgrp ..."; the name may hold spaces
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


# --- what went wrong -------------------------------------------------------------------------

_ROOT_CAUSE = re.compile(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.DOTALL)
_TRACEBACK_SIGNAL = re.compile(r"Signal (\d+) \((SIG\w+)\)")
_LAST_ERROR = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception|Interrupt)\b.*)$", re.MULTILINE)


_FAILURE = re.compile(r"rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.DOTALL)


def root_cause(log_text: str) -> tuple[int, int] | None:
    """(rank, exit code) of the process that failed first, as torchrun reports it; None if it did not.
    A rank that aborted (SIGABRT) is what gloo does when a peer vanishes, and torchrun may observe it
    first: when another rank was killed by a signal of its own, that one is the cause."""
    found = _ROOT_CAUSE.search(log_text)
    if not found:
        return None
    first = (int(found.group(1)), int(found.group(2)))
    if first[1] != -signal.SIGABRT:
        return first
    others = [(int(r), int(c)) for r, c in _FAILURE.findall(log_text)]
    killed = [f for f in others if f[1] < 0 and f[1] != -signal.SIGABRT]
    return killed[0] if killed else first


def diagnose(exit_code: int, log_text: str, count: int) -> str:
    """One sentence on why the child ended with ``exit_code``, from its log."""
    rank, code = root_cause(log_text) or (None, exit_code)
    who = f"Training process {rank + 1} of {count} (rank {rank})" if rank is not None and count > 1 else \
        "The training process"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"was killed ({name})"
        if name == "SIGKILL":
            how += ", perhaps because the machine ran out of memory"
    else:
        how = f"ended with exit code {code}"
    errors = [line for line in _LAST_ERROR.findall(log_text) if "ChildFailedError" not in line]
    cause = f": {errors[-1].strip()[:300]}" if errors and code > 0 else ""
    return f"{who} {how}{cause}."
