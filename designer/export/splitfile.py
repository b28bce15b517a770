"""The app's train/validation split, written beside the exported training script.

The script then trains and validates on exactly the images the app used: the
same files skipped, the same images held out. Paths are stored relative to the
data folder (with ``/``), so the script also works when the folder has moved
(``--data NEW_PLACE``); a path outside the folder (a separate validation folder)
stays absolute.
"""

from __future__ import annotations

import json
from pathlib import Path

from designer.base.fileio import atomic_write_text
from designer.data.split import DatasetSplit

SPLIT_NAME = "split.json"
SPLIT_FORMAT = "netsurgeon-split"
SPLIT_VERSION = 1


def portable_split(split: DatasetSplit) -> dict:
    """``split`` as plain data with paths relative to its data folder."""
    root = Path(split.root).expanduser() if split.root else None

    def rel(path: str) -> str:
        if root is not None:
            try:
                return Path(path).relative_to(root).as_posix()
            except ValueError:
                pass
        return str(path)

    def samples(items) -> list:
        return [[rel(p), int(label)] for p, label in items]

    return {
        "format": SPLIT_FORMAT, "version": SPLIT_VERSION, "root": str(root) if root else "",
        "classes": [str(c) for c in split.classes], "layout": split.layout,
        "seed": int(split.seed), "val_fraction": float(split.val_fraction),
        "train": samples(split.train), "val": samples(split.val), "test": samples(split.test),
        "skipped": [[rel(p), str(reason)] for p, reason in split.skipped],
    }


def write_split(split: DatasetSplit, folder: str | Path) -> Path:
    """Write ``split`` as ``folder/split.json`` (atomically); returns its path."""
    path = Path(folder) / SPLIT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(portable_split(split), indent=1) + "\n")
    return path
