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
        """A split saved by a run (``split.json``). It comes from a folder someone may have sent,
        so anything malformed (a label outside the classes, a number that is text) is refused."""
        try:
            classes = [str(c) for c in data["classes"]]

            def samples(key):
                pairs = [(str(p), label) for p, label in data.get(key, [])]
                if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < len(classes) for _, n in pairs):
                    raise ValueError(f"a {key} label is not one of the {len(classes)} classes")
                return pairs
            return cls(
                classes=classes, train=samples("train"), val=samples("val"), test=samples("test"),
                skipped=[(str(p), str(r)) for p, r in data.get("skipped", [])],
                warnings=[str(w) for w in data.get("warnings", [])], root=str(data.get("root", "")),
                layout=str(data.get("layout", "flat")), val_fraction=float(data.get("val_fraction", 0.0)),
                seed=int(data.get("seed", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DesignerError(f"The saved data split is damaged ({exc}).",
                                hint="Train a new run, or load the images again on the Data tab.") from exc


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
