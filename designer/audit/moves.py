"""Moving the images the user left out into another folder, only when asked, with an undo log.

Nothing is moved by default: decisions live in the project. ``move_excluded`` moves the files the
decisions exclude from the data folder into ``dest``, keeping their class sub-folders, and writes
``dest/netsurgeon-moves.json`` BEFORE the first move (a crash half way is still undoable);
``undo_moves`` puts every file named there back.

Safe against odd folders: only regular files inside the data folder move (a link, a FIFO, a path
that leaves the folder through ``..`` or a linked sub-folder is skipped and said so), nothing is
overwritten on either side, and ``dest`` may not be inside the data folder (the next scan would
find the moved images there). A log read back is checked the same way: it only moves files from
inside its own folder to inside the data folder it names."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from designer.base.errors import DesignerError
from designer.base.jobs import is_cancelled
from designer.base.safeio import check_new_folder, file_kind, loads_json, read_text, write_new_text

LOG_NAME = "netsurgeon-moves.json"
LOG_FORMAT = "netsurgeon-moves"
MAX_LOG_BYTES = 256 * 2**20


@dataclass
class MoveResult:
    moved: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    log: Path | None = None

    def sentence(self, verb: str = "Moved") -> str:
        text = f"{verb} {self.moved} image{'' if self.moved == 1 else 's'}."
        if self.skipped:
            shown = "; ".join(f"{p} ({why})" for p, why in self.skipped[:5])
            text += f" {len(self.skipped)} skipped: {shown}"
        return text + (f" Undo log: {self.log}" if self.log and verb == "Moved" else "")


def _inside(path: str, folder: str) -> bool:
    """``path`` resolves (links followed) to somewhere under ``folder``."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real.startswith(top.rstrip(os.sep) + os.sep)


def _why_not_movable(src: str, root: str) -> str:
    """'' when ``src`` is a regular file (not a link) inside ``root``; else why it stays."""
    if os.path.islink(src):
        return "a link: links are not moved"
    kind = file_kind(src)
    if kind != "a file":
        return f"{kind}, not a regular file"
    if not _inside(src, root):
        return "outside the data folder"
    return ""


def _move_one(src: str, dst: str) -> str:
    """Move a regular file without overwriting; '' when done, else why not."""
    if os.path.lexists(dst):
        return f"{dst} already exists"
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        shutil.move(src, dst)
    except OSError as exc:
        return f"cannot be moved: {exc.strerror or exc}"
    return ""


Pairs = list[tuple[str, str]]


def plan_moves(root: str, overrides: list[dict], dest: str) -> tuple[Pairs, Pairs]:
    """([(src, dst)], [(path, why skipped)]) for the excluded files of ``overrides`` under ``root``."""
    root, dest = os.path.abspath(root), os.path.abspath(dest)
    if not os.path.isdir(root):
        raise DesignerError(f"The data folder '{root}' is {file_kind(root)}, not a folder.")
    if os.path.islink(dest):
        raise DesignerError(f"'{dest}' is a link; the images are not moved through links.",
                            hint="Give an ordinary folder outside the data folder.")
    if dest == root or _inside(dest, root) or os.path.realpath(dest) == os.path.realpath(root):
        raise DesignerError(f"'{dest}' is inside the data folder: the next scan would find the moved images "
                            "there.",
                            hint="Give a folder outside the data folder.")
    check_new_folder(dest, "folder to move the images into")
    moves, skipped = [], []
    for entry in overrides:
        if entry.get("action") != "exclude":
            continue
        key = str(entry.get("path", ""))
        if os.path.isabs(key) or ".." in Path(key).parts or not key:
            skipped.append((key, "not a file inside the data folder"))
            continue
        src = os.path.join(root, key)
        why = _why_not_movable(src, root)
        if why:
            skipped.append((key, why))
        else:
            moves.append((src, os.path.join(dest, key)))
    return moves, skipped


