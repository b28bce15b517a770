"""Files written so that a crash or a full disk never leaves half a file behind.

Every writer in the project goes through ``atomic_write``: the content goes to a
temporary file beside the target, which is then renamed over it (atomic on one
file system). Readers of our own JSON files use ``read_json``, which treats a
missing or damaged file as empty rather than failing.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from designer.base.errors import DesignerError
from designer.base.safeio import loads_json, read_text

TMP_PREFIX = ".netsurgeon-"  # temporary files start with this; leftovers are safe to delete


def _file_mode() -> int:
    """The mode a newly created file gets (0o666 less the umask), read once at import."""
    if os.name != "posix":
        return 0o666
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def temp_path_for(path: Path) -> Path:
    """A unique temporary name beside ``path`` with the same suffix (some writers need it)."""
    return path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:8]}{path.suffix}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, fsync: bool = False) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place with
    ordinary permissions (safetensors writes owner-only files). ``fsync`` flushes it to disk
    first (project files). An OS error becomes a DesignerError naming the file."""
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        raise DesignerError(f"Cannot write {path}: {exc.strerror or exc}.",
                            hint="Choose another folder or file name, or free some disk space.") from exc
    finally:
        with contextlib.suppress(OSError):  # exists() itself fails on a name too long for the system
            if os.path.lexists(tmp):
                tmp.unlink()
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, fsync: bool = False) -> Path:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return atomic_write(path, write, fsync=fsync)


def write_json(path: str | os.PathLike, data, *, indent: int | None = 1) -> Path:
    """Plain data as JSON, atomically (values JSON does not know are written as text)."""
    try:
        text = json.dumps(data, indent=indent, default=str)
    except (TypeError, ValueError) as exc:
        raise DesignerError(f"Cannot write {Path(path).name}: a value is not plain data ({exc}).") from exc
    return atomic_write_text(path, text)


MAX_JSON_BYTES = 64 * 2**20  # history and split files of the largest runs stay far below this


def read_json(path: str | os.PathLike, limit: int = MAX_JSON_BYTES) -> dict:
    """A JSON object from one of our own files; {} when it is missing, damaged, not an object, or
    not a regular file (a pipe or device could hang or flood us; see ``safeio``)."""
    try:
        data = loads_json(read_text(path, limit), str(path))
    except DesignerError:
        return {}
    return data if isinstance(data, dict) else {}


def remove_stale_temps(folder: str | os.PathLike, older_than_s: float = 0.0) -> int:
    """Delete temporary files a crashed write left in ``folder`` (only those older than
    ``older_than_s`` where another writer may be at work); returns how many."""
    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        if (entry.name.startswith(TMP_PREFIX) and entry.is_file()
                and now - entry.stat().st_mtime >= older_than_s):
            try:
                entry.unlink()
                removed += 1
            except OSError:
                continue
    return removed
