"""The compression job: prune a step, recover with a short fine-tune, measure; repeat until the goal
is met or the next step would lose more than ``max_drop`` of validation accuracy; then try int8.
For a size or latency goal that int8 alone may reach, int8 of the original is tried first, and when
a variant within the floor meets the goal nothing is pruned (``int8_may_reach``).

A generator in the job protocol (``designer.base.jobs``): it yields ``Progress`` and one
``StepMeasured`` per measured model, checks the cancel flag between steps, and returns a
``CompressResult``. The network is pruned in place step after step; each kept step's weights
and its pruning (plain data) are saved, so the chosen one is rebuilt from the recipe at the end.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write, write_json
from designer.base.jobs import JobCancelled, Progress
from designer.compress.goal import FIGURE_OF, Goal
from designer.compress.measure import MIN_RUNS, Figures, measure
from designer.compress.prune import check_prunable, kept_layers, make_pruner, prune_step
from designer.compress.quantize import Parity, int8_variants
from designer.data.loading import make_loader
from designer.data.transforms import make_transform
from designer.model.build import Design, network_input
from designer.model.ops import PruneChannels
from designer.model.trained import design_with_weights
from designer.train import recommended
from designer.train.engine import train
from designer.train.options import TrainOptions

INT8_ORIGINAL = "int8-original"  # int8 tried first, before any pruning
INT8_BEST_RATIO = 0.2  # the most int8 alone may shrink a figure to, as a share (see int8_may_reach)


@dataclass(frozen=True)
class CompressSettings:
    goal: Goal
    max_drop: float = 0.02  # the most validation accuracy a kept step may lose against the original
    importance: str = "magnitude"
    keep: tuple[str, ...] = ()
    steps: int = 8  # pruning steps, each removing max_ratio / steps of the prunable channels
    max_ratio: float = 0.8
    finetune_epochs: int = 2
    runs: int = MIN_RUNS  # timed runs per latency figure (the median is reported)
    quantize: bool = True


@dataclass
class StepMeasured:
    """One measured model: an item of the job's stream (the trade-off plot's point)."""

    figures: Figures
    within_floor: bool


@dataclass
class CompressResult:
    original: Figures
    steps: list[Figures]  # the original (step 0), then each pruning step
    chosen: int  # the step kept (0: pruning could not keep the accuracy)
    design: Design  # the chosen step rebuilt from its recipe, with its weights
    weights: Path  # the chosen step's state dict
    stop_reason: str
    floor: float
    int8: list[tuple[Figures, Parity | None]] = field(default_factory=list)
    int8_failed: list[str] = field(default_factory=list)
    kept: Figures | None = None  # the fastest model within the floor: the chosen float one or an int8 one


def compress(control, design, split, options: TrainOptions, settings: CompressSettings, folder: Path):
    """See the module docstring. ``design`` holds the trained weights; ``split`` is the run's own."""
    if not split.val:
        raise DesignerError("Compressing needs validation images, to check the accuracy after each step.",
                            hint="Use the run's own data folder, or one with enough images for a "
                                 "validation split.")
    folder = Path(folder)
    shape = tuple(network_input(design).shape)
    kept = kept_layers(design, settings.keep)
    control.report(Progress(0, None, "Checking that the network can be pruned"))
    check_prunable(design.model, shape, settings.importance, kept, design.num_classes)
    original = yield from _measured(control, design, split, folder, 0, "original", settings, -math.inf)
    floor = accuracy_floor(original.val_acc, settings.max_drop)
    steps, weights = [original], _save_weights(design.model, folder / "step-0" / "weights.pt")
    write_json(folder / "step-0" / "pruning.json", {"label": "original", "history": []})
    unpruned_int8 = None  # int8 of the original, when it was tried first and missed: (variants, failed)
    if settings.quantize and int8_may_reach(settings.goal, original):
        first, unpruned_int8 = yield from _int8_first(control, design, split, folder, settings, original,
                                                      floor, weights)
        if first is not None:
            return first
    chosen, history, reason = 0, [], f"all {settings.steps} pruning steps were kept, short of the goal"
    pruner = make_pruner(design.model, shape, settings.importance, kept, settings.steps, settings.max_ratio)
    for k in range(1, settings.steps + 1):
        control.check()
        ratio = settings.max_ratio * k / settings.steps
        control.report(Progress(k, settings.steps, f"Step {k}: pruning {ratio:.0%} of the prunable channels"))
        taylor = _taylor_batches(design, split) if settings.importance == "taylor" else None
        prune_step(pruner, design.model, taylor)
        step_history = [[p, bool(o), [int(i) for i in idx]] for p, o, idx in pruner.pruning_history()]
        step_design = _with_pruning(design, step_history, f"{ratio:.0%} of channels")
        yield from _finetune(control, step_design, split, options, settings, folder / f"step-{k}" / "tune")
        label = f"pruned {ratio:.0%}"
        figures = yield from _measured(control, step_design, split, folder, k, label, settings, floor)
        steps.append(figures)
        # every step is kept on disk (weights and pruning as data), so any point of the plot can be opened
        step_weights = _save_weights(design.model, folder / f"step-{k}" / "weights.pt")
        write_json(folder / f"step-{k}" / "pruning.json", {"label": label, "history": step_history})
        if figures.val_acc < floor:
            reason = f"step {k} lost more than {settings.max_drop:g} of accuracy; step {chosen} is kept"
            break
        chosen, history, weights = k, step_history, step_weights
        if settings.goal.met(figures, original):
            reason = f"step {k} met the goal ({settings.goal.describe()})"
            break
    final = design_with_weights(_with_pruning(design, history, steps[chosen].label).recipe
                                if history else design.recipe, weights)
    result = CompressResult(original, steps, chosen, final, weights, reason, floor, kept=steps[chosen])
    if unpruned_int8 is not None and chosen > 0:  # a pruned step is kept: its own int8 files come next
        shutil.rmtree(folder / INT8_ORIGINAL, ignore_errors=True)
        unpruned_int8 = None
    if settings.quantize:
        yield from _quantize(control, result, split, folder, settings, unpruned_int8)
    return result


