"""Loading images for training without ever crashing mid-epoch.

A file can fail after the scan (truncated JPEG data that ``verify`` does not
decode, a file changed since), so ``ImageDataset`` guards each load: a failure
becomes a ``Failed`` marker that ``collate_skip_failed`` drops from the batch and
hands back in ``Batch.failed`` -- which also works from worker processes, where a
list on the dataset would never reach the trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from designer.base.errors import DesignerError
from designer.data.images import load_image, why_unreadable
from designer.data.split import Sample


class Failed(NamedTuple):
    """What ``ImageDataset`` returns for a sample that could not be loaded."""

    path: str
    reason: str


class Batch(NamedTuple):
    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor  # positions in the dataset's sample list (to map predictions back to files)
    failed: list[tuple[str, str]]  # (path, reason) for samples dropped from this batch


class ImageDataset(Dataset):
    """``(path, label)`` samples -> ``(tensor, label, index)``, or ``Failed`` if unreadable."""

    def __init__(self, samples: list[Sample], transform: Callable | None = None,
                 loader: Callable[[str], Image.Image] = load_image):
        self.samples = list(samples)
        self.transform = transform
        self.loader = loader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        try:
            img = self.loader(path)
            x = self.transform(img) if self.transform is not None else img
        except Exception as exc:  # noqa: BLE001 -- a bad file must not end the epoch; it is reported
            return Failed(str(path), why_unreadable(exc))
        return x, label, index


def collate_skip_failed(items: list) -> Batch:
    """Stack the good samples into a ``Batch``; failed ones are dropped and listed."""
    failed = [(f.path, f.reason) for f in items if isinstance(f, Failed)]
    good = [it for it in items if not isinstance(it, Failed)]
    if not good:
        empty = torch.empty(0, dtype=torch.long)
        return Batch(torch.empty(0), empty, empty, failed)
    images = torch.stack([g[0] for g in good])
    labels = torch.tensor([g[1] for g in good], dtype=torch.long)
    indices = torch.tensor([g[2] for g in good], dtype=torch.long)
    return Batch(images, labels, indices, failed)


def make_loader(samples: list[Sample], transform: Callable, batch_size: int = 32, shuffle: bool = False,
                workers: int = 0, drop_last: bool = False, seed: int = 0,
                pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``samples`` yielding ``Batch`` tuples; shuffling is seeded.

    Re-seed per epoch with ``loader.generator.manual_seed(seed + epoch)`` for an order
    that is reproducible after a resume.
    """
    if batch_size < 1:
        raise DesignerError(f"Batch size must be at least 1, not {batch_size}.")
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        ImageDataset(samples, transform), batch_size=batch_size, shuffle=shuffle,
        num_workers=max(0, int(workers)), drop_last=drop_last, collate_fn=collate_skip_failed,
        generator=generator, pin_memory=pin_memory, persistent_workers=workers > 0,
    )
