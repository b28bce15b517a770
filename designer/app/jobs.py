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
from designer.codegen.script import SplitArgs, script_files
from designer.data.folders import scan_folder, scan_folders
from designer.data.images import load_image
from designer.data.overrides import apply_decisions
from designer.data.split import DatasetSplit
from designer.data.transforms import make_transform, preview_grid
from designer.export.formats import DEFAULT_TOLERANCE, export_all, prepare_folder
from designer.export.splitfile import SPLIT_NAME
from designer.launch.placement import Placement
from designer.launch.run import train_run_placed
from designer.model.build import Design, build
from designer.model.trained import design_with_weights, load_weights_into, structure_of, weights_file
from designer.train.evaluate import evaluate, predict
from designer.train.lr_find import find_lr
from designer.train.runs import Run, load_run

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

    @classmethod
    def of_recipe(cls, recipe) -> DesignSource:
        """A saved project's recipe, for a job that replays it (the CLI's way in); the shape fields
        keep their defaults, since only previews read them without building the design."""
        return cls(recipe=recipe)

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
              resume: str | None = None, cache_dir: str | Path | None = None,
              placement: Placement | None = None, probe: dict | None = None,
              outputs_hint: str = "Replace the classifier for {n} classes first.",
              expected_classes: list[str] | None = None, record: dict | None = None):
    """Build this run's own model, then yield the training engine's events (``runs.train_run``),
    trained where ``placement`` says (``launch.train_run_placed``; None: in this process).
    A resumed run's checkpoint holds every weight, so only the structure is built for it.
    A network whose outputs do not match the data's classes is refused with ``outputs_hint``
    (``{n}``: the data's class count), in the words of the window or the CLI; so are images whose
    classes are not ``expected_classes`` (the project's, when given).
    ``record``: more for the run's options.json (``app.audit.run_record``)."""
    if resume is not None and source.recipe is not None:
        design = structure_of(source.recipe)
    else:
        design = design_for(source, scratch=options.mode == "scratch")
    check_outputs(design, split.classes, outputs_hint)
    check_same_classes(expected_classes, split.classes)
    control.check()
    events = train_run_placed(design, split, options, run_dir, control, resume=resume, cache_dir=cache_dir,
                              probe=probe, placement=placement)
    yield from recording_audit(events, run_dir, None if resume else record)


def check_outputs(design, classes: list[str], hint: str) -> None:
    """The network has one output per class of the data, or a clear error."""
    outputs = getattr(design, "num_classes", None)
    if outputs is None or outputs == len(classes):
        return
    names = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
    raise DesignerError(f"The network's classifier has {outputs} outputs but the data has {len(classes)} "
                        f"classes ({names}).", hint=hint.format(n=len(classes)))


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


def run_of(weights: str | Path | None) -> Run | None:
    """The run that ``weights`` (a run folder or a file in one) belongs to, or None for a plain
    weights file (or none at all)."""
    if not weights:
        return None
    try:
        return load_run(weights)
    except DesignerError:
        return None


def known_classes(weights: str | Path | None, classes: list[str] | None) -> list[str]:
    """The class names of a network's outputs: the run's own when ``weights`` are a run's (they are
    what it was trained on), else ``classes`` (the project's), else none known."""
    run = run_of(weights)
    return list((run.classes if run is not None else None) or classes or [])


def evaluation_split(control: JobControl, run: Run | None, split: DatasetSplit | None,
                     data: dict | None = None, subset: str = "val") -> DatasetSplit:
    """The images to score a run on. ``data`` (a folder the user names, as for ``scan_job``): for its
    train, val or test images, the run's own split when it was made from that folder; else (and for
    all of them: the folder as it is now) the folder scanned. Without ``data``: the run's own split,
    else ``split`` (the images loaded in the window)."""
    if data is not None:
        own = _readable_split(run)
        root = Path(str(data.get("root") or "")).expanduser()
        of_folder = own is not None and root.exists() and Path(own.root).resolve() == root.resolve()
        return own if of_folder and own is not None and subset != "all" else scan_job(control, data)
    own = run.split() if run is not None else None  # a split that names outside files is refused here
    if own is not None:
        return own
    if split is None:
        raise DesignerError("This run has no data split saved.", hint="Load the data on the Data tab.")
    return split


def _readable_split(run: Run | None) -> DatasetSplit | None:
    """The run's saved split, or None when it has none or it cannot be used (names files outside its
    folder, say): the folder the user named is scanned instead."""
    try:
        return run.split() if run is not None else None
    except DesignerError:
        return None


