"""The recommended mode, the default: fit the new head in seconds (the baseline), then fine-tune.

Stage 1 computes, once, what the pretrained network makes of every image (the input of the
final Linear, in eval mode; ``features.cached_features``, shared with the other modes' cache)
and fits a multinomial logistic regression on it (``logistic``: features divided by one RMS
scale, L-BFGS, the L2 strength of three that scores best on validation). The fit becomes the
classifier's weights: epoch 0 of the run, drawn on the plot and saved as best.pt.

Stage 2 fine-tunes the network from a fresh classifier with the engine (frozen layers and LR factors
from the design are honoured, never above ``setup.lr_ceiling``), and the run keeps stage 1's weights
unless stage 2 beats them on validation (``guards`` stop a stage 2 that diverges or cannot win).

Why these choices (EfficientNet-Lite0, ImageNet weights, input 1x64x64; letters in unseen fonts, digits
at 10 a class and LFW faces; every figure measured, see bench/bench_transfer.py and
docs/transfer-learning.md):
- Stage 2 starts from a fresh classifier, not stage 1's: the fitted head is confident (training loss
  0.002) on features computed in eval mode, and the first steps in train mode (batch statistics) gave a
  loss of 5.2 that wrecked the features; letters 0.910 against 0.9375 from a fresh head (30 epochs each),
  digits 0.925 against 0.928, LFW 0.988 both. Stage 1 stays as the baseline: the star on the plot, the
  weights kept when fine-tuning loses, and the losing guard's yardstick.
- The length comes from the data: about ``AUTO_IMAGES`` images seen (100 images: 20 epochs), at least
  the epochs setting, at most ``MAX_AUTO_EPOCHS``, ended early when validation stops improving and cut
  to the time cap (``TrainOptions.max_minutes``). The earlier 100-step floor stopped at 0.885 on letters
  where 20 epochs reach 0.948-0.955 (plain fine-tuning for 30 epochs typed by hand: 0.935).
- On tiny data the steps take small batches (``batch_size``: a twelfth of the training images, at
  least 8), since a step costs about its batch.
- One learning rate of 0.01 (SGD) for every layer, the from-scratch rate: 0.001 gave 0.57 and a
  backbone at a tenth of the head's rate 0.70, against 0.90 (digits, 100 steps).
- Linear warm-up over a tenth of the steps, then cosine to zero: without warm-up 0.85 (100 steps).
- BatchNorm: layers that train use their batch statistics; frozen layers keep ImageNet's.
- Validation takes about a tenth of the wall time (``pacing``); always after the last epoch. Early
  stop once stage 2's own best is 3 validations and a quarter of the steps old.
- No LR range test: its suggestions were 6x to 10,000x below the rate that worked, and it costs
  a hundred steps (+35-80 % time). It is offered on its own (``lr_find``, the Training tab).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.base.jobs import is_cancelled
from designer.data.split import class_weights
from designer.model.build import Design
from designer.train import guards
from designer.train import setup as ts
from designer.train.engine import train
from designer.train.features import cached_features
from designer.train.logistic import better, fit_grid
from designer.train.options import DEFAULT_EPOCHS, TrainOptions
from designer.train.pacing import Pacing
from designer.train.probe import probe_layer
from designer.train.reporting import progress_events

AUTO_IMAGES, MAX_AUTO_EPOCHS = 2000, 25  # stage 2 sees ~2,000 images, in 5 (the setting) to 25 epochs
MIN_BATCH, STEPS_PER_TINY_EPOCH = 8, 12
WARMUP_FRACTION, MIN_WARMUP_STEPS = 0.1, 5
VAL_BUDGET = 0.1
PATIENCE, PATIENCE_FRACTION = 3, 0.25


def pacing(options: TrainOptions) -> Pacing:
    """Stage 2's pacing, a fresh one per run (the engine counts its validations in it)."""
    cap = options.max_minutes * 60.0 if options.max_minutes else None
    return Pacing(val_budget=VAL_BUDGET, patience=PATIENCE, patience_fraction=PATIENCE_FRACTION,
                  time_cap_s=cap)


