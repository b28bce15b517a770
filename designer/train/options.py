"""Training options: every setting a run needs besides the design and the data, and the
one list of choices (optimizers, schedules, devices, modes) the CLI, the window and the
generated script offer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from designer.base.errors import DesignerError
from designer.data.transforms import Augment

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
# full: fine-tune as designed; cached-head: only the head, on cached features; linear-probe: a
# scikit-learn linear classifier made the head; scratch: random weights, the baseline.
MODES = ("full", "cached-head", "linear-probe", "scratch")
# Fine-tuning starts from good weights, so its default LR is 10x below the from-scratch one.
DEFAULT_LR = {"sgd": 1e-2, "adam": 1e-3, "adamw": 1e-3}
FINE_TUNE_LR_DIVISOR = 10.0


def default_lr(optimizer: str, mode: str = "full") -> float:
    """Default base LR: ``scratch`` gets the usual from-scratch value, every other mode 10x less."""
    base = DEFAULT_LR.get(optimizer)
    if base is None:
        raise DesignerError(f"Unknown optimizer '{optimizer}'; choose one of {', '.join(OPTIMIZERS)}.")
    return base if mode == "scratch" else base / FINE_TUNE_LR_DIVISOR


@dataclass
class TrainOptions:
    """Everything a training run needs besides the design and the data.

    ``lr=None`` means ``default_lr(optimizer, mode)``. ``mode``: ``"full"`` fine-tunes
    the design as its recipe says (frozen layers, LR factors); ``"scratch"`` re-initialises
    every layer and trains all of them at one LR (the baseline to compare against).
    Other modes (head-only on cached features, linear probe) are run by ``designer.train.features``.
    ``event_interval_s``: batch events at most this often (0 = every batch); each costs one sync.
    ``checkpoint_interval_s``: ``last.pt`` (the whole model and optimizer state) at most this
    often (0 = after every epoch); always after the last epoch and on stop. Epochs on cached
    features take milliseconds, and writing the model each one cost ~10x the training.
    """

    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    step_size: int = 0  # "step" schedule: epochs between x gamma drops; 0 = a third of the epochs
    gamma: float = 0.1
    epochs: int = 10
    batch_size: int = 32
    weight_decay: float = 1e-4
    device: str = "auto"
    amp: bool = False
    seed: int = 0
    workers: int = 0
    class_weights: bool = False
    augment: Augment = field(default_factory=Augment)
    mode: str = "full"
    event_interval_s: float = 0.1
    checkpoint_interval_s: float = 10.0
    restore_best: bool = True

    def __post_init__(self):
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("device", self.device, DEVICES)
        _check_choice("training mode", self.mode, MODES)
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise DesignerError(f"{name.replace('_', ' ').capitalize()} must be at least 1.")
        if self.lr is not None and not self.lr > 0:
            raise DesignerError(f"The learning rate must be above 0, not {self.lr}.")
        if min(self.weight_decay, self.warmup_epochs, self.workers, self.checkpoint_interval_s) < 0:
            raise DesignerError("Weight decay, warmup epochs, workers and the checkpoint interval cannot be negative.")
        if isinstance(self.augment, dict):
            self.augment = Augment.from_dict(self.augment)

    @property
    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else default_lr(self.optimizer, self.mode)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["augment"] = self.augment.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DesignerError(f"Unknown {name} '{value}'; choose one of {', '.join(choices)}.")
