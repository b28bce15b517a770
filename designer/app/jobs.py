"""The long jobs behind the Data, Training, Results and Export views, as plain functions.

Each runs in a worker thread (``widgets.base.worker.JobRunner``) and takes a ``cancel``
flag first. None touches Qt or the document: the GUI hands in plain data (a
``DesignSource``, settings dicts, a ``DatasetSplit``) and gets plain data back, so
nothing mutable is shared between threads. The training thread builds its own
model by replaying the recipe (DESIGN.md: "a design is a recipe").
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from designer.base.errors import DesignerError

PROGRESS_INTERVAL_S = 0.1
THUMB_SIZE = 96


@dataclass(frozen=True)
class DesignSource:
    """How a worker gets its own model: replay ``recipe``, or copy ``fallback`` (no recipe/build)."""

    recipe: Any = None
    fallback: Any = None  # a private deep copy of a Design, used when the recipe cannot be replayed
    input_shape: tuple = (3, 224, 224)
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    replicate_grey: bool = False
    num_classes: int | None = None

    @classmethod
    def of(cls, design) -> DesignSource:
        """Snapshot ``design`` (the document's current one) for worker threads (GUI thread)."""
        if design is None:
            raise DesignerError("There is no network yet.", hint="Open a model on the Start page first.")
        recipe = getattr(design, "recipe", None)
        fallback = None if recipe is not None and _build_fn() is not None else copy.deepcopy(design)
        return cls(recipe, fallback, tuple(design.input_shape), tuple(design.mean), tuple(design.std),
                   bool(getattr(design, "replicate_grey", False)), getattr(design, "num_classes", None))

    def shape_only(self) -> SimpleNamespace:
        """What transforms need (input shape, mean, std, grey replication), without a model."""
        return SimpleNamespace(input_shape=self.input_shape, mean=self.mean, std=self.std,
                               replicate_grey=self.replicate_grey)


def _build_fn():
    try:
        from designer.model.build import build
    except ImportError:
        return None
    return build


def design_for(source: DesignSource, scratch: bool = False, weights: str | Path | None = None):
    """A fresh Design for this thread: pretrained (default), random (``scratch``) or a run's weights."""
    build = _build_fn()
    if source.recipe is not None and build is not None:
        from designer.train.runs import scratch_recipe

        design = build(scratch_recipe(source.recipe) if scratch or weights else source.recipe)
    elif source.fallback is not None:
        design = copy.deepcopy(source.fallback)
    else:
        raise DesignerError("This network cannot be rebuilt here.", hint="Open the model again.")
    if weights:
        _load_weights(design, Path(weights))
    return design


def _load_weights(design, path: Path) -> None:
    from designer.model.weights import load_into, read_state_dict

    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise DesignerError(f"The run has no saved weights ({path.name} is missing).",
                            hint="Train the network first, or pick another run.")
    report = load_into(design.model, read_state_dict(path))
    if not getattr(report, "ok", not (report.missing or report.mismatched)):
        raise DesignerError(f"The weights in '{path}' do not fit the current network.",
                            hint="Pick a run trained with this design (same layers and classes).")


# --- data ----------------------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


def _progress(cancel):
    """A ``scan_folder`` progress callback: reports ("scan", files checked), stops on cancel."""
    state = {"n": 0, "t": 0.0}

    def tick(path: str) -> None:
        state["n"] += 1
        if cancel.is_set():
            raise _Cancelled
        now = time.perf_counter()
        if now - state["t"] >= PROGRESS_INTERVAL_S:
            state["t"] = now
            getattr(cancel, "report", lambda v: None)(("scan", state["n"]))
    return tick


def scan_job(cancel, data: dict):
    """Scan ``data`` (root, optional val_root, val_fraction, seed); None if cancelled."""
    from designer.data.folders import scan_folder

    root, val_root = (data.get("root") or "").strip(), (data.get("val_root") or "").strip()
    if not root:
        raise DesignerError("Choose an image folder first.",
                            hint="It should hold one sub-folder of images per class.")
    fraction, seed = float(data.get("val_fraction", 0.2)), int(data.get("seed", 0))
    try:
        if not val_root:
            return scan_folder(root, fraction, seed, progress=_progress(cancel))
        return _scan_pair(root, val_root, seed, _progress(cancel))
    except _Cancelled:
        return None


def _scan_pair(train_root: str, val_root: str, seed: int, progress):
    """Separate train and validation folders (each with one sub-folder per class)."""
    from designer.data.folders import scan_folder

    train = scan_folder(train_root, 0.0, seed, progress=progress)
    val = scan_folder(val_root, 0.0, seed, progress=progress)
    index = {name: i for i, name in enumerate(train.classes)}
    train.val = [(p, index[val.classes[k]]) for p, k in val.train + val.val if val.classes[k] in index]
    train.warnings = [w for w in train.warnings if not w.startswith("There are no validation")]
    extra = sorted(set(val.classes) - set(index))
    if extra:
        train.warnings.append(f"Validation classes {extra} are not in the training folder and were left out.")
    missing = sorted(set(index) - set(val.classes))
    train.warnings += [f"Class '{name}' has no validation images." for name in missing]
    train.skipped += val.skipped
    train.layout = "train+val folders"
    return train


def preview_job(cancel, samples: list, shape, augment, count: int, seed: int):
    """(plain, augmented) preview grids as uint8 HxWx3 arrays (augmented None without augmentation)."""
    from designer.data.transforms import make_transform, preview_grid

    if not samples:
        return None, None
    plain = np.asarray(preview_grid(samples, make_transform(shape), count, seed))
    if cancel.is_set() or augment is None or not augment.active:
        return plain, None
    augmented = np.asarray(preview_grid(samples, make_transform(shape, augment, train=True), count, seed))
    return plain, augmented


def thumbnail(path: str, size: int = THUMB_SIZE) -> np.ndarray | None:
    """A small RGB copy of an image file, or None if it cannot be read."""
    from designer.data.folders import load_image

    try:
        img = load_image(path).convert("RGB")
    except Exception:  # noqa: BLE001 -- an unreadable file just gets no picture
        return None
    img.thumbnail((size, size))
    return np.asarray(img)


# --- training, evaluation, prediction ----------------------------------------------------------


def train_job(cancel, source: DesignSource, split, options, run_dir: str, resume: str | None = None,
              cache_dir: str | None = None):
    """Build this run's own model, then yield the training engine's events (``runs.train_run``)."""
    from designer.train.runs import train_run

    design = design_for(source, scratch=options.mode == "scratch" and resume is None)
    if cancel.is_set():
        return
    yield from train_run(design, split, options, run_dir, cancel, resume=resume, cache_dir=cache_dir)


@dataclass
class EvaluationResult:
    run: str
    subset: str
    evaluation: Any  # designer.train.evaluate.Evaluation
    thumbs: dict  # path -> uint8 array (misclassified images)


def evaluate_job(cancel, source: DesignSource, run_dir: str, split, subset: str = "val",
                 max_thumbs: int = 60):
    """Score a run's best weights on its own split's ``subset`` (val, test, train or all)."""
    from designer.train.evaluate import evaluate
    from designer.train.runs import load_run

    run = load_run(run_dir)
    run_split = run.split() or split
    if run_split is None:
        raise DesignerError("This run has no data split saved.", hint="Load the data on the Data tab.")
    samples = run_split.subset(subset) or run_split.subset("all")
    design = design_for(source, weights=run.best_weights)
    ev = evaluate(design, samples, run_split.classes, cancel=cancel)
    if ev is None:
        return None
    thumbs = {}
    for m in ev.misclassified[:max_thumbs]:
        if cancel.is_set():
            break
        thumbs[m.path] = thumbnail(m.path)
    return EvaluationResult(run.name, subset if run_split.subset(subset) else "all", ev, thumbs)


def predict_job(cancel, source: DesignSource, run_dir: str | None, paths: list[str], topk: int,
                classes: list[str]):
    """Top-k predictions of a run's best weights (or the design's own) for image files."""
    from designer.train.evaluate import predict

    weights = None
    if run_dir:
        from designer.train.runs import load_run

        run = load_run(run_dir)
        weights, classes = run.best_weights, run.classes or classes
    design = design_for(source, weights=weights)
    predictions = predict(design, paths, topk=topk, classes=classes or None)
    return [(p, thumbnail(p.path)) for p in predictions]


# --- export ---------------------------------------------------------------------------------------


def export_job(cancel, source: DesignSource, formats: list[str], folder: str, weights: str | None,
               training: dict | None, classes: list[str] | None):
    """Export each format in turn; yields ("done", fmt, ExportResult, "") or ("failed", fmt, None, why)."""
    from designer.export.formats import default_path, export

    folder_path = Path(folder).expanduser()
    if not folder:
        raise DesignerError("Choose a folder to export to.")
    folder_path.mkdir(parents=True, exist_ok=True)
    design = design_for(source, weights=weights)
    report = getattr(cancel, "report", lambda v: None)
    for k, fmt in enumerate(formats):
        if cancel.is_set():
            return
        report(("progress", fmt, k / max(1, len(formats))))
        try:
            result = export(design, fmt, default_path(folder_path, fmt), classes=classes or None,
                            training=training, cancel=cancel.is_set)
        except DesignerError as exc:
            yield ("failed", fmt, None, str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 -- one format failing must not stop the others
            yield ("failed", fmt, None, f"{type(exc).__name__}: {exc}")
            continue
        yield ("done", fmt, result, "")


def script_job(cancel, source: DesignSource, training: dict | None, classes: list[str] | None) -> str:
    """The standalone training script's text, for the preview."""
    from designer.codegen.script import generate_script

    target = source.recipe if source.recipe is not None else design_for(source)
    return generate_script(target, training=training, classes=classes or None)
