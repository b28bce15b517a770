"""Per-file checks that need the pixels, not the network: a content hash (exact copies) and odd
images -- tiny, blank, very dark or bright, very blurry.

Files are opened without following links and only when they are regular files: a FIFO would block
forever and a link may point anywhere (a scan can list both)."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

import numpy as np
from PIL import Image

from designer.audit.report import OddImage
from designer.data.images import IMAGE_EXTENSIONS, load_image

TINY_SIDE = 24  # pixels: below this the network sees mostly upscaling blur
BLANK_STD = 2.0  # grey levels: one flat colour
DARK_MEAN, BRIGHT_MEAN = 12.0, 245.0
BLUR_FRACTION = 0.05  # sharpness below 5 % of the data set's median
SHARPNESS_SIDE = 64  # sharpness is measured at one size, so big and small files compare
SIGNATURE_SIDE = 16  # a tiny grey thumbnail, mean-free and unit-length: copies re-saved, resized or
# brightened a little keep a correlation near 1 where the network's features (low-resolution data
# especially) can drift further than two different images of one class


@dataclass
class PixelFacts:
    digest: str | None
    width: int = 0
    height: int = 0
    mean: float = 0.0
    std: float = 0.0
    sharpness: float = 0.0
    signature: np.ndarray | None = None
    problem: str = ""  # why the file could not be read


def _read_regular(path: str) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _sharpness(grey: Image.Image) -> float:
    """Variance of the Laplacian at a fixed size: low means no edges (blur, or a flat image)."""
    a = np.asarray(grey.resize((SHARPNESS_SIDE, SHARPNESS_SIDE), Image.Resampling.BILINEAR), np.float32)
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(lap.var())


def _signature(grey: Image.Image) -> np.ndarray:
    small = grey.resize((SIGNATURE_SIDE, SIGNATURE_SIDE), Image.Resampling.BILINEAR)
    a = np.asarray(small, np.float32).ravel()
    a = a - a.mean()
    return a / max(float(np.linalg.norm(a)), 1e-6)


def pixel_facts(path: str) -> PixelFacts:
    try:
        data = _read_regular(path)
    except OSError as exc:
        return PixelFacts(None, problem=f"not read ({exc.strerror or exc})")
    digest = hashlib.sha256(data).hexdigest()
    try:
        img = load_image(path) if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS else None
    except Exception as exc:  # noqa: BLE001 -- an unreadable image is a finding, not a crash
        return PixelFacts(digest, problem=f"cannot be decoded ({type(exc).__name__})")
    if img is None:
        return PixelFacts(digest, problem="not an image file")
    grey = img.convert("L")
    a = np.asarray(grey, np.float32)
    return PixelFacts(digest, img.width, img.height, float(a.mean()), float(a.std()), _sharpness(grey),
                      _signature(grey))


def signatures(facts: list[PixelFacts]) -> np.ndarray:
    """(N, side**2) rows; an unreadable or flat image gets zeros, which match nothing."""
    out = np.zeros((len(facts), SIGNATURE_SIDE ** 2), np.float32)
    for i, f in enumerate(facts):
        if f.signature is not None and f.std > BLANK_STD:
            out[i] = f.signature
    return out


def odd_images(paths: list[str], facts: list[PixelFacts]) -> list[OddImage]:
    """Images worth a look before training, with every reason each one has."""
    sharp = [f.sharpness for f in facts if f.digest and not f.problem and f.std > BLANK_STD]
    blur_limit = float(np.median(sharp)) * BLUR_FRACTION if sharp else 0.0
    out = []
    for path, f in zip(paths, facts, strict=True):
        problems = [f.problem] if f.problem else []
        if not f.problem:
            if min(f.width, f.height) < TINY_SIDE:
                problems.append("tiny")
            if f.std < BLANK_STD:
                problems.append("blank")
            elif f.mean < DARK_MEAN:
                problems.append("very dark")
            elif f.mean > BRIGHT_MEAN:
                problems.append("very bright")
            elif f.sharpness < blur_limit:
                problems.append("very blurry")
        if problems:
            out.append(OddImage(path, problems, f.width, f.height))
    return out
