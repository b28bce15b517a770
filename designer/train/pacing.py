"""When a run validates and when it stops early.

Validating after every epoch is what frameworks do, and on small data it is most of the
run: 100 training images and 1,697 validation images spent 72-75 % of each epoch
validating (EfficientNet-Lite0 on a CPU). So validation is spaced to take at most a share
of the wall time (``val_budget``): after each epoch the engine knows what a training epoch
and a validation pass cost, and validates again once enough training time has passed for
the next pass to fit in the budget. The last epoch is always validated (its weights must be
compared), and so is the first when nothing is known about the cost yet.

Early stopping (``patience``): the run ends when its best validation accuracy is
``patience`` validations old AND at least ``patience_fraction`` of the planned optimizer
steps old; the second condition keeps a run with frequent validations from stopping in the
noisy first steps. Off (0) unless a mode asks for it.

A time cap (``time_cap_s``): once the first epoch has shown what an epoch costs, a run whose plan
would take longer is shortened to the epochs that fit (so its schedule still ends where it should),
and a run past the cap stops after its epoch. Off (None) unless a mode asks for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Pacing:
    val_budget: float = 0.25  # validation may take about this share of the wall time (1.0: every epoch)
    val_seconds_per_image: float | None = None  # measured elsewhere (the recommended mode's feature pass)
    patience: int = 0  # validations without improvement before stopping; 0 never stops early
    patience_fraction: float = 0.25
    time_cap_s: float | None = None  # the run ends by about this many seconds (None: no cap)
    validations: int = field(default=0, init=False)
    since_best: int = field(default=0, init=False)  # validations since the best one
    last_validated: int = field(default=0, init=False)  # epoch
    val_seconds: float | None = field(default=None, init=False)  # the last pass, measured

    def validate_now(self, epoch: int, last_epoch: int, epoch_train_s: float, num_val: int) -> bool:
        """Validate after ``epoch``? ``epoch_train_s``: the training time of one epoch."""
        if epoch >= last_epoch or self.val_budget >= 1.0:
            return True
        cost = self.val_seconds
        if cost is None and self.val_seconds_per_image is not None:
            cost = num_val * self.val_seconds_per_image
        if cost is None:
            return True  # validate once to learn what it costs
        # wait until the training since the last validation is (1 - b) / b times one validation
        train_needed = cost * (1.0 - self.val_budget) / self.val_budget
        return (epoch - self.last_validated) * max(epoch_train_s, 1e-9) >= train_needed

    def every(self, epoch_train_s: float, num_val: int) -> int:
        """Epochs between validations at the current costs (for messages and the ETA)."""
        cost = (self.val_seconds if self.val_seconds is not None
                else num_val * (self.val_seconds_per_image or 0.0))
        if self.val_budget >= 1.0 or cost <= 0:
            return 1
        return max(1, math.ceil(cost * (1.0 - self.val_budget) / self.val_budget / max(epoch_train_s, 1e-9)))

    def validated(self, epoch: int, seconds: float, improved: bool) -> None:
        self.validations += 1
        self.last_validated, self.val_seconds = epoch, seconds
        self.since_best = 0 if improved else self.since_best + 1

    def should_stop(self, steps_since_best: int, total_steps: int) -> bool:
        return bool(self.patience) and self.since_best >= self.patience and \
            steps_since_best >= self.patience_fraction * total_steps

    def epochs_within_cap(self, epoch: int, planned: int, elapsed_s: float, epoch_s: float) -> int:
        """The planned epochs, or fewer so that the run ends by ``time_cap_s`` (at least ``epoch``)."""
        if self.time_cap_s is None or epoch >= planned:
            return planned
        fit = epoch + int(max(0.0, self.time_cap_s - elapsed_s) // max(epoch_s, 1e-9))
        return max(epoch, min(planned, fit))
