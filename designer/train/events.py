"""The events a training run yields: plain data, JSON-ready.

Kept apart from the engine so the GUI, the CLI (which streams events as JSON
lines) and the run store can read them without the loop. Every trainer (the
engine, cached head, linear probe) speaks these; they are the items of its job
(``designer.base.jobs``), and its last event says how it ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar, TypedDict, TypeVar

from designer.base.errors import DesignerError


class Best(TypedDict):
    """A run's best validation so far and its epoch (0: the fitted head, or none yet)."""

    val_acc: float | None
    epoch: int


@dataclass
class Event:
    kind: ClassVar[str] = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass
class StartEvent(Event):
    kind: ClassVar[str] = "start"
    epochs: int
    start_epoch: int
    steps_per_epoch: int
    device: str
    lr: float
    amp: bool
    num_train: int
    num_val: int
    classes: list
    trainable_params: int
    frozen_params: int
    run_dir: str
    plan: str = ""  # what the mode will do, in plain words (the recommended mode's two stages)
    unit: str = "epoch"  # what one "epoch" is: "fit" for the linear probe (one per regularisation strength)
    stages: int = 1  # 2: the recommended mode fits the classifier (epoch 0) before it fine-tunes


@dataclass
class BatchEvent(Event):
    """``loss``/``acc``: running means over the epoch so far (smoother than one batch)."""

    kind: ClassVar[str] = "batch"
    epoch: int
    step: int
    steps_per_epoch: int
    global_step: int
    loss: float
    acc: float
    lr: float
    eta_s: float
    images_per_s: float


@dataclass
class EpochEvent(Event):
    kind: ClassVar[str] = "epoch"
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    epoch_time_s: float
    best_val_acc: float | None
    best_epoch: int
    is_best: bool
    skipped: list = field(default_factory=list)  # [path, reason] of files that failed to load so far
    stage: str = ""  # "head": the head fitted on cached features (epoch 0 of the recommended mode)


@dataclass
class CheckpointEvent(Event):
    kind: ClassVar[str] = "checkpoint"
    epoch: int
    path: str
    best_path: str


@dataclass
class FinishedEvent(Event):
    kind: ClassVar[str] = "finished"
    epochs_done: int
    best_val_acc: float | None
    best_epoch: int
    time_s: float
    run_dir: str
    skipped: list = field(default_factory=list)
    outcome: str = ""  # which weights were kept and why, in plain words


@dataclass
class StoppedEvent(Event):
    """``epoch``: epochs fully completed; ``checkpoint``: the last.pt to resume from."""

    kind: ClassVar[str] = "stopped"
    epoch: int
    best_val_acc: float | None
    best_epoch: int
    checkpoint: str
    time_s: float
    skipped: list = field(default_factory=list)
    outcome: str = ""


@dataclass
class FailedEvent(Event):
    kind: ClassVar[str] = "failed"
    message: str
    hint: str = ""
    out_of_memory: bool = False


E = TypeVar("E", bound=Event)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (StartEvent, BatchEvent, EpochEvent, CheckpointEvent, FinishedEvent,
                              StoppedEvent, FailedEvent)
}


def event_from_dict(data: dict) -> Event:
    """Rebuild an event from its JSON line (e.g. streamed by the CLI)."""
    cls = EVENT_TYPES.get(data.get("kind", ""))
    if cls is None:
        raise DesignerError(f"Unknown training event {data.get('kind')!r}.")
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


def event_of(data: dict, kind: type[E]) -> E:
    """``event_from_dict`` for a line that must be a ``kind`` event (a clear error otherwise)."""
    event = event_from_dict(data)
    if not isinstance(event, kind):
        raise DesignerError(f"Expected a '{kind.kind}' training event, got {event.kind!r}.")
    return event
