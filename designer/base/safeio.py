"""Reading files that came from outside, and writing ours, without being hung, flooded or redirected.

The file system is hostile input too (DESIGN.md, Safety):

- A named pipe (FIFO) blocks ``open`` forever, a device (``/dev/zero``) never ends, and ``/proc``
  files say they are empty and then are not. Only regular files outside ``/proc``, ``/sys`` and
  ``/dev`` are opened (``regular_file``), with a non-blocking open in case the file is swapped for
  a pipe between the check and the open, and reads stop at a byte cap (``read_bytes``).
- JSON can be nested deeper than Python recurses, or hold a 5000-digit number that ``int()``
  refuses: ``loads_json`` parses with a digit limit and a depth limit and says so in one line.
- A symlink planted where we write (``error.log`` in a shared folder) would turn our write into an
  overwrite of someone else's file. Logs go to a private per-user folder (``private_dir``), and
  ``write_new_text`` writes a temporary file created with ``O_EXCL | O_NOFOLLOW`` and renames it
  into place: a rename replaces a link, it never writes through it.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

from designer.base.errors import DesignerError

MAX_JSON_DEPTH = 64  # our files nest 5 levels at most
MAX_INT_DIGITS = 64  # no count, size or seed of ours has more digits
SYSTEM_TREES = ("/proc", "/sys", "/dev")  # special files that look regular (or are devices)
STATE_ENV = "NETSURGEON_STATE_DIR"  # tests point it at a temporary folder
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def file_kind(path: str | os.PathLike) -> str:
    """What is at ``path``, in words: 'a file', 'a folder', 'a named pipe (FIFO)', 'a device',
    'a link to nothing', 'missing', ..."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a link to nothing" if os.path.islink(path) else "missing"
    except (OSError, ValueError):
        return "unreadable"
    if stat.S_ISREG(mode):
        return "a system file" if _in_system_tree(path) else "a file"
    return next((word for test, word in _KINDS if test(mode)), "not a regular file")


def _in_system_tree(path) -> bool:
    real = os.path.realpath(path)
    return any(real == top or real.startswith(top + os.sep) for top in SYSTEM_TREES)


def regular_file(path: str | os.PathLike, what: str = "file", hint: str = "") -> Path:
    """``path`` when it is a regular file we may open; otherwise one DesignerError saying what it is
    (missing, a folder, a pipe, a device, a file under /proc...)."""
    try:
        kind = file_kind(path)
    except (TypeError, ValueError):
        kind = "unreadable"
    if kind == "a file":
        return Path(path)
    if kind == "missing":
        raise DesignerError(f"The {what} '{path}' does not exist.", hint=hint or "Check the path.")
    raise DesignerError(f"The {what} '{path}' is {kind}, not a regular file; "
                        "NetSurgeon only reads regular files.",
                        hint=hint or "Pick a regular file.")


