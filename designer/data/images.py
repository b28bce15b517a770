"""Image files: which ones we read, a cheap check that one is usable, and decoding it upright."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageOps

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)


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


def load_image(path: str) -> Image.Image:
    """Open and fully decode ``path`` (raises OSError/ValueError on bad data)."""
    with Image.open(path) as img:
        img.load()  # decode now, inside the guard, not lazily inside a transform
        # Phone photos store their rotation in EXIF; this also returns a copy detached from the file.
        return ImageOps.exif_transpose(img)
