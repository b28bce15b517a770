"""Training options: every setting a run needs besides the design and the data, and the
one list of choices (optimizers, schedules, devices, modes) the CLI, the window and the
generated script offer."""

from __future__ import annotations

from dataclasses import asdict, field, fields
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field
from pydantic.dataclasses import dataclass

from designer.base.errors import DesignerError
from designer.base.schema import STRICT_MUTABLE, Seed, describe_value, friendly
from designer.data.transforms import Augment

# Each choice list is a Literal type (what the options' fields accept, checked by pydantic and by mypy)
# and the same names as a tuple (what menus and flags offer).
Optimizer = Literal["sgd", "adam", "adamw"]
Schedule = Literal["constant", "step", "cosine"]
Device = Literal["auto", "cpu", "cuda", "mps"]
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
SCHEDULES: tuple[str, ...] = get_args(Schedule)
DEVICES: tuple[str, ...] = get_args(Device)
# recommended: fit the head on cached features, then fine-tune from it (designer.train.recommended);
# full: fine-tune as designed; cached-head: only the head, on cached features; linear-probe: a
# linear classifier made the head; scratch: random weights, the baseline; search: several fine-tunes
# tried within a time budget, the best kept (designer.train.search).
Mode = Literal["recommended", "full", "cached-head", "linear-probe", "scratch", "search"]
MODES: tuple[str, ...] = get_args(Mode)
DEFAULT_LR = {"sgd": 1e-2, "adam": 1e-3, "adamw": 1e-3}
# Plain fine-tuning from a random head keeps the textbook "10x smaller than from scratch". The
# recommended mode does not: its head is fitted first, and at a tenth of the rate 100 steps on
# small data ended below the probe (0.57 against 0.90 at the from-scratch rate; recommended.py).
# Head-only training starts a new head from random values, with nothing pretrained to protect:
# 0.42 at 0.001 and 0.54 at 0.01 (10 epochs, digits at 10 images per class).
FINE_TUNE_LR_DIVISOR = 10.0
FULL_RATE_MODES = ("scratch", "recommended", "cached-head", "search")  # search centres on recommended's rate
# Five epochs: the recommended mode starts fine-tuning from a fitted head, and on full digits (1,438
# images) 5 epochs reached 0.994 in 109 s where 10 reached 0.994 in 190 s (bench/bench_transfer.py);
# the recommended mode plans its own length from the data (recommended.auto_epochs) unless the user
# fixes it. Other modes use the setting.
DEFAULT_EPOCHS = 5
# The recommended mode trains while it still learns, up to this time cap by default ("up to about N
# min" in the window and the plan text); 0 turns it off.
DEFAULT_MAX_MINUTES = 20.0
# What the recommended mode plans from the data unless the user fixes it (TrainOptions.fixed): the
# window shows the planned values, marked automatic; the CLI fixes each one given as a flag.
PlanField = Literal["epochs", "batch_size", "warmup_epochs", "schedule"]
PLAN_FIELDS: tuple[PlanField, ...] = get_args(PlanField)
# The search mode's time budget: 10 min by default, from 10 s (a few epochs of a tiny set) to a week.
DEFAULT_BUDGET_S, MIN_BUDGET_S, MAX_BUDGET_S = 600.0, 10.0, 7 * 24 * 3600.0
MAX_TRIALS = 30  # the search's default upper bound on trials: on a GPU a 10-min budget may fit many


def default_lr(optimizer: str, mode: str = "recommended") -> float:
    """Default base LR: the usual from-scratch value for ``FULL_RATE_MODES``, 10x less for plain
    fine-tuning."""
    base = DEFAULT_LR.get(optimizer)
    if base is None:
        raise DesignerError(f"Unknown optimizer '{optimizer}'; choose one of {', '.join(OPTIMIZERS)}.")
    return base if mode in FULL_RATE_MODES else base / FINE_TUNE_LR_DIVISOR


# The bounds sit in Annotated[...] metadata, so mypy sees a plain float or int and pydantic the range.
def _between(lo: float, hi: float, *, low_open: bool = False) -> Any:
    """A finite number in [lo, hi] (or (lo, hi] with ``low_open``), for ``Annotated[float, ...]``."""
    return (Field(gt=lo, le=hi, allow_inf_nan=False) if low_open else
            Field(ge=lo, le=hi, allow_inf_nan=False))