def _step(progress, cancel, done: int, total: int) -> bool:
    """Report progress; True when the caller asked to stop (what is done so far stays undoable)."""
    if progress is not None and (done % 50 == 0 or done == total):
        progress(done, total)
    return is_cancelled(cancel)


def move_excluded(root: str, overrides: list[dict], dest: str, progress=None, cancel=None) -> MoveResult:
    """Move the excluded images of ``overrides`` from ``root`` into ``dest``; the undo log first.
    ``progress(done, total)`` is called as it goes; ``cancel`` stops it between files."""
    moves, skipped = plan_moves(root, overrides, dest)
    result = MoveResult(skipped=skipped)
    if not moves:
        return result
    os.makedirs(dest, exist_ok=True)
    log = Path(dest) / LOG_NAME
    if os.path.lexists(log):
        raise DesignerError(f"'{log}' exists: an earlier move was not undone.",
                            hint="Undo it first (--undo-move), or choose another folder.")
    write_new_text(log, json.dumps({"format": LOG_FORMAT, "root": os.path.abspath(root), "time": time.time(),
                                    "moves": [[s, d] for s, d in moves]}, indent=1) + "\n")
    result.log = log
    for k, (src, dst) in enumerate(moves):
        if _step(progress, cancel, k, len(moves)):
            break
        if not _inside(os.path.dirname(dst), dest):  # a linked sub-folder made inside dest meanwhile
            result.skipped.append((src, "its new folder is a link"))
            continue
        why = _move_one(src, dst)
        if why:
            result.skipped.append((src, why))
        else:
            result.moved += 1
    return result


def read_log(path: str) -> tuple[str, list[tuple[str, str]]]:
    """(data folder, [(original path, moved path)]) from a log ``move_excluded`` wrote."""
    path = str(path)
    if os.path.isdir(path):
        path = os.path.join(path, LOG_NAME)
    data = loads_json(read_text(path, MAX_LOG_BYTES, "move log"), f"The move log '{path}'")
    data = data if isinstance(data, dict) else {}
    moves, root = data.get("moves"), data.get("root")
    pairs_ok = isinstance(moves, list) and all(
        isinstance(m, list) and len(m) == 2 and all(isinstance(p, str) for p in m) for m in moves)
    if data.get("format") != LOG_FORMAT or not isinstance(root, str) or not isinstance(moves, list) \
            or not pairs_ok:
        raise DesignerError(f"'{path}' is not a move log NetSurgeon wrote.",
                            hint="Give the netsurgeon-moves.json file in the folder the images were moved "
                                 "into.")
    return root, [(s, d) for s, d in moves]


def undo_moves(log_path: str, progress=None, cancel=None) -> MoveResult:
    """Put back every image the log names; the log is removed when all are back."""
    log_path = str(log_path)
    if os.path.isdir(log_path):
        log_path = os.path.join(log_path, LOG_NAME)
    root, moves = read_log(log_path)
    folder = os.path.dirname(os.path.abspath(log_path))
    result = MoveResult()
    for k, (src, dst) in enumerate(moves):
        if _step(progress, cancel, k, len(moves)):
            result.skipped.append((log_path, "stopped before every image was back: undo again"))
            break
        if not _inside(src, root) or not _inside(dst, folder):
            result.skipped.append((src, "the log names a place outside its folders"))
            continue
        if not os.path.lexists(dst) and os.path.isfile(src):
            result.moved += 1  # never moved (or put back already): nothing to do
            continue
        if not os.path.lexists(dst):
            result.skipped.append((dst, "missing: neither here nor back in the data folder"))
            continue
        if os.path.islink(dst) or not stat.S_ISREG(os.lstat(dst).st_mode):
            result.skipped.append((dst, "not a regular file any more"))
            continue
        why = _move_one(dst, src)
        if why:
            result.skipped.append((dst, why))
        else:
            result.moved += 1
    if not result.skipped:
        os.unlink(log_path)
    return result
