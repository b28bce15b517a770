"""Running a generated script the way a user does: another folder, no PYTHONPATH, one thread."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def run_outside(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``args`` in ``cwd`` with PYTHONPATH unset (``designer`` is not importable there)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
