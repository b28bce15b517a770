"""How good is a trained network: accuracy, per class, confusion, the images it got wrong,
and predictions for new images.

Both functions take a ``Design`` (its transform follows the network's input size,
channels and normalisation) or a plain model plus a ``transform``. A file that
cannot be read never stops the run: ``evaluate`` lists it under ``failed`` and
``predict`` returns a per-file ``error``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.base.jobs import is_cancelled
from designer.data.images import ImageProblem, load_image, why_unreadable
from designer.data.loading import make_loader
from designer.data.transforms import make_transform
from designer.inspect.analysis import check_memory
from designer.train.setup import logits, resolve_device


@dataclass
class Misclassified:
    path: str
    true: str
    predicted: str
    confidence: float  # the network's probability for the (wrong) predicted class


@dataclass
class Evaluation:
    """``confusion[i, j]``: images of class i predicted as class j."""

    classes: list[str]
    accuracy: float | None
    per_class: dict[str, float | None]  # None for a class without images
    counts: dict[str, int]
    confusion: np.ndarray
    misclassified: list[Misclassified]
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def num_images(self) -> int:
        return int(self.confusion.sum())

    def to_dict(self) -> dict:
        return {"classes": self.classes, "num_images": self.num_images, "accuracy": self.accuracy,
                "per_class": self.per_class, "counts": self.counts, "confusion": self.confusion.tolist(),
                "misclassified": [vars(m) for m in self.misclassified],
                "failed": [list(f) for f in self.failed]}

    def format(self, max_misclassified: int = 20) -> str:
        """Plain-text report for a terminal."""
        acc = "-" if self.accuracy is None else f"{self.accuracy:.4f}"
        lines = [f"accuracy {acc} on {self.num_images} images", "", "per class:"]
        width = max(len(c) for c in self.classes)
        for name in self.classes:
            a = self.per_class[name]
            shown = "-" if a is None else f"{a:.3f}"
            lines.append(f"  {name.ljust(width)}  {shown}  ({self.counts[name]} images)")
        lines += ["", "confusion matrix (rows: true class, columns: predicted):", _matrix(self)]
        if self.misclassified:
            lines += ["", f"misclassified ({len(self.misclassified)}):"]
            for m in self.misclassified[:max_misclassified]:
                lines.append(f"  {m.path}: {m.true} -> {m.predicted} ({m.confidence:.2f})")
            if len(self.misclassified) > max_misclassified:
                lines.append(f"  ... and {len(self.misclassified) - max_misclassified} more (use --json)")
        lines += [f"could not read {p}: {r}" for p, r in self.failed]
        return "\n".join(lines)


def _matrix(ev: Evaluation) -> str:
    labels = [c[:8] for c in ev.classes]
    width = max(max(len(s) for s in labels), len(str(ev.confusion.max(initial=0))))
    head = " " * (width + 2) + " ".join(s.rjust(width) for s in labels)
    rows = [f"{lab.rjust(width)}  " + " ".join(str(v).rjust(width) for v in row)
            for lab, row in zip(labels, ev.confusion, strict=True)]
    return "\n".join([head, *rows])


def _model_and_transform(design_or_model, transform):
    """(model, transform) from a Design, or from a plain model and an explicit transform."""
    if isinstance(design_or_model, nn.Module):
        if transform is None:
            raise DesignerError("A plain model needs a transform to prepare its images.",
                                hint="Pass the design instead, or transform=make_transform(design).")
        return design_or_model, transform
    return design_or_model.model, transform or make_transform(design_or_model)


@torch.no_grad()
def _run(model, images, device) -> torch.Tensor:
    return torch.softmax(logits(model(images.to(device))).float(), dim=1).cpu()


def evaluate(design_or_model, samples, classes, batch_size: int = 64, device: str = "auto",
             transform=None, cancel=None, progress=None) -> Evaluation | None:
    """Score ``samples`` ([(path, label index)], e.g. ``split.val``); None if ``cancel`` is set.
    ``progress(done, total)`` is called after each batch with the images scored so far."""
    if not samples:
        raise DesignerError("There are no images to evaluate.", hint="Pick a folder with labelled images.")
    _check_budget(design_or_model, "Evaluating", min(batch_size, len(samples)))
    model, transform = _model_and_transform(design_or_model, transform)
    dev = resolve_device(device)
    n = len(classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    wrong, failed = [], []
    was_training = model.training
    model.to(dev).eval()
    done = 0
    try:
        for batch in make_loader(samples, transform, batch_size):
            if is_cancelled(cancel):
                return None
            done += len(batch.labels) + len(batch.failed)
            if progress is not None:
                progress(done, len(samples))
            failed += batch.failed
            if not batch.labels.numel():
                continue
            probs = _run(model, batch.images, dev)
            _check_outputs(probs.shape[1], n)
            conf, pred = probs.max(1)
            for k, t, p, c in zip(batch.indices.tolist(), batch.labels.tolist(), pred.tolist(), conf.tolist(),
                                  strict=True):
                confusion[t, p] += 1
                if t != p:
                    wrong.append(Misclassified(samples[k][0], classes[t], classes[p], c))
    finally:
        model.train(was_training)
    return _evaluation(list(classes), confusion, wrong, failed)


def _check_outputs(outputs: int, classes: int) -> None:
    if outputs != classes:
        raise DesignerError(f"The network has {outputs} outputs but there are {classes} classes.",
                            hint=f"Set the classifier to {classes} classes "
                                 f"(python -m designer edit PROJECT --classes {classes}).")


def _evaluation(classes, confusion, wrong, failed) -> Evaluation:
    totals = confusion.sum(1)
    per_class = {c: (float(confusion[i, i] / totals[i]) if totals[i] else None)
                 for i, c in enumerate(classes)}
    seen = int(totals.sum())
    accuracy = float(np.trace(confusion) / seen) if seen else None
    wrong.sort(key=lambda m: -m.confidence)  # confidently wrong first: often mislabelled files
    counts = {c: int(t) for c, t in zip(classes, totals, strict=True)}
    return Evaluation(classes, accuracy, per_class, counts, confusion, wrong, failed)


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]]  # (class name, probability), most likely first
    error: str | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "top": [[c, p] for c, p in self.top], "error": self.error}


def _check_budget(design_or_model, what: str, batch: int) -> None:
    """A design (not a bare model) is checked against the memory budget before any image is
    transformed or passed through it."""
    if not isinstance(design_or_model, nn.Module):
        check_memory(design_or_model, what, batch)


def predict(design_or_model, image_paths, topk: int = 3, classes=None, device: str = "auto",
            transform=None, batch_size: int = 32) -> list[Prediction]:
    """Top-k class names and probabilities per image, in the order given; unreadable files get
    ``error`` set instead. ``classes`` default to "0", "1", ...."""
    _check_budget(design_or_model, "Predicting", max(1, min(batch_size, len(image_paths))))
    model, transform = _model_and_transform(design_or_model, transform)
    dev = resolve_device(device)
    out: list[Prediction] = [Prediction(str(p), []) for p in image_paths]
    ready: list[tuple[int, torch.Tensor]] = []
    for i, path in enumerate(image_paths):
        try:
            ready.append((i, transform(load_image(str(path)))))
        except FileNotFoundError:
            out[i].error = "file not found"
        except ImageProblem as exc:  # not a regular file, a format we do not read, too large
            out[i].error = "file not found" if not os.path.lexists(path) else exc.message
        except Exception as exc:  # noqa: BLE001 -- any unreadable file gets a per-file message
            out[i].error = why_unreadable(exc)
    was_training = model.training
    model.to(dev).eval()
    try:
        for start in range(0, len(ready), batch_size):
            chunk = ready[start:start + batch_size]
            probs = _run(model, torch.stack([x for _, x in chunk]), dev)
            names = list(classes) if classes else [str(k) for k in range(probs.shape[1])]
            _check_outputs(probs.shape[1], len(names))
            values, indices = probs.topk(min(topk, probs.shape[1]), dim=1)
            for (i, _), v, k in zip(chunk, values.tolist(), indices.tolist(), strict=True):
                out[i].top = [(names[j], p) for j, p in zip(k, v, strict=True)]
    finally:
        model.train(was_training)
    return out
