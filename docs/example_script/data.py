"""The images the training script beside it trains on, read as NetSurgeon reads them: which
files count, how DATA is split and how an image is loaded and transformed.
"""

import json
import os
import random
import sys
from pathlib import Path

import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset
from torchvision.transforms import v2

try:  # the script's own modules, written beside this file
    from model import CLASSES, HEIGHT, NUM_CLASSES, WIDTH
except ImportError as exc:
    if exc.name not in ["model"]:
        raise
    raise SystemExit(f"{exc}: keep model.py beside data.py, "
                     "as NetSurgeon exported them.") from exc

MEAN, STD = (0.449,), (0.226,)
PIL_MODE = "L"  # the mode images load in
AUGMENT = [  # training-time augmentation, as chosen in the app
    v2.RandomHorizontalFlip(),
    v2.RandomAffine(degrees=10, interpolation=v2.InterpolationMode.BILINEAR),
]

# What the app reads as images, which names it ignores, and the split folders it knows:
IMAGE_EXTENSIONS = [".bmp", ".gif", ".jpeg", ".jpg", ".pbm", ".pgm", ".png", ".ppm", ".tif",
                    ".tiff", ".webp"]
# Pillow decodes only these (EPS/PDF would start Ghostscript):
IMAGE_FORMATS = ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM"]
IGNORED_NAMES = ["desktop.ini", "thumbs.db"]
SPLIT_DIRS = {"train": ["train", "training"], "val": ["val", "valid", "validation"],
              "test": ["test"]}


def load_image(path: str) -> Image.Image:
    """Open an image upright (phone photos store their rotation in EXIF) in PIL_MODE."""
    with Image.open(path, formats=IMAGE_FORMATS) as img:
        return ImageOps.exif_transpose(img).convert(PIL_MODE)


def make_transform(train: bool) -> v2.Compose:
    """Resize to the network's input, augment (training only), scale to [0, 1] and normalise."""
    steps = [v2.Resize((HEIGHT, WIDTH), antialias=True), *(AUGMENT if train else [])]
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
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


def inside(path: Path, root: str) -> bool:
    """True if ``path``, its links followed, lies in ``root`` (a real path), as the app reads."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def list_images(folder: Path, skipped: list, root: str) -> list[str]:
    """Usable images under ``folder`` (hidden files and links out of ``root`` left out); bad ones
    go to ``skipped``."""
    if not inside(folder, root):
        skipped.append((str(folder), "a link to a folder outside the data folder (not followed)"))
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):  # never follows links to folders
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in IGNORED_NAMES:
                continue
            path = Path(dirpath) / name
            if os.path.islink(path) and not inside(path, root):  # never opened
                reason: str | None = "a link to a file outside the data folder (not followed)"
            else:
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


def scan_data(root: str, val_fraction: float, seed: int):
    """(classes, train, val, skipped) from ROOT: its class folders split here, or its train/ and
    val/ folders (train/ beside only test/: validation is split out of train/)."""
    skipped: list[tuple[str, str]] = []
    real_root = os.path.realpath(root)
    names = {p.name.lower(): p for p in class_folders(Path(root))}
    train_dir, val_dir, test_dir = (next((names[a] for a in SPLIT_DIRS[which] if a in names), None)
                                    for which in ("train", "val", "test"))
    if train_dir is None or (val_dir is None and test_dir is None):
        train_dir, val_dir = Path(root), None  # no split folders: ROOT holds the classes
    per_class: dict[str, list[str]] = {}  # classes without a usable image are left out
    for folder in class_folders(train_dir):
        paths = list_images(folder, skipped, real_root)
        if paths:
            per_class[folder.name] = paths
    classes = list(per_class)
    train, val = stratified_split(per_class, val_fraction if val_dir is None else 0.0, seed)
    if val_dir is not None:
        val = [(p, label) for label, name in enumerate(classes) if (val_dir / name).is_dir()
               for p in list_images(val_dir / name, skipped, real_root)]
    return classes, train, val, skipped


def read_split(path: str, root: str | None):
    """(classes, train, val, skipped) from the app's split file; paths under --data."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    base = Path(root or data.get("root") or ".")
    classes = [str(c) for c in data["classes"]]
    skipped = [(str(base / p), str(why)) for p, why in data.get("skipped", [])]
    found: dict[str, list] = {"train": [], "val": []}
    for key, samples in found.items():
        for item, label in data.get(key, []):
            file = base / item
            if not isinstance(label, int) or not 0 <= label < len(classes):
                raise SystemExit(f"{path}: label {label!r} of {item} is not a class index.")
            if file.is_file():
                samples.append((str(file), label))
            else:
                skipped.append((str(file), "listed in the split but not found"))
    if not found["train"]:
        raise SystemExit(f"None of the training images listed in {path} is under {base}. "
                         "Point --data at the folder the app used, or pass --split none.")
    return classes, found["train"], found["val"], skipped


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
    if args.split and args.split.lower() != "none":
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
