"""Image files: which ones we read, a cheap check that one is usable, and decoding it upright
with its real range.

Two things that look like images can still ruin training silently, so they are handled here:

- High bit depth: a 16-bit PNG (PIL mode ``I;16``) or 32-bit integer image (``I``) would be
  clipped at 255 by a plain conversion (almost white), and a float TIFF (``F``) with values in
  0..1 rounded to 0 or 1 (almost black). They are scaled from their real range to 8 bits.
- Size: an image above ``MAX_PIXELS`` (a 12000x12000 scan takes 600 MB each time it is read)
  is skipped and named, before it is decoded.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from designer.base.errors import DesignerError
from designer.base.safeio import open_regular

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
MAX_PIXELS = 40_000_000  # 8000 x 5000; larger images need tiling, not resizing
HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


class ImageProblem(DesignerError):
    """Why one image file cannot be used (it is skipped and listed, never a crash)."""


# Pillow picks a decoder by the file's content, not its name, and some run other programs
# (EPS and PDF start Ghostscript, with no time limit): only these formats are ever decoded. PPM is
# pure Python like the others, for the .ppm/.pgm/.pbm names above.
ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")


@contextlib.contextmanager
def _open(path: str) -> Iterator[Image.Image]:
    """Open lazily (headers only) and refuse an image too large to decode. Only a regular file is
    opened (a pipe would block forever), and only in an allowed format."""
    try:
        fh = open_regular(path, "image")
    except DesignerError as exc:
        raise ImageProblem(exc.message.replace(f"The image '{path}' ", "", 1).rstrip(".")) from None
    with fh, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(fh, formats=ALLOWED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageProblem(f"too large to decode safely ({exc})") from exc
        except Image.UnidentifiedImageError:
            raise ImageProblem("cannot be read as an image: its contents are not a picture format NetSurgeon "
                               "reads (PNG, JPEG, BMP, GIF, TIFF, WebP)") from None
        with img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageProblem(f"too large ({width}x{height} pixels; "
                                   f"the limit is {MAX_PIXELS / 1e6:.0f} million)")
            yield img


def check_image(path: str) -> str | None:
    """Why ``path`` is not a usable image, or None. Cheap: headers and chunks, no decode."""
    if Path(path).suffix.lower() not in IMAGE_EXTENSIONS:
        return "not an image file (unknown extension)"
    try:
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            return "empty file"
        with _open(path) as img:
            img.verify()
    except ImageProblem as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 -- PIL raises many types for bad files; all mean "skip it"
        return why_unreadable(exc)
    return None


def why_unreadable(exc: BaseException) -> str:
    """Why a file could not be read as an image, in words for whoever owns the images: never an
    exception's class name (UnidentifiedImageError, OSError), which tells them nothing."""
    if isinstance(exc, DesignerError):
        return exc.message
    if isinstance(exc, FileNotFoundError):
        return "the file is missing (moved or deleted since the folder was loaded?)"
    if isinstance(exc, PermissionError):
        return "this account is not allowed to read the file"
    if isinstance(exc, IsADirectoryError):
        return "a folder, not an image file"
    if isinstance(exc, UnidentifiedImageError):
        return "cannot be read as an image: its contents are not a picture format NetSurgeon reads"
    text = re.sub(r"^\[Errno \d+\]\s*", "", (str(exc).splitlines() or [""])[0]).strip()
    if "truncated" in text.lower():
        return "cannot be read as an image: the file is cut short (truncated)"
    detail = f" ({text[:200]})" if text and not _looks_like_code(text) else ""
    return f"cannot be read as an image: the file is damaged{detail}"


def _looks_like_code(text: str) -> bool:
    """A message that is a Python object's repr, not words (e.g. ``<_io.BytesIO object at 0x...>``)."""
    return "object at 0x" in text or text.startswith(("<", "("))


def load_image(path: str) -> Image.Image:
    """Open and fully decode ``path``, upright (phone photos store their rotation in EXIF), high bit
    depths scaled to 8 bits by their real range. Raises on bad data (``ImageProblem`` says why)."""
    with _open(path) as img:
        img.load()  # decode now, inside the guard, not lazily inside a transform
        upright = ImageOps.exif_transpose(img)  # also a copy detached from the file
    return to_8bit(upright) if upright.mode in HIGH_DEPTH_MODES else upright


def to_8bit(img: Image.Image) -> Image.Image:
    """A grey 8-bit copy of a 16-bit, 32-bit or float image, scaled by its real range:
    16-bit by 65535; integers by the smallest of 255 / 65535 / their maximum that holds them;
    floats as 0..1 when they fit there, else 0..255, else their own minimum..maximum."""
    values = np.asarray(img).astype(np.float64)
    if not np.isfinite(values).all():
        raise ImageProblem("holds NaN or infinite pixel values")
    low, high = float(values.min()), float(values.max())
    if img.mode.startswith("I;16"):
        scale_low, scale_high = 0.0, 65535.0
    elif img.mode == "F" and low >= 0.0 and high <= 1.0:
        scale_low, scale_high = 0.0, 1.0
    elif low >= 0.0 and high <= 255.0:
        scale_low, scale_high = 0.0, 255.0
    elif img.mode == "I" and low >= 0.0 and high <= 65535.0:
        scale_low, scale_high = 0.0, 65535.0
    else:
        scale_low, scale_high = low, max(high, low + 1e-12)
    scaled = (values - scale_low) / (scale_high - scale_low) * 255.0
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")
