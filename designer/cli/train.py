"""CLI commands to train and use a network: ``train``, ``evaluate``, ``predict``.

``train`` shows a one-line progress bar on a terminal (epoch, step, loss, acc,
ETA), one line per epoch otherwise, and the engine's events as JSON lines with
``--json`` (what the GUI reads from a ``QProcess``). Ctrl+C stops after the
current batch and keeps the best weights; a second Ctrl+C aborts. Exit codes:
0 finished, 130 stopped, 1 failed, 2 bad input.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from designer.app.audit import run_record
from designer.app.jobs import DesignSource, evaluate_job, predict_job, scan_job, train_job
from designer.app.project import load_project
from designer.app.training import (
    RESUME_MAY_CHANGE,
    data_settings,
    feature_cache,
    merged_options,
    new_run_folder,
    placement_for,
    remember_run,
    resume_run,
)
from designer.app.vocabulary import (
    DEVICES,
    MAX_BUDGET_S,
    MIN_BUDGET_S,
    MODES,
    OPTIMIZERS,
    SCHEDULES,
    Augment,
    TrainOptions,
)
from designer.base.errors import DesignerError
from designer.base.jobs import JobControl
from designer.base.schema import MAX_SEED
from designer.cli.flags import duration, number

AUGMENT_DEFAULTS = {"rotate": 15.0, "translate": 0.1, "scale": 0.15, "color": 0.2}
OPTION_FLAGS = ("epochs", "batch_size", "lr", "mode", "optimizer", "schedule", "device", "seed", "workers",
                "weight_decay", "amp", "class_weights", "max_minutes", "budget_s", "max_trials")
SEARCH_FLAGS = {"budget_s": "--budget", "max_trials": "--trials"}  # only the search mode reads them


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a project's network on an image folder")
    p.add_argument("project", help="project .json")
    p.add_argument("--data", help="image folder: one sub-folder per class, or train/ + val/ "
                   "(not needed with --resume: a run continues on its own images)")
    p.add_argument("--val-data", metavar="DIR",
                   help="a separate validation folder (one sub-folder per class)")
    p.add_argument("-o", "--output", metavar="RUN_DIR", help="run folder (default: runs/<time>-<mode> beside "
                   "the project)")
    p.add_argument("--mode", choices=MODES, help="recommended (default): fit the head on cached features, "
                   "then fine-tune from it; full: fine-tune as the design says; cached-head: only the head, "
                   "on cached features; linear-probe: logistic regression/SVM head; scratch: random init; "
                   "search: several fine-tunes within --budget, the best kept")
    p.add_argument("--epochs", type=number(1, 100_000, whole=True), help="used as given in every mode (the "
                   "recommended mode otherwise plans the length from the data)")
    p.add_argument("--max-minutes", type=number(0, 1e6), metavar="MIN", help="the recommended mode's time "
                   "cap: its plan is shortened to end by about this many minutes (default 20; 0: no cap)")
    p.add_argument("--batch-size", type=number(1, 4096, whole=True))
    p.add_argument("--lr", type=number(0, 10, above=True), help="base learning rate (default depends on "
                   "optimizer and mode)")
    p.add_argument("--budget", dest="budget_s", metavar="TIME", type=duration(MIN_BUDGET_S, MAX_BUDGET_S),
                   help="--mode search: the time it may take, e.g. 90s, 10m or 1h (default 10m)")
    p.add_argument("--trials", dest="max_trials", metavar="N", type=number(1, 1000, whole=True),
                   help="--mode search: at most this many trials (default 30; the budget usually ends it "
                        "first)")
    p.add_argument("--val-split", type=number(0, 0.9), default=0.2, metavar="F",
                   help="validation fraction (flat folders)")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--weight-decay", type=number(0, 1))
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--amp", action="store_true", default=None, help="mixed precision (CUDA)")
    p.add_argument("--class-weights", action="store_true", default=None,
                   help="weight classes against imbalance")
    p.add_argument("--seed", type=number(0, MAX_SEED, whole=True))
    p.add_argument("--workers", type=number(0, 64, whole=True), help="data loading processes")
    p.add_argument("--augment", metavar="LIST", help="e.g. flip,rotate=15,translate,scale,color (none: off)")
    p.add_argument("--probe", choices=("logistic", "svm"), default="logistic", help="linear-probe classifier")
    p.add_argument("--new-classes", action="store_true",
                   help="replace the project's class list with the data's")
    p.add_argument("--resume", metavar="RUN", help="continue a stopped run (its folder or last.pt) in its "
                   "own folder, with its own options and images, up to --epochs in all; a finished run "
                   "needs --epochs, its new total (its first finish stays in its history)")
    p.add_argument("--where", metavar="PLACE", help="where to train: here (this process, the default), gpus "
                   "(one process per GPU of this machine, under torchrun) or a number of processes (e.g. 2: "
                   "on the GPUs when there are that many, else the CPU); default: the project's choice, "
                   "else here")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.set_defaults(handler=cmd_train)

    p = subparsers.add_parser("evaluate", help="accuracy, per-class accuracy, confusion matrix, mistakes")
    p.add_argument("project", help="project .json")
    p.add_argument("--weights", required=True, help="a run's best.pt (or the run folder)")
    p.add_argument("--data", required=True, help="labelled image folder")
    p.add_argument("--subset", choices=("all", "train", "val", "test"), default="all",
                   help="which images of the folder (val/test: the run's own split when it has one)")
    p.add_argument("--val-split", type=number(0, 0.9), default=0.2, metavar="F")
    p.add_argument("--seed", type=number(0, MAX_SEED, whole=True), default=0)
    p.add_argument("--batch-size", type=number(1, 4096, whole=True), default=64)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evaluate)

    p = subparsers.add_parser("predict", help="top-k classes for new images")
    p.add_argument("project", help="project .json")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--weights", help="a run's best.pt (default: the project's base weights)")
    p.add_argument("--topk", type=number(1, 1000, whole=True), default=3)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_predict)


# --- options --------------------------------------------------------------------------------


def parse_augment(text: str | None):
    """``flip,rotate=20,translate,scale=0.2,color`` -> Augment; ``none`` or empty -> no augmentation."""
    kwargs: dict = {}
    for item in filter(None, (s.strip() for s in (text or "").split(","))):
        name, _, value = item.partition("=")
        name = name.lower()
        try:
            number = float(value) if value else AUGMENT_DEFAULTS.get(name, 0.0)
        except ValueError:
            raise DesignerError(f"Augmentation '{item}' needs a number after '='.") from None
        if name in ("flip", "hflip"):
            kwargs["hflip"] = True
        elif name == "vflip":
            kwargs["vflip"] = True
        elif name in ("rotate", "rotation"):
            kwargs["rotation"] = number
        elif name == "translate":
            kwargs["translate"] = number
        elif name == "scale":
            kwargs["scale"] = (1.0 - number, 1.0 + number)
        elif name in ("color", "colour"):
            kwargs["color"] = number
        elif name != "none":
            raise DesignerError(f"Unknown augmentation '{name}'.",
                                hint="Use flip, vflip, rotate[=deg], translate[=f], scale[=f], color[=s] or "
                                     "none.")
    return Augment(**kwargs)


def train_options(args, project_training: dict | None) -> TrainOptions:
    """The project's saved training settings, overridden by the flags given."""
    given = {k: getattr(args, k) for k in OPTION_FLAGS if getattr(args, k, None) is not None}
    if getattr(args, "augment", None) is not None:
        given["augment"] = parse_augment(args.augment).to_dict()
    options = merged_options(project_training, given)
    misplaced = [flag for name, flag in SEARCH_FLAGS.items() if name in given and options.mode != "search"]
    if misplaced:
        verb = "sets" if len(misplaced) == 1 else "set"
        raise DesignerError(f"{' and '.join(misplaced)} {verb} the search, but this run's mode is "
                            f"'{options.mode}'.", hint="Add --mode search, or leave it out.")
    return options