def open_regular(path: str | os.PathLike, what: str = "file"):
    """A binary file object for reading ``path`` after ``regular_file``'s check. Opened non-blocking
    (a pipe swapped in after the check cannot hang it), then checked again on the open file."""
    p = regular_file(path, what)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DesignerError(f"The {what} '{path}' cannot be read: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DesignerError(f"The {what} '{path}' changed into something that is not a regular file.")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bytes(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """At most ``limit`` bytes of a regular file; a larger one is refused (the cap holds even if
    the size the system reports is wrong, as it is for special files)."""
    with open_regular(path, what) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise DesignerError(f"The {what} '{path}' cannot be read: {exc.strerror or exc}.") from None
    if len(data) > limit:
        raise DesignerError(f"The {what} '{path}' is larger than {_size(limit)}; NetSurgeon refuses it.",
                            hint="Pick the file NetSurgeon saved.")
    return data


def read_text(path: str | os.PathLike, limit: int, what: str = "file") -> str:
    data = read_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DesignerError(f"The {what} '{path}' is not text (byte {exc.start} is not UTF-8).",
                            hint="Pick the file NetSurgeon saved.") from None


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n:,} bytes"


# --- JSON ---------------------------------------------------------------------------------------


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a number with {len(text.lstrip('-')):,} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def loads_json(text: str | bytes, where: str):
    """Parsed JSON, or one DesignerError naming ``where``: invalid JSON, nesting deeper than
    ``MAX_JSON_DEPTH``, a number with more than ``MAX_INT_DIGITS`` digits, or text that is not
    valid Unicode (a lone surrogate cannot be saved again)."""
    try:
        data = json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise DesignerError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
                            hint="The file is damaged; use another copy.") from None
    except RecursionError:
        data = None
        problem = "is nested too deeply"
    except (ValueError, UnicodeError) as exc:
        problem = f"holds {exc}"
    else:
        problem = json_problem(data)
    if problem:
        raise DesignerError(f"{where} {problem}, so it is not a file NetSurgeon wrote.",
                            hint="The file is damaged; use another copy.")
    return data


def json_problem(data) -> str:
    """Why parsed JSON is unsafe to use ('' if nothing): too deep, or text with a lone surrogate.
    Iterative, so a deep value cannot overflow Python's stack here."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"is nested more than {MAX_JSON_DEPTH} levels deep"
        if isinstance(value, str):
            if not _valid_text(value):
                return "holds text that is not valid Unicode"
        elif isinstance(value, dict):
            stack += [(k, depth + 1) for k in value]
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    return ""


def _valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_text(text: str) -> bool:
    """True when ``text`` can be written as UTF-8 (no lone surrogates, e.g. from a file name whose
    bytes are not UTF-8)."""
    return _valid_text(text)


# --- writing ------------------------------------------------------------------------------------


def private_dir(kind: str = "logs") -> Path:
    """This user's own folder for ``kind`` (logs): ``$NETSURGEON_STATE_DIR``, else the XDG state
    folder (``~/.local/state/netsurgeon``; ``%LOCALAPPDATA%`` on Windows), created mode 0700. Refused
    (OSError) when it is a link or belongs to someone else."""
    base = os.environ.get(STATE_ENV)
    if not base:
        if os.name == "nt":
            base = os.path.join(os.environ.get("LOCALAPPDATA") or os.path.expanduser("~"), "NetSurgeon")
        else:
            xdg = os.environ.get("XDG_STATE_HOME")
            base = os.path.join(xdg if xdg and os.path.isabs(xdg) else os.path.expanduser("~/.local/state"),
                                "netsurgeon")
    folder = Path(base) / kind
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{folder} is not a plain folder")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise OSError(f"{folder} belongs to another user")
    if os.name == "posix" and info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


def write_new_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` without following a link there: a new temporary file in the same
    folder (``O_CREAT | O_EXCL | O_NOFOLLOW``: never an existing file or link), then a rename over
    ``path`` (which replaces a link rather than writing through it). Raises OSError."""
    path = Path(path)
    tmp = path.with_name(f".netsurgeon-{path.name}.{uuid.uuid4().hex[:8]}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path


NAME_MAX = 255  # bytes in one file or folder name on common file systems


def check_new_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """``path`` when a folder can be made there: every name short enough, and the nearest existing
    folder above it a folder (not a file, which would make every write fail halfway)."""
    path = Path(path)
    long = next((part for part in path.parts if len(os.fsencode(part)) > NAME_MAX), None)
    if long is not None:
        raise DesignerError(f"The {what} name '{long[:40]}...' is {len(os.fsencode(long))} bytes long; file "
                            f"systems allow {NAME_MAX}.", hint="Choose a shorter name.")
    above = path
    while not os.path.lexists(above) and above != above.parent:
        above = above.parent
    if os.path.lexists(above) and not above.is_dir():
        kind = file_kind(above)
        raise DesignerError(f"The {what} '{path}' cannot be made: '{above}' is {kind}, not a folder.",
                            hint="Choose a folder path.")
    return path
