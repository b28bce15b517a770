"""Training in child processes: the exported training script, run under torchrun, speaking the
engine's events.

``train_run_placed`` is what the window and the CLI call: in this process it is
``runs.train_run``; elsewhere it is the same run (the same run folder, records and events) whose
training happens in the generated script (``designer.codegen``), started as a child process:
plain ``python`` for one process, ``python -m torch.distributed.run --standalone`` for more
(DistributedDataParallel; gloo on the CPU, nccl on GPUs). The script reads the run's own split,
starts from the weights this process hands it (``script/start.pt``: the design's weights, after
the recommended mode's stage 1 has fitted the head here, in seconds), and prints its events as
JSON lines, which are turned back into the engine's typed events here. So the live plot,
progress, stop, resume, history and Results work as for any run.

The run folder gets, besides the usual files, ``script/`` (the script that trained, the split it
read and the weights it started from) and ``train.log`` (everything the processes printed).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import torch

from designer.base.errors import DesignerError
from designer.base.jobs import is_cancelled
from designer.base.safeio import read_bytes
from designer.codegen.script import write_script
from designer.export.splitfile import write_split
from designer.launch.child import ChildProcess, diagnose, root_cause
from designer.launch.placement import CHILD_MODES, Placement, threads_per_process
from designer.model.build import Design
from designer.train import recommended as rec
from designer.train import setup as ts
from designer.train.events import (
    BatchEvent,
    Best,
    EpochEvent,
    FailedEvent,
    FinishedEvent,
    StoppedEvent,
    event_from_dict,
    event_of,
)
from designer.train.options import TrainOptions
from designer.train.pacing import Pacing
from designer.train.reporting import stage_outcome, start_event, stopped_before_training, write_history
from designer.train.runs import train_run
from designer.zoo.weights import read_state_dict


def train_run_placed(design: Design, split, options: TrainOptions, run_dir, cancel=None, resume=None,
                     cache_dir=None,
                     probe: dict | None = None, placement: Placement | None = None):
    """``runs.train_run``, trained where ``placement`` says (None or "here": this process)."""
    if placement is None or not placement.in_child or options.mode not in CHILD_MODES:
        return train_run(design, split, options, run_dir, cancel, resume=resume, cache_dir=cache_dir,
                         probe=probe)
    check_placement(design, options, placement)
    trainer = functools.partial(train_in_child, placement=placement)
    return train_run(design, split, options, run_dir, cancel, resume=resume, cache_dir=cache_dir,
                     trainer=trainer, record={"placement": placement.to_dict()})


def planned_length(options: TrainOptions, num_train: int,
                   placement: Placement | None = None) -> tuple[int, int]:
    """(optimizer steps, epochs) a new run of a ``CHILD_MODES`` mode plans, as its start event will say
    (steps per process: ``DistributedSampler`` gives each a ceil(n / count) share of a split batch)."""
    count = placement.count(options.device) if placement is not None and placement.in_child else 1
    if options.mode == "recommended":  # stage 2's own length and batch
        options = rec.plan(options, num_train).options
    epochs = options.epochs
    per_epoch = rec.steps_per_epoch(math.ceil(num_train / count), max(1, options.batch_size // count))
    return epochs * per_epoch, epochs


def check_placement(design: Design, options: TrainOptions, placement: Placement) -> None:
    """Refuse, before anything starts, what a child process cannot train."""
    if getattr(design, "recipe", None) is None:
        raise DesignerError("This network has no design recipe, so it cannot be written as a training script "
                            "for other processes.", hint="Train it in this process.")
    if options.device == "mps":
        raise DesignerError("Training on the Apple GPU runs in this process only.",
                            hint="Choose 'This process' as where to train.")
    count = placement.count(options.device)
    if options.device == "cuda" and torch.cuda.device_count() < count:
        raise DesignerError(f"{count} processes were asked for on the GPU, but this machine has "
                            f"{torch.cuda.device_count()} GPU(s).", hint="Ask for at most one process per "
                                                                         "GPU.")


def train_in_child(design: Design, split, options: TrainOptions, run_dir, cancel=None, resume=None,
                   cache_dir=None,
                   *, placement: Placement):
    """A trainer (``runs.TRAINERS``' arguments and events) whose training runs in child processes."""
    ts.check_split(design, split)
    launch = _Launch(design, split, options, Path(run_dir), cancel, placement)
    yield from launch.run(resume, cache_dir)


class _Launch:
    def __init__(self, design: Design, split, options, run_dir: Path, cancel, placement: Placement):
        self.design, self.split, self.options, self.run_dir = design, split, options, run_dir
        self.cancel, self.placement = cancel, placement
        self.count = placement.count(options.device)
        self.device = placement.backend(options.device)
        self.total_steps, epochs = planned_length(options, len(split.train), placement)  # per process
        self.steps_per_epoch = self.total_steps // epochs
        self.history: list[dict] = []
        self.best: Best = {"val_acc": None, "epoch": 0}
        self.t0 = time.perf_counter()
        self.skip_reason = ""  # why the recommended mode's stage 1 cannot fit this head ("" when it can)
        # (when, global step) of the child's first batch event
        self._first_step: tuple[float, int] | None = None
        self._stage2_options()

    def _stage2_options(self) -> None:
        """What the script trains with: the recommended mode's stage-2 plan, or the options as they are."""
        opts, self.plan_text = self.options, ""
        self.pacing = Pacing()  # the engine's: validation about a quarter of the time, no early stop
        if opts.mode == "recommended":
            plan = rec.plan(opts, len(self.split.train))
            opts = plan.options
            self.skip_reason = rec.head_fit_unavailable(self.design)
            self.plan_text = rec.describe(self.design, plan, self.skip_reason)
            self.pacing = rec.pacing(opts)
        self.batch = max(1, opts.batch_size // self.count)  # per process: the same images per step in all
        where = self.placement.describe(self.options.device)
        self.plan_text = (self.plan_text + " " if self.plan_text else "") + \
            f"Training runs {where}, {self.batch} images per process in each step."
        self.stage2 = opts

    # --- the run -------------------------------------------------------------------------

    def run(self, resume, cache_dir):
        mode = "scratch" if self.options.mode == "scratch" else "full"
        ts.apply_policy(self.design, self.design.model, mode)  # freezing, for the counts in the start event
        if resume is None and self.options.mode == "scratch":
            torch.manual_seed(self.options.seed)
            ts.reset_parameters(self.design.model)
        stage1 = resume is None and self.options.mode == "recommended" and not self.skip_reason
        if resume is not None:
            self._load_resume(resume)
        yield self._start_event(stages=2 if stage1 else 1, start_epoch=len(self._trained()) + 1)
        if stage1:
            record = yield from self._fit_head(cache_dir)
            if record is None:  # stopped while the features were computed: nothing to keep
                yield stopped_before_training(self.design, self.run_dir, self.stage2, self.split.classes,
                                              self.t0)
                return
            yield record
        script_dir = self._write_script(resume)
        yield from self._drive(self._command(script_dir, resume), script_dir)

    def _trained(self) -> list[dict]:
        return [r for r in self.history if r.get("epoch", 0) > 0]

    def _load_resume(self, resume) -> None:
        ckpt = ts.load_checkpoint(resume)
        self.history = [r for r in ckpt.get("history", []) if isinstance(r, dict)]
        self.best = ckpt["best"]  # load_checkpoint checked it: {"val_acc": float | None, "epoch": int}

    def _start_event(self, stages: int, start_epoch: int):
        event = start_event(self.design, self.stage2, self.split, self.steps_per_epoch, self.stage2.epochs,
                            self.run_dir, start_epoch=start_epoch, plan=self.plan_text,
                            lr=self.stage2.resolved_lr)
        return replace(event, stages=stages, device=f"{self.count} x {self.device}")

    def _fit_head(self, cache_dir):
        """Stage 1 of the recommended mode, here (the features are cached for other runs too)."""
        # a stand-in trainer for what head_fit reports into
        sink = SimpleNamespace(pacing=SimpleNamespace(val_seconds_per_image=0.0), skipped=[])
        warm_start = rec.head_fit(self.design, self.split, self.options, cache_dir or self.run_dir,
                                  self.cancel)
        record = yield from warm_start(sink)
        if record is None:
            return None
        stage2_start = record.pop("stage2_start", None)  # stage 2 starts from a fresh classifier
        self.history = [record]
        self.best = {"val_acc": record.get("val_acc"), "epoch": 0}
        ts.save_checkpoint(self.design.model.state_dict(), self.run_dir / "best.pt")
        if stage2_start:
            self.design.model.load_state_dict(stage2_start, strict=False)
        self._write_history("running")
        fields = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")
        return EpochEvent(**{k: record.get(k) for k in fields}, best_val_acc=self.best["val_acc"],
                          best_epoch=0, is_best=True, stage="head")

    # --- the child -----------------------------------------------------------------------

    def _write_script(self, resume) -> Path:
        """script/: the training script (train.py, model.py, data.py), the split it reads and (new runs)
        the weights it starts from."""
        folder = self.run_dir / "script"
        folder.mkdir(parents=True, exist_ok=True)
        recipe = self.design.recipe
        if self.options.mode == "scratch":  # every layer trains at one rate: the design's policy is not used
            recipe = replace(recipe, ops=recipe.structural_ops)
        training = replace(self.stage2, batch_size=self.batch, device="auto")
        write_split(self.split, folder)
        write_script(recipe, folder / "train.py", training=training, classes=list(self.split.classes),
                     split_file="split.json")
        if resume is None:
            ts.save_checkpoint(self.design.model.state_dict(), folder / "start.pt")
            if self.best["epoch"] == 0 and self.best["val_acc"] is not None:  # stage 1 ran here
                shutil.copyfile(self.run_dir / "best.pt", folder / "stage1.pt")  # for stage 2's guards
        return folder

    def _command(self, script_dir: Path, resume) -> list[str]:
        args = [str(script_dir / "train.py"), "--split", str(script_dir / "split.json"), "--out",
                str(self.run_dir), "--epochs", str(self.stage2.epochs), "--device", self.device, "--events",
                "--stop-file", str(self.run_dir / "stop")]
        if resume is not None:
            args += ["--resume", str(resume)]
        else:
            args += ["--weights", str(script_dir / "start.pt")]
        if self.best["val_acc"] is not None and resume is None:
            args += ["--baseline-acc", repr(float(self.best["val_acc"]))]
            if (script_dir / "stage1.pt").exists():
                args += ["--stage1-weights", str(script_dir / "stage1.pt")]
        args += ["--val-budget", repr(float(self.pacing.val_budget))]  # the script paces as the engine does
        if self.pacing.patience:
            args += ["--patience", str(self.pacing.patience),
                     "--patience-fraction", repr(float(self.pacing.patience_fraction))]
        if self.count == 1:
            return [sys.executable, *args]
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={self.count}", *args]

    def _env(self) -> dict:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        paths = [*builder_paths(self.design.recipe), *filter(None, [env.get("PYTHONPATH")])]
        if paths:
            env["PYTHONPATH"] = os.pathsep.join(paths)
        if self.count > 1 and "OMP_NUM_THREADS" not in os.environ:  # torchrun would give each one thread
            env["OMP_NUM_THREADS"] = str(threads_per_process(self.count))
        return env

    def _drive(self, cmd: list[str], script_dir: Path):
        log = self.run_dir / "train.log"
        child = ChildProcess(cmd, script_dir, self._env(), log, self.run_dir / "stop")
        final, failed = None, None
        try:
            for data in child.events(lambda: is_cancelled(self.cancel)):
                kind = data.get("kind")
                if kind == "batch":
                    yield self._with_eta(event_of(data, BatchEvent))
                elif kind == "checkpoint":
                    yield event_from_dict(data)
                elif kind == "epoch":
                    yield self._epoch(data)
                elif kind in ("finished", "stopped"):
                    final = data
                elif kind == "failed":
                    failed = data
            code = child.wait()
        finally:
            child.close()
        yield self._ending(final, failed, code, log)

    def _with_eta(self, event: BatchEvent) -> BatchEvent:
        """The batch event with the time left: the pace since the child's first step (validation and
        checkpoints included) times the steps to go."""
        now = time.perf_counter()
        if self._first_step is None:
            self._first_step = (now, event.global_step)
        t0, step0 = self._first_step
        done = event.global_step - step0
        left = max(0, self.total_steps - event.global_step)
        return replace(event, eta_s=(now - t0) / done * left if done > 0 else 0.0)

    def _epoch(self, data: dict) -> EpochEvent:
        event = event_of(data, EpochEvent)
        names = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")
        record = {k: getattr(event, k) for k in names}
        self.history = [r for r in self.history if r.get("epoch") != event.epoch] + [record]
        self.best = {"val_acc": event.best_val_acc, "epoch": event.best_epoch}
        self._write_history("running")
        return event

    def _ending(self, final: dict | None, failed: dict | None, code: int, log: Path):
        self._restore_best()
        if final is not None and code == 0:
            outcome = stage_outcome(self.history, self.best, final.get("outcome", ""))
            self._write_history(final["kind"], outcome)
            event, elapsed = event_from_dict(final), time.perf_counter() - self.t0
            if isinstance(event, FinishedEvent):
                return replace(event, outcome=outcome, time_s=elapsed, run_dir=str(self.run_dir))
            if isinstance(event, StoppedEvent):  # _drive keeps only finished and stopped lines here
                resume_from = str(self.run_dir / "last.pt")
                return replace(event, outcome=outcome, time_s=elapsed, checkpoint=resume_from)
        if is_cancelled(self.cancel):  # ended from outside after a stop that did not come in time
            self._write_history("stopped")
            last = self.run_dir / "last.pt"
            return StoppedEvent(epoch=len(self._trained()), best_val_acc=self.best["val_acc"],
                                best_epoch=self.best["epoch"], checkpoint=str(last) if last.is_file() else "",
                                time_s=time.perf_counter() - self.t0)
        self._write_history("failed")
        return self._failed(failed, code, log)

    def _failed(self, failed: dict | None, code: int, log: Path) -> FailedEvent:
        try:  # only a regular file, and only its end: the run folder may come from elsewhere
            text = read_bytes(log, 64 << 20, "log").decode("utf-8", "replace")[-200_000:]
        except DesignerError:
            text = ""
        message = diagnose(code, text, self.count)
        first = root_cause(text) or (0, code)
        if failed and failed.get("message") and first[0] == 0 and first[1] > 0:
            message = str(failed["message"])[:500]  # process 0 failed first: the script's own words
        kept = " The best weights so far are kept." if (self.run_dir / "best.pt").is_file() else ""
        return FailedEvent(message=message + kept, hint=f"What the processes printed is in {log}.")

    def _restore_best(self) -> None:
        best = self.run_dir / "best.pt"
        if self.options.restore_best and best.is_file():
            # On failure the run's files still hold the weights; the model in memory stays as it was.
            with contextlib.suppress(DesignerError, RuntimeError):
                self.design.model.load_state_dict(read_state_dict(best))

    def _write_history(self, status: str, outcome: str = "") -> None:
        extra = {"plan": self.plan_text, "placement": self.placement.to_dict()}
        if outcome:
            extra["outcome"] = outcome
        write_history(self.run_dir, status, self.stage2, self.split.classes, self.history, self.best, [],
                      extra)


def builder_paths(recipe) -> list[str]:
    """The folder a builder design's module was imported from: the script imports it as the app did."""
    if recipe.base.source != "builder":
        return []
    top = sys.modules.get(recipe.base.name.split(":")[0].split(".")[0])
    file = getattr(top, "__file__", None)
    if not file:
        return []
    folder = Path(file).parent
    return [str(folder.parent if Path(file).name == "__init__.py" else folder)]
