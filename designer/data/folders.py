"""Image folders: scan, split, report, and load without ever crashing mid-epoch.

Two layouts are understood:
- flat: ``root/<class>/*.png`` -- split here, seeded and stratified;
- split: ``root/train/<class>``, ``root/val/<class>`` (also ``valid``/``validation``)
  and optionally ``root/test/<class>`` -- used as given.

Scanning checks each image cheaply with PIL's ``verify()`` and lists what it
skips. A file can still fail later (truncated JPEG data that ``verify`` does not
decode, a file changed after the scan), so ``ImageDataset`` also guards each
load: a failure becomes a ``Failed`` marker that ``collate_skip_failed`` drops
from the batch and hands back in ``Batch.failed`` -- which also works from
worker processes, where a list on the dataset would never reach the trainer.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset

from designer.base.errors import DesignerError

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
SPLIT_DIRS = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test",)}
IMBALANCE_WARN_RATIO = 3.0

Sample = tuple[str, int]  # (path, label index)


@dataclass
class DatasetSplit:
    """The scanned data: class names, (path, label) samples per split, and what was skipped."""

    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    test: list[Sample] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)
    root: str = ""
    layout: str = "flat"
    val_fraction: float = 0.0
    seed: int = 0

    def subset(self, which: str) -> list[Sample]:
        if which == "all":
            return self.train + self.val + self.test
        if which not in ("train", "val", "test"):
            raise DesignerError(f"Unknown data subset '{which}'; use train, val, test or all.")
        return getattr(self, which)

    def class_counts(self, which: str = "all") -> dict[str, int]:
        counts = Counter(label for _, label in self.subset(which))
        return {name: counts.get(i, 0) for i, name in enumerate(self.classes)}

    def imbalance_ratio(self, which: str = "train") -> float:
        """Largest class count / smallest (inf if a class has none in ``which``)."""
        counts = [c for c in self.class_counts(which).values()]
        if not counts or max(counts) == 0:
            return 1.0
        return max(counts) / min(counts) if min(counts) else float("inf")

    def class_weights(self) -> list[float]:
        return class_weights(list(self.class_counts("train").values()))

    def summary(self, max_skipped: int = 20) -> str:
        lines = [f"{len(self.classes)} classes, {len(self.train)} train / {len(self.val)} val"
                 + (f" / {len(self.test)} test" if self.test else "") + " images"]
        for name, n in self.class_counts().items():
            lines.append(f"  {name}: {n}")
        if self.skipped:
            lines.append(f"{len(self.skipped)} files skipped:")
            lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped[:max_skipped]]
            if len(self.skipped) > max_skipped:
                lines.append(f"  ... and {len(self.skipped) - max_skipped} more")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "classes": list(self.classes), "train": [list(s) for s in self.train],
            "val": [list(s) for s in self.val], "test": [list(s) for s in self.test],
            "skipped": [list(s) for s in self.skipped], "warnings": list(self.warnings),
            "root": self.root, "layout": self.layout, "val_fraction": self.val_fraction, "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict) -> DatasetSplit:
        def samples(key):
            return [(str(p), int(label)) for p, label in data.get(key, [])]
        return cls(
            classes=list(data["classes"]), train=samples("train"), val=samples("val"), test=samples("test"),
            skipped=[(str(p), str(r)) for p, r in data.get("skipped", [])],
            warnings=list(data.get("warnings", [])), root=data.get("root", ""),
            layout=data.get("layout", "flat"), val_fraction=float(data.get("val_fraction", 0.0)),
            seed=int(data.get("seed", 0)),
        )


def class_weights(counts: list[int]) -> list[float]:
    """Inverse-frequency weights, normalised so they average 1 over the classes.

    A class with no training images gets weight 0 (it cannot contribute to the loss anyway).
    """
    inv = [1.0 / c if c > 0 else 0.0 for c in counts]
    present = [w for w in inv if w > 0]
    if not present:
        return [1.0] * len(counts)
    mean = sum(present) / len(present)
    return [w / mean for w in inv]


# --- scanning ----------------------------------------------------------------------------


def check_image(path: str) -> str | None:
    """Why ``path`` is not a usable image, or None. Cheap: headers and chunks, no decode."""
    if Path(path).suffix.lower() not in IMAGE_EXTENSIONS:
        return "not an image file (unknown extension)"
    try:
        if os.path.getsize(path) == 0:
            return "empty file"
        with Image.open(path) as img:
            img.verify()
    except Exception as exc:  # noqa: BLE001 -- PIL raises many types for bad files; all mean "skip it"
        return f"cannot be read as an image ({type(exc).__name__}: {exc})".strip()
    return None


def _list_files(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower() not in IGNORED_NAMES:
                files.append(Path(dirpath) / name)
    return files


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _scan_classes(folder: Path, classes: list[str], skipped: list, progress=None) -> dict[str, list[str]]:
    """Usable image paths per class name under ``folder/<class>``; bad files go to ``skipped``."""
    found: dict[str, list[str]] = {}
    for name in classes:
        good = []
        class_dir = folder / name
        for path in _list_files(class_dir) if class_dir.is_dir() else []:
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


def _stratified(per_class: dict[str, list[str]], classes: list[str], fractions: tuple[float, float],
                seed: int) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Split each class on its own (stratified), seeded; every class keeps >= 1 training image."""
    rng = random.Random(seed)
    train, val, test = [], [], []
    for label, name in enumerate(classes):
        paths = sorted(per_class[name])
        rng.shuffle(paths)
        n = len(paths)
        n_val = min(max(1, round(n * fractions[0])) if fractions[0] > 0 else 0, max(0, n - 1))
        n_test = min(max(1, round(n * fractions[1])) if fractions[1] > 0 else 0, max(0, n - 1 - n_val))
        val += [(p, label) for p in paths[:n_val]]
        test += [(p, label) for p in paths[n_val:n_val + n_test]]
        train += [(p, label) for p in paths[n_val + n_test:]]
    return train, val, test


