"""Scanning image folders into a ``DatasetSplit``, listing every file it skips and why.

Three layouts are understood:
- flat: ``root/<class>/*.png`` -- split here, seeded and stratified;
- split: ``root/train/<class>``, ``root/val/<class>`` (also ``valid``/``validation``)
  and optionally ``root/test/<class>`` -- used as given;
- a pair of folders (``scan_folders``): one for training, one for validation, each
  with one sub-folder per class.

Scanning checks each image cheaply (``images.check_image``); ``loading`` guards the
full decode later.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from designer.base.errors import DesignerError
from designer.base.safeio import file_kind, valid_text
from designer.data.images import check_image
from designer.data.split import DatasetSplit, stratified

IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
SPLIT_DIRS = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test",)}
IMBALANCE_WARN_RATIO = 3.0

# --- scanning ----------------------------------------------------------------------------


MAX_SCAN_FILES = 1_000_000  # files looked at in one scan (ImageNet's training set is 1.28 M: use its split)
MAX_SCAN_S = 900.0  # seconds one scan may take


class ScanLimits:
    """What one scan may look at: files inside ``root`` only (a class folder linked to ``/`` is not
    walked), at most ``max_files`` of them, for at most ``max_s`` seconds. What it leaves out, it
    says (``notes`` end up in the split's warnings)."""

    def __init__(self, root: Path, max_files: int | None = None, max_s: float | None = None):
        self.root = os.path.realpath(root)
        self.max_files = MAX_SCAN_FILES if max_files is None else max_files
        self.max_s = MAX_SCAN_S if max_s is None else max_s
        self.deadline = time.monotonic() + self.max_s
        self.seen = 0
        self.notes: list[str] = []
        self.stopped = False

    def inside(self, path: Path) -> bool:
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self.root + os.sep)

    def count(self) -> bool:
        """Count one more file; False once a cap is reached (and say which, once)."""
        if not self.stopped:
            self.seen += 1
            if self.seen > self.max_files:
                self._stop(f"The scan stopped after {self.max_files:,} files (the limit); the rest were left "
                           "out.")
            elif time.monotonic() > self.deadline:
                self._stop(f"The scan stopped after {self.seen - 1:,} files: it took longer than "
                           f"{self.max_s:.0f} s (the limit); the rest were left out.")
        return not self.stopped

    def _stop(self, note: str) -> None:
        self.stopped = True
        self.notes.append(note)


def _list_files(folder: Path, limits: ScanLimits, skipped: list) -> list[Path]:
    files: list[Path] = []
    if not limits.inside(folder):
        skipped.append((_shown(folder), "a link to a folder outside the data folder (not followed)"))
        return files
    for dirpath, dirnames, filenames in os.walk(folder):  # never follows links to folders
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in IGNORED_NAMES:
                continue
            if not limits.count():
                return files
            path = Path(dirpath) / name
            if not valid_text(name):  # bytes that are not UTF-8: such a name could not be saved
                skipped.append((_shown(path), "its name is not valid text (UTF-8); rename it"))
            elif os.path.islink(path) and not limits.inside(path):
                skipped.append((_shown(path), "a link to a file outside the data folder (not followed)"))
            else:
                files.append(path)
    return files


