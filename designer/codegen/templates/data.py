"""The script's data: the app's image check, scan and split, the transforms and the datasets.

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import json
import math
import os
import random
import sys
from pathlib import Path

import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset
from torchvision.transforms import v2

from designer.codegen.templates.names import (
    AUGMENT,
    CLASSES,
    HEIGHT,
    IGNORED_NAMES,
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    IN_CHANNELS,
    MEAN,
    NUM_CLASSES,
    PIL_MODE,
    SPLIT_DIRS,
    STD,
    WIDTH,
)

# --- the script: everything below this line is copied into it ---


def load_image(path: str) -> Image.Image:
    """Open an image upright (phone photos store their rotation in EXIF) in PIL_MODE."""
    with Image.open(path, formats=IMAGE_FORMATS) as img:
        return ImageOps.exif_transpose(img).convert(PIL_MODE)


def tile_channels(image: torch.Tensor) -> torch.Tensor:
    """The image's channels repeated up to IN_CHANNELS (grey to RGB, RGB to N), if fewer."""
    if image.shape[0] == IN_CHANNELS:
        return image
    return image.repeat(math.ceil(IN_CHANNELS / image.shape[0]), 1, 1)[:IN_CHANNELS]


def make_transform(train: bool) -> v2.Compose:
    """Resize to the network's input, augment (training only), scale to [0, 1] and normalise."""
    steps = [v2.Resize((HEIGHT, WIDTH), antialias=True)]
    if train:
        steps += AUGMENT
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    steps.append(v2.Lambda(tile_channels))
    return v2.Compose([*steps, v2.Normalize(MEAN, STD)])


def unusable(path: Path) -> str | None:
    """Why ``path`` is not a usable image, or None: the same cheap check as the app's scan."""
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return "not an image file (unknown extension)"
    try:
        if not path.is_file():  # a pipe or device would block the open, or never end
            return "not a regular file"
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path, formats=IMAGE_FORMATS) as img:
            img.verify()
    except Exception as exc:  # noqa: BLE001 -- PIL raises many types for a bad file: skip it
        return f"cannot be read as an image ({type(exc).__name__}: {exc})"
    return None


def list_images(folder: Path, skipped: list) -> list[str]:
    """Usable images under ``folder`` (hidden files left out); bad ones go to ``skipped``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in IGNORED_NAMES:
                continue
            path = Path(dirpath) / name
            reason = unusable(path)
            if reason:
                skipped.append((str(path), reason))
            else:
                found.append(str(path))
    return sorted(found)


def class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def stratified_split(per_class: dict[str, list[str]], val_fraction: float, seed: int):
    """Seeded per-class (train, val) split as the app's; each class keeps a training image."""
    rng = random.Random(seed)
    train, val = [], []
    for label, paths in enumerate(per_class.values()):
        paths = sorted(paths)
        rng.shuffle(paths)
        n_val = 0
        if val_fraction > 0:
            n_val = min(max(1, round(len(paths) * val_fraction)), max(0, len(paths) - 1))
        val += [(p, label) for p in paths[:n_val]]
        train += [(p, label) for p in paths[n_val:]]
    return train, val


def split_folders(root: Path) -> dict[str, Path]:
    """ROOT's train/ and val/ (or test/) folders, if ROOT is laid out that way."""
    names = {p.name.lower(): p for p in class_folders(root)}
    found = {}
    for which, aliases in SPLIT_DIRS.items():
        match = next((names[a] for a in aliases if a in names), None)
        if match is not None:
            found[which] = match
    return found if "train" in found and ("val" in found or "test" in found) else {}


def scan(folder: Path, skipped: list, classes: list[str] | None = None) -> dict[str, list[str]]:
    """Usable images per class sub-folder of ``folder``; classes with none are left out."""
    names = classes or [p.name for p in class_folders(folder)]
    per_class = {name: list_images(folder / name, skipped) if (folder / name).is_dir() else []
                 for name in names}
    if classes:
        return per_class
    return {name: paths for name, paths in per_class.items() if paths}


