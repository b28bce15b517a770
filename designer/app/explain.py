"""Heat maps for images ("why did it say that?"): the job the Results tab runs, and what the
CLI's ``explain`` writes.

``explain`` is a job (``designer.base.jobs``): it yields ``Progress`` and one
``Explanation`` per image as soon as that image is done (the window shows each map as it
arrives), checks the cancel flag between images and, through the forward passes, within
one, and returns an ``ExplainSummary``. An image that cannot be read gets an
``Explanation`` with ``error`` set; it never stops the others.

Each image is mapped for its predicted class and, when known, its true class (and any
``extra`` classes the caller names), at the layer the project chose or the default one
(``inspect.cam_layers``). Maps are at the network's input size; ``overlay_picture`` draws
one over the image at any size.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from designer.app.jobs import DesignSource, design_for, known_classes
from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write
from designer.base.jobs import JobControl, Progress
from designer.base.safeio import file_kind
from designer.data.images import check_image, load_image, why_unreadable
from designer.data.transforms import make_transform
from designer.inspect.analysis import check_memory
from designer.inspect.cam import METHODS, class_maps
from designer.inspect.cam_layers import CamTarget, default_target, layer_outputs, target_for
from designer.inspect.overlay import overlay
from designer.model.build import Design, network_input
from designer.train.setup import logits, resolve_device

MAX_IMAGES = 10_000  # images one call may explain
MAX_PICTURE_SIDE = 1024  # overlays written by the CLI are at most this wide or tall


@dataclass(frozen=True)
class ExplainRequest:
    """One image to explain; ``true`` is its true class name when it is known."""

    path: str
    true: str | None = None


@dataclass
class Explanation:
    """An image's prediction and its maps: class name -> HxW float32 in 0..1 (all 0: the layer
    shows no evidence for that class)."""

    path: str
    true: str | None = None
    predicted: str | None = None
    probability: float = 0.0
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "true": self.true, "predicted": self.predicted,
                "probability": self.probability, "classes": list(self.maps), "error": self.error}


@dataclass(frozen=True)
class ExplainSummary:
    target: CamTarget
    method: str
    images: int
    failed: int


def resolve_target(design: Design, layer: str | None = None) -> CamTarget:
    """The project's layer ``layer`` (checked) or, without one, the default: the last spatial
    layer before the head."""
    shape = network_input(design).shape
    outputs = layer_outputs(design.model, shape)
    if layer:
        return target_for(design.model, shape, layer, outputs)
    return default_target(design.model, shape, getattr(design, "classifier_path", ""), outputs)


def class_names(design: Design, classes) -> list[str]:
    """The names of the network's outputs: ``classes`` when they fit, else "0", "1", ...."""
    outputs = int(getattr(design, "num_classes", 0) or 0)
    names = [str(c) for c in (classes or [])]
    if names and outputs and len(names) != outputs:
        raise DesignerError(f"The network has {outputs} outputs but there are {len(names)} classes.",
                            hint=f"Set the classifier to {len(names)} classes first.")
    return names or [str(k) for k in range(outputs)]


def explain(control: JobControl, design: Design, requests: list[ExplainRequest], classes=None,
            layer: str | None = None, method: str = "gradcam", extra: tuple[str, ...] = (),
            device: str = "cpu"):
    """Map each request's predicted and true class (and ``extra`` ones); see the module docstring."""
    if method not in METHODS:
        raise DesignerError(f"'{method}' is not a heat-map method.",
                            hint=f"Use one of: {', '.join(METHODS)}.")
    names = class_names(design, classes)
    unknown = [c for c in extra if c not in names]
    if unknown:
        raise DesignerError(f"'{unknown[0]}' is not one of the network's classes ({', '.join(names[:10])}).")
    check_memory(design, "Making heat maps", training=True)  # Grad-CAM keeps activations and gradients
    target = resolve_target(design, layer)
    design.model.to(resolve_device(device))
    transform = make_transform(design)
    failed = 0
    for k, request in enumerate(requests):
        control.check()
        yield Progress(k, len(requests), f"Heat map of {Path(request.path).name} ({k + 1} of "
                                         f"{len(requests)})")
        item = _explain_one(control, design.model, transform, request, names, target, method, extra)
        failed += item.error is not None
        yield item
    yield Progress(len(requests), len(requests), "Heat maps done")
    return ExplainSummary(target, method, len(requests), failed)