def _shown(path) -> str:
    """A path as text that can be saved, whatever bytes its name has."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_class_names(names: list[str], folder: Path) -> None:
    """Class names are saved in the project and the run: refuse, before any training, a folder name
    that cannot be (bytes that are not UTF-8)."""
    for name in names:
        if not valid_text(name):
            raise DesignerError(f"The class folder '{_shown(folder / name)}' has a name that is not valid "
                                "text (UTF-8), so it could not be saved with the project.",
                                hint="Rename the folder with ordinary characters.")


def _scan_classes(folder: Path, classes: list[str], skipped: list, progress=None,
                  limits: ScanLimits | None = None) -> dict[str, list[str]]:
    """Usable image paths per class name under ``folder/<class>``; bad files go to ``skipped``."""
    limits = limits or ScanLimits(folder)
    _check_class_names(classes, folder)
    found: dict[str, list[str]] = {}
    for name in classes:
        good = []
        class_dir = folder / name
        for path in _list_files(class_dir, limits, skipped) if class_dir.is_dir() else []:
            reason = check_image(str(path))
            if reason:
                skipped.append((str(path), reason))
            else:
                good.append(str(path))
            if progress:
                progress(str(path))
        found[name] = good
    return found


def _find_split_dirs(root: Path) -> dict[str, Path]:
    subdirs = {p.name.lower(): p for p in _class_dirs(root)}
    out = {}
    for split, names in SPLIT_DIRS.items():
        for name in names:
            if name in subdirs:
                out[split] = subdirs[name]
                break
    # "train" alone could be a class name; with a val/ or test/ beside it, it is a split.
    return out if "train" in out and ("val" in out or "test" in out) else {}


def folders_deciding_split(root) -> tuple[str, str] | None:
    """The names of ``root``'s training and validation sub-folders (e.g. ``("train", "val")``)
    when they decide the split, so no share is split off here; else None (also for a folder
    that does not exist or cannot be read: the Data tab asks while the path is being typed)."""
    try:
        path = Path(root).expanduser()
        splits = _find_split_dirs(path) if str(root).strip() and path.is_dir() else {}
    except OSError:
        return None
    return (splits["train"].name, splits["val"].name) if "val" in splits else None


def _check_folder(root) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise DesignerError(f"The folder '{root}' does not exist.", hint="Pick an existing image folder.")
    if not path.is_dir():
        raise DesignerError(f"'{root}' is {file_kind(path)}, not a folder.",
                            hint="Pick a folder with one sub-folder of images per class.")
    if not _class_dirs(path):
        raise DesignerError(
            f"The folder '{root}' has no sub-folders.",
            hint="Put the images of each class in their own sub-folder (e.g. cats/, dogs/).",
        )
    return path


def _drop_empty(per_class: dict[str, list[str]], warnings: list[str], root) -> list[str]:
    classes = [c for c, paths in per_class.items() if paths]
    for name, paths in per_class.items():
        if not paths:
            warnings.append(f"Class '{name}' has no usable images and was left out.")
    if len(classes) < 2:
        raise DesignerError(
            f"'{root}' has {len(classes)} class with usable images; training needs at least 2.",
            hint="Make one sub-folder per class and put readable images (PNG, JPEG, ...) in each.",
        )
    return classes


def scan_folder(root, val_fraction: float = 0.2, seed: int = 0, test_fraction: float = 0.0,
                progress: Callable[[str], None] | None = None) -> DatasetSplit:
    """Scan an image folder (flat or train/val[/test] layout) into a ``DatasetSplit``.

    ``val_fraction``/``test_fraction`` apply only to the flat layout. ``progress``
    is called with each file path as it is checked (for a progress bar).
    """
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0 and val_fraction + test_fraction < 1.0):
        raise DesignerError(f"Validation fraction {val_fraction} (plus test {test_fraction}) "
                            "must be below 1.",
                            hint="A typical choice is 0.2.")
    path = _check_folder(root)
    skipped: list[tuple[str, str]] = []
    warnings: list[str] = []
    limits = ScanLimits(path)
    splits = _find_split_dirs(path)
    if splits:
        result = _scan_split_layout(splits, skipped, warnings, progress, val_fraction, seed, limits)
    else:
        names = [d.name for d in _class_dirs(path)]
        per_class = _scan_classes(path, names, skipped, progress, limits)
        classes = _drop_empty(per_class, warnings, root)
        train, val, test = stratified(per_class, classes, (val_fraction, test_fraction), seed)
        result = DatasetSplit(classes, train, val, test, layout="flat")
    result.skipped, result.warnings = skipped, warnings + limits.notes
    result.root, result.val_fraction, result.seed = str(path), val_fraction, seed
    for f in path.iterdir():
        if f.is_file() and not f.name.startswith("."):
            result.skipped.append((_shown(f), "not inside a class sub-folder"))
    _add_balance_warnings(result)
    return result


def scan_folders(train_root, val_root, seed: int = 0,
                 progress: Callable[[str], None] | None = None) -> DatasetSplit:
    """Separate training and validation folders, each with one sub-folder per class: the
    training folder's classes decide; validation images of other classes are left out (and said)."""
    train = scan_folder(train_root, 0.0, seed, progress=progress)
    val = scan_folder(val_root, 0.0, seed, progress=progress)
    index = {name: i for i, name in enumerate(train.classes)}
    train.val = [(p, index[val.classes[k]]) for p, k in val.train + val.val if val.classes[k] in index]
    train.warnings = [w for w in train.warnings if not w.startswith("There are no validation")]
    extra = sorted(set(val.classes) - set(index))
    if extra:
        train.warnings.append(f"Validation classes {extra} are not in the training folder and were left out.")
    missing = sorted(set(index) - set(val.classes))
    train.warnings += [f"Class '{name}' has no validation images." for name in missing]
    train.skipped += val.skipped
    train.layout = "train+val folders"
    train.val_root = val.root
    return train


def _scan_split_layout(splits: dict[str, Path], skipped, warnings, progress, val_fraction, seed,
                       limits: ScanLimits) -> DatasetSplit:
    names = [d.name for d in _class_dirs(splits["train"])]
    train_pc = _scan_classes(splits["train"], names, skipped, progress, limits)
    classes = _drop_empty(train_pc, warnings, splits["train"])
    out = DatasetSplit(classes, [], [], layout="split")
    # No val/ folder (only test/): carve validation out of train/, stratified like the flat layout.
    out.train, out.val, _ = stratified(train_pc, classes, (0.0 if "val" in splits else val_fraction, 0.0),
                                       seed)
    for which in ("val", "test"):
        if which not in splits:
            continue
        extra = sorted({d.name for d in _class_dirs(splits[which])} - set(classes))
        if extra:
            warnings.append(f"{which} classes {extra} are not in train/ and were left out.")
        per_class = _scan_classes(splits[which], classes, skipped, progress, limits)
        setattr(out, which, [(p, i) for i, c in enumerate(classes) for p in per_class[c]])
    return out


def _add_balance_warnings(split: DatasetSplit) -> None:
    counts = split.class_counts("train")
    val_counts = split.class_counts("val")
    if not split.val:
        split.warnings.append("There are no validation images: accuracy can only be measured on training "
                              "data.")
    for name, n in counts.items():
        if split.val and not val_counts[name]:
            split.warnings.append(f"Class '{name}' has no validation images ({n} for training).")
    ratio = split.imbalance_ratio("train")
    if ratio > IMBALANCE_WARN_RATIO:
        big = max(counts, key=counts.__getitem__)
        small = min(counts, key=counts.__getitem__)
        split.warnings.append(
            f"Classes are imbalanced: '{big}' has {counts[big]} training images, '{small}' only "
            f"{counts[small]} ({ratio:.1f}x). Consider class weights or more images of '{small}'."
        )