def _whole(lo: int, hi: int) -> Any:
    """A whole number in [lo, hi], for ``Annotated[int, ...]``."""
    return Field(ge=lo, le=hi)


def _augment(value):
    """Augmentation as saved (a dict) or as an ``Augment``."""
    if isinstance(value, dict):
        return Augment.from_dict(value)
    if not isinstance(value, Augment):
        # pydantic turns a ValueError (not a TypeError) into its own message for this field
        raise ValueError(  # noqa: TRY004
            f"augmentation should be an object of settings, not {describe_value(value)}")
    return value


@friendly("Training options")
@dataclass(config=STRICT_MUTABLE)
class TrainOptions:
    """Everything a training run needs besides the design and the data.

    ``lr=None`` means ``default_lr(optimizer, mode)``. ``mode``: ``"recommended"`` fits the head on
    cached features, then fine-tunes from it on a schedule of its own (epochs become a minimum, the
    schedule and warm-up are its own; ``designer.train.recommended``); ``"full"`` fine-tunes
    the design as its recipe says (frozen layers, LR factors); ``"scratch"`` re-initialises
    every layer and trains all of them at one LR (the baseline to compare against).
    Other modes (head-only on cached features, linear probe) are run by ``designer.train.features``.
    ``event_interval_s``: batch events at most this often (0 = every batch); each costs one sync.
    ``checkpoint_interval_s``: ``last.pt`` (the whole model and optimizer state) at most this
    often (0 = after every epoch); always after the last epoch and on stop. Epochs on cached
    features take milliseconds, and writing the model each one cost ~10x the training.
    """

    optimizer: Optimizer = "sgd"
    lr: Annotated[float, _between(0.0, 10.0, low_open=True)] | None = None
    momentum: Annotated[float, _between(0.0, 0.999)] = 0.9
    schedule: Schedule = "cosine"
    warmup_epochs: Annotated[float, _between(0.0, 1000.0)] = 0.0
    # the "step" schedule: epochs between x gamma drops; 0 = a third of them
    step_size: Annotated[int, _whole(0, 100_000)] = 0
    gamma: Annotated[float, _between(0.0, 1.0, low_open=True)] = 0.1
    epochs: Annotated[int, _whole(1, 100_000)] = DEFAULT_EPOCHS
    batch_size: Annotated[int, _whole(1, 4096)] = 32
    weight_decay: Annotated[float, _between(0.0, 1.0)] = 1e-4
    device: Device = "auto"
    amp: bool = False
    seed: Seed = 0
    workers: Annotated[int, _whole(0, 64)] = 0
    class_weights: bool = False
    augment: Annotated[Augment, BeforeValidator(_augment)] = field(default_factory=Augment)
    mode: Mode = "recommended"
    event_interval_s: Annotated[float, _between(0.0, 3600.0)] = 0.1
    checkpoint_interval_s: Annotated[float, _between(0.0, 1e9)] = 10.0
    restore_best: bool = True
    # the recommended mode's time cap: its plan is shortened to end by about this many minutes (0: none)
    max_minutes: Annotated[float, _between(0.0, 1e6)] = DEFAULT_MAX_MINUTES
    # the search mode's time budget in seconds: no trial starts after it, the last one is cut to it
    budget_s: Annotated[float, _between(MIN_BUDGET_S, MAX_BUDGET_S)] = DEFAULT_BUDGET_S
    max_trials: Annotated[int, _whole(1, 1000)] = MAX_TRIALS  # ... and at most this many trials
    # the recommended mode plans PLAN_FIELDS itself, except those named here: the user set them
    fixed: Annotated[list[PlanField], Field(max_length=len(PLAN_FIELDS))] = field(default_factory=list)

    @property
    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else default_lr(self.optimizer, self.mode)

    def is_fixed(self, name: str) -> bool:
        """Did the user set ``name`` (one of ``PLAN_FIELDS``), so the recommended mode uses it as given?"""
        return name in self.fixed

    def to_dict(self) -> dict:
        out = asdict(self)
        out["augment"] = self.augment.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainOptions:
        """Options from saved plain data (a project, a run's options.json, the window's settings);
        settings this version does not know are ignored, known ones are checked."""
        if data is not None and not isinstance(data, dict):
            raise DesignerError("Training options should be an object of settings, "
                                f"not {describe_value(data)}.")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in (data or {}).items() if k in known}
        return cls(**kwargs)