def evaluate_job(control: JobControl, source: DesignSource, run_dir: str, split=None, subset: str = "val",
                 max_thumbs: int = 60, data: dict | None = None, classes: list[str] | None = None,
                 batch_size: int = 64, device: str = "auto"):
    """Score ``run_dir``'s best weights (a run folder, or a weights file) on ``subset`` (val, test,
    train or all; all images when the split has none of that subset) of ``evaluation_split``. The
    network's classes (``known_classes``) must be the images' classes."""
    run = run_of(run_dir)
    run_split = evaluation_split(control, run, split, data, subset)
    known = known_classes(run_dir, classes)
    if known and known != list(run_split.classes):
        raise DesignerError(f"The network was trained on classes {', '.join(known)}, but the folder has "
                            f"{', '.join(run_split.classes)}.",
                            hint="Evaluate on a folder with the same class sub-folders.")
    samples = run_split.subset(subset) or run_split.subset("all")
    control.report(Progress(0, len(samples), "Loading the run's weights"))
    design = design_for(source, weights=run_dir)
    report = throttled(control.report)
    def scored(done: int, total: int) -> None:
        report(Progress(done, total, f"Scored {done:,} of {total:,} images"))

    ev = evaluate(design, samples, run_split.classes, batch_size=batch_size, device=device, cancel=control,
                  progress=scored)
    if ev is None:
        return None
    thumbs = {}
    shown = ev.misclassified[:max_thumbs]
    for k, m in enumerate(shown):
        if control.cancelled:
            break
        report(Progress(k + 1, len(shown), "Drawing the misclassified images"))
        thumbs[m.path] = thumbnail(m.path)
    name = run.name if run is not None else Path(run_dir).name
    return EvaluationResult(name, subset if run_split.subset(subset) else "all", ev, thumbs)


def predict_job(control: JobControl, source: DesignSource, run_dir: str | None, paths: list[str], topk: int,
                classes: list[str] | None, device: str = "auto", thumbs: bool = True):
    """Top-k predictions of a run's best weights (a run folder or a weights file; None: the design's
    own) for image files, each with its thumbnail (None without ``thumbs``)."""
    names = known_classes(run_dir, classes)
    design = design_for(source, weights=run_dir)
    control.check()
    predictions = predict(design, paths, topk=topk, classes=names or None, device=device)
    return [(p, thumbnail(p.path) if thumbs else None) for p in predictions]


def check_same_classes(expected: list[str] | None, classes: list[str]) -> None:
    """The data's classes are ``expected`` (the project's; None or empty: any classes)."""
    if expected and list(expected) != list(classes):
        names = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
        raise DesignerError(f"The project's classes ({', '.join(expected)}) differ from the data "
                            f"folder's ({names}).",
                            hint="Use a folder with the same class sub-folders, or pass --new-classes to "
                                 "train on these classes instead.")


# --- export ---------------------------------------------------------------------------------------


def export_job(control: JobControl, source: DesignSource, formats: list[str], folder: str,
               weights: str | None, training: dict | None, classes: list[str] | None, split=None,
               stem: str = "model", check: bool = True, tolerance: float = DEFAULT_TOLERANCE,
               data: dict | None = None):
    """Export each format in turn (``export.formats.export_all``); yields ``Progress`` and one
    ``ExportOutcome`` per format. A run's weights go out with that run's options, metrics and
    split (``run_export_info``); ``split`` (the loaded data) serves otherwise. The folder is made
    and tried first, and the weights loaded once: a bad folder or file fails before any format.
    The project's decisions (``data``) are applied to the split the script gets
    (``app.audit.export_split``)."""
    if not folder:
        raise DesignerError("Choose a folder to export to.")
    target = prepare_folder(Path(folder).expanduser())
    design = design_for(source, weights=weights)
    training, metrics, run_split = run_export_info(weights, training)
    split = export_split(run_split or split, data or {})
    try:
        yield from export_all(design, formats, target, stem=stem, classes=classes or None,
                              training=training, metrics=metrics, split=split,
                              check=check, tolerance=tolerance, report=control.report, cancel=control)
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
               weights: str | None = None, split=None, data: dict | None = None) -> dict[str, str]:
    """The standalone training script's files (name -> text, train.py first), for the preview: the
    files ``export_job`` writes for the same arguments."""
    target = source.recipe if source.recipe is not None else design_for(source)
    training, _, run_split = run_export_info(weights, training)
    split = export_split(run_split or split, data or {})
    how: SplitArgs = {} if split is None else {
        "split_file": SPLIT_NAME, "val_fraction": float(split.val_fraction), "split_seed": int(split.seed),
        "num_train": len(split.train)}
    return script_files(target, training=training, classes=classes or None, **how)
