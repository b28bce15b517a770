"""The long jobs behind the Data, Training, Results and Export views, as plain functions.

Each speaks the job protocol (``designer.base.jobs``): it takes a ``JobControl``
first, yields ``Progress`` and its domain items, and returns its result. None
touches Qt or the document: the GUI hands in plain data (a ``DesignSource``,
settings dicts, a ``DatasetSplit``) and gets plain data back, so nothing mutable is
shared between threads. A worker builds its own model by replaying the recipe
(DESIGN.md: "a design is a recipe").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from designer.app.audit import export_split, recording_audit
from designer.base.errors import DesignerError
from designer.base.fileio import read_json
from designer.base.jobs import JobCancelled, JobControl, Progress, throttled
from designer.codegen.script import SplitArgs, generate_script
from designer.data.folders import scan_folder, scan_folders
from designer.data.images import load_image
from designer.data.overrides import apply_decisions
from designer.data.split import DatasetSplit
from designer.data.transforms import make_transform, preview_grid
from designer.export.formats import export_all
from designer.export.splitfile import SPLIT_NAME
from designer.launch.placement import Placement
from designer.launch.run import train_run_placed
from designer.model.build import Design, build
from designer.model.trained import design_with_weights, load_weights_into, structure_of, weights_file
from designer.train.evaluate import evaluate, predict
from designer.train.lr_find import find_lr
from designer.train.runs import load_run

THUMB_SIZE = 96


@dataclass(frozen=True)
class DesignSource:
    """How a worker gets its own model: replay ``recipe``, or copy ``fallback`` (a design that
    has no recipe, such as a test's plain model)."""

    recipe: Any = None
    fallback: Any = None  # a private deep copy of a Design, used when there is no recipe to replay
    input_shape: tuple = (3, 224, 224)
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    replicate_grey: bool = False
    num_classes: int | None = None

    @classmethod
    def of(cls, design: Design) -> DesignSource:
        """Snapshot ``design`` (the document's current one) for worker threads (GUI thread)."""
        if design is None:
            raise DesignerError("There is no network yet.", hint="Open a model on the Start page first.")
        recipe = getattr(design, "recipe", None)
        fallback = None if recipe is not None else copy.deepcopy(design)
        return cls(recipe, fallback, tuple(design.input_shape), tuple(design.mean), tuple(design.std),
                   bool(getattr(design, "replicate_grey", False)), getattr(design, "num_classes", None))

    def shape_only(self) -> SimpleNamespace:
        """What transforms need (input shape, mean, std, grey replication), without a model."""
        return SimpleNamespace(input_shape=self.input_shape, mean=self.mean, std=self.std,
                               replicate_grey=self.replicate_grey)


def design_for(source: DesignSource, scratch: bool = False, weights: str | Path | None = None):
    """A fresh Design for this thread: pretrained (default), random (``scratch``), or with a run's
    ``weights`` loaded strictly. With weights the design keeps its real recipe, so what is exported
    from it names the real base weights."""
    if source.recipe is None:
        design = copy.deepcopy(source.fallback)
        return load_weights_into(design, weights) if weights else design
    if weights:
        return design_with_weights(source.recipe, weights)
    return build(source.recipe.with_weights("none") if scratch else source.recipe)


# --- data ----------------------------------------------------------------------------------------


def _scan_progress(control: JobControl):
    """A scan's per-file callback: reports how many files were checked, stops on cancel."""
    report = throttled(control.report)
    count = [0]

    def tick(path: str) -> None:
        control.check()
        count[0] += 1
        report(Progress(count[0], None, f"Checked {count[0]:,} files…"))
    return tick


def scan_job(control: JobControl, data: dict):
    """Scan ``data`` (root, optional val_root, val_fraction, seed) into a ``DatasetSplit``."""
    root, val_root = (data.get("root") or "").strip(), (data.get("val_root") or "").strip()
    if not root:
        raise DesignerError("Choose an image folder first.",
                            hint="It should hold one sub-folder of images per class.")
    fraction, seed = float(data.get("val_fraction", 0.2)), int(data.get("seed", 0))
    if val_root:
        split = scan_folders(root, val_root, seed, progress=_scan_progress(control))
    else:
        split = scan_folder(root, fraction, seed, progress=_scan_progress(control))
    return apply_decisions(split, data)  # the project's relabel / exclude decisions and duplicate groups


def preview_job(control: JobControl, samples: list, shape, augment, count: int, seed: int):
    """(plain, augmented) preview grids as uint8 HxWx3 arrays (augmented None without augmentation)."""
    if not samples:
        return None, None
    plain = np.asarray(preview_grid(samples, make_transform(shape), count, seed))
    if control.cancelled or augment is None or not augment.active:
        return plain, None
    augmented = np.asarray(preview_grid(samples, make_transform(shape, augment, train=True), count, seed))
    return plain, augmented


def thumbnail(path: str, size: int = THUMB_SIZE) -> np.ndarray | None:
    """A small RGB copy of an image file, or None if it cannot be read."""
    try:
        img = load_image(path).convert("RGB")
    except Exception:  # noqa: BLE001 -- an unreadable file just gets no picture
        return None
    img.thumbnail((size, size))
    return np.asarray(img)


# --- training, evaluation, prediction ----------------------------------------------------------


def train_job(control: JobControl, source: DesignSource, split, options, run_dir: str,
              resume: str | None = None, cache_dir: str | None = None, placement: Placement | None = None,
              record: dict | None = None):
    """Build this run's own model, then yield the training engine's events (``runs.train_run``),
    trained where ``placement`` says (``launch.train_run_placed``; None: in this process).
    ``record``: more for the run's options.json (``app.audit.run_record``).
    A resumed run's checkpoint holds every weight, so only the structure is built for it."""
    if resume is not None and source.recipe is not None:
        design = structure_of(source.recipe)
    else:
        design = design_for(source, scratch=options.mode == "scratch")
    control.check()
    events = train_run_placed(design, split, options, run_dir, control, resume=resume, cache_dir=cache_dir,
                              placement=placement)
    yield from recording_audit(events, run_dir, None if resume else record)


def lr_find_job(control: JobControl, source: DesignSource, split, options, steps: int = 100):
    """The LR range test on this thread's own copy of the design (``train.lr_find``)."""
    design = design_for(source)
    control.check()
    return find_lr(design, split, options, cancel=control, steps=steps, report=throttled(control.report))


@dataclass
class EvaluationResult:
    run: str
    subset: str
    evaluation: Any  # designer.train.evaluate.Evaluation
    thumbs: dict  # path -> uint8 array (misclassified images)


def evaluate_job(control: JobControl, source: DesignSource, run_dir: str, split, subset: str = "val",
                 max_thumbs: int = 60):
    """Score a run's best weights on its own split's ``subset`` (val, test, train or all)."""
    run = load_run(run_dir)
    run_split = run.split() or split
    if run_split is None:
        raise DesignerError("This run has no data split saved.", hint="Load the data on the Data tab.")
    samples = run_split.subset(subset) or run_split.subset("all")
    control.report(Progress(0, len(samples), "Loading the run's weights"))
    design = design_for(source, weights=run.best_weights)
    report = throttled(control.report)
    ev = evaluate(design, samples, run_split.classes, cancel=control,
                  progress=lambda done, total: report(Progress(done, total,
                                                               f"Scored {done:,} of {total:,} images")))
    if ev is None:
        return None
    thumbs = {}
    shown = ev.misclassified[:max_thumbs]
    for k, m in enumerate(shown):
        if control.cancelled:
            break
        report(Progress(k + 1, len(shown), "Drawing the misclassified images"))
        thumbs[m.path] = thumbnail(m.path)
    return EvaluationResult(run.name, subset if run_split.subset(subset) else "all", ev, thumbs)


def predict_job(control: JobControl, source: DesignSource, run_dir: str | None, paths: list[str], topk: int,
                classes: list[str]):
    """Top-k predictions of a run's best weights (or the design's own) for image files."""
    weights = None
    if run_dir:
        run = load_run(run_dir)
        weights, classes = run.best_weights, run.classes or classes
    design = design_for(source, weights=weights)
    predictions = predict(design, paths, topk=topk, classes=classes or None)
    return [(p, thumbnail(p.path)) for p in predictions]


# --- export ---------------------------------------------------------------------------------------


def export_job(control: JobControl, source: DesignSource, formats: list[str], folder: str,
               weights: str | None, training: dict | None, classes: list[str] | None, split=None,
               data: dict | None = None):
    """Export each format in turn (``export.formats.export_all``); yields ``Progress`` and one
    ``ExportOutcome`` per format. A run's weights go out with that run's options, metrics and
    split (``run_export_info``); ``split`` (the loaded data) serves otherwise. The project's
    decisions (``data``) are applied to the split the script gets (``app.audit.export_split``)."""
    if not folder:
        raise DesignerError("Choose a folder to export to.")
    design = design_for(source, weights=weights)
    training, metrics, run_split = run_export_info(weights, training)
    split = export_split(run_split or split, data or {})
    try:
        yield from export_all(design, formats, Path(folder).expanduser(), classes=classes or None,
                              training=training, metrics=metrics, split=split,
                              report=control.report, cancel=control)
    except JobCancelled:
        return None


def run_export_info(weights: str | Path | None, training: dict | None):
    """(training options, final metrics, DatasetSplit) for an export of ``weights``: a run's own
    options, metrics and split when they are a run's weights; else ``training``, None, None."""
    if not weights:
        return training, None, None
    path = weights_file(weights)
    data = read_json(path.with_name("history.json"))
    split_data = read_json(path.with_name("split.json"))
    split = DatasetSplit.from_dict(split_data) if split_data else None
    if not data:
        return training, None, split
    epochs = data.get("epochs")  # a run folder from elsewhere: any type may be there
    final = epochs[-1] if isinstance(epochs, list) and epochs and isinstance(epochs[-1], dict) else {}
    metrics = {"run_folder": str(path.parent.resolve()), "best_val_acc": data.get("best_val_acc"),
               "best_epoch": data.get("best_epoch"), "final_epoch": final, "status": data.get("status")}
    # options.json holds what the run was asked (its mode, say recommended); history.json what its
    # engine ran (the recommended mode's stage 2 alone, as "full"), which is not the recipe to ship
    recorded = read_json(path.with_name("options.json"))
    asked = recorded.get("options") if isinstance(recorded, dict) else None
    options = data.get("options")
    if isinstance(asked, dict) and asked:
        return asked, metrics, split
    return options if isinstance(options, dict) and options else training, metrics, split


def script_job(control: JobControl, source: DesignSource, training: dict | None, classes: list[str] | None,
               weights: str | None = None, split=None, data: dict | None = None) -> str:
    """The standalone training script's text, for the preview: the script ``export_job`` writes
    for the same arguments."""
    target = source.recipe if source.recipe is not None else design_for(source)
    training, _, run_split = run_export_info(weights, training)
    split = export_split(run_split or split, data or {})
    how: SplitArgs = {} if split is None else {
        "split_file": SPLIT_NAME, "val_fraction": float(split.val_fraction), "split_seed": int(split.seed),
        "num_train": len(split.train)}
    return generate_script(target, training=training, classes=classes or None, **how)