def _explain_one(control, model, transform, request, names, target, method, extra) -> Explanation:
    out = Explanation(request.path, true=request.true if request.true in names else None)
    try:
        x = transform(load_image(request.path))
    except FileNotFoundError:
        out.error = "file not found"
        return out
    except Exception as exc:  # noqa: BLE001 -- any unreadable file gets a per-file message
        out.error = why_unreadable(exc)
        return out
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    with torch.no_grad():
        probs = torch.softmax(logits(model.eval()(x.unsqueeze(0).to(device))).float(), dim=1)[0]
    best = int(probs.argmax())
    out.predicted, out.probability = names[best], float(probs[best])
    wanted = list(dict.fromkeys([n for n in (out.true, out.predicted, *extra) if n is not None]))
    maps = class_maps(model, x, [names.index(n) for n in wanted], target, method, cancel=control)
    out.maps = dict(zip(wanted, maps, strict=True))
    return out


def explain_job(control: JobControl, source: DesignSource, run_dir: str | None,
                requests: list[ExplainRequest], classes: list[str] | None, layer: str | None = None,
                method: str = "gradcam", extra: tuple[str, ...] = (), device: str = "cpu"):
    """``explain`` with a run's best weights (a run folder or a weights file; None: the design's own),
    on this thread's own model, for the classes ``known_classes`` names."""
    names = known_classes(run_dir, classes)
    design = design_for(source, weights=run_dir)
    control.check()
    return (yield from explain(control, design, requests, names, layer, method, extra, device))


def check_images(paths: list[str]) -> None:
    """Every image exists and is a usable image file (headers only), or one clear error."""
    if len(paths) > MAX_IMAGES:
        raise DesignerError(f"{len(paths):,} images were given; at most {MAX_IMAGES:,} at a time.")
    for path in paths:
        kind = file_kind(path)  # say what is really there: a folder, a pipe and a device are not "missing"
        if kind == "missing":
            raise DesignerError(f"The image '{path}' does not exist.", hint="Check the path.")
        if kind != "a file":
            raise DesignerError(f"The image '{path}' is {kind}, not an image file.", hint="Give image files.")
        problem = check_image(path)
        if problem:
            raise DesignerError(f"The image '{path}' cannot be used: {problem}.")


def requests_for(paths: list[str], classes: list[str]) -> list[ExplainRequest]:
    """A request per image, with its true class when it sits in a folder named after a class (as in
    a labelled image folder)."""
    return [ExplainRequest(p, Path(p).parent.name if Path(p).parent.name in classes else None) for p in paths]


# --- pictures ------------------------------------------------------------------------------------


def overlay_picture(path: str, heat: np.ndarray, opacity: float,
                    max_side: int = MAX_PICTURE_SIDE) -> np.ndarray:
    """The image at ``path`` (RGB, at most ``max_side`` px) with ``heat`` drawn over it."""
    img = load_image(path).convert("RGB")
    img.thumbnail((max_side, max_side))
    return overlay(np.asarray(img), heat, opacity)


def _safe(text: str) -> str:
    """A file-name part: letters, digits, _ . - only (class names and stems come from outside)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")[:80] or "x"


def overlay_name(explanation: Explanation, class_name: str, method: str, taken: set[str]) -> str:
    """``<image stem>.<method>.<class>.png``, unique among ``taken`` (which it joins)."""
    stem = f"{_safe(Path(explanation.path).stem)}.{method}.{_safe(class_name)}"
    name, k = f"{stem}.png", 1
    while name in taken:
        k += 1
        name = f"{stem}.{k}.png"
    taken.add(name)
    return name


def _save_png(picture: np.ndarray, path: Path) -> None:
    Image.fromarray(picture).save(path, format="PNG")


def write_overlays(explanation: Explanation, folder: Path, method: str, opacity: float,
                   taken: set[str]) -> list[Path]:
    """One PNG per mapped class of ``explanation`` in ``folder`` (written atomically)."""
    written = []
    for class_name, heat in explanation.maps.items():
        picture = overlay_picture(explanation.path, heat, opacity)
        path = folder / overlay_name(explanation, class_name, method, taken)
        atomic_write(path, functools.partial(_save_png, picture))
        written.append(path)
    return written