def _with_pruning(design, history: list, note: str):
    """``design`` whose recipe records ``history`` (the model is already pruned in place)."""
    op = PruneChannels(history=tuple((p, o, tuple(i)) for p, o, i in history), note=note[:200])
    recipe = design.recipe
    return replace(design, recipe=replace(recipe, ops=recipe.ops + (op,)))


def _measured(control, design, split, folder: Path, step: int, label: str, settings, floor: float):
    control.report(Progress(step, settings.steps, f"Measuring {label}: latency, size, accuracy"))
    figures = measure(design, folder / f"step-{step}" / "model.onnx", split.val, split.classes, step, label,
                      settings.runs, control)
    if control.cancelled:
        raise JobCancelled()
    yield StepMeasured(figures, figures.val_acc is not None and figures.val_acc >= floor)
    return figures


def _save_weights(model, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    return path


def _taylor_batches(design, split, batches: int = 4, size: int = 16):
    loader = make_loader(split.train, make_transform(design), size, shuffle=True, workers=0)
    out = []
    for batch in loader:
        out.append((batch[0], batch[1]))
        if len(out) >= batches:
            break
    return out


def _finetune(control, design, split, options: TrainOptions, settings, run_dir: Path):
    """Recover after a pruning step: the recommended mode's stage 2 (its batch, rate and pacing),
    cut to ``finetune_epochs``, on the run's own split. Yields Progress from the engine's epochs."""
    stage2 = recommended.plan(options, len(split.train)).options
    stage2 = replace(stage2, epochs=settings.finetune_epochs, warmup_epochs=min(stage2.warmup_epochs, 0.5))
    run_dir.mkdir(parents=True, exist_ok=True)
    for event in train(design, split, stage2, run_dir, control, pacing=recommended.pacing(options)):
        if event.kind == "epoch":
            acc = "-" if event.val_acc is None else f"{event.val_acc:.3f}"
            yield Progress(event.epoch, stage2.epochs,
                           f"Fine-tuning: epoch {event.epoch} of {stage2.epochs}, validation accuracy {acc}")
        elif event.kind == "failed":
            raise DesignerError(f"Fine-tuning after pruning failed: {event.message}", hint=event.hint)
        elif event.kind == "stopped":
            raise JobCancelled()
    design.model.cpu().eval()
    for name in ("last.pt", "best.pt"):  # the step's weights are kept once, in weights.pt
        (run_dir / name).unlink(missing_ok=True)


def accuracy_floor(original_acc: float, max_drop: float) -> float:
    """The lowest validation accuracy a kept model may have. Rounded, because accuracies are counts over
    the images: 0.40 - 0.05 is 0.35000000000000003 in floating point, which would refuse 7 of 20 (0.35)."""
    return round(original_acc - max_drop, 9)


def int8_may_reach(goal: Goal, original: Figures) -> bool:
    """Whether int8 alone could meet ``goal``: a size or latency goal no lower than INT8_BEST_RATIO of the
    original's figure (int8 weights take a quarter of float32's bytes, and int8 kernels rarely run
    more than about four times faster). Pruning cannot be helped by int8 for a parameter count."""
    if goal.kind not in ("size", "latency"):
        return False
    return goal.target(original) >= INT8_BEST_RATIO * getattr(original, FIGURE_OF[goal.kind])


def _int8_first(control, design, split, folder: Path, settings, original: Figures, floor: float,
                weights: Path):
    """Int8 of the original before any pruning: (the result, None) when a variant within the floor meets
    the goal (nothing pruned, no accuracy lost to pruning), else (None, (variants, failed)) and pruning
    goes on; when it keeps no step, those variants are step 0's int8 (measured once, not twice)."""
    control.report(Progress(0, None, "Trying int8 on the original first: it may meet the goal unpruned"))
    qfolder = folder / INT8_ORIGINAL
    failed: list[str] = []
    variants = list(_int8_of(control, design, original, split, qfolder, settings, failed))  # not pruned yet
    reaching = [f for f, _ in variants if f.val_acc is not None and f.val_acc >= floor
                and settings.goal.met(f, original)]
    if not reaching:
        return None, (variants, failed)
    reason = f"int8 of the original met the goal ({settings.goal.describe()}); nothing was pruned"
    fastest = min(reaching, key=lambda f: f.latency_b1_ms)
    result = CompressResult(original, [original], 0, design_with_weights(design.recipe, weights), weights,
                            reason, floor, variants, failed, kept=fastest)
    for figures, _ in variants:
        yield StepMeasured(figures, figures.val_acc is not None and figures.val_acc >= floor)
    return result, None


def _int8_of(control, design, chosen: Figures, split, qfolder: Path, settings, failed: list):
    """Yields (figures, parity) for each int8 variant of a measured float model; a variant that fails adds
    its reason to ``failed``."""
    qfolder.mkdir(parents=True, exist_ok=True)
    for figures, parity, why in int8_variants(design, Path(chosen.onnx), qfolder, split.train, split.val,
                                              chosen.step, settings.runs, control):
        if why:
            failed.append(why)
            continue
        figures.params, figures.macs = chosen.params, chosen.macs
        yield figures, parity
    if control.cancelled:
        raise JobCancelled()


def _quantize(control, result: CompressResult, split, folder: Path, settings, measured=None):
    """Int8 variants of the chosen model; keeps the fastest at batch 1 within the accuracy floor.
    ``measured``: (variants, failed) of this very model, from int8 tried first (not measured again)."""
    control.report(Progress(0, None, "Quantizing to int8 (calibrated on training images)"))
    chosen = result.steps[result.chosen]
    if measured is not None:
        variants, failed = measured
        result.int8_failed += failed
    else:
        variants = _int8_of(control, result.design, chosen, split, folder / "int8", settings,
                            result.int8_failed)
    for figures, parity in variants:
        result.int8.append((figures, parity))
        within = figures.val_acc is not None and figures.val_acc >= result.floor
        yield StepMeasured(figures, within)
        if within and (result.kept is None or figures.latency_b1_ms < result.kept.latency_b1_ms):
            result.kept = figures
