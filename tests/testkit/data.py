"""Generators of tiny image folders for tests (no downloads).

``make_shapes_folder``: one coloured shape per class on a noisy background, so a
tiny CNN learns it in a few epochs. ``make_digits_folder``: sklearn's 8x8 digits
upscaled, grey. Bad files that ``corrupt`` adds are all named ``bad_*``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross", "diamond", "ring")
COLOURS = ((220, 40, 40), (40, 180, 60), (50, 80, 230), (230, 200, 30), (200, 60, 200), (30, 200, 210))


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box, colour) -> None:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=colour)
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int((x1 - x0) / 5)))
    else:  # cross
        w = max(2, int((x1 - x0) / 4))
        draw.rectangle((cx - w / 2, y0, cx + w / 2, y1), fill=colour)
        draw.rectangle((x0, cy - w / 2, x1, cy + w / 2), fill=colour)


def shape_image(class_index: int, size: int, rng: np.random.Generator, shape: str | None = None) -> Image.Image:
    """One RGB image of the class's shape and colour, jittered in place, size and shade."""
    noise = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    img = Image.fromarray(noise, "RGB")
    draw = ImageDraw.Draw(img)
    extent = rng.uniform(0.45, 0.8) * size
    x0, y0 = rng.uniform(0, size - extent, size=2)
    base = np.array(COLOURS[class_index % len(COLOURS)])
    colour = tuple(int(c) for c in np.clip(base + rng.integers(-25, 26, size=3), 0, 255))
    _draw_shape(draw, shape or SHAPES[class_index % len(SHAPES)], (x0, y0, x0 + extent, y0 + extent), colour)
    return img


def _write_images(folder: Path, class_index: int, name: str, count: int, size: int, rng, start=0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shape = name if name in SHAPES else None
    for k in range(count):
        shape_image(class_index, size, rng, shape).save(folder / f"{name}_{start + k:03d}.png")


def write_bad_files(folder: Path, count: int, size: int = 32) -> list[Path]:
    """``count`` bad files cycling through: truncated PNG, text named .jpg, empty file, non-image."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, (ext, payload) in enumerate(_bad_payloads(count, size)):
        path = folder / f"bad_{k:03d}{ext}"
        path.write_bytes(payload)
        out.append(path)
    return out


def _bad_payloads(count: int, size: int) -> list[tuple[str, bytes]]:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    png = buf.getvalue()
    makers = (
        (".png", png[: len(png) // 2]),  # truncated
        (".jpg", b"this is not a jpeg"),  # wrong content
        (".png", b""),  # empty
        (".txt", b"notes about the data"),  # not an image at all
    )
    return [makers[k % len(makers)] for k in range(count)]


def truncate_file(path) -> None:
    """Cut a file to half its size (to make a file go bad after scanning)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_shapes_folder(root, classes=("circle", "square", "triangle"), per_class: int = 12, size: int = 32,
                       corrupt: int = 0, layout: str = "flat", seed: int = 0) -> Path:
    """Write a shapes image folder and return its root.

    ``layout="flat"``: ``root/<class>/``. ``layout="split"``: ``root/train/<class>/``
    (``per_class`` each) and ``root/val/<class>/`` (``max(2, per_class // 3)`` each).
    ``corrupt``: that many bad files spread over the class folders (of train/ in split layout).
    ``per_class`` may also be a dict ``{class: count}`` for an imbalanced set.
    """
    if layout not in ("flat", "split"):
        raise ValueError(f"layout must be 'flat' or 'split', not {layout!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    counts = per_class if isinstance(per_class, dict) else {c: per_class for c in classes}
    base = root / "train" if layout == "split" else root
    for i, name in enumerate(classes):
        _write_images(base / name, i, name, counts[name], size, rng)
        if layout == "split":
            n_val = max(2, counts[name] // 3)
            _write_images(root / "val" / name, i, name, n_val, size, rng, start=counts[name])
    for k, (ext, payload) in enumerate(_bad_payloads(corrupt, size)):
        (base / classes[k % len(classes)] / f"bad_{k:03d}{ext}").write_bytes(payload)
    return root


def make_digits_folder(root, per_class: int = 20, size: int = 32) -> Path:
    """sklearn's digits (8x8, 16 grey levels) upscaled to ``size``, as grey PNGs in ``root/0`` .. ``root/9``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = Path(root)
    seen = {d: 0 for d in range(10)}
    for image, target in zip(digits.images, digits.target):
        if seen[int(target)] >= per_class:
            continue
        folder = root / str(int(target))
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (image * (255.0 / 16.0)).astype(np.uint8)
        Image.fromarray(pixels, "L").resize((size, size), Image.NEAREST).save(
            folder / f"{target}_{seen[int(target)]:03d}.png")
        seen[int(target)] += 1
    return root