def data_flags(args, project_data: dict | None, seed: int) -> dict:
    """--data, --val-data and --val-split as the settings ``scan_job`` reads."""
    if not args.data:
        raise DesignerError("Say where the training images are: --data FOLDER.",
                            hint="One sub-folder of images per class.")
    return data_settings(project_data, args.data, getattr(args, "val_data", None), args.val_split, seed)


# --- train ----------------------------------------------------------------------------------


def cmd_train(args) -> int:
    placement = placement_for(args.where, None) if args.where else None
    project = load_project(args.project)
    placement = placement or placement_for(None, project.training)  # the window's choice, in the project
    if args.resume:
        options, split, run_dir, resume = _resume(args)
    else:
        options = train_options(args, project.training)
        run_dir = new_run_folder(args.project, options.mode, args.output)  # before the slow scan
        split = scan_job(JobControl(), data_flags(args, project.data, options.seed))
        resume = None
    printer = JsonPrinter() if args.json else ProgressPrinter(options.epochs)
    cancel = JobControl()
    final = None
    with _sigint_sets(cancel, quiet=args.json):
        source = DesignSource.of_recipe(project.recipe)
        events = train_job(cancel, source, split, options, str(run_dir), resume,
                           feature_cache(run_dir, shared=not (args.output or args.resume)), placement,
                           probe={"classifier": args.probe},
                           outputs_hint=f"Run: python -m designer edit {args.project} --classes {{n}}",
                           expected_classes=None if args.new_classes else project.classes,
                           record=None if resume else run_record(project.data))
        for event in events:
            if final is None and not args.json:  # once the network is built and checked
                print(split.summary(), file=sys.stderr)
            printer(event)
            final = event
    remember_run(args.project, project, split.classes, run_dir)
    return {"finished": 0, "stopped": 130}.get(getattr(final, "kind", ""), 1)


