"""The search mode: several fine-tunes (trials) tried within a time budget, the best one kept.

For those who want the last point (issue 21): plain fine-tuning typed by hand beat the two-stage default
on every set measured, by 0.1 to 8.5 points, with settings that differ from set to set. So the search
tries them, the way MATLAB's Experiment Manager and AutoML services do:

- Trial 0 is the recommended mode's stage 1 (``recommended.head_fit``: the classifier fitted on cached
  features), computed once: the baseline, and the weights kept if no trial beats it.
- Each trial is an ordinary fine-tune through the engine (mode "full", from the pretrained weights and a
  fresh classifier, like stage 2), its options from ``recommended.plan`` with the trial's values fixed:
  learning rate (log-uniform around the plan's rate), length (a multiple of the planned epochs),
  augmentation and how many early layers stay frozen.
- Optuna picks the values: the first trial is the plain plan (the reference), then TPE. Hyperband
  (``HyperbandPruner``: successive halving at several rates) stops a trial whose validation accuracy,
  reported at each of its validations, falls below the best third of the trials in its bracket that
  reached the same epoch: weak trials cost a few epochs, not a whole run.
- The budget: no trial starts once it is spent (or when what is left would not reach one validation);
  the running trial's plan is shortened to end by it (the engine's time cap) and cut at it.
- The run folder holds the best trial's weights (best.pt), history.json (epoch 0: stage 1, epoch k:
  trial k) and trials.json (each trial's values, curve, state and wall time). Each trial trains in a
  sub-folder of its own, removed once its result is read.

Trials run one after another in this process: they share the features of stage 1 and one copy of the
network's starting weights, and a child process per trial would pay for building the network each time.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from designer.base.errors import DesignerError
from designer.base.fileio import write_json
from designer.base.jobs import is_cancelled
from designer.data.transforms import Augment
from designer.model.build import Design
from designer.model.ops import FreezeUntil
from designer.model.policy import decay_units
from designer.train import recommended as rec
from designer.train import setup as ts
from designer.train.engine import train
from designer.train.events import BatchEvent, Best, EpochEvent, FinishedEvent, StoppedEvent
from designer.train.options import TrainOptions
from designer.train.pacing import Pacing
from designer.train.reporting import failed_event, start_event, stopped_before_training, write_history
from designer.train.search_text import REDUCTION, describe, outcome

LR_SPREAD = 5.0  # a trial's rate lies within 5x of the plan's either way: 0.002 to 0.05 around SGD's 0.01
LENGTHS = (0.5, 1.0, 2.0)  # times the planned epochs
LIGHT = Augment(rotation=10.0, translate=0.05, scale=(0.9, 1.1))  # no mirroring: letters and digits mind it
AUGMENTS = {"off": Augment(), "light": LIGHT, "light+flip": replace(LIGHT, hflip=True)}
FREEZES = ("none", "early")  # "early": the first third of the layers that hold weights
# Validation may take a fifth of a trial's time, twice the recommended mode's share: each validation is
# a report to the pruner, and at a tenth a small set's trial first validated at epoch 11 of 15, past the
# first rung (epoch 3), so weak trials ran twice as long as successive halving meant them to.
VAL_BUDGET = 0.2
STARTUP_TRIALS = 3  # TPE samples at random until this many trials have ended
TRIALS_FILE, TRIALS_DIR = "trials.json", ".trials"
FINAL_KINDS = ("finished", "stopped", "failed")


@dataclass
class _PolicyOps:
    """A recipe of policy ops only, for a design handed in without one: the engine reads just ``ops``."""

    ops: tuple = ()


@dataclass(frozen=True)
class Space:
    """What the trials choose from."""

    lr: tuple[float, float]
    augments: tuple[str, ...]
    freezes: tuple[str, ...]
    freeze_path: str  # the last layer "early" freezes ("" when the design offers none)


def early_layers(design: Design) -> str:
    """The last of the first third of the layers that hold weights (the classifier not counted), or ""."""
    head = getattr(design, "classifier_path", "") or ""
    units = [path for path, _ in decay_units(design.model, head)
             if path and not (head and (path == head or path.startswith(head + ".")))]
    return units[math.ceil(len(units) / 3) - 1] if len(units) >= 2 else ""


def search_space(design: Design, options) -> Space:
    centre = options.resolved_lr
    augments = ("yours", *AUGMENTS) if options.augment != Augment() else tuple(AUGMENTS)
    path = early_layers(design)
    return Space((centre / LR_SPREAD, min(10.0, centre * LR_SPREAD)), augments,
                 FREEZES if path else ("none",), path)


def suggest(trial, space: Space) -> dict:
    """The trial's values (Optuna's trial object; an enqueued trial gets the values it was given)."""
    return {"lr": trial.suggest_float("lr", *space.lr, log=True),
            "length": trial.suggest_categorical("length", LENGTHS),
            "augment": trial.suggest_categorical("augment", space.augments),
            "freeze": trial.suggest_categorical("freeze", space.freezes)}


def reference(options, space: Space) -> dict:
    """The first trial: the plan as it is, at the plan's rate, with the user's own augmentation."""
    return {"lr": options.resolved_lr, "length": 1.0, "augment": space.augments[0], "freeze": "none"}


def trial_plan(options, params: dict, base: rec.Plan, num_train: int, remaining_s: float) -> rec.Plan:
    """The engine's options for one trial: the recommended plan with the trial's values fixed, and a time
    cap at what is left of the budget."""
    epochs = max(1, round(params["length"] * base.options.epochs))
    augment = options.augment if params["augment"] == "yours" else AUGMENTS[params["augment"]]
    fixed = sorted({*options.fixed, "epochs"})
    chosen = replace(options, mode="recommended", lr=params["lr"], epochs=epochs, augment=augment,
                     fixed=fixed, max_minutes=max(1.0, remaining_s) / 60.0)
    return rec.plan(chosen, num_train)


def trial_design(design: Design, freeze_path: str):
    """The design with everything up to ``freeze_path`` frozen (a policy op: the network is the same)."""
    if not freeze_path:
        return design
    op = FreezeUntil(freeze_path)
    recipe = getattr(design, "recipe", None)  # None on a design built by hand (tests' FakeDesign)
    # Any: a hand-built design gets a stand-in that carries only the policy ops, not a Recipe
    with_op: Any = recipe.with_op(op) if recipe is not None else _PolicyOps((op,))
    return replace(design, recipe=with_op)


def default_pruner(base: rec.Plan):
    """Hyperband: successive halving at several rates at once (each trial is in one bracket), its first
    rung at a quarter of the planned epochs (a fine-tune's first epochs still warm up and say little),
    then every 3x. Plain successive halving pruned every trial that started slower than the first one at
    its first rung (11 of 12 on a small set); Hyperband's gentler brackets let some slow starters go on."""
    optuna = _optuna()
    return optuna.pruners.HyperbandPruner(min_resource=min_rung(base), max_resource=max_epochs(base),
                                          reduction_factor=REDUCTION)


def min_rung(base: rec.Plan) -> int:
    return max(1, base.options.epochs // 4)


def max_epochs(base: rec.Plan) -> int:
    return max(1, round(max(LENGTHS) * base.options.epochs))


def _now() -> float:
    """The search's clock (the budget's), apart from the engine's so a test can run it fast."""
    return time.perf_counter()


def _optuna():
    """Optuna, imported when a search starts: it takes about a second, and only this mode needs it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its per-trial log lines would break the CLI's bar
    return optuna


def train_search(design: Design, split, options, run_dir, cancel=None, cache_dir=None, pruner=None):
    """The search (see the module docstring); yields the engine's events. One "epoch" of the run is one
    trial (the start event's unit); epoch 0 is stage 1's fitted classifier. ``pruner``: an Optuna pruner
    instead of Hyperband (tests)."""
    ts.check_split(design, split)
    if not split.val:
        raise DesignerError("The search compares its trials on the validation images, "
                            "and this data has none.",
                            hint="Keep a validation share (e.g. 0.2), or give a validation folder.")
    yield from _Search(design, split, options, Path(run_dir), cancel, Path(cache_dir or run_dir),
                       pruner).run()


@dataclass
class _Trial:
    """One trial as it trains: what the engine reported and why it ended."""

    number: int
    params: dict
    plan: rec.Plan
    started: float = field(default_factory=lambda: _now())  # late-bound: a test may swap the clock
    curve: list = field(default_factory=list)
    last: object = None  # the latest epoch event
    steps_per_epoch: int = 1
    planned_steps: int = 1
    pruned: bool = False
    cut: bool = False  # the budget ran out
    user_stop: bool = False
    final: object = None

    @property
    def state(self) -> str:
        kind = getattr(self.final, "kind", "failed")
        if self.user_stop:
            return "stopped"
        if self.pruned or self.cut:
            return "pruned" if self.pruned else "cut"
        return "failed" if kind == "failed" else "complete"

    @property
    def best(self) -> dict | None:
        return max(self.curve, key=lambda point: point["val_acc"], default=None)


class _Search:
    def __init__(self, design: Design, split, options, run_dir: Path, cancel, cache_dir: Path, pruner):
        self.design, self.split, self.options, self.run_dir = design, split, options, run_dir
        self.cancel, self.cache_dir, self.pruner = cancel, cache_dir, pruner
        self.max_trials = options.max_trials
        self.t0 = _now()
        self.deadline = self.t0 + options.budget_s
        self.base = rec.plan(options, len(split.train))
        self.space = search_space(design, options)
        self.stage1_reason = rec.head_fit_unavailable(design)
        self.initial = {k: v.detach().clone() for k, v in design.model.state_dict().items()}
        self.records: list[dict] = []  # trials.json
        self.history: list[dict] = []  # history.json's epochs: 0 is stage 1, k is trial k
        self.best: Best = {"val_acc": None, "epoch": 0}
        # the options that trained the kept weights (history.json)
        self.winner_options: TrainOptions | None = None
        self.skipped: set = set()
        self.val_seconds_per_image = None
        self.first_validation_s: list[float] = []  # how long each trial took to its first validation
        self.ticks = max(1, self.base.total_steps)  # the plot's x units per trial: the plain plan's steps

    # --- the run -------------------------------------------------------------------------------

    def run(self):
        yield self._start_event()
        try:
            fitted = yield from self._stage1()
            if not fitted:
                yield stopped_before_training(self.design, self.run_dir, self.options, self.split.classes,
                                              self.t0)
                return
            yield from self._trials()
        except Exception as exc:  # noqa: BLE001 -- the caller gets an event, never a traceback
            self._keep_best()
            self._write("failed")
            yield failed_event(exc, self.run_dir, self.options)
            return
        yield self._final()

    def _start_event(self):
        event = start_event(self.design, self.options, self.split, self.ticks, self.max_trials, self.run_dir,
                            plan=self.describe(), unit="trial", lr=self.base.options.lr)
        event.stages = 1 if self.stage1_reason else 2
        return event

    def _stage1(self):
        """Stage 1's fitted classifier, trial 0; False when cancelled before it was fitted."""
        if self.stage1_reason:
            return True
        trainer = SimpleNamespace(pacing=Pacing(), skipped=[])  # what head_fit reads and fills of the engine
        warm = rec.head_fit(self.design, self.split, self.options, self.cache_dir, self.cancel)
        record = yield from warm(trainer)
        if record is None:
            return False
        record.pop("stage2_start", None)  # the trials start from the design's own fresh classifier
        self.skipped.update(tuple(s) for s in trainer.skipped)
        self.val_seconds_per_image = trainer.pacing.val_seconds_per_image
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ts.save_checkpoint(ts.weights(self.design.model), self.run_dir / "best.pt")
        self.best = {"val_acc": record.get("val_acc"), "epoch": 0}
        self.history.append(record)
        self.records.append({"number": 0, "params": {"stage": "classifier fitted on cached features"},
                             "state": "complete", "best_val_acc": record.get("val_acc"), "epochs": 0,
                             "curve": [{"epoch": 0, "step": 0, "val_acc": record.get("val_acc")}],
                             "time_s": record.get("epoch_time_s")})
        self._write("running")
        yield EpochEvent(**{k: record.get(k) for k in ("epoch", "train_loss", "train_acc", "val_loss",
                                                       "val_acc", "lr", "epoch_time_s")},
                         best_val_acc=self.best["val_acc"], best_epoch=0, is_best=True,
                         skipped=self._skipped(), stage="head")
        return True

    def _trials(self):
        optuna = _optuna()
        study = optuna.create_study(
            direction="maximize", pruner=self.pruner or default_pruner(self.base),
            sampler=optuna.samplers.TPESampler(seed=self.options.seed, n_startup_trials=STARTUP_TRIALS))
        study.enqueue_trial(reference(self.options, self.space))
        for number in range(1, self.max_trials + 1):
            if not self._may_start():
                break
            trial = study.ask()
            run = yield from self._trial(number, trial, suggest(trial, self.space))
            self._tell(study, trial, run)
            if run.user_stop:
                break
            if getattr(run.final, "out_of_memory", False):
                raise DesignerError(run.final.message, hint=run.final.hint)

    def _may_start(self) -> bool:
        """Start another trial? Not when stopped, nor when what is left of the budget would not reach
        one validation (the quickest trial's first one)."""
        left = self.deadline - _now()
        return not is_cancelled(self.cancel) and left > max(1.0, min(self.first_validation_s, default=0.0))

    # --- one trial -----------------------------------------------------------------------------

    def _trial(self, number: int, trial, params: dict):
        self.design.model.load_state_dict(self.initial)  # every trial starts from the same weights
        plan = trial_plan(self.options, params, self.base, len(self.split.train), self.deadline - _now())
        run = _Trial(number, params, plan)
        pacing = rec.pacing(plan.options)
        pacing.val_budget = VAL_BUDGET
        pacing.val_seconds_per_image = self.val_seconds_per_image
        folder = self.run_dir / TRIALS_DIR / f"trial-{number:02d}"
        design = trial_design(self.design, self.space.freeze_path if params["freeze"] == "early" else "")
        for event in train(design, self.split, plan.options, folder, lambda: self._stop_trial(run),
                           pacing=pacing):
            if event.kind == "start":
                run.steps_per_epoch = event.steps_per_epoch
                run.planned_steps = event.epochs * event.steps_per_epoch
            elif event.kind == "batch":
                yield self._relay(run, event)
            elif event.kind == "epoch":
                self._report(run, trial, event)
            elif event.kind in FINAL_KINDS:
                run.final = event
                self.skipped.update(tuple(s) for s in getattr(event, "skipped", []))
        yield self._end_trial(run, folder)
        return run

    def _stop_trial(self, run: _Trial) -> bool:
        """The trial's cancel flag: the user's Stop, a prune, or the end of the budget."""
        if is_cancelled(self.cancel):
            run.user_stop = True
        elif _now() > self.deadline:
            run.cut = True
        return run.user_stop or run.cut or run.pruned

    def _relay(self, run: _Trial, e) -> BatchEvent:
        """The trial's batch event as one of the search's: "epoch" is the trial, the x axis counts each
        trial as the plain plan's steps, and the time left is the budget's."""
        done = (e.epoch - 1) * e.steps_per_epoch + e.step
        tick = min(self.ticks, round(self.ticks * done / max(1, run.planned_steps)))
        return BatchEvent(epoch=run.number, step=min(done, run.planned_steps),
                          steps_per_epoch=run.planned_steps,
                          global_step=(run.number - 1) * self.ticks + tick, loss=e.loss, acc=e.acc, lr=e.lr,
                          eta_s=max(0.0, self.deadline - _now()), images_per_s=e.images_per_s)

    def _report(self, run: _Trial, trial, e) -> None:
        """A validation of the trial goes to the pruner, which may end the trial here."""
        run.last = e
        if e.val_acc is None:
            return
        elapsed = _now() - run.started
        if not run.curve:
            self.first_validation_s.append(elapsed)
        run.curve.append({"epoch": e.epoch, "step": e.epoch * run.steps_per_epoch, "val_acc": e.val_acc,
                          "val_loss": e.val_loss, "time_s": elapsed})
        trial.report(e.val_acc, e.epoch)
        run.pruned = run.pruned or trial.should_prune()

    def _end_trial(self, run: _Trial, folder: Path) -> EpochEvent:
        best, wall = run.best, _now() - run.started
        kept = self.best["val_acc"]
        improved = best is not None and (kept is None or best["val_acc"] > kept)
        if best is not None and improved and (folder / "best.pt").is_file():
            ts.save_checkpoint(torch.load(folder / "best.pt", map_location="cpu", weights_only=True),
                               self.run_dir / "best.pt")
            self.best = {"val_acc": best["val_acc"], "epoch": run.number}
            self.winner_options = run.plan.options
        shutil.rmtree(folder, ignore_errors=True)  # the search's own sub-folder: its result is read
        last = run.last
        record = {"epoch": run.number, "train_loss": getattr(last, "train_loss", None),
                  "train_acc": getattr(last, "train_acc", None),
                  "val_loss": best["val_loss"] if best else None,
                  "val_acc": best["val_acc"] if best else None, "lr": run.params["lr"], "epoch_time_s": wall}
        self.history.append(record)
        frozen = self.space.freeze_path if run.params["freeze"] == "early" else ""
        self.records.append({"number": run.number, "params": dict(run.params), "frozen_up_to": frozen,
                             "epochs": run.plan.options.epochs,
                             "batch_size": run.plan.options.batch_size, "state": run.state,
                             "best_val_acc": record["val_acc"], "curve": run.curve, "time_s": wall,
                             "message": getattr(run.final, "message", "")})
        self._write("running")
        return EpochEvent(**record, best_val_acc=self.best["val_acc"], best_epoch=self.best["epoch"],
                          is_best=improved, skipped=self._skipped())

    def _tell(self, study, trial, run: _Trial) -> None:
        optuna = _optuna()
        best = run.best
        if run.state == "complete" and best is not None:
            study.tell(trial, best["val_acc"])
        elif run.curve:  # ended early: Optuna takes its last report
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)

    # --- the end -------------------------------------------------------------------------------

    def _keep_best(self) -> None:
        """The caller's network holds the kept weights, as after any run."""
        best = self.run_dir / "best.pt"
        if best.is_file():
            self.design.model.load_state_dict(torch.load(best, map_location="cpu", weights_only=True))

    def _final(self):
        self._keep_best()
        stopped = is_cancelled(self.cancel)
        self._write("stopped" if stopped else "finished")
        done, elapsed = len(self.records) - (0 if self.stage1_reason else 1), _now() - self.t0
        if stopped:
            return StoppedEvent(epoch=done, best_val_acc=self.best["val_acc"], best_epoch=self.best["epoch"],
                                checkpoint="", time_s=elapsed, skipped=self._skipped(),
                                outcome=self.outcome())
        return FinishedEvent(epochs_done=done, best_val_acc=self.best["val_acc"],
                             best_epoch=self.best["epoch"], time_s=elapsed, run_dir=str(self.run_dir),
                             skipped=self._skipped(), outcome=self.outcome())

    def _write(self, status: str) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.run_dir / TRIALS_FILE, {"budget_s": self.options.budget_s, "best": self.best["epoch"],
                                                "status": status, "trials": self.records})
        options = self.winner_options or self.base.options  # how the kept weights were (or would be) trained
        winner = next((r for r in self.records if r["number"] == self.best["epoch"]), None)
        write_history(self.run_dir, status, options, self.split.classes, self.history, self.best,
                      self._skipped(), {"plan": self.describe(), "outcome": self.outcome(), "winner": winner})
        if status != "running":
            shutil.rmtree(self.run_dir / TRIALS_DIR, ignore_errors=True)

    def _skipped(self) -> list[list[str]]:
        return [list(s) for s in sorted(self.skipped)]

    # --- in words ------------------------------------------------------------------------------

    def describe(self) -> str:
        return describe(self.options, self.base, self.space, self.max_trials, self.stage1_reason,
                        own_pruner=self.pruner is not None)

    def outcome(self) -> str:
        return outcome(self.records, self.best, _now() - self.t0)