@dataclass(frozen=True)
class Plan:
    """Stage 2 as the engine runs it, and the numbers behind it."""

    options: TrainOptions  # mode "full", epochs and warm-up from the step count, cosine schedule
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    """Optimizer steps in one epoch (the loader drops a last batch of one image: BatchNorm)."""
    drop_last = num_train > batch_size and num_train % batch_size == 1
    return max(1, num_train // batch_size if drop_last else math.ceil(num_train / batch_size))


def batch_size(options: TrainOptions, num_train: int) -> int:
    """Stage 2's batch: the setting when the user fixed it, else on tiny data about a twelfth of the
    training images (at least ``MIN_BATCH``, for BatchNorm's batch statistics, and never more than the
    setting), so small data gets enough steps."""
    if options.is_fixed("batch_size"):
        return options.batch_size
    return max(1, min(options.batch_size, max(MIN_BATCH, num_train // STEPS_PER_TINY_EPOCH)))


def auto_epochs(options: TrainOptions, num_train: int) -> int:
    """The epochs the user fixed, else enough to see about ``AUTO_IMAGES`` images, from ``DEFAULT_EPOCHS``
    to ``MAX_AUTO_EPOCHS`` (100 images get 20 epochs, 1,438 get 5)."""
    if options.is_fixed("epochs"):
        return options.epochs
    return max(DEFAULT_EPOCHS, min(MAX_AUTO_EPOCHS, math.ceil(AUTO_IMAGES / max(1, num_train))))


def plan(options: TrainOptions, num_train: int) -> Plan:
    """Stage 2's options: ``auto_epochs`` whole epochs of ``batch_size`` images, a warm-up over a tenth of
    the steps, then cosine; each of those the user fixed (``TrainOptions.fixed``) is used as given."""
    options = replace(options, batch_size=batch_size(options, num_train))
    per_epoch = steps_per_epoch(num_train, options.batch_size)
    epochs = auto_epochs(options, num_train)
    total = epochs * per_epoch
    if options.is_fixed("warmup_epochs"):
        warmup = min(total, round(options.warmup_epochs * per_epoch))
    else:
        warmup = min(total, max(MIN_WARMUP_STEPS, round(WARMUP_FRACTION * total)))
    schedule = options.schedule if options.is_fixed("schedule") else "cosine"
    stage2 = replace(options, mode="full", epochs=epochs, schedule=schedule, warmup_epochs=warmup / per_epoch,
                     lr=options.resolved_lr)
    return Plan(stage2, per_epoch, total, warmup)


def head_fit_unavailable(design: Design) -> str:
    """Why stage 1 cannot fit this design's head ("" when it can)."""
    try:
        layer = probe_layer(design)
    except DesignerError as exc:
        return exc.message
    linear = design.model.get_submodule(layer)
    if linear.bias is None:
        return "the classifier has no bias term."
    recipe = getattr(design, "recipe", None)
    policy = ts.policy_of(recipe, design.model) if recipe is not None else None
    if policy is not None and any(policy.is_frozen(f"{layer}.{n}") for n, _ in linear.named_parameters()):
        return "the classifier is frozen in the design."
    return ""


def describe(design: Design, run_plan: Plan, skipped_reason: str = "") -> str:
    """What the mode will do, in plain words (the start event, history.json and summary.json)."""
    opts = run_plan.options
    params = list(design.model.parameters())
    frozen = sum(p.numel() for p in params if not p.requires_grad)
    what = "every layer" if not frozen else "the layers that are not frozen"
    stage1 = ("Stage 1: fit the new classifier on what the pretrained network sees in each image (logistic "
              "regression on features computed once). " if not skipped_reason else
              f"Stage 1 (fitting the classifier on cached features) is skipped: {skipped_reason} ")
    cap = f" It stops by about {opts.max_minutes:g} min (the time cap)." if opts.max_minutes else ""
    return (f"{stage1}Stage 2: fine-tune {what} from a fresh classifier for up to {run_plan.total_steps} "
            f"optimizer steps ({opts.epochs} epochs of {run_plan.steps_per_epoch} batches of "
            f"{opts.batch_size} images) with {opts.optimizer.upper()} at learning rate {opts.lr:g} (times "
            f"each layer's LR factor, never above {ts.lr_ceiling(opts):g}), warming up over "
            f"{run_plan.warmup_steps} steps, then "
            f"{SCHEDULE_WORDS.get(opts.schedule, opts.schedule)}.{_fixed_words(opts)} BatchNorm layers that "
            "train use the statistics of each batch; frozen ones keep the pretrained ones. Validation takes "
            "about a tenth of the time; training stops early when it stops improving, restarts once at a "
            "tenth of the rate if it diverges, gives up when it is still well below stage 1 past "
            f"{guards.LOSING_AFTER:.0%} of its steps, and the stage-1 classifier is kept if fine-tuning does "
            f"not beat it.{cap}")


SCHEDULE_WORDS = {"cosine": "lowering it along a cosine to zero", "step": "lowering it in steps",
                  "constant": "keeping it constant"}
FIELD_WORDS = {"epochs": "the epochs", "batch_size": "the batch size", "warmup_epochs": "the warm-up",
               "schedule": "the schedule"}


def _fixed_words(options: TrainOptions) -> str:
    fixed = [FIELD_WORDS[f] for f in FIELD_WORDS if options.is_fixed(f)]
    return f" You set {', '.join(fixed)}; the rest is planned from the data." if fixed else ""


def train_recommended(design: Design, split, options: TrainOptions, run_dir, cancel=None, resume=None,
                      cache_dir=None):
    """Stage 1 then stage 2 (see the module docstring); yields the engine's events."""
    ts.check_split(design, split)
    run_plan = plan(options, len(split.train))
    ts.apply_policy(design, design.model, "full")  # the design's freezing, for the plan's words
    reason = head_fit_unavailable(design)
    warm_start = None if reason else head_fit(design, split, options, cache_dir or run_dir, cancel)
    yield from train(design, split, run_plan.options, run_dir, cancel, resume, pacing=pacing(options),
                     warm_start=warm_start, plan=describe(design, run_plan, reason))


def head_fit(design: Design, split, options, cache_dir, cancel):
    """The engine's warm start: a generator function of the trainer (see ``engine.train_loaders``; the
    trainer is only told the files that failed to load and what one image costs in eval mode)."""

    def warm_start(trainer):
        t0 = time.perf_counter()
        layer = probe_layer(design)
        images = len(split.train) + len(split.val)
        gen = cached_features(design, layer, [split.train, split.val], options, cache_dir, cancel)
        extracted = []  # progress events: none when every feature came from the cache

        def counted(events):
            while True:
                try:
                    event = next(events)
                except StopIteration as stop:
                    return stop.value
                extracted.append(event.steps_per_epoch)
                yield event

        sets = yield from counted(progress_events(gen, t0, images))
        if sets is None:
            return None
        if extracted:  # what one image costs in eval mode: the engine spaces validation with it
            trainer.pacing.val_seconds_per_image = (time.perf_counter() - t0) / images
        train_fs, val_fs = sets
        trainer.skipped.extend(train_fs.failed + (val_fs.failed if val_fs else []))
        fit = _fit(design, train_fs, val_fs, options, cancel)
        if fit is None:
            return None
        linear = design.model.get_submodule(layer)
        if not isinstance(linear, nn.Linear):  # probe_layer found one there; this says so to mypy
            raise DesignerError(f"The head fit needs a Linear classifier, not a {type(linear).__name__}.")
        fresh = {f"{layer}.{k}": v.detach().clone() for k, v in linear.state_dict().items()}
        with torch.no_grad():
            linear.weight.copy_(fit.weight.reshape(linear.weight.shape).to(linear.weight.device))
            linear.bias.copy_(fit.bias.to(linear.bias.device))
        return {"epoch": 0, "stage": "head", "train_loss": fit.train_loss, "train_acc": fit.train_acc,
                "val_loss": fit.val_loss, "val_acc": fit.val_acc, "lr": 0.0,
                "epoch_time_s": time.perf_counter() - t0, "l2": fit.l2, "stage2_start": fresh}

    return warm_start


def _fit(design: Design, train_fs, val_fs, options, cancel):
    """The best logistic fit over the L2 grid, or None when cancelled between fits."""
    weight = None
    if options.class_weights:  # the same weights the engine's loss uses
        counts = torch.bincount(train_fs.labels, minlength=design.num_classes).tolist()
        weight = torch.tensor(class_weights(counts), dtype=torch.float64)
    val_x, val_y = (val_fs.features, val_fs.labels) if val_fs is not None else (None, None)
    best = None
    for candidate in fit_grid(train_fs.features, train_fs.labels, val_x, val_y, design.num_classes,
                              class_weight=weight):
        if is_cancelled(cancel):
            return None
        if better(candidate, best):
            best = candidate
    return best
