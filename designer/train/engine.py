"""The training engine: a generator of events with a cancel flag.

``train(design, split, options, run_dir)`` yields ``start``, then ``batch`` and
``epoch`` events (plus a ``checkpoint`` whenever ``last.pt`` is written: after an epoch
at most every ``checkpoint_interval_s``, and after the last one), and ends with exactly
one of ``finished``, ``stopped`` or ``failed``. The GUI runs it in a worker
thread; the CLI prints each event's ``to_dict()`` as a JSON line. Only a
``DesignerError`` found before ``start`` escapes as an exception; anything that
goes wrong later becomes a ``failed`` event, so a bad run never takes the app down.

The hot loop is a plain PyTorch loop: running sums stay on the device, and the
host syncs once per *emitted* batch event (at most every ``event_interval_s``).
Data, events and options live beside this module (``training_events``).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from designer.base.errors import DesignerError, plain_reason
from designer.base.jobs import is_cancelled
from designer.data.loading import make_loader
from designer.data.split import DatasetSplit
from designer.data.transforms import make_transform
from designer.model.build import Design
from designer.model.policy import set_train_mode
from designer.train import guards
from designer.train import setup as ts
from designer.train.events import (
    BatchEvent,
    Best,
    CheckpointEvent,
    EpochEvent,
    FailedEvent,
    FinishedEvent,
    StartEvent,
    StoppedEvent,
)
from designer.train.options import TrainOptions
from designer.train.pacing import Pacing
from designer.train.reporting import stage_outcome, stopped_before_training, write_history
from designer.train.setup import (
    is_out_of_memory,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
    schedule_factor,
)

ENGINE_MODES = ("full", "scratch")  # head-only / linear-probe modes live in designer.train.features


class NonFiniteLoss(DesignerError):
    """The loss became NaN or infinite: every later step would only spread it through the weights."""


def _check_finite(loss_sum: float, epoch: int, step: int) -> None:
    if not math.isfinite(loss_sum):
        raise NonFiniteLoss(f"Training stopped at epoch {epoch}, step {step}: the loss became "
                            f"{'NaN' if math.isnan(loss_sum) else 'infinite'}.",
                            hint="Lower the learning rate (or use Automatic), "
                                 "or check the images for damage.")


def train(design: Design, split: DatasetSplit, options: TrainOptions, run_dir, cancel=None, resume=None,
          **run_kwargs):
    """Train ``design.model`` in place on ``split``; yields events (see module docstring).

    ``cancel``: a ``threading.Event`` or zero-argument callable; when set, the current
    batch finishes, a checkpoint is written, the best weights are restored and
    ``stopped`` is yielded. ``resume``: path to a ``last.pt`` to continue from its next epoch.
    ``run_kwargs``: ``pacing``, ``warm_start`` and ``plan`` (see ``train_loaders``).
    """
    ts.check_split(design, split)
    device = resolve_device(options.device)
    n, bs = len(split.train), options.batch_size
    train_loader = make_loader(
        split.train, make_transform(design, options.augment, train=True), bs, shuffle=True,
        workers=options.workers, drop_last=n > bs and n % bs == 1,  # a batch of 1 breaks BatchNorm
        seed=options.seed, pin_memory=device.type == "cuda")
    val_loader = make_loader(split.val, make_transform(design), bs, workers=options.workers,
                             pin_memory=device.type == "cuda") if split.val else None
    yield from train_loaders(design, train_loader, val_loader, options, run_dir, cancel, resume,
                             classes=split.classes, class_counts=list(split.class_counts("train").values()),
                             **run_kwargs)


def train_loaders(design: Design, train_loader, val_loader, options: TrainOptions, run_dir, cancel=None,
                  resume=None, classes=None, class_counts=None, pacing: Pacing | None = None,
                  warm_start=None, plan: str = ""):
    """``train`` on ready-made loaders yielding ``(images, labels[, ...])`` or ``data.Batch``.

    ``pacing``: when to validate and stop early (default: validation at most ~a quarter of the
    time, no early stop). ``warm_start``: a generator function run after ``start`` on a new run
    (not a resumed one); it yields events and returns an epoch-0 history record (its weights are
    then the best so far, saved as best.pt) or None when cancelled. ``plan``: the start event's text.
    """
    trainer = _Trainer(design, train_loader, val_loader, options, Path(run_dir), cancel, classes,
                       class_counts)
    trainer.pacing, trainer.warm_start, trainer.plan = pacing or Pacing(), warm_start, plan
    yield from trainer.run(resume)


class _Trainer:
    def __init__(self, design: Design, train_loader, val_loader, options, run_dir, cancel, classes,
                 class_counts):
        if options.mode not in ENGINE_MODES:
            raise DesignerError(f"Training mode '{options.mode}' is not run by the main engine.",
                                hint="Use the head-only / linear-probe trainer for that mode.")
        self.design, self.model, self.opts = design, design.model, options
        self.train_loader, self.val_loader = train_loader, val_loader
        self.run_dir, self.cancel_flag = run_dir, cancel
        self.classes, self.class_counts = list(classes or []), class_counts
        self.device = resolve_device(options.device)
        self.lr = options.resolved_lr
        self.history: list[dict] = []
        self.skipped: list[tuple[str, str]] = []
        self.best: Best = {"val_acc": None, "epoch": 0}
        self.global_step, self.start_epoch, self.t_start = 0, 1, time.perf_counter()
        self.last_save = self.t_start  # when last.pt was last written (see checkpoint_interval_s)
        self.train_time, self.train_steps, self.val_time = 0.0, 0, 0.0
        self.pacing, self.warm_start, self.plan = Pacing(), None, ""
        # this run's own best validation and its step: early stopping counts from it. Not stage 1's head:
        # stage 2 starts from a fresh classifier, and may climb for a while before it passes stage 1
        self.tuned_best: float | None = None
        self.best_step = 0
        self.early_stop = ""  # why the run ended before its last epoch
        self._last_val_s = 0.0  # seconds of the latest validation pass (pacing spaces the next one)
        self.memory_format = torch.contiguous_format  # the run's layout, from _setup (ts.memory_format)
        # stage 1's weights, while a stage 2 after a fitted head runs
        self.stage1_state: dict[str, torch.Tensor] | None = None
        self.restarted = self.capped = ""  # what the divergence guard and the time cap did, in words
        self.give_up = False  # the losing guard ended stage 2

    # --- setup -------------------------------------------------------------------------

    def _setup(self, resume) -> None:
        opts = self.opts
        torch.manual_seed(opts.seed)
        random.seed(opts.seed)
        self.policy = ts.apply_policy(self.design, self.model, opts.mode)
        if opts.mode == "scratch" and resume is None:
            ts.reset_parameters(self.model)
        self.memory_format = ts.memory_format(self.model, self.device)
        # Module.to takes memory_format (documented), but torch's overloads leave it out
        self.model.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        self.optimizer = ts.make_optimizer(self.model, self.policy, opts, self.lr)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.amp_dtype = ts.amp_dtype(opts, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.criterion = ts.make_criterion(opts, self.class_counts, self.device)
        self.has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.model.modules())
        self.steps_per_epoch = max(1, len(self.train_loader))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume is not None:
            self._load_resume(resume)

    def _load_resume(self, path) -> None:
        ckpt = load_checkpoint(path)
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise DesignerError("The checkpoint does not match this network or its frozen layers.",
                                hint="Resume with the same design the run was started with.") from exc
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            g["lr"] = lr  # today's options win over the saved ones (e.g. a changed LR)
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.global_step = int((ckpt.get("scheduler") or {}).get("global_step", 0))
        self.start_epoch = int(ckpt["epoch"]) + 1
        self.best = ckpt["best"]  # load_checkpoint checked it: {"val_acc": float | None, "epoch": int}
        self.history = list(ckpt.get("history", []))
        old_best = Path(path).with_name("best.pt")
        # never through a dangling link
        if old_best.is_file() and not os.path.lexists(self.run_dir / "best.pt"):
            shutil.copyfile(old_best, self.run_dir / "best.pt")

    # --- the run -----------------------------------------------------------------------

    def run(self, resume):
        try:
            yield from self._run(resume)
        finally:  # also when the caller drops the generator half-way
            self._default_layout()

    def _default_layout(self) -> None:
        """The caller gets its network back in the default layout (exporters and hashes expect it)."""
        if self.memory_format is not torch.contiguous_format:
            self.model.to(memory_format=torch.contiguous_format)

    def _run(self, resume):
        try:
            self._setup(resume)
        except DesignerError:
            raise  # bad settings, found before start: the caller shows them like any input error
        except Exception as exc:  # noqa: BLE001 -- e.g. out of memory moving the model to the GPU
            yield self._crashed(exc)
            return
        yield self._start_event()
        try:
            if resume is None and self.warm_start is not None:
                record = yield from self.warm_start(self)
                if record is None:  # cancelled before the head was fitted: nothing to keep or resume
                    yield stopped_before_training(self.design, self.run_dir, self.opts, self.classes,
                                                  self.t_start)
                    return
                stage2_start = record.pop("stage2_start", None)
                yield self._stage_record(record)
                self._begin_stage2(stage2_start)
            yield from self._epochs()
        except NonFiniteLoss as exc:  # the weights are ruined from here on: hand back the best ones
            self._restore_best()
            best = self.best["epoch"]
            kept = (f" The best weights (epoch {best}) are kept." if best
                    else " No epoch had finished, so no weights are kept.")
            yield self._failed(exc.message + kept, exc.hint)
        except DesignerError as exc:
            yield self._failed(exc.message, exc.hint)
        except Exception as exc:  # noqa: BLE001 -- the GUI gets an event, never a traceback
            yield self._crashed(exc)

    def _crashed(self, exc: Exception) -> FailedEvent:
        ts.log_traceback(self.run_dir)
        if is_out_of_memory(exc):
            return self._out_of_memory()
        return self._failed(f"Training failed: {plain_reason(exc)}",
                            "Details are in error.log in the run folder.")

    def _epochs(self):
        epoch, t_first = self.start_epoch, time.perf_counter()
        while epoch <= self.opts.epochs:  # the time cap may shorten the plan as the run goes
            if self.cancelled():
                yield from self._stop(epoch - 1)
                return
            t_epoch = time.perf_counter()
            try:
                train_loss, train_acc, stopped = yield from self._train_epoch(epoch)
            except NonFiniteLoss:
                if not self._can_restart():
                    raise
                self._restart_from_stage1()  # these weights are ruined: nothing of this epoch is kept
                train_loss, train_acc, stopped = None, None, False
            if stopped:
                yield from self._stop(epoch - 1)
                return
            epoch_train_s = time.perf_counter() - t_epoch
            self._apply_time_cap(epoch, (time.perf_counter() - t_first) / (epoch - self.start_epoch + 1))
            validate = train_loss is not None and \
                self.pacing.validate_now(epoch, self.opts.epochs, epoch_train_s, self._num_val())
            val = self._validate() if validate else (None, None)
            if val is None:  # cancelled during validation
                yield from self._stop(epoch - 1)
                return
            yield self._end_epoch(epoch, train_loss, train_acc, *val, time.perf_counter() - t_epoch, validate)
            self._guard_stage2()
            stop_early = self._stop_early(epoch)
            if self._checkpoint_due(epoch) or stop_early:
                yield self._checkpoint(epoch)
            else:
                self._write_history("running")
            if stop_early:
                break
            epoch += 1
        yield from self._finish()

    # --- stage 2 after a fitted head: its start, guards and time cap (designer.train.guards) --------

    def _begin_stage2(self, start_state) -> None:
        """Remember stage 1's weights (the divergence guard restarts from them), then load the weights
        stage 2 starts from, when the warm start gave some (a fresh classifier)."""
        self.stage1_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if start_state:
            self.model.load_state_dict(start_state, strict=False)

    def _can_restart(self) -> bool:
        return self.stage1_state is not None and not self.restarted

    def _guard_stage2(self) -> None:
        if self.stage1_state is None:
            return
        warmup_done = self.global_step >= round(self.opts.warmup_epochs * self.steps_per_epoch)
        classes = len(self.classes) or getattr(self.design, "num_classes", 2)
        if self._can_restart() and guards.diverged(self.history, classes, warmup_done):
            self._restart_from_stage1()
        elif guards.losing(self.history, self.global_step, self.opts.epochs * self.steps_per_epoch):
            head, tuned = guards.stage_accuracies(self.history)  # losing() found both
            total = self.opts.epochs * self.steps_per_epoch
            self.early_stop = (f"Stage 2 gave up after {self.global_step} of {total} steps: its best "
                               f"validation ({(tuned or 0.0) * 100:.1f} %) was still well below stage 1's "
                               f"({(head or 0.0) * 100:.1f} %).")
            self.give_up = True

    def _restart_from_stage1(self) -> None:
        """Back to stage 1's weights, a fresh optimizer at a tenth of the rate, the same schedule."""
        if self.stage1_state is None:  # no stage 1 in this run (_can_restart says so first)
            return
        self.model.load_state_dict(self.stage1_state)
        self.lr /= guards.RESTART_LR_DIVISOR
        self.base_lrs = [lr / guards.RESTART_LR_DIVISOR for lr in self.base_lrs]
        self.optimizer = ts.make_optimizer(self.model, self.policy, self.opts, self.lr)
        self.restarted = (f"Stage 2 diverged (its training loss ran far above a guess's), "
                          f"so it restarted once from stage 1's weights at a tenth of the rate ({self.lr:g}) "
                          f"after step {self.global_step}.")

    def _apply_time_cap(self, epoch: int, epoch_s: float) -> None:
        planned = self.opts.epochs
        fits = self.pacing.epochs_within_cap(epoch, planned, time.perf_counter() - self.t_start, epoch_s)
        if fits < planned:
            self.opts = replace(self.opts, epochs=fits)
            cap_min = (self.pacing.time_cap_s or 0.0) / 60  # a shortened plan means a cap was set
            self.capped = (f"The time cap ({cap_min:g} min) shortened the run from {planned} "
                           f"to {fits} epochs.")

    def _num_val(self) -> int:
        return len(self.val_loader.dataset) if self.val_loader is not None else 0

    def _stop_early(self, epoch: int) -> bool:
        if self.give_up:
            return True
        total = self.opts.epochs * self.steps_per_epoch
        if epoch >= self.opts.epochs or not self.pacing.should_stop(self.global_step - self.best_step, total):
            return False
        self.early_stop = (f"Stopped early after epoch {epoch} of {self.opts.epochs}: "
                           f"validation accuracy had not improved for {self.pacing.since_best} validations "
                           f"({self.global_step - self.best_step} steps).")
        return True

    def cancelled(self) -> bool:
        return is_cancelled(self.cancel_flag)

    def _set_mode(self, training: bool) -> None:
        if self.policy is None:
            self.model.train(training)
        else:
            set_train_mode(self.model, self.policy, training)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def _set_lr(self) -> float:
        factor = schedule_factor(self.global_step, self.steps_per_epoch, self.opts)
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            g["lr"] = lr * factor
        return self.lr * factor

    def _train_epoch(self, epoch: int):
        """One pass over the training data; yields batch events, returns (loss, acc, stopped)."""
        model, opt, dev = self.model, self.optimizer, self.device
        self._set_mode(True)
        generator = getattr(self.train_loader, "generator", None)
        if generator is not None:
            generator.manual_seed(self.opts.seed + epoch)  # same order per epoch, also after a resume
        torch.manual_seed(self.opts.seed + epoch)  # and the same augmentation and dropout draws
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        seen, last_emit, t0 = 0, 0.0, time.perf_counter()
        steps = len(self.train_loader)
        for step, batch in enumerate(self.train_loader, 1):
            x, y = self._unpack(batch)
            if y.numel() == 0 or (y.numel() == 1 and self.has_bn):
                continue  # every image failed to load, or a lone image BatchNorm cannot train on
            x, y = ts.to_device(x, dev, self.memory_format), y.to(dev, non_blocking=True)
            lr = self._set_lr()
            with self._autocast():
                out = ts.logits(model(x))
                loss = self.criterion(out, y)
            opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(opt)
                self.scaler.update()
            else:
                loss.backward()
                opt.step()
            self.global_step += 1
            seen += y.numel()
            loss_sum += loss.detach() * y.numel()
            correct += (out.argmax(1) == y).sum()
            stop, now = self.cancelled(), time.perf_counter()
            if stop or step in (1, steps) or now - last_emit >= self.opts.event_interval_s:
                last_emit = now
                yield self._batch_event(epoch, step, steps, loss_sum, correct, seen, lr, now - t0)
            if stop:
                self._add_train_time(t0, step)
                return None, None, True
        self._add_train_time(t0, steps)
        if seen == 0:
            raise DesignerError("No training image could be loaded in this epoch.",
                                hint="Check the data folder: the files may have been moved or damaged.")
        _check_finite(float(loss_sum), epoch, steps)
        return float(loss_sum) / seen, float(correct) / seen, False

    def _unpack(self, batch):
        if isinstance(batch, (list, tuple)) and len(batch) == 4 and hasattr(batch, "failed"):
            self.skipped.extend(batch.failed)
        return batch[0], batch[1]

    def _add_train_time(self, t0: float, steps: int) -> None:
        self.train_time += time.perf_counter() - t0
        self.train_steps += steps

    def _batch_event(self, epoch, step, steps, loss_sum, correct, seen, lr, elapsed) -> BatchEvent:
        _check_finite(float(loss_sum), epoch, step)
        done_steps = self.train_steps + step
        per_step = (self.train_time + elapsed) / max(1, done_steps)
        left_epochs = self.opts.epochs - epoch
        eta = per_step * (steps - step + left_epochs * steps) + self._val_estimate() * (left_epochs + 1)
        return BatchEvent(
            epoch=epoch, step=step, steps_per_epoch=steps, global_step=self.global_step,
            loss=float(loss_sum) / seen, acc=float(correct) / seen, lr=lr, eta_s=eta,
            images_per_s=seen / elapsed if elapsed > 0 else 0.0)

    def _val_estimate(self) -> float:
        """Validation seconds per epoch to come (0 before any was measured)."""
        if self.pacing.validations == 0:
            return 0.0
        per_pass = self.val_time / self.pacing.validations
        epoch_train_s = self.train_time / max(1, self.train_steps) * self.steps_per_epoch
        every = self.pacing.every(epoch_train_s, self._num_val())
        return per_pass / every

    @torch.no_grad()
    def _validate(self) -> tuple[float | None, float | None] | None:
        """(val_loss, val_acc), (None, None) without validation data, or None if cancelled."""
        if self.val_loader is None or len(self.val_loader) == 0:
            return None, None
        t0 = time.perf_counter()
        self._set_mode(False)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        seen = 0
        for batch in self.val_loader:
            if self.cancelled():
                return None
            x, y = self._unpack(batch)
            if y.numel() == 0:
                continue
            x, y = ts.to_device(x, self.device, self.memory_format), y.to(self.device, non_blocking=True)
            with self._autocast():
                out = ts.logits(self.model(x))
                loss_sum += nn.functional.cross_entropy(out.float(), y, reduction="sum")
            correct += (out.argmax(1) == y).sum()
            seen += y.numel()
        self.val_time += time.perf_counter() - t0
        self._last_val_s = time.perf_counter() - t0
        if seen == 0:
            return None, None
        return float(loss_sum) / seen, float(correct) / seen

    # --- epoch end, checkpoints, endings -------------------------------------------------

    def _end_epoch(self, epoch, train_loss, train_acc, val_loss, val_acc, epoch_time,
                   validated=True) -> EpochEvent:
        best = self.best["val_acc"]
        # Without validation data the latest weights count as the best; an epoch not validated
        # (pacing) is not compared, so its weights are not kept.
        is_best = (val_acc is None or best is None or val_acc > best) if validated else False
        if validated and val_acc is not None:
            improved = self.tuned_best is None or val_acc > self.tuned_best
            if improved:
                self.tuned_best, self.best_step = val_acc, self.global_step
            self.pacing.validated(epoch, self._last_val_s, improved)
        if is_best:
            self.best = {"val_acc": val_acc, "epoch": epoch}
            save_checkpoint(ts.weights(self.model), self.run_dir / "best.pt")
        record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                  "val_acc": val_acc, "lr": self.lr * schedule_factor(max(0, self.global_step - 1),
                                                                self.steps_per_epoch, self.opts),
                  "epoch_time_s": epoch_time}
        self.history.append(record)
        return EpochEvent(**record, best_val_acc=self.best["val_acc"], best_epoch=self.best["epoch"],
                          is_best=is_best, skipped=self._skipped())

    def _stage_record(self, record: dict) -> EpochEvent:
        """The warm start's result: epoch 0 of the history, and the best weights until beaten."""
        self.history.append(record)
        self.best = {"val_acc": record.get("val_acc"), "epoch": 0}
        save_checkpoint(ts.weights(self.model), self.run_dir / "best.pt")
        self._write_history("running")
        fields = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")
        values: dict[str, Any] = {k: record.get(k) for k in fields}  # the warm start's plain record
        return EpochEvent(**values, best_val_acc=self.best["val_acc"], best_epoch=0,
                          is_best=True, skipped=self._skipped(), stage=record.get("stage", "head"))

    def _outcome(self) -> str:
        notes = " ".join(x for x in (self.restarted, self.capped, self.early_stop) if x)
        return stage_outcome(self.history, self.best, notes)

    def _checkpoint_due(self, epoch: int) -> bool:
        interval = self.opts.checkpoint_interval_s
        return epoch >= self.opts.epochs or not interval or time.perf_counter() - self.last_save >= interval

    def _checkpoint(self, epoch: int) -> CheckpointEvent:
        save_checkpoint(self._state(epoch), self.run_dir / "last.pt")
        self.last_save = time.perf_counter()
        self._write_history("running")
        return CheckpointEvent(epoch=epoch, path=str(self.run_dir / "last.pt"),
                               best_path=str(self.run_dir / "best.pt"))

    def _state(self, epoch: int) -> dict:
        return {
            "model": ts.weights(self.model), "optimizer": self.optimizer.state_dict(),
            "scheduler": {"global_step": self.global_step, "schedule": self.opts.schedule},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": epoch, "best": dict(self.best), "history": list(self.history),
            "options": self.opts.to_dict(), "classes": list(self.classes),
        }

    def _write_history(self, status: str) -> None:
        extra = {k: v for k, v in (("plan", self.plan), ("outcome", self._outcome())) if v}
        write_history(self.run_dir, status, self.opts, self.classes, self.history, self.best, self._skipped(),
                      extra)

    def _skipped(self) -> list[list[str]]:
        """Files that failed to load so far (each once), for events and history.json."""
        return [list(s) for s in sorted(set(self.skipped))]

    def _restore_best(self) -> None:
        best = self.run_dir / "best.pt"
        if self.opts.restore_best and best.is_file():
            self.model.load_state_dict(torch.load(best, map_location=self.device, weights_only=True))

    def _stop(self, completed_epoch: int):
        """Checkpoint the current weights (for resume), then hand back the best ones. Stopped before
        the first epoch ended, nothing was trained or validated: there is no best.pt, so the run is
        never offered as a result."""
        save_checkpoint(self._state(completed_epoch), self.run_dir / "last.pt")
        self._restore_best()
        self._default_layout()
        self._write_history("stopped")
        yield StoppedEvent(epoch=completed_epoch, best_val_acc=self.best["val_acc"],
                           best_epoch=self.best["epoch"], checkpoint=str(self.run_dir / "last.pt"),
                           time_s=time.perf_counter() - self.t_start,
                           skipped=self._skipped(), outcome=self._outcome())

    def _finish(self):
        self._restore_best()
        self._default_layout()
        self._write_history("finished")
        epochs_done = sum(1 for r in self.history if r.get("epoch", 0) > 0)
        yield FinishedEvent(epochs_done=epochs_done, best_val_acc=self.best["val_acc"],
                            best_epoch=self.best["epoch"], time_s=time.perf_counter() - self.t_start,
                            run_dir=str(self.run_dir), skipped=self._skipped(), outcome=self._outcome())

    def _start_event(self) -> StartEvent:
        params = list(self.model.parameters())
        trainable = sum(p.numel() for p in params if p.requires_grad)
        return StartEvent(
            epochs=self.opts.epochs, start_epoch=self.start_epoch, steps_per_epoch=self.steps_per_epoch,
            device=str(self.device), lr=self.lr, amp=self.amp_dtype is not None,
            num_train=len(self.train_loader.dataset), classes=self.classes,
            num_val=len(self.val_loader.dataset) if self.val_loader is not None else 0,
            trainable_params=trainable, frozen_params=sum(p.numel() for p in params) - trainable,
            run_dir=str(self.run_dir), plan=self.plan,
            stages=2 if self.warm_start is not None and self.start_epoch == 1 else 1)

    def _out_of_memory(self) -> FailedEvent:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return self._failed(*ts.oom_message(self.device, self.opts), out_of_memory=True)

    def _failed(self, message: str, hint: str = "", out_of_memory: bool = False) -> FailedEvent:
        self._default_layout()
        with contextlib.suppress(Exception):
            self._write_history("failed")
        return FailedEvent(message=message, hint=hint, out_of_memory=out_of_memory)

