"""The learning-rate range test (fastai's ``lr_find``): how the loss answers a growing LR.

A copy of the design's network trains for up to ``steps`` batches while the LR grows
exponentially from ``start`` to ``end``; the loss is smoothed (exponential average,
debiased) and the test stops once it exceeds four times its minimum. The design's
freezing and LR factors apply, so the LR found is the *base* LR the options ask for.
The network is never changed: the test trains a copy.

The suggestion is fastai's "valley": the point a third and a sixth of the way into the
longest stretch where the loss keeps falling. The curve (LR, smoothed loss) comes back
too, for the Training tab's plot and ``python -m designer lr-find``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

from designer.base.errors import DesignerError
from designer.base.jobs import JobCancelled, Progress, is_cancelled
from designer.data.loading import make_loader
from designer.data.transforms import make_transform
from designer.inspect.analysis import check_memory
from designer.model.policy import set_train_mode
from designer.train import setup as ts

SMOOTHING = 0.98
DIVERGED = 4.0  # the loss this many times its minimum: the LR is too high, stop


@dataclass
class LRFinding:
    lrs: list[float]  # the LR of each step
    losses: list[float]  # the smoothed loss after it
    suggestion: float  # the "valley" LR
    steepest: float  # where the loss falls fastest (log-LR slope)
    lowest: float  # where the loss was lowest

    def to_dict(self) -> dict:
        return asdict(self)


def find_lr(design, split, options, cancel=None, steps: int = 100, start: float = 1e-7, end: float = 10.0,
            report=None) -> LRFinding:
    """Run the range test on ``split.train`` (no augmentation); ``report`` gets ``Progress``."""
    if len(split.train) < 2:
        raise DesignerError("The LR range test needs at least 2 training images.", hint="Add images first.")
    if hasattr(design, "input_shape"):  # the test trains a copy: weights twice, activations at the batch size
        check_memory(design, "The LR range test", batch=options.batch_size, training=True)
    device = ts.resolve_device(options.device)
    model = copy.deepcopy(design.model).to(device)  # the design's own network is never trained here
    policy = ts.resolve_policy(design, model, "full")
    optimizer = ts.make_optimizer(model, policy, options, 1.0)
    ratios = [g["lr"] for g in optimizer.param_groups]  # each group's factor (base LR 1)
    loader = make_loader(split.train, make_transform(design), options.batch_size, shuffle=True, seed=options.seed,
                         drop_last=len(split.train) > options.batch_size and len(split.train) % options.batch_size == 1)
    criterion = ts.make_criterion(options, list(split.class_counts("train").values()), device)
    lrs, losses = _sweep(model, policy, optimizer, ratios, loader, criterion, device, steps, start, end,
                         cancel, report or (lambda progress: None))
    return _finding(lrs, losses, steps)


def _sweep(model, policy, optimizer, ratios, loader, criterion, device, steps, start, end, cancel, report):
    lrs, losses, average, lowest, step = [], [], 0.0, math.inf, 0
    if policy is None:
        model.train()
    else:
        set_train_mode(model, policy, True)
    while step < steps:
        for batch in loader:
            if is_cancelled(cancel):
                raise JobCancelled()
            if batch.labels.numel() < 2:
                continue
            lr = start * (end / start) ** (step / max(1, steps - 1))
            for group, ratio in zip(optimizer.param_groups, ratios):
                group["lr"] = lr * ratio
            loss = criterion(ts.logits(model(batch.images.to(device))), batch.labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            average = SMOOTHING * average + (1 - SMOOTHING) * loss.item()
            smooth = average / (1 - SMOOTHING ** step)
            lrs.append(lr)
            losses.append(smooth)
            lowest = min(lowest, smooth)
            report(Progress(step, steps, f"LR range test: step {step} of {steps}, LR {lr:.1e}"))
            if step >= steps or not math.isfinite(smooth) or smooth > DIVERGED * lowest:
                return lrs, losses
    return lrs, losses


def _finding(lrs: list[float], losses: list[float], steps: int) -> LRFinding:
    if len(lrs) < 8:
        raise DesignerError("The loss diverged within the first steps of the LR range test.",
                            hint="Check the data and the design; a very small LR (1e-5) is a safe start.")
    skip = max(1, steps // 10)  # the first steps are noise; the last ones already diverge
    kept_lrs, kept = lrs[skip:-5] or lrs, losses[skip:-5] or losses
    finite = [(lr, v) for lr, v in zip(kept_lrs, kept) if math.isfinite(v)]
    kept_lrs, kept = [lr for lr, _ in finite], [v for _, v in finite]
    slopes = [(kept[i + 1] - kept[i]) / (math.log(kept_lrs[i + 1]) - math.log(kept_lrs[i]))
              for i in range(len(kept) - 1)]
    steepest = kept_lrs[min(range(len(slopes)), key=slopes.__getitem__)] if slopes else kept_lrs[0]
    lowest = kept_lrs[min(range(len(kept)), key=kept.__getitem__)]
    return LRFinding(lrs, losses, valley(kept_lrs, kept), steepest, lowest)


def valley(lrs: list[float], losses: list[float]) -> float:
    """fastai's rule: in the longest run of falling losses, the LR a third plus a sixth of the way in."""
    n = len(losses)
    runs, start, end = [1] * n, 0, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and runs[i] < runs[j] + 1:
                runs[i] = runs[j] + 1
            if runs[end] < runs[i]:
                end, start = i, i - runs[i]
    third = (end - start) / 3
    return lrs[start + int(third) + int(third / 2)]
