"""What every trainer outside the engine (cached head, linear probe) reports the engine's way:
the start event, extraction progress as epoch-0 batch events, history.json, and how a run that
stopped or failed before training ends."""

from __future__ import annotations

import time
from pathlib import Path

from designer.base.errors import DesignerError, plain_reason
from designer.base.fileio import write_json
from designer.model.build import Design
from designer.train import setup as ts
from designer.train.events import BatchEvent, Best, FailedEvent, StartEvent, StoppedEvent


def start_event(design: Design, options, split, steps, epochs, run_dir, start_epoch=1,
                trained: str | None = None,
                plan: str = "", unit: str = "epoch", lr: float | None = None) -> StartEvent:
    """``trained``: the module path the run trains (its weights count as trainable, every other one as
    frozen); None counts ``requires_grad``."""
    named = list(design.model.named_parameters())
    if trained is None:
        trainable = sum(p.numel() for _, p in named if p.requires_grad)
    else:
        trainable = sum(p.numel() for n, p in named
                        if not trained or n == trained or n.startswith(trained + "."))
    device = ts.resolve_device(options.device)
    return StartEvent(epochs=epochs, start_epoch=start_epoch, steps_per_epoch=steps, device=str(device),
                      lr=options.resolved_lr if lr is None else lr,
                      amp=ts.amp_dtype(options, device) is not None,
                      num_train=len(split.train), num_val=len(split.val), classes=list(split.classes),
                      trainable_params=trainable, frozen_params=sum(p.numel() for _, p in named) - trainable,
                      run_dir=str(run_dir), plan=plan, unit=unit)


def progress_events(gen, t0: float, num_images: int):
    """Turn (done, total) extraction progress into epoch-0 batch events; returns gen's result."""
    while True:
        try:
            done, total = next(gen)
        except StopIteration as stop:
            return stop.value
        elapsed = time.perf_counter() - t0
        yield BatchEvent(epoch=0, step=done, steps_per_epoch=total, global_step=0, loss=0.0, acc=0.0,
                         lr=0.0, eta_s=elapsed / done * (total - done),
                         images_per_s=num_images * done / max(total, 1) / max(elapsed, 1e-9))


def write_history(run_dir: Path, status: str, options, classes, history, best, skipped, extra=None):
    data = {"status": status, "classes": list(classes), "options": options.to_dict(),
            "device": str(ts.resolve_device(options.device)), "best_val_acc": best["val_acc"],
            "best_epoch": best["epoch"], "epochs": history, "skipped": skipped, **(extra or {})}
    write_json(run_dir / "history.json", data)


def stopped_before_training(design: Design, run_dir: Path, options, classes, t0) -> StoppedEvent:
    """Cancelled while extracting: nothing was trained, so no best.pt (the run is no result)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_history(run_dir, "stopped", options, classes, [], {"val_acc": None, "epoch": 0}, [])
    return StoppedEvent(epoch=0, best_val_acc=None, best_epoch=0, checkpoint="",
                        time_s=time.perf_counter() - t0)


def failed_event(exc: Exception, run_dir: Path, options) -> FailedEvent:
    ts.log_traceback(run_dir)
    if isinstance(exc, DesignerError):
        return FailedEvent(message=exc.message, hint=exc.hint)
    if ts.is_out_of_memory(exc):
        return FailedEvent(*ts.oom_message(ts.resolve_device(options.device), options), out_of_memory=True)
    return FailedEvent(message=f"Feature extraction failed: {plain_reason(exc)}",
                       hint="Details are in error.log in the run folder.")


def stage_outcome(history: list[dict], best: Best, early_stop: str = "") -> str:
    """Which weights a run kept and why, in plain words ("" for a plain run): the recommended
    mode's stage 1 (epoch 0 of ``history``) against its fine-tuning, and an early stop."""
    parts = [early_stop] if early_stop else []
    head = next((r for r in history if r.get("epoch") == 0), None)
    top, first = best["val_acc"], head.get("val_acc") if head else None
    if first is not None and top is not None:
        if best["epoch"] == 0:
            tried = len(history) - 1
            in_epochs = f" in its {tried} epochs" if tried else ""
            parts.append("Fine-tuning (stage 2) never beat the head fitted in stage 1 on the validation "
                         f"images ({_pct(first)}){in_epochs}, so the stage-1 weights are kept.")
        else:
            parts.append(f"Fine-tuning (stage 2) won: {_pct(top)} on the validation images at epoch "
                         f"{best['epoch']}, against {_pct(first)} for the head fitted in stage 1. Its "
                         "weights are kept.")
    return " ".join(parts)


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"
