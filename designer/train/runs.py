"""Training runs on disk: one folder per run, listed, loaded and compared.

A run folder holds:
- ``options.json``: the training options, the recipe and the data folder;
- ``split.json``: the exact train/val/test file lists (evaluate the same images later);
- ``history.json``: per-epoch metrics (written by the trainer as it goes);
- ``best.pt`` (the best weights, a state dict of the whole model) and ``last.pt`` (resume);
- ``summary.json``: mode, status, best val acc, epochs, time, recipe -- written at the end.

``train_run`` is the one entry point for every mode: the GUI and the CLI call it
and get the training engine's events whatever the mode.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeGuard

import torch

from designer.base.errors import DesignerError
from designer.base.fileio import read_json, remove_stale_temps, write_json
from designer.base.jobs import is_cancelled
from designer.base.safeio import check_new_folder, file_kind, read_bytes
from designer.base.schema import MAX_NAME
from designer.data.split import DatasetSplit
from designer.inspect.analysis import check_memory
from designer.model.build import Design, build
from designer.train.engine import train
from designer.train.features import train_cached_head
from designer.train.options import MODES, TrainOptions
from designer.train.probe import linear_probe
from designer.train.recommended import plan as recommended_plan
from designer.train.recommended import steps_per_epoch as recommended_steps
from designer.train.recommended import train_recommended
from designer.train.search import train_search
from designer.train.setup import load_checkpoint
from designer.zoo.weights import load_into, read_state_dict

FINAL_KINDS = ("finished", "stopped", "failed")
STATUSES = (*FINAL_KINDS, "running")
EPOCH_NUMBERS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")


def _finite(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _text(value, limit: int = 2000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _whole(value: object) -> TypeGuard[int]:
    """A positive whole number (not a bool): a count read from a run folder."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10_000_000


def _count(value: object) -> int | None:
    """``value`` if it is such a count, else None."""
    return value if _whole(value) else None


def _fraction(value) -> float | None:
    value = _finite(value)
    return value if value is not None and 0.0 <= value <= 1.0 else None
CURVES = ("train_loss", "train_acc", "val_loss", "val_acc")