def _check_folder(root) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise DesignerError(f"The folder '{root}' does not exist.", hint="Pick an existing image folder.")
    if not path.is_dir():
        raise DesignerError(f"'{root}' is a file, not a folder.",
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
        raise DesignerError(f"Validation fraction {val_fraction} (plus test {test_fraction}) must be below 1.",
                            hint="A typical choice is 0.2.")
    path = _check_folder(root)
    skipped: list[tuple[str, str]] = []
    warnings: list[str] = []
    splits = _find_split_dirs(path)
    if splits:
        result = _scan_split_layout(splits, skipped, warnings, progress, val_fraction, seed)
    else:
        names = [d.name for d in _class_dirs(path)]
        per_class = _scan_classes(path, names, skipped, progress)
        classes = _drop_empty(per_class, warnings, root)
        train, val, test = _stratified(per_class, classes, (val_fraction, test_fraction), seed)
        result = DatasetSplit(classes, train, val, test, layout="flat")
    result.skipped, result.warnings = skipped, warnings
    result.root, result.val_fraction, result.seed = str(path), val_fraction, seed
    for f in path.iterdir():
        if f.is_file() and not f.name.startswith("."):
            result.skipped.append((str(f), "not inside a class sub-folder"))
    _add_balance_warnings(result)
    return result


def _scan_split_layout(splits: dict[str, Path], skipped, warnings, progress, val_fraction, seed) -> DatasetSplit:
    names = [d.name for d in _class_dirs(splits["train"])]
    train_pc = _scan_classes(splits["train"], names, skipped, progress)
    classes = _drop_empty(train_pc, warnings, splits["train"])
    out = DatasetSplit(classes, [], [], layout="split")
    # No val/ folder (only test/): carve validation out of train/, stratified like the flat layout.
    out.train, out.val, _ = _stratified(train_pc, classes, (0.0 if "val" in splits else val_fraction, 0.0), seed)
    for which in ("val", "test"):
        if which not in splits:
            continue
        extra = sorted({d.name for d in _class_dirs(splits[which])} - set(classes))
        if extra:
            warnings.append(f"{which} classes {extra} are not in train/ and were left out.")
        per_class = _scan_classes(splits[which], classes, skipped, progress)
        setattr(out, which, [(p, i) for i, c in enumerate(classes) for p in per_class[c]])
    return out


def _add_balance_warnings(split: DatasetSplit) -> None:
    counts = split.class_counts("train")
    val_counts = split.class_counts("val")
    if not split.val:
        split.warnings.append("There are no validation images: accuracy can only be measured on training data.")
    for name, n in counts.items():
        if split.val and not val_counts[name]:
            split.warnings.append(f"Class '{name}' has no validation images ({n} for training).")
    ratio = split.imbalance_ratio("train")
    if ratio > IMBALANCE_WARN_RATIO:
        big = max(counts, key=counts.get)
        small = min(counts, key=counts.get)
        split.warnings.append(
            f"Classes are imbalanced: '{big}' has {counts[big]} training images, '{small}' only "
            f"{counts[small]} ({ratio:.1f}x). Consider class weights or more images of '{small}'."
        )


# --- loading -----------------------------------------------------------------------------


def load_image(path: str) -> Image.Image:
    """Open and fully decode ``path`` (raises OSError/ValueError on bad data)."""
    with Image.open(path) as img:
        img.load()  # decode now, inside the guard, not lazily inside a transform
        # Phone photos store their rotation in EXIF; this also returns a copy detached from the file.
        return ImageOps.exif_transpose(img)


class Failed(NamedTuple):
    """What ``ImageDataset`` returns for a sample that could not be loaded."""

    path: str
    reason: str


class Batch(NamedTuple):
    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor  # positions in the dataset's sample list (to map predictions back to files)
    failed: list[tuple[str, str]]  # (path, reason) for samples dropped from this batch


class ImageDataset(Dataset):
    """``(path, label)`` samples -> ``(tensor, label, index)``, or ``Failed`` if unreadable."""

    def __init__(self, samples: list[Sample], transform: Callable | None = None,
                 loader: Callable[[str], Image.Image] = load_image):
        self.samples = list(samples)
        self.transform = transform
        self.loader = loader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        try:
            img = self.loader(path)
            x = self.transform(img) if self.transform is not None else img
        except Exception as exc:  # noqa: BLE001 -- a bad file must not end the epoch; it is reported
            return Failed(str(path), f"failed to load ({type(exc).__name__}: {exc})")
        return x, label, index


def collate_skip_failed(items: list) -> Batch:
    """Stack the good samples into a ``Batch``; failed ones are dropped and listed."""
    failed = [(f.path, f.reason) for f in items if isinstance(f, Failed)]
    good = [it for it in items if not isinstance(it, Failed)]
    if not good:
        empty = torch.empty(0, dtype=torch.long)
        return Batch(torch.empty(0), empty, empty, failed)
    images = torch.stack([g[0] for g in good])
    labels = torch.tensor([g[1] for g in good], dtype=torch.long)
    indices = torch.tensor([g[2] for g in good], dtype=torch.long)
    return Batch(images, labels, indices, failed)


def make_loader(samples: list[Sample], transform: Callable, batch_size: int = 32, shuffle: bool = False,
                workers: int = 0, drop_last: bool = False, seed: int = 0,
                pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``samples`` yielding ``Batch`` tuples; shuffling is seeded.

    Re-seed per epoch with ``loader.generator.manual_seed(seed + epoch)`` for an order
    that is reproducible after a resume.
    """
    if batch_size < 1:
        raise DesignerError(f"Batch size must be at least 1, not {batch_size}.")
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        ImageDataset(samples, transform), batch_size=batch_size, shuffle=shuffle,
        num_workers=max(0, int(workers)), drop_last=drop_last, collate_fn=collate_skip_failed,
        generator=generator, pin_memory=pin_memory, persistent_workers=workers > 0,
    )
