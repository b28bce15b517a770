"""Running a generated script the way a user does: another folder, no PYTHONPATH, one thread."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path


def run_outside(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``args`` in ``cwd`` with PYTHONPATH unset (``designer`` is not importable there)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


SCRIPT_MODULES = ("model", "data")  # what the generated script imports from beside it


def script_namespace(script: Path) -> dict:
    """Every name the generated ``script`` and the ``model.py`` and ``data.py`` beside it define,
    as one dict: each file run as a module (the script not as ``__main__``), with its folder
    importable while they load and its modules forgotten after (the next script has its own)."""
    folder, saved = Path(script).parent, sys.path[:]
    sys.path.insert(0, str(folder))
    _forget_script_modules()
    try:
        names: dict = {}
        for path in (folder / "model.py", folder / "data.py", Path(script)):
            names.update(runpy.run_path(str(path), run_name="generated_script"))
        return names
    finally:
        sys.path[:] = saved
        _forget_script_modules()


def _forget_script_modules() -> None:
    for name in SCRIPT_MODULES:
        sys.modules.pop(name, None)