def new_run_dir(runs_dir, mode: str) -> Path:
    """A fresh, not yet existing ``runs_dir/<date>-<time>-<mode>`` folder name (sortable)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(runs_dir) / f"{stamp}-{mode}"
    k = 2
    while path.exists():
        path = Path(runs_dir) / f"{stamp}-{mode}-{k}"
        k += 1
    return path


TRAINERS = {"recommended": train_recommended, "full": train, "scratch": train,
            "cached-head": train_cached_head, "linear-probe": linear_probe, "search": train_search}


def _trainer(mode: str):
    if mode not in TRAINERS:
        raise DesignerError(f"Unknown training mode '{mode}'; choose one of {', '.join(MODES)}.")
    return TRAINERS[mode]


def train_run(design: Design, split, options, run_dir, cancel=None, resume=None, cache_dir=None,
              probe: dict | None = None,
              trainer=None, record: dict | None = None):
    """Train in ``options.mode`` and record the run in ``run_dir``; yields the engine's events.

    ``cache_dir``: feature cache shared between runs (cached-head, linear-probe).
    ``probe``: extra arguments for the linear probe (``classifier``, ``strengths``).
    ``trainer``: who trains instead of the mode's own trainer (the same arguments and events: the
    child-process launcher, ``designer.launch``); ``record``: more to note in options.json.
    A DesignerError before ``start`` (bad settings) is raised and leaves no run files.
    """
    trainer = trainer or _trainer(options.mode)
    check_run_memory(design, options)  # before any folder or file: a refusal leaves nothing behind
    run_dir, started = Path(run_dir), time.time()
    kwargs = {}
    if options.mode in ("recommended", "cached-head", "linear-probe", "search"):
        kwargs["cache_dir"] = cache_dir
    if options.mode == "linear-probe":
        kwargs.update(probe or {})
    elif resume is not None:
        kwargs["resume"] = resume
    with RunLock(run_dir, new=resume is None):
        for event in trainer(design, split, options, run_dir, cancel, **kwargs):
            if event.kind == "start" and resume is None:  # a resumed run keeps its own records
                _record_start(design, split, options, run_dir, started, record)
            elif event.kind == "start":
                _mark_running(run_dir)
            elif event.kind in FINAL_KINDS:  # before yielding: a consumer may stop reading at the last event
                write_summary(run_dir, design, split, options, event, started, resumed=resume is not None)
            yield event


def check_run_memory(design: Design, options) -> None:
    """Refuse a run whose network needs more memory at its batch size than the budget allows
    (``analysis.check_memory``); the head-only modes only run the network forward."""
    if hasattr(design, "input_shape"):
        check_memory(design, "Training", batch=options.batch_size,
                     training=options.mode not in ("cached-head", "linear-probe"))


def check_new_run_dir(run_dir) -> None:
    """A new run goes into a folder that does not exist yet or is empty, never over another run."""
    run_dir = check_new_folder(run_dir, "run folder")
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise DesignerError(f"The run folder '{run_dir}' already holds files, so a new run would mix with "
                            "(or "
                            "replace) what is there.",
                            hint="Pick a new folder name, or leave the folder out to get a fresh one.")


class RunLock:
    """One writer per run folder. A new run needs a folder that is empty or does not exist yet, so
    two trainings (or a retraining) never mix their files or replace each other's best.pt; a
    ``run.lock`` holding the writer's process id keeps a second writer out while the first one
    lives. Temporary files a crashed write left behind are removed on the way in."""

    NAME = "run.lock"

    def __init__(self, run_dir: Path, new: bool):
        self.run_dir, self.new, self.path = Path(run_dir), new, Path(run_dir) / self.NAME
        self.held = False

    def __enter__(self):
        if self.new:
            check_new_run_dir(self.run_dir)
        self.created = not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.run_dir)
        self._take()
        return self

    def _take(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = _lock_owner(self.path)
                if owner and _alive(owner):
                    raise DesignerError(f"Another training (process {owner}) is writing to '{self.run_dir}'.",
                                        hint="Wait for it to end, or stop it first.") from None
                self.path.unlink(missing_ok=True)  # left by a run that crashed
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self.held = True
            return

    def __exit__(self, *exc) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
        if self.created and not any(self.run_dir.iterdir()):  # refused before it wrote anything
            self.run_dir.rmdir()


MAX_PID = 2**22  # Linux's largest pid_max


def _lock_owner(path: Path) -> int | None:
    """The pid in a run.lock, or None; a lock from elsewhere may be a pipe, a link or hold anything."""
    try:
        pid = int(read_bytes(path, 64, "lock file").strip())
    except (DesignerError, ValueError):
        return None
    return pid if 0 < pid < MAX_PID else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _record_start(design: Design, split, options, run_dir: Path, started: float,
                  record: dict | None = None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe = getattr(design, "recipe", None)
    write_json(run_dir / "options.json", {
        "options": options.to_dict(), "mode": options.mode,
        "started": datetime.fromtimestamp(started).isoformat(),
        "recipe": recipe.to_dict() if recipe is not None else None, "data": split.root,
        "classes": list(split.classes), **(record or {})})
    write_json(run_dir / "split.json", split.to_dict())


def _mark_running(run_dir: Path) -> None:
    """A resumed run trains again: its summary stops saying how it ended last time."""
    summary = read_json(run_dir / "summary.json")
    if summary:
        finishes = _finishes(summary.get("finishes"))
        if not finishes and summary.get("status") == "finished":  # finished before finishes were kept
            finishes = _finishes([{**summary, "ended": ""}])
        write_json(run_dir / "summary.json", {**summary, "status": "running", "finishes": finishes})


def write_summary(run_dir, design: Design, split, options, final, started: float,
                  resumed: bool = False) -> dict:
    """summary.json from the run's last event and history.json. A resumed run adds this leg's time to
    the earlier legs', and every finish is kept in ``finishes`` (also copied into history.json): a
    finished run trained further keeps its first result and when it got there."""
    run_dir = Path(run_dir)
    history = read_json(run_dir / "history.json")
    earlier = read_json(run_dir / "summary.json") if resumed else {}
    recipe = getattr(design, "recipe", None)
    trained = [r for r in history.get("epochs", []) if isinstance(r, dict) and r.get("epoch", 0) > 0]
    effective = history.get("options") or {}  # the recommended mode's stage 2 plans its own epochs
    time_s = (_finite(earlier.get("time_s")) or 0.0) + time.time() - started
    summary = {
        "mode": options.mode, "status": final.kind, "best_val_acc": history.get("best_val_acc"),
        "best_epoch": history.get("best_epoch", 0), "epochs": len(trained),
        "epochs_planned": effective.get("epochs", options.epochs), "time_s": time_s,
        "started": earlier.get("started") or datetime.fromtimestamp(started).isoformat(),
        "classes": list(split.classes), "num_train": len(split.train), "num_val": len(split.val),
        "recipe": recipe.to_dict() if recipe is not None else None,
        "message": getattr(final, "message", ""),
        "plan": history.get("plan", ""),
        "outcome": getattr(final, "outcome", "") or history.get("outcome", ""),
        "finishes": _finishes(earlier.get("finishes")),
    }
    if final.kind == "finished":
        summary["finishes"] += _finishes([{**summary, "ended": datetime.now().isoformat(timespec="seconds")}])
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "summary.json", summary)
    if history and summary["finishes"]:
        write_json(run_dir / "history.json", {**history, "finishes": summary["finishes"]})
    return summary


def _finishes(records) -> list[dict]:
    """The ``finishes`` read back from a run folder (it comes from outside): checked numbers only."""
    out = []
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and _whole(record.get("epochs")):
            out.append({"epochs": record["epochs"], "best_val_acc": _fraction(record.get("best_val_acc")),
                        "best_epoch": record.get("best_epoch") if _whole(record.get("best_epoch")) else 0,
                        "time_s": _finite(record.get("time_s")), "ended": _text(record.get("ended"), 40)})
    return out


# --- reading runs back -------------------------------------------------------------------------


@dataclass
class Run:
    """A run folder as read back. Its files come from outside (a folder someone sent), so every
    value read here is checked: text where text belongs, finite numbers where numbers do."""

    path: Path
    options: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def mode(self) -> str:
        mode = self.summary.get("mode") or self.options.get("mode") or "full"
        return mode if mode in MODES else "unknown"

    @property
    def status(self) -> str:
        status = self.summary.get("status") or self.history.get("status") or "unknown"
        return status if status in STATUSES else "unknown"

    @property
    def best_val_acc(self) -> float | None:
        return _fraction(self.summary.get("best_val_acc", self.history.get("best_val_acc")))

    @property
    def epochs(self) -> list[dict]:
        """Per-epoch records with whole epoch numbers and finite (or None) metrics."""
        records = self.history.get("epochs", [])
        out = []
        for record in records if isinstance(records, list) else []:
            epoch = record.get("epoch") if isinstance(record, dict) else None
            if isinstance(epoch, int) and not isinstance(epoch, bool) and 0 <= epoch <= 1_000_000:
                stage = "head" if epoch == 0 else ""  # epoch 0: the recommended mode's fitted head
                out.append({**{k: _finite(record.get(k)) for k in EPOCH_NUMBERS}, "epoch": epoch,
                            "stage": stage})
        return out

    @property
    def trained_epochs(self) -> int:
        """Epochs of training done (the recommended mode's stage 1 is epoch 0, not counted)."""
        return sum(1 for e in self.epochs if e["epoch"] > 0)

    @property
    def plan(self) -> str:
        """What the mode planned, in plain words (the recommended mode's two stages)."""
        return _text(self.summary.get("plan") or self.history.get("plan"))

    @property
    def outcome(self) -> str:
        """Which weights the run kept and why, in plain words."""
        return _text(self.summary.get("outcome") or self.history.get("outcome"))

    @property
    def finishes(self) -> list[dict]:
        """Each time the run finished (epochs, best_val_acc, time_s, ended), oldest first: a finished run
        that was trained further keeps its first result here."""
        return _finishes(self.summary.get("finishes") or self.history.get("finishes"))

    @property
    def time_s(self) -> float | None:
        return _finite(self.summary.get("time_s"))

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch as the run trained them (1 if unknown). The batch comes from
        history.json, the options the engine ran with: the recommended mode's stage 2 plans its own
        batch, so options.json (what the form asked) would squeeze its epochs onto the wrong steps."""
        batch = None
        for records in (self.history, self.options):
            options = records.get("options")
            if isinstance(options, dict) and _whole(options.get("batch_size")):
                batch = _count(options["batch_size"])
                break
        # a run still training has no summary yet: its split says it
        images = _count(self.summary.get("num_train")) or _count(self._split_size())
        if batch is None or images is None:
            return 1
        count = self._processes()  # in child processes each step is counted per process, on its share
        return recommended_steps(math.ceil(images / count), max(1, batch // count))  # the engine's rule

    def _processes(self) -> int:
        """How many processes trained the run (the launcher notes its placement; 1 in this process).
        The launcher's own import is above this module, so its small record is read here directly."""
        records = self.history if isinstance(self.history.get("placement"), dict) else self.options
        placement = records.get("placement")
        if not isinstance(placement, dict) or placement.get("where") not in ("processes", "gpus"):
            return 1
        if placement["where"] == "processes":
            return _count(placement.get("processes")) or 1
        return max(1, torch.cuda.device_count())  # one per GPU, as on the machine that trained it

    @property
    def best_weights(self) -> Path:
        return self.path / "best.pt"

    @property
    def has_weights(self) -> bool:
        """True when the run trained at least one epoch and kept its best weights: only such a run
        is a result to evaluate or export (one stopped earlier has nothing to offer)."""
        return bool(self.epochs) and self.best_weights.is_file()

    @property
    def classes(self) -> list[str]:
        names = (self.summary.get("classes") or self.options.get("classes")
                 or self.history.get("classes") or [])
        return [str(n)[:MAX_NAME] for n in names] if isinstance(names, list) else []

    def _split_size(self) -> int | None:
        try:
            split = self.split()
        except DesignerError:
            return None
        return len(split.train) if split is not None else None

    def split(self):
        """The run's DatasetSplit (same files as in training), or None for older runs."""
        data = read_json(self.path / "split.json")
        return DatasetSplit.from_dict(data) if data else None


def load_run(run_dir) -> Run:
    path = Path(run_dir)
    if path.is_file() and path.suffix == ".pt":
        path = path.parent  # a best.pt / last.pt names its run
    if not path.is_dir():  # says what is there instead: a file, a pipe, a device, a link to nothing
        kind = file_kind(path)
        raise DesignerError(f"The run folder '{run_dir}' does not exist." if kind == "missing" else
                            f"'{run_dir}' is {kind}, not a run folder.", hint="Pick a folder under runs/.")
    run = Run(path, read_json(path / "options.json"), read_json(path / "history.json"),
              read_json(path / "summary.json"))
    if not (run.options or run.history or run.summary):
        raise DesignerError(f"'{run_dir}' is not a training run folder (no options, history or summary).")
    return run


def list_runs(runs_dir) -> list[Run]:
    """Every run under ``runs_dir``, oldest first; folders that are not runs are skipped."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            runs.append(load_run(path))
        except DesignerError:
            continue
    return runs


def compare_runs(run_dirs) -> dict:
    """Curves of several runs aligned on one epoch axis (None where a run has no such epoch).

    ``{"epochs": [1..N], "runs": [{"name", "mode", "status", "best_val_acc", "time_s",
    "train_loss": [...], "train_acc": [...], "val_loss": [...], "val_acc": [...], "elapsed_s": [...],
    "steps_per_epoch", "stage1": {"val_acc", "val_loss"} or None}]}``;
    ``elapsed_s`` is the cumulative training time, for plotting accuracy against seconds.
    """
    runs = [r if isinstance(r, Run) else load_run(r) for r in run_dirs]
    last = max((int(e["epoch"]) for r in runs for e in r.epochs), default=0)
    axis = list(range(1, last + 1))
    out = []
    for run in runs:
        by_epoch = {int(e["epoch"]): e for e in run.epochs}
        curves = {k: [by_epoch.get(i, {}).get(k) for i in axis] for k in CURVES}
        elapsed, total = [], 0.0
        for i in axis:
            total += by_epoch.get(i, {}).get("epoch_time_s") or 0.0
            elapsed.append(total if i in by_epoch else None)
        head = by_epoch.get(0)  # the recommended mode's stage 1: the classifier fitted before any epoch
        stage1 = {k: head.get(k) for k in ("val_acc", "val_loss")} if head else None
        out.append({"name": run.name, "path": str(run.path), "mode": run.mode, "status": run.status,
                    "best_val_acc": run.best_val_acc, "time_s": run.time_s,
                    "steps_per_epoch": run.steps_per_epoch,
                    **curves, "elapsed_s": elapsed, "stage1": stage1})
    return {"epochs": axis, "runs": out}


# --- resuming ----------------------------------------------------------------------------------

RESUMABLE_MODES = ("recommended", "full", "scratch", "cached-head")


@dataclass
class ResumePlan:
    """How a stopped run continues: in its own folder, from its last.pt, with its own options and
    its own data split (the images it trained on), up to ``options.epochs``."""

    run: Run
    options: TrainOptions
    split: DatasetSplit | None  # None only for runs saved before split.json existed
    checkpoint: Path


def _options_of(run: Run) -> dict:
    """The run's saved training options ({}: the defaults), whatever type the files hold there."""
    saved = (run.options.get("options"), run.history.get("options"))
    return next((s for s in saved if isinstance(s, dict)), {})


def plan_resume(run_dir, epochs: int | None = None) -> ResumePlan:
    """The plan to continue ``run_dir`` (a run folder or its last.pt) up to ``epochs`` in all
    (default: the epochs it was started with). A finished run needs ``epochs``, its new total: it
    did what it was asked, so "more" must be said. The one rule the CLI and the window share."""
    run = load_run(run_dir)
    last = run.path / "last.pt"
    if run.mode not in RESUMABLE_MODES or not last.is_file():
        raise DesignerError(f"The run '{run.name}' cannot be resumed.",
                            hint="Only stopped fine-tune, from-scratch and head-only runs "
                                 "with a last.pt can.")
    load_checkpoint(last)  # a damaged last.pt is refused now, before any data is read or printed
    saved = TrainOptions.from_dict(_options_of(run))
    done, target = run.trained_epochs, int(epochs or saved.epochs)
    split = run.split()
    if run.status == "finished" and epochs is None:
        raise DesignerError(f"The run '{run.name}' has finished its {run.trained_epochs} epochs.",
                            hint=f"To train it further, give its new total number of epochs (more than "
                                 f"{run.trained_epochs}); its first finish stays in its history.")
    if saved.mode == "recommended" and split is not None:  # the total the plan gave it, unless more is asked
        target = max(target, recommended_plan(saved, len(split.train)).options.epochs)
        saved = replace(saved, fixed=sorted({*saved.fixed, "epochs"}))  # the resumed run trains to that total
    if target <= done:
        raise DesignerError(f"The run '{run.name}' has already done {done} epochs.",
                            hint=f"Ask for more than {done} epochs to train it further.")
    return ResumePlan(run, replace(saved, epochs=target), split, last)


# --- weights and comparisons ---------------------------------------------------------------------


def load_run_weights(design: Design, source):
    """Load a run's weights (its folder, best.pt or last.pt) into ``design.model``.

    This is the hand-over from head-only training to fine-tuning: rebuild the design with
    layers unfrozen, load the head-only run, and train in 'full' mode from a trained head.
    Returns the ``LoadReport``; raises DesignerError when nothing fits.
    """
    path = Path(source)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise DesignerError(f"No weights at '{path}'.", hint="Pick a run folder that has a best.pt.")
    report = load_into(design.model, read_state_dict(path))
    if not report.matched:
        raise DesignerError(f"None of the weights in '{path}' fit this network.",
                            hint="Load a run trained from the same model.")
    return report


def scratch_recipe(recipe):
    """The same architecture with random weights: the from-scratch baseline."""
    return recipe.with_weights("none")


def compare_modes(recipe, split, options, runs_dir, modes=("recommended", "scratch", "linear-probe"),
                  cancel=None):
    """Train one run per mode on the SAME split (same seed and options); yields (mode, run_dir, event).

    "scratch" uses ``scratch_recipe`` (random init, every layer trained, from-scratch LR);
    the others start from the recipe's weights. Returns the run folders (see ``compare_runs``).
    """
    run_dirs = []
    for mode in modes:
        if is_cancelled(cancel):
            break
        design = build(scratch_recipe(recipe) if mode == "scratch" else recipe)
        run_dir = new_run_dir(runs_dir, mode)
        run_dirs.append(run_dir)
        mode_options = replace(options, mode=mode, lr=options.lr if mode != "scratch" else None)
        for event in train_run(design, split, mode_options, run_dir, cancel,
                               cache_dir=Path(runs_dir) / ".features"):
            yield mode, run_dir, event
    return run_dirs
