"""Duplicates and outliers from the features: the network's view of an image, so a copy that was
resized, re-saved or brightened a little still matches, where a file hash would not."""

from __future__ import annotations

import numpy as np

from designer.audit.report import DuplicateGroup, Outlier

NEAR_COSINE = 0.99  # above this two images are "the same picture" to the network
PIXEL_CORRELATION = 0.995  # or their tiny grey thumbnails match (a re-saved, brightened or resized copy)
OUTLIER_Z = 4.0  # robust z-score of the distance to the class centre
BLOCK = 1024  # rows of the similarity matrix at a time: 1024 x 10,000 floats is 40 MB


def unit_rows(features: np.ndarray) -> np.ndarray:
    x = features.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class _Groups:
    """Union-find over image indices."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            found.setdefault(self.find(i), []).append(i)
        return [g for g in found.values() if len(g) > 1]


def near_pairs(unit: np.ndarray, threshold: float = NEAR_COSINE) -> list[tuple[int, int, float]]:
    """Every pair (i < j) with cosine above ``threshold``, in blocks so memory stays small."""
    pairs = []
    for start in range(0, len(unit), BLOCK):
        sims = unit[start:start + BLOCK] @ unit.T
        rows, cols = np.nonzero(sims > threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if start + r < c:
                pairs.append((start + r, c, float(sims[r, c])))
    return pairs


def duplicate_groups(paths: list[str], unit: np.ndarray, hashes: list[str | None], split_of: dict[str, str],
                     threshold: float = NEAR_COSINE,
                     signatures: np.ndarray | None = None) -> list[DuplicateGroup]:
    """Groups of exact copies (same bytes) and near copies (features above ``threshold``, or pixel
    signatures above ``PIXEL_CORRELATION``)."""
    groups = _Groups(len(paths))
    exact: dict[str, int] = {}
    for i, h in enumerate(hashes):
        if h is not None:
            groups.join(i, exact.setdefault(h, i))
    for i, j, _ in near_pairs(unit, threshold):
        groups.join(i, j)
    if signatures is not None:
        for i, j, _ in near_pairs(signatures, PIXEL_CORRELATION):
            groups.join(i, j)
    out = []
    for members in groups.groups():
        sims = unit[members] @ unit[members].T
        same_bytes = len({hashes[i] for i in members}) == 1 and hashes[members[0]] is not None
        where = {split_of.get(paths[i], "train") for i in members}
        out.append(DuplicateGroup([paths[i] for i in members], "exact" if same_bytes else "near",
                                  round(float(sims.min()), 4), len(where) > 1))
    # the leaks first, then the closest copies
    return sorted(out, key=lambda g: (not g.crosses_split, -g.similarity))


def outliers(unit: np.ndarray, labels: np.ndarray, paths: list[str], classes: list[str],
             z: float = OUTLIER_Z) -> list[Outlier]:
    """Images far from their class's centre: distance 1 - cosine, as a robust z-score within the class."""
    out = []
    for label in np.unique(labels):
        idx = np.nonzero(labels == label)[0]
        if len(idx) < 5:
            continue  # too few to say what the class looks like
        centre = unit[idx].mean(0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        dist = 1.0 - unit[idx] @ centre
        med = float(np.median(dist))
        mad = float(np.median(np.abs(dist - med))) * 1.4826 or 1e-6
        scores = (dist - med) / mad
        out += [Outlier(paths[i], classes[label], round(float(s), 2))
                for i, s in zip(idx, scores, strict=True) if s > z]
    return sorted(out, key=lambda o: -o.score)