def scan_data(root: str, val_fraction: float, seed: int):
    """(classes, train, val, skipped) from ROOT: per class split, or its train/ and val/."""
    root_path = Path(root)
    skipped: list[tuple[str, str]] = []
    splits = split_folders(root_path)
    if not splits:
        per_class = scan(root_path, skipped)
        return list(per_class), *stratified_split(per_class, val_fraction, seed), skipped
    per_class = scan(splits["train"], skipped)
    classes = list(per_class)
    if "val" not in splits:  # only test/ beside train/: validation comes out of train/
        return classes, *stratified_split(per_class, val_fraction, seed), skipped
    train, _ = stratified_split(per_class, 0.0, seed)
    val_class = scan(splits["val"], skipped, classes)
    val = [(p, label) for label, name in enumerate(classes) for p in val_class[name]]
    return classes, train, val, skipped


def read_split(path: str, root: str | None):
    """(classes, train, val, skipped) from the app's split file; paths under --data."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    base = Path(root or data.get("root") or ".")
    classes = [str(c) for c in data["classes"]]
    skipped = [(str(base / p), str(why)) for p, why in data.get("skipped", [])]

    def samples(key: str) -> list:
        out = []
        for item, label in data.get(key, []):
            file = base / item
            if not isinstance(label, int) or not 0 <= label < len(classes):
                raise SystemExit(f"{path}: label {label!r} of {item} is not a class index.")
            if file.is_file():
                out.append((str(file), label))
            else:
                skipped.append((str(file), "listed in the split but not found"))
        return out

    train, val = samples("train"), samples("val")
    if not train:
        raise SystemExit(f"None of the training images listed in {path} is under {base}. "
                         "Point --data at the folder the app used, or pass --split none.")
    return classes, train, val, skipped


class ImageFiles(Dataset):
    """(path, label) samples -> (image, label); None for a damaged file (one never ends a run)."""

    def __init__(self, samples: list, train: bool):
        self.samples = list(samples)
        self.targets = [label for _, label in self.samples]
        self.transform = make_transform(train)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        try:
            return self.transform(load_image(path)), label
        except Exception as exc:  # noqa: BLE001 -- damaged after the scan: skip it, say so
            print(f"skipped {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return None


def collate_loaded(items: list):
    """A batch of the images that loaded (None when none did)."""
    loaded = [item for item in items if item is not None]
    return torch.utils.data.default_collate(loaded) if loaded else None


def load_datasets(args) -> tuple[ImageFiles, ImageFiles, tuple[str, list]]:
    """The training and validation images: the app's split (--split), else DATA split here."""
    use_split = args.split and args.split.lower() != "none"
    if use_split:
        classes, train, val, skipped = read_split(args.split, args.data)
        how = f"the app's split ({args.split})"
    else:
        classes, train, val, skipped = scan_data(args.data, args.val_fraction, args.split_seed)
        how = f"split here: {args.val_fraction:g} of each class held out, seed {args.split_seed}"
    if len(classes) != NUM_CLASSES:
        raise SystemExit(f"The data has {len(classes)} classes {classes}, "
                         f"but the network has {NUM_CLASSES} outputs.")
    if CLASSES and classes != CLASSES:
        print(f"Note: the data's classes {classes} differ from the design's {CLASSES}.")
    return ImageFiles(train, train=True), ImageFiles(val, train=False), (how, skipped)


def class_weights(dataset: ImageFiles) -> list[float]:
    """Inverse class frequency, averaging 1 over the classes that have images."""
    counts = [dataset.targets.count(k) for k in range(NUM_CLASSES)]
    inverse = [1.0 / c if c else 0.0 for c in counts]
    mean = sum(inverse) / max(1, sum(1 for w in inverse if w))
    return [w / mean for w in inverse]
