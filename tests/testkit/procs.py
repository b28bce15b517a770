"""Which processes are still alive: for the tests of runs trained in child processes."""

from __future__ import annotations

import os
from pathlib import Path


def processes_naming(path) -> list[int]:
    """Live (not zombie) processes, other than this one, whose command line names ``path``
    (a run folder: the training script gets it as ``--out``). Linux only: read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(path) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found
