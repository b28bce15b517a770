"""Digits with planted faults for the data audit: labels moved to a wrong class, training images
copied into validation with a slight change (the issue's acceptance test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def _digit_image(image: np.ndarray, size: int) -> Image.Image:
    return Image.fromarray((image * (255.0 / 16.0)).astype(np.uint8), "L").resize((size, size), Image.BILINEAR)


def make_planted_digits(root, size: int = 32, wrong_fraction: float = 0.1, copies: int = 20,
                        val_fraction: float = 0.2, seed: int = 0):
    """``root/train/<d>`` and ``root/val/<d>`` from all 1,797 digits. Returns (wrong, pairs): the training
    paths saved under a wrong class, and (train path, val copy) pairs (brightness and noise nudged)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    n_val = int(len(order) * val_fraction)
    root = Path(root)
    for which in ("train", "val"):
        for d in range(10):
            (root / which / str(d)).mkdir(parents=True, exist_ok=True)
    train_idx = order[n_val:]
    wrong_idx = set(rng.choice(train_idx, int(len(train_idx) * wrong_fraction), replace=False).tolist())
    wrong, train_paths = [], []
    for k in order:
        which = "val" if k in order[:n_val] else "train"
        label = int(digits.target[k])
        if k in wrong_idx:
            label = int((label + rng.integers(1, 10)) % 10)
        path = root / which / str(label) / f"d{k:04d}.png"
        _digit_image(digits.images[k], size).save(path)
        if k in wrong_idx:
            wrong.append(str(path))
        elif which == "train":
            train_paths.append((str(path), label, k))
    pairs = []
    for j in rng.choice(len(train_paths), copies, replace=False):
        path, label, k = train_paths[j]
        img = np.asarray(_digit_image(digits.images[k], size), np.float32)
        img = np.clip(img * 0.95 + 6 + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        copy = root / "val" / str(label) / f"copy_{k:04d}.png"
        Image.fromarray(img, "L").save(copy)
        pairs.append((path, str(copy)))
    return wrong, pairs
