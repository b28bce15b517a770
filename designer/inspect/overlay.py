"""A heat map drawn over its image: NumPy only, so the window and the CLI draw the same picture.

Colours run from dark blue (no evidence) through green and yellow to red (the strongest),
like the "jet" maps of the Grad-CAM paper. Each pixel's colour is mixed in more where the
map is stronger, so the places that matter stand out and the rest of the image stays
readable; ``opacity`` scales the whole overlay (0: the image alone, 1: the map at full
strength).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# (position, R, G, B): anchors of the colour scale, interpolated in between.
ANCHORS = np.array([
    (0.00, 0, 0, 140), (0.25, 0, 90, 255), (0.50, 0, 220, 120), (0.75, 255, 220, 0), (1.00, 220, 20, 20),
], dtype=np.float32)
FLOOR = 0.2  # share of the overlay kept where the map is 0, so its extent stays visible


def colourise(heat: np.ndarray) -> np.ndarray:
    """HxW values in 0..1 -> HxWx3 uint8 colours."""
    values = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0.0, 1.0)
    channels = [np.interp(values, ANCHORS[:, 0], ANCHORS[:, k]) for k in (1, 2, 3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def resize_heat(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``heat`` resampled (bilinear) to ``size`` = (height, width)."""
    height, width = size
    if heat.shape == (height, width):
        return np.asarray(heat, dtype=np.float32)
    img = Image.fromarray(np.ascontiguousarray(heat, dtype=np.float32))  # mode "F"
    return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def overlay(picture: np.ndarray, heat: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """``picture`` (HxW or HxWx3 uint8) with ``heat`` (any size; resized to fit) drawn over it."""
    rgb = np.asarray(picture)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    rgb = rgb[:, :, :3].astype(np.float32)
    values = np.clip(resize_heat(heat, rgb.shape[:2]), 0.0, 1.0)
    alpha = float(np.clip(opacity, 0.0, 1.0)) * (FLOOR + (1.0 - FLOOR) * values)[:, :, None]
    mixed = rgb * (1.0 - alpha) + colourise(values).astype(np.float32) * alpha
    return mixed.round().clip(0, 255).astype(np.uint8)
