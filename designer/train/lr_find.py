"""The learning-rate range test (fastai's ``lr_find``): how the loss answers a growing LR.

A copy of the design's network trains for up to ``steps`` batches while the LR grows
exponentially from ``start`` to ``end``; the loss is smoothed (exponential average,
debiased) and the test stops once it exceeds four times its minimum. The design's
freezing and LR factors apply, so the LR found is the *base* LR the options ask for.
The network is never changed: the test trains a copy.

The suggestion is fastai's "valley": the point a third and a sixth of the way into the
longest stretch where the loss keeps falling. The curve (LR, smoothed loss) comes back
too, for the Training tab's plot and ``python -m designer lr-find``.

``lr_sweep`` is the test as a generator: after each step it yields an ``LRProgress`` with every
point so far, so the window draws the curve as it grows. Stopped half-way, it keeps what it
measured and still suggests a rate when the loss has already fallen (``stopped_finding``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

from designer.base.errors import DesignerError
from designer.base.jobs import JobCancelled, Progress, is_cancelled
from designer.data.loading import make_loader
from designer.data.transforms import make_transform
from designer.inspect.analysis import check_memory
from designer.model.build import Design
from designer.model.policy import set_train_mode
from designer.train import setup as ts

SMOOTHING = 0.98
DIVERGED = 4.0  # the loss this many times its minimum: the LR is too high, stop
START_LR, END_LR = 1e-7, 10.0  # the range swept
MIN_POINTS = 8  # fewer points (after the noisy first steps) are too few to suggest from
MIN_FALL = 0.05  # stopped early: suggest only once the loss has fallen this much (a valley to point into)


@dataclass
class LRFinding:
    lrs: list[float]  # the LR of each step
    losses: list[float]  # the smoothed loss after it
    suggestion: float | None  # the "valley" LR (None: stopped before there was one)
    steepest: float | None  # where the loss falls fastest (log-LR slope)
    lowest: float | None  # where the loss was lowest
    stopped: bool = False  # the user stopped the test: the curve is what was measured until then

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LRProgress(Progress):
    """A step of the test, with every point measured so far (the window plots them as they come)."""

    lrs: tuple = field(default=())
    losses: tuple = field(default=())


def find_lr(design: Design, split, options, cancel=None, steps: int = 100, start: float = START_LR,
            end: float = END_LR,
            report=None) -> LRFinding:
    """Run the range test on ``split.train`` (no augmentation); ``report`` gets each ``LRProgress``.
    Cancelled before the first step it raises ``JobCancelled``; later it returns what it measured."""
    sweep = lr_sweep(design, split, options, cancel, steps, start, end)
    report = report or (lambda progress: None)
    while True:
        try:
            report(next(sweep))
        except StopIteration as stop:
            return stop.value


def lr_sweep(design: Design, split, options, cancel=None, steps: int = 100, start: float = START_LR,
             end: float = END_LR):
    """The range test as a generator: yields ``LRProgress`` after each step, returns the ``LRFinding``."""
    if len(split.train) < 2:
        raise DesignerError("The LR range test needs at least 2 training images.", hint="Add images first.")
    if hasattr(design, "input_shape"):  # the test trains a copy: weights twice, activations at the batch size
        check_memory(design, "The LR range test", batch=options.batch_size, training=True)
    device = ts.resolve_device(options.device)
    model = copy.deepcopy(design.model).to(device)  # the design's own network is never trained here
    policy = ts.apply_policy(design, model, "full")
    optimizer = ts.make_optimizer(model, policy, options, 1.0)
    ratios = [g["lr"] for g in optimizer.param_groups]  # each group's factor (base LR 1)
    loader = make_loader(split.train, make_transform(design), options.batch_size, shuffle=True,
                         seed=options.seed,
                         drop_last=(len(split.train) > options.batch_size
                                    and len(split.train) % options.batch_size == 1))
    criterion = ts.make_criterion(options, list(split.class_counts("train").values()), device)
    lrs: list[float] = []
    losses: list[float] = []
    yield from _sweep(model, policy, optimizer, ratios, loader, criterion, device, steps, start, end, cancel,
                      lrs, losses)
    if is_cancelled(cancel):
        if not lrs:
            raise JobCancelled()
        return stopped_finding(lrs, losses, steps)
    return _finding(lrs, losses, steps)


def _sweep(model, policy, optimizer, ratios, loader, criterion, device, steps, start, end, cancel, lrs,
           losses):
    """Train with a growing LR, appending to ``lrs`` and ``losses``; ends early when cancelled or diverged."""
    average, lowest, step = 0.0, math.inf, 0
    if policy is None:
        model.train()
    else:
        set_train_mode(model, policy, True)
    while step < steps:
        for batch in loader:
            if is_cancelled(cancel):
                return
            if batch.labels.numel() < 2:
                continue
            lr = start * (end / start) ** (step / max(1, steps - 1))
            for group, ratio in zip(optimizer.param_groups, ratios, strict=True):
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
            yield LRProgress(step, steps, f"LR range test: step {step} of {steps}, LR {lr:.1e}",
                             tuple(lrs), tuple(losses))
            if step >= steps or not math.isfinite(smooth) or smooth > DIVERGED * lowest:
                return


def stopped_finding(lrs: list[float], losses: list[float], steps: int) -> LRFinding:
    """What a stopped test measured, with a suggestion when it can make one: enough points past the
    noisy first steps, and a loss that has already fallen (before that, any point of the curve
    would be a guess)."""
    skip = max(1, steps // 10)
    kept = [(lr, v) for lr, v in zip(lrs[skip:], losses[skip:], strict=True) if math.isfinite(v)]
    if len(kept) < MIN_POINTS or min(v for _, v in kept) > (1 - MIN_FALL) * kept[0][1]:
        return LRFinding(list(lrs), list(losses), None, None, None, stopped=True)
    finding = _finding(lrs, losses, steps, trim=0)
    finding.stopped = True
    return finding


def _finding(lrs: list[float], losses: list[float], steps: int, trim: int = 5) -> LRFinding:
    """``trim``: the last points left out (a finished test ends where the loss diverged)."""
    if len(lrs) < MIN_POINTS:
        raise DesignerError("The loss diverged within the first steps of the LR range test.",
                            hint="Check the data and the design; a very small LR (1e-5) is a safe start.")
    skip = max(1, steps // 10)  # the first steps are noise; the last ones already diverge
    end = len(lrs) - trim
    kept_lrs, kept = lrs[skip:end] or lrs, losses[skip:end] or losses
    finite = [(lr, v) for lr, v in zip(kept_lrs, kept, strict=True) if math.isfinite(v)]
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
