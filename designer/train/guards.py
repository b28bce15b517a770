"""Stage 2's guards: when fine-tuning after a fitted head has gone wrong, or cannot win.

Measured on the bench's sets (docs/transfer-learning.md): a stage 2 that diverged (an LR factor
of 10 on the head at the full rate drove the training loss from 0.08 to 3-10 and kept it there)
never came back, and a stage 2 that trailed the fitted head by several points at half its steps
never caught up. Both cost minutes for nothing, so:

- **diverged**: after the warm-up, two epochs in a row whose mean training loss is far above
  what a uniform guess scores (``DIVERGED_X`` times ln(classes)), or a NaN/inf loss. The engine
  restarts once from stage 1's weights at a tenth of the rate.
- **losing**: at the first validation past ``LOSING_AFTER`` of the planned steps, the best
  validation of stage 2 is still ``LOSING_MARGIN`` or more below stage 1's. The engine stops and
  keeps stage 1. Judged only on a validation made that late: stage 2 starts from a fresh
  classifier, so its early validations trail stage 1 by design (letters: 0.82 at 35 % of the
  steps, 0.94 at the end, against stage 1's 0.885).
"""

from __future__ import annotations

import math

DIVERGED_X = 2.0
DIVERGED_EPOCHS = 2
LOSING_AFTER, LOSING_MARGIN = 0.6, 0.03
RESTART_LR_DIVISOR = 10.0


def loss_too_high(train_loss: float | None, num_classes: int) -> bool:
    """A training loss far above a uniform guess's (or not finite)."""
    if train_loss is None:
        return False
    return not math.isfinite(train_loss) or train_loss > DIVERGED_X * math.log(max(2, num_classes))


def diverged(history: list[dict], num_classes: int, warmup_done: bool) -> bool:
    """The last ``DIVERGED_EPOCHS`` stage-2 epochs, all after the warm-up, had a runaway loss."""
    recent = [r.get("train_loss") for r in history if r.get("epoch", 0) > 0][-DIVERGED_EPOCHS:]
    return (warmup_done and len(recent) == DIVERGED_EPOCHS
            and all(loss_too_high(x, num_classes) for x in recent))


def stage_accuracies(history: list[dict]) -> tuple[float | None, float | None]:
    """(stage 1's validation accuracy, stage 2's best so far); None where there is none."""
    head = next((r.get("val_acc") for r in history if r.get("epoch") == 0), None)
    tuned = [r["val_acc"] for r in history if r.get("epoch", 0) > 0 and r.get("val_acc") is not None]
    return head, max(tuned) if tuned else None


def losing(history: list[dict], done_steps: int, total_steps: int) -> bool:
    """The latest epoch validated, past ``LOSING_AFTER`` of the steps, and stage 2 is still clearly below
    stage 1."""
    head, tuned = stage_accuracies(history)
    latest = history[-1] if history else {}
    if (head is None or tuned is None or latest.get("val_acc") is None
            or done_steps < LOSING_AFTER * total_steps):
        return False  # no validation this late yet
    return tuned < head - LOSING_MARGIN
