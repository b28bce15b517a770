"""The scanned data: class names, (path, label) samples per split, what was skipped, and how a
folder is split per class, seeded."""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field

from designer.base.errors import DesignerError

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
    val_root: str = ""  # the separate validation folder (layout "train+val folders"), if any

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
            **({"val_root": self.val_root} if self.val_root else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> DatasetSplit:
        """A split saved by a run (``split.json``). It comes from a folder someone may have sent,
        so anything malformed (a label outside the classes, a number that is text, a seed of
        Infinity) is refused, and so is an image path outside the data folder it names
        (``/etc/shadow``, ``/proc/self/mem``): only files under ``root`` are ever opened."""
        try:
            split = cls(**_checked_fields(data))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise DesignerError(f"The saved data split is damaged ({exc}).",
                                hint="Train a new run, or load the images again on the Data tab.") from exc
        outside = split.outside_root()
        if outside:
            raise DesignerError(f"The saved data split names an image outside its data folder ('{outside}'); "
                                "NetSurgeon reads only images inside it.",
                                hint="Train a new run, or load the images again on the Data tab.")
        return split

    def outside_root(self) -> str:
        """The first image path that is not an image file inside ``root`` (or ``val_root``) once
        links are resolved, or ''."""
        roots = [os.path.realpath(r) for r in (self.root, self.val_root) if r]
        roots = [r for r in roots if r != os.path.dirname(r)]  # never the file system's root
        for path, _ in self.subset("all"):
            if os.path.splitext(path)[1].lower() not in IMAGE_SUFFIXES:
                return path
            real = os.path.realpath(path)
            if not any(real.startswith(r + os.sep) for r in roots):
                return path
        return ""


MAX_SAMPLES = 10_000_000
MAX_SEED = 2**32 - 1
# The scan's image names (designer.data.images.IMAGE_EXTENSIONS; repeated here, below that module)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
                            ".pbm"})


def _checked_fields(data: dict) -> dict:
    """The fields of a ``DatasetSplit`` from plain data; ValueError/TypeError on anything malformed."""
    if not isinstance(data, dict) or not isinstance(data["classes"], list):
        raise TypeError("it is not an object with a list of classes")
    classes = [_text(c) for c in data["classes"]]

    def samples(key):
        raw = data.get(key, [])
        if not isinstance(raw, list) or len(raw) > MAX_SAMPLES:
            raise ValueError(f"'{key}' is not a list of images")
        pairs = [(_text(p), label) for p, label in raw]
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < len(classes)
                   for _, n in pairs):
            raise ValueError(f"a {key} label is not one of the {len(classes)} classes")
        return pairs
    fraction, seed = data.get("val_fraction", 0.0), data.get("seed", 0)
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0.0 <= fraction < 1.0:
        raise ValueError(f"val_fraction {str(fraction)[:20]} is not a fraction")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed {str(seed)[:20]} is not a whole number from 0 to {MAX_SEED}")
    return {"classes": classes, "train": samples("train"), "val": samples("val"), "test": samples("test"),
            "skipped": [(_text(p), _text(r)) for p, r in _list(data.get("skipped", []))],
            "warnings": [_text(w) for w in _list(data.get("warnings", []))],
            "root": _text(data.get("root", "")),
            "layout": _text(data.get("layout", "flat")), "val_fraction": float(fraction), "seed": seed,
            "val_root": _text(data.get("val_root", ""))}


def _text(value) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError(f"{describe(value)} is not text")
    return str(value)


def _list(value) -> list:
    if not isinstance(value, list):
        raise TypeError(f"{describe(value)} is not a list")
    return value


def describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


def stratified(per_class: dict[str, list[str]], classes: list[str], fractions: tuple[float, float],
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


def key_for(path: str, root: str) -> str:
    """How a decision or a duplicate group names ``path``: relative to the data folder when inside it
    (the project survives the folder moving), with / separators; else its full path."""
    if root:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return os.path.abspath(path)


def keep_groups_together(split: DatasetSplit, groups: list[list[str]]) -> int:
    """Move near-duplicate groups (from an audit) whole into one split, so validation never scores a
    copy of a training image. Each group goes where most of its members are (ties: training).
    Returns how many images moved; the split is changed in place."""
    where: dict[str, tuple[str, int]] = {}
    for which in ("train", "val", "test"):
        for path, label in split.subset(which):
            where[key_for(path, split.root)] = (which, label)
    move: dict[str, str] = {}
    for group in groups:
        keys = [k for k in (key_for(p, split.root) if os.path.isabs(p) else p for p in group) if k in where]
        counts = Counter(where[k][0] for k in keys)
        if len(counts) < 2:
            continue
        target = max(("train", "val", "test"), key=lambda w: (counts.get(w, 0), w == "train"))
        move.update({k: target for k in keys if where[k][0] != target})
    if not move:
        return 0
    parts: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    for which in ("train", "val", "test"):
        for path, label in split.subset(which):
            parts[move.get(key_for(path, split.root), which)].append((path, label))
    split.train, split.val, split.test = parts["train"], parts["val"], parts["test"]
    return len(move)