def _resume(args):
    """(options, split, run folder, checkpoint) to continue ``--resume``: the run's own options and
    images (``app.training.resume_run``, as the window does); only epochs, device and workers may change."""
    fixed = [f for f in (*OPTION_FLAGS, "augment", "data", "val_data", "output")
             if f not in RESUME_MAY_CHANGE and getattr(args, f, None) is not None]
    if fixed:
        flags = ", ".join(SEARCH_FLAGS.get(f) or "--" + f.replace("_", "-") for f in fixed)
        raise DesignerError(f"--resume continues a run with its own settings and images, so {flags} "
                            "cannot be given with it.", hint="Leave them out, or start a new run.")
    changes = {k: getattr(args, k) for k in ("device", "workers") if getattr(args, k) is not None}
    plan = resume_run(args.resume, args.epochs, changes)
    if plan.was_finished:  # trained further, not silently: its first finish is kept
        print(f"The run '{plan.run.name}' had finished its {plan.run.trained_epochs} epochs; it now trains "
              f"on to {plan.options.epochs} epochs in all (--epochs). Its first finish stays in its history.",
              file=sys.stderr)
    return plan.options, plan.split, plan.run_dir, plan.checkpoint


class _sigint_sets:
    """While active, the first Ctrl+C sets ``cancel`` (stop after this batch); the second aborts."""

    def __init__(self, cancel: JobControl, quiet: bool = False):
        self.cancel, self.quiet = cancel, quiet
        self.old: Any = None  # the handler before ours (a callable, SIG_DFL/SIG_IGN or None)

    def _handler(self, signum, frame):
        if self.cancel.cancelled:
            raise KeyboardInterrupt
        self.cancel.cancel()
        if not self.quiet:
            print("\nStopping after this batch; the best weights are kept (Ctrl+C again to abort).",
                  file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
        return False


class JsonPrinter:
    def __call__(self, event) -> None:
        print(json.dumps(event.to_dict()), flush=True)


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _acc(value) -> str:
    return "-" if value is None else f"{value:.3f}"


class ProgressPrinter:
    """A \\r progress line on a terminal; plain lines per epoch elsewhere (logs, pipes)."""

    def __init__(self, epochs: int, stream=None):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.epochs = epochs
        self.unit = "epoch"  # "trial" in the search mode: one "epoch" of its events is one trial
        self.width = shutil.get_terminal_size((100, 20)).columns - 1

    def _line(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r" + text[: self.width].ljust(self.width) + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, event) -> None:
        getattr(self, f"_{event.kind}", lambda e: None)(event)

    def _start(self, e) -> None:
        self.epochs, self.unit = e.epochs, "trial" if e.unit == "trial" else "epoch"
        self._line(f"training on {e.device}: {e.num_train} train / {e.num_val} val images, {e.epochs} "
                   f"{self.unit}s, lr {e.lr:g}, {e.trainable_params:,} trainable / {e.frozen_params:,} "
                   "frozen parameters", True)
        if e.plan:
            self.stream.write(textwrap.fill(e.plan, min(self.width, 100)) + "\n")

    def _batch(self, e) -> None:
        if e.epoch == 0:
            text = f"computing features {e.step}/{e.steps_per_epoch}  ETA {_clock(e.eta_s)}"
        else:
            text = (f"{self.unit} {e.epoch}/{self.epochs}  step {e.step}/{e.steps_per_epoch}  loss "
                    f"{e.loss:.4f}  acc {e.acc:.3f}  {e.images_per_s:.0f} img/s  ETA {_clock(e.eta_s)}")
        self._line(text, False)

    def _epoch(self, e) -> None:
        if e.stage == "head":
            val = (f"val loss {e.val_loss:.4f} acc {_acc(e.val_acc)}" if e.val_loss is not None
                   else "no validation data")
            self._line(f"stage 1: classifier fitted on cached features  train loss {e.train_loss:.4f} acc "
                       f"{e.train_acc:.3f}  {val}  {e.epoch_time_s:.1f}s", True)
            return
        val = (f"val loss {e.val_loss:.4f} acc {_acc(e.val_acc)}" if e.val_loss is not None
               else "not validated")
        train = (f"train loss {e.train_loss:.4f} acc {e.train_acc:.3f}" if e.train_loss is not None
                 else "not trained")
        self._line(f"{self.unit} {e.epoch}/{self.epochs}  {train}  {val}  "
                   f"best {_acc(e.best_val_acc)} ({self.unit} {e.best_epoch})  {e.epoch_time_s:.1f}s"
                   + ("  *" if e.is_best else ""), True)

    def _finished(self, e) -> None:
        self._line(f"finished in {_clock(e.time_s)}: best val acc {_acc(e.best_val_acc)} at {self.unit} "
                   f"{e.best_epoch}; weights in {Path(e.run_dir) / 'best.pt'}", True)
        if e.outcome:
            self.stream.write(textwrap.fill(e.outcome, min(self.width, 100)) + "\n")
        self._skipped(e.skipped)

    def _stopped(self, e) -> None:
        resume = f"; resume with --resume {e.checkpoint}" if e.checkpoint else ""
        self._line(f"stopped after {e.epoch} {self.unit}s: best val acc {_acc(e.best_val_acc)} at "
                   f"{self.unit} {e.best_epoch} kept{resume}", True)

    def _failed(self, e) -> None:
        self._line(f"failed: {e.message} {e.hint}".rstrip(), True)

    def _skipped(self, skipped) -> None:
        for path, reason in skipped:
            self.stream.write(f"skipped {path}: {reason}\n")


# --- evaluate and predict ----------------------------------------------------------------------


def cmd_evaluate(args) -> int:
    project = load_project(args.project)
    data = data_settings(project.data, args.data, None, args.val_split if args.subset != "all" else 0.0,
                         args.seed)
    result = evaluate_job(JobControl(), DesignSource.of_recipe(project.recipe), args.weights, None,
                          args.subset, 0, data, project.classes, args.batch_size, args.device)
    print(json.dumps(result.evaluation.to_dict(), indent=1) if args.json else result.evaluation.format())
    return 0


def cmd_predict(args) -> int:
    project = load_project(args.project)
    found = predict_job(JobControl(), DesignSource.of_recipe(project.recipe), args.weights, args.images,
                        args.topk, project.classes, args.device, thumbs=False)
    results = [prediction for prediction, _ in found]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    for r in results if not args.json else []:
        top = "  ".join(f"{name} {p:.3f}" for name, p in r.top)
        print(f"{r.path}: {top}" if r.error is None else f"{r.path}: error: {r.error}")
    return 1 if any(r.error for r in results) else 0
