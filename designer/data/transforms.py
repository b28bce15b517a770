"""Image transforms that follow the design's input, plus augmentation and a preview grid.

The network decides how data must look: its input size, its channel count and
the mean/std its weights were trained with. ``make_transform`` reads those from
a ``Design`` so the user never types a normalisation by hand (a wrong one
silently ruins pretrained weights, e.g. Lite0 wants mean = std = 0.5).

Channel rules:
- 1 channel: load grey.
- ``design.replicate_grey``: load grey, then repeat it to 3 channels *before*
  Normalize, so a grey image feeds an unchanged RGB network exactly (whether
  ``input_shape`` names the data's 1 channel or the network's 3).
- 3 channels: load RGB. 4 channels: load RGBA. Other N: RGB channels tiled to N.

Every step is a small picklable object (no lambdas), so the transform works in
DataLoader worker processes on every platform.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Annotated

import numpy as np
import torch
from PIL import Image
from pydantic import Field
from pydantic.dataclasses import dataclass
from torchvision.transforms import v2

from designer.base.errors import DesignerError
from designer.base.schema import STRICT, describe_value, friendly
from designer.data.images import load_image
from designer.model.build import Design, network_input

ZOOM = Annotated[float, Field(gt=0.0, le=10.0, allow_inf_nan=False)]


@friendly("Augmentation")
@dataclass(config=STRICT)
class Augment:
    """Random training-time augmentation. The defaults do nothing.

    ``rotation``: degrees, +/-. ``translate``: fraction of width/height, +/-.
    ``scale``: (min, max) zoom. ``color``: jitter strength 0..1 (brightness,
    contrast and saturation vary by +/- that much, hue by a tenth of it).
    """

    hflip: bool = False
    vflip: bool = False
    rotation: Annotated[float, Field(ge=0.0, le=180.0, allow_inf_nan=False)] = 0.0
    translate: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    scale: tuple[ZOOM, ZOOM] = (1.0, 1.0)
    color: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0

    def __post_init__(self):
        lo, hi = self.scale
        if lo > hi:
            raise DesignerError(f"The zoom range must go from low to high, not {self.scale}.")

    @property
    def active(self) -> bool:
        return self != Augment()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["scale"] = list(self.scale)
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> Augment:
        if not data:
            return cls()
        if not isinstance(data, dict):
            raise DesignerError(f"Augmentation should be an object of settings, not {describe_value(data)}.")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("scale"), list):  # JSON has no tuples
            kwargs["scale"] = tuple(kwargs["scale"])
        return cls(**kwargs)


class ConvertMode:
    """PIL mode conversion (``"L"``, ``"RGB"``, ``"RGBA"``)."""

    def __init__(self, mode: str):
        self.mode = mode

    def __call__(self, img: Image.Image) -> Image.Image:
        if img.mode == self.mode:
            return img
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")  # avoids PIL's palette-transparency warning
        return img.convert(self.mode)

    def __repr__(self) -> str:
        return f"ConvertMode({self.mode!r})"


class RepeatChannels:
    """Tile a CxHxW tensor's channels up to ``channels`` (grey -> RGB replicate)."""

    def __init__(self, channels: int):
        self.channels = channels

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        reps = math.ceil(self.channels / x.shape[0])
        return x.repeat(reps, 1, 1)[: self.channels]

    def __repr__(self) -> str:
        return f"RepeatChannels({self.channels})"


class DesignTransform:
    """PIL image -> normalised float tensor CxHxW shaped for the design.

    Keeps ``mean``/``std``/``channels`` so a preview can undo the normalisation.
    """

    def __init__(self, steps: list, channels: int, size: tuple[int, int], mean, std, train: bool):
        self.compose = v2.Compose(steps)
        self.channels, self.size, self.train = channels, size, train
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return self.compose(img)

    def __repr__(self) -> str:
        return f"DesignTransform({self.compose!r})"

    def denormalize(self, x: torch.Tensor) -> np.ndarray:
        """CxHxW normalised tensor -> uint8 HxWx3 for display (first 3 channels)."""
        mean = torch.tensor(self.mean, dtype=x.dtype).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(-1, 1, 1)
        img = (x.detach().cpu() * std + mean).clamp(0, 1)
        img = RepeatChannels(3)(img[:3]) if img.shape[0] < 3 else img[:3]
        return (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _load_plan(channels: int, replicate_grey: bool) -> tuple[str, int | None]:
    """PIL mode to load in, and the channel count to repeat up to (or None)."""
    if channels == 1:
        return "L", None
    if channels == 3:
        return ("L", 3) if replicate_grey else ("RGB", None)
    if channels == 4:
        return "RGBA", None
    return "RGB", channels


def augment_steps(augment: Augment | None) -> list:
    """torchvision v2 steps for ``augment`` (run on the resized PIL image: cheaper)."""
    if augment is None or not augment.active:
        return []
    steps: list = []
    if augment.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if augment.vflip:
        steps.append(v2.RandomVerticalFlip())
    if augment.rotation or augment.translate or augment.scale != (1.0, 1.0):
        translate = (augment.translate, augment.translate) if augment.translate else None
        scale = augment.scale if augment.scale != (1.0, 1.0) else None
        steps.append(v2.RandomAffine(degrees=augment.rotation, translate=translate, scale=scale,
                                    interpolation=v2.InterpolationMode.BILINEAR))
    if augment.color:
        s = augment.color
        steps.append(v2.ColorJitter(brightness=s, contrast=s, saturation=s, hue=min(0.5, s / 10)))
    return steps


def make_transform(design: Design, augment: Augment | None = None, train: bool = False) -> DesignTransform:
    """The transform for ``design`` (anything with ``input_shape`` (C,H,W), ``mean``,
    ``std`` and ``replicate_grey``). Augmentation applies only when ``train``."""
    # A grey-replicated network takes RGB whether input_shape says 1 (the data) or 3 channels.
    (channels, height, width), mean, std = network_input(design)
    replicate = bool(getattr(design, "replicate_grey", False))
    if len(mean) != channels or len(std) != channels:
        raise DesignerError(
            f"The network takes {channels} channels but its normalisation has {len(mean)} means "
            f"and {len(std)} standard deviations.",
            hint="Set the input channels again so the normalisation is adapted.",
        )
    mode, repeat_to = _load_plan(channels, replicate)
    steps: list = [ConvertMode(mode), v2.Resize((height, width), antialias=True)]
    if train:
        steps += augment_steps(augment)
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if repeat_to:
        steps.append(RepeatChannels(repeat_to))
    steps.append(v2.Normalize(mean=list(mean), std=list(std)))
    return DesignTransform(steps, channels, (height, width), mean, std, train)


def preview_grid(samples, transform: DesignTransform, n: int = 16, seed: int = 0,
                 cols: int | None = None, pad: int = 2) -> Image.Image:
    """A grid of ``n`` transformed (augmented, if ``transform.train``) samples, un-normalised.

    ``samples`` are ``(path, label)`` pairs or PIL images; unreadable ones are left
    out. Seeded, so the same settings show the same grid.
    """
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(samples))[: max(0, n)]
    tiles = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in picks:
            item = samples[int(i)]
            try:
                img = item if isinstance(item, Image.Image) else load_image(item[0])
                tiles.append(transform.denormalize(transform(img)))
            except (OSError, ValueError, DesignerError):
                continue
    return _tile(tiles, transform.size, cols, pad)


def _tile(tiles: list[np.ndarray], size: tuple[int, int], cols: int | None, pad: int) -> Image.Image:
    h, w = size
    count = max(1, len(tiles))
    cols = cols or math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = tile
    return Image.fromarray(grid)
