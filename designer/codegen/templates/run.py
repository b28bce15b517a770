"""The script's run: stage 1, stage 2's epochs, guards, early stopping, time cap, best and last.

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from designer.codegen.templates.data import (
    class_weights,
)
from designer.codegen.templates.loop import (
    EVENT_INTERVAL_S,
    all_sum,
    make_loaders,
    save_file,
    schedule_factor,
    setup_distributed,
    shuffle_epoch,
)
from designer.codegen.templates.modes import (
    diverged,
    fit_head,
    losing,
)
from designer.codegen.templates.names import (
    CLASSES,
    DEFAULT_LR,
    GUARDS,
    HEAD,
    MOMENTUM,
)
from designer.codegen.templates.policy import (
    layout,
    load_model,
    load_weights,
    param_groups,
    set_train_mode,
    weights_of,
)

# --- the script: everything below this line is copied into it ---


def train(args) -> None:
    """Train on this process (one of torchrun's, or alone); a failure is an event too."""
    run = Run(args)
    try:
        run.fit()
    except BaseException as exc:
        message = f"Training failed: {type(exc).__name__}: {exc}"
        run.emit("failed", message=str(exc) if isinstance(exc, SystemExit) else message)
        raise
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


class Run:
    """One run: its events, state, best.pt and last.pt, the schedule, and what ends it early."""

    def __init__(self, args):
        self.args, self.out = args, Path(args.out)
        self.device, self.rank, self.world_size = setup_distributed(args.device)
        self.text = sys.stderr if args.events else sys.stdout  # with --events, stdout is for JSON
        # best starts at --baseline-acc: weights that do not beat it never replace best.pt
        best = {"val_acc": args.baseline_acc, "epoch": 0}
        self.state: dict = {"epoch": 0, "global_step": 0, "best": best, "history": []}
        # this stage's best and the validations since (early stopping); the last one (pacing)
        self.tuned: dict = {"val_acc": None, "epoch": 0}
        self.since_best, self.val_epoch, self.val_s = 0, 0, None
        self.stage1_weights: dict[str, torch.Tensor] | None = None  # set by stage 1
        self.restarted, self.last_batch_event = False, 0.0
        self.notes: list[str] = []  # how the run ended early, if it did

    def say(self, line: str) -> None:
        if self.rank == 0:
            print(line, file=self.text, flush=True)

    def emit(self, kind: str, **fields) -> None:
        """With --events, process 0 prints the run's events as JSON lines (what the app reads)."""
        if self.args.events and self.rank == 0:
            print(json.dumps({"kind": kind, **fields}), flush=True)

    def fit(self) -> None:
        """Stage 1 where it is due, then stage 2's epochs until the plan, a guard or a stop ends."""
        args, device = self.args, self.device
        torch.manual_seed(args.seed)
        random.seed(args.seed)
        train_loader, val_loader, train_set, val_set, (how, skipped) = make_loaders(
            args, self.rank, self.world_size)
        self.model = model = load_model(args.weights).to(device)
        if args.mode == "scratch" and not (args.weights or args.resume):  # from random weights
            for module in model.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()
        model.to(memory_format=layout(model, device))
        self.steps, self.factor = len(train_loader), schedule_factor(args, len(train_loader))
        self.started = time.perf_counter()
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
        self.announce(len(train_set), len(val_set), how, skipped)
        # The recommended mode's stage 1, unless the app did it (--baseline-acc) or the run resumes
        if args.mode == "recommended" and HEAD and not args.resume and args.baseline_acc is None:
            self.stage1(train_set, val_set)
        elif args.stage1_weights and args.baseline_acc is not None and not args.resume:
            self.stage1_weights = load_weights(args.stage1_weights)  # the app's stage 1: guards
        self.make_optimizer()
        if args.resume:
            self.resume(args.resume)
        net = model  # what trains; under torchrun, wrapped so gradients are averaged over processes
        if self.world_size > 1:
            net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda"
                                          else None)
        weight = class_weights(train_set) if args.class_weights else None  # inverse frequency
        self.criterion = nn.CrossEntropyLoss(
            weight=torch.tensor(weight, device=device) if weight is not None else None)
        while self.state["epoch"] < args.epochs:  # a time cap may shorten the plan as the run goes
            epoch, self.epoch_start = self.state["epoch"] + 1, time.perf_counter()
            shuffle_epoch(train_loader, args.seed, epoch)
            set_train_mode(model, True, args.mode)
            train_loss, train_acc, stopped = self.run_epoch(net, train_loader, train=True)
            self.state["global_step"] = self.scheduler.last_epoch
            if stopped:  # asked to stop mid-epoch: keep this state to resume, and the best weights
                return self.finish("stopped")
            if not math.isfinite(train_loss):  # every later step would spread it over the weights
                if self.stage1_weights is None or self.restarted:  # the guard restarts once
                    raise SystemExit(f"Training stopped at epoch {epoch}: the loss became "
                                     f"{train_loss}. Lower the learning rate, or check the images.")
                self.restart()
                train_loss = train_acc = None
            train_s = time.perf_counter() - self.epoch_start
            self.cap_time(epoch, train_s)
            val_loss = val_acc = None
            if train_loss is not None and self.validate_now(epoch, train_s) and len(val_set):
                set_train_mode(model, False, args.mode)
                val_loss, val_acc, _ = self.run_epoch(model, val_loader)
            self.end_epoch({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                            "val_loss": val_loss, "val_acc": val_acc}, self.epoch_start,
                           len(val_set), val_s=time.perf_counter() - self.epoch_start - train_s)
            if self.guard() or self.stop_early(epoch):
                break
        self.finish("finished")

    def announce(self, num_train: int, num_val: int, how: str, skipped: list) -> None:
        """Say what trains on what, and which files were left out and why (as the app lists)."""
        args, where = self.args, f"{self.world_size} x {self.device.type}"
        self.say(f"Images: {how}")
        self.say(f"Training on {where}: {num_train} training images, {num_val} validation images; "
                 f"{args.mode} mode, {args.epochs} epochs of batches of {args.batch_size}")
        if skipped:
            self.say(f"Skipped {len(skipped)} file(s) or folder(s):")
            for path, reason in skipped[:10]:
                self.say(f"  {path}: {reason}")
            if len(skipped) > 10:
                self.say(f"  ... and {len(skipped) - 10} more")
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        self.emit("start", epochs=args.epochs, start_epoch=1, steps_per_epoch=self.steps,
                  lr=args.lr, device=where, amp=args.amp, mode=args.mode, num_train=num_train,
                  num_val=num_val, classes=CLASSES, trainable_params=trainable,
                  run_dir=str(self.out),
                  frozen_params=sum(p.numel() for p in self.model.parameters()) - trainable)

    def stage1(self, train_set, val_set) -> None:
        """Fit the head (the baseline: epoch 0, best.pt), then start stage 2 from a fresh one."""
        head = self.model.get_submodule(HEAD)
        fresh = {k: v.detach().clone() for k, v in head.state_dict().items()}
        record = fit_head(self.args, self.model, train_set, val_set, self.device)
        # what a validation pass costs, from the feature pass: the pacing spaces the first one
        self.val_s = record["epoch_time_s"] * len(val_set) / (len(train_set) + len(val_set))
        self.say(f"stage 1: the classifier fitted on features (L2 {record['l2']:g})")
        self.end_epoch(record, self.started, len(val_set))
        self.stage1_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        head.load_state_dict(fresh)

    def make_optimizer(self) -> None:
        """From scratch every layer trains at one rate (the design's freezing and LR factors are
        for fine-tuning); else no LR factor lifts a layer above the from-scratch rate (x10 on the
        head at 0.01 diverges)."""
        args, model = self.args, self.model
        if args.mode == "scratch":
            model.requires_grad_(True)
            names, params = zip(*model.named_parameters(), strict=True)
            groups = [{"params": list(params), "param_names": list(names), "lr": args.lr,
                       "weight_decay": args.weight_decay}]
        else:
            groups = param_groups(model, args.lr, args.weight_decay)
            for group in groups:
                group["lr"] = min(group["lr"], max(args.lr, DEFAULT_LR[args.optimizer]))
        kind = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
        extra = {"momentum": MOMENTUM} if args.optimizer == "sgd" else {}
        self.optimizer = kind[args.optimizer](groups, lr=args.lr, weight_decay=args.weight_decay,
                                              **extra)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.factor)

    def seek(self, step: int) -> None:
        """Put the schedule at ``step`` (a resumed run, or a restart after divergence)."""
        self.scheduler.last_epoch = step
        for group, base_lr in zip(self.optimizer.param_groups, self.scheduler.base_lrs,
                                  strict=True):
            group["lr"] = base_lr * self.factor(step)

    def resume(self, path: str) -> None:
        """Continue from last.pt: weights, optimizer, schedule position, best and history."""
        saved = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(saved["model"])
        names = [group.get("param_names") for group in saved["optimizer"]["param_groups"]]
        if names == [group["param_names"] for group in self.optimizer.param_groups]:
            self.optimizer.load_state_dict(saved["optimizer"])
        else:
            self.say("Note: the checkpoint's optimizer state is for other layers; "
                     "it starts afresh.")
        self.seek(int(saved["scheduler"]["global_step"]))
        self.state = {"epoch": int(saved["epoch"]), "global_step": self.scheduler.last_epoch,
                      "best": saved["best"], "history": saved.get("history", [])}
        self.val_epoch = self.state["epoch"]

    def run_epoch(self, model, loader, train: bool = False):
        """One pass: (loss, accuracy, stopped) over all processes; after_step may stop training."""
        loss_sum, correct, seen, stopped = 0.0, 0, 0, False
        device, fmt = self.device, layout(model, self.device)
        with torch.set_grad_enabled(train):
            for step, batch in enumerate(loader, 1):
                if batch is None:  # every image of this batch failed to load
                    continue
                images, labels = batch
                images = images.to(device, non_blocking=True, memory_format=fmt)  # N x C x H x W
                labels = labels.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.args.amp):
                    logits = model(images)
                    loss = self.criterion(logits.float(), labels)
                if train:
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                    self.scheduler.step()
                loss_sum += loss.item() * labels.numel()
                correct += (logits.argmax(1) == labels).sum().item()
                seen += labels.numel()
                if train and self.after_step(step, loss_sum, correct, seen):
                    stopped = True
                    break
        total_loss, total_correct, total_seen = all_sum([loss_sum, correct, seen], device)
        return total_loss / max(total_seen, 1), total_correct / max(total_seen, 1), stopped

    def after_step(self, step: int, loss_sum: float, correct: int, seen: int) -> bool:
        """A 'batch' event now and then; True (stop) on every process once --stop-file exists."""
        now, done = time.perf_counter(), self.state["global_step"] + step
        if step in (1, self.steps) or now - self.last_batch_event >= EVENT_INTERVAL_S:
            self.last_batch_event = now
            self.emit("batch", epoch=self.state["epoch"] + 1, step=step,
                      steps_per_epoch=self.steps, global_step=done, loss=loss_sum / seen,
                      acc=correct / seen, lr=self.args.lr * self.factor(done - 1), eta_s=0.0,
                      images_per_s=seen * self.world_size / max(now - self.epoch_start, 1e-9))
        if not self.args.stop_file:
            return False
        seen_it = self.rank == 0 and os.path.exists(self.args.stop_file)  # process 0 looks
        return all_sum([float(seen_it)], self.device)[0] > 0

    def validate_now(self, epoch: int, train_s: float) -> bool:
        """About --val-budget of the time, and after the last epoch; all processes together."""
        budget = self.args.val_budget
        due = epoch >= self.args.epochs or budget >= 1 or self.val_s is None or (
            (epoch - self.val_epoch) * train_s >= self.val_s * (1 - budget) / budget)
        return all_sum([float(due)], self.device)[0] > 0  # one process due: all validate

    def end_epoch(self, record: dict, start: float, num_val: int, val_s: float = 0.0) -> None:
        """Keep the weights if they beat the best (stage 1's included); record, report, save."""
        state, epoch, val_acc = self.state, record["epoch"], record["val_acc"]
        best = state["best"]["val_acc"]
        # No validation images: the latest count as the best; not validated now (pacing): not kept
        is_best = not num_val or (val_acc is not None and (best is None or val_acc > best))
        if val_acc is not None and epoch > 0:
            improved = self.tuned["val_acc"] is None or val_acc > self.tuned["val_acc"]
            self.tuned = {"val_acc": val_acc, "epoch": epoch} if improved else self.tuned
            self.since_best = 0 if improved else self.since_best + 1
            self.val_epoch, self.val_s = epoch, val_s
        if is_best:
            state["best"] = {"val_acc": val_acc, "epoch": epoch}
            if self.rank == 0:
                save_file(weights_of(self.model), self.out / "best.pt")
        if epoch > 0:
            record["lr"] = self.args.lr * self.factor(max(0, state["global_step"] - 1))
        record["epoch_time_s"] = record.get("epoch_time_s") or time.perf_counter() - start
        state["history"].append(record)
        state["epoch"] = epoch
        self.say(f"epoch {epoch}/{self.args.epochs}  " + "  ".join(
            f"{name.replace('_', ' ')} {record[name]:.4f}" for name in
            ("train_loss", "train_acc", "val_loss", "val_acc") if record[name] is not None)
            + f"  ({record['epoch_time_s']:.1f} s)")
        self.emit("epoch", **record, best_val_acc=state["best"]["val_acc"],
                  best_epoch=state["best"]["epoch"], is_best=is_best)
        if epoch > 0:
            self.save_last()
            self.emit("checkpoint", epoch=epoch, path=str(self.out / "last.pt"),
                      best_path=str(self.out / "best.pt"))

    def save_last(self) -> None:
        """last.pt, what --resume continues from (the same keys as the app's); process 0 writes."""
        if self.rank == 0:
            state = self.state
            save_file({"model": weights_of(self.model), "optimizer": self.optimizer.state_dict(),
                       "scheduler": {"global_step": state["global_step"]}, "epoch": state["epoch"],
                       "best": state["best"], "history": state["history"], "classes": CLASSES},
                      self.out / "last.pt")

    def restart(self) -> None:
        """The divergence guard, once: stage 1's weights, a fresh optimizer at a tenth the rate."""
        assert self.stage1_weights is not None, "only a run with a stage 1 restarts"
        self.model.load_state_dict(self.stage1_weights)
        self.args.lr /= GUARDS["restart_lr_divisor"]
        self.make_optimizer()
        self.seek(self.state["global_step"])
        self.restarted = True
        self.note(f"Stage 2 diverged, so it restarted from stage 1's weights at lr "
                  f"{self.args.lr:g} after step {self.state['global_step']}.")

    def guard(self) -> bool:
        """After a stage 1: restart once on divergence; True (give up) when losing late."""
        if self.stage1_weights is None:
            return False
        history, step = self.state["history"], self.state["global_step"]
        if not history or history[0]["epoch"] != 0:  # the app fitted stage 1: its accuracy to beat
            history = [{"epoch": 0, "val_acc": self.args.baseline_acc}, *history]
        total, warmup = self.args.epochs * self.steps, round(self.args.warmup_epochs * self.steps)
        if not self.restarted and diverged(history, step >= warmup):
            self.restart()
        elif losing(history, step, total):
            self.note(f"Stage 2 gave up after {step} of {total} steps: it was still well below "
                      "stage 1, whose classifier is kept.")
            return True
        return False

    def stop_early(self, epoch: int) -> bool:
        """When this stage's best is --patience validations and --patience-fraction x epochs old."""
        args = self.args
        if (not args.patience or epoch >= args.epochs or self.since_best < args.patience
                or epoch - self.tuned["epoch"] < args.patience_fraction * args.epochs):
            return False
        self.note(f"Stopped early after epoch {epoch} of {args.epochs}: validation accuracy "
                  f"had not improved for {self.since_best} validations.")
        return True

    def cap_time(self, epoch: int, epoch_s: float) -> None:
        """--max-minutes: shorten the plan to the epochs that fit (the schedule follows)."""
        cap, planned = self.args.max_minutes * 60, self.args.epochs
        if not cap or epoch >= planned:
            return
        left = max(0.0, cap - (time.perf_counter() - self.started))
        fits = max(epoch, min(planned, epoch + int(left // max(epoch_s, 1e-9))))
        fits = int(all_sum([fits], self.device)[0] // self.world_size)  # all end together
        if fits < planned:
            self.args.epochs = fits
            self.note(f"The time cap ({self.args.max_minutes:g} min) shortened the run from "
                      f"{planned} to {fits} epochs.")

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.say(text)

    def finish(self, kind: str) -> None:
        """Write last.pt (to resume from) and say how the run ended."""
        best, out = self.state["best"], self.out
        self.save_last()
        seconds = time.perf_counter() - self.started
        if best["val_acc"] is not None:
            kept = ", stage 1's classifier" if best["epoch"] == 0 and self.stage1_weights else ""
            self.say(f"Best validation accuracy {best['val_acc']:.3f} (epoch "
                     f"{best['epoch']}{kept}); weights in {out / 'best.pt'}")
        if kind == "stopped":
            self.say(f"Stopped; continue with --resume {out / 'last.pt'}")
            self.emit("stopped", epoch=self.state["epoch"], best_val_acc=best["val_acc"],
                      best_epoch=best["epoch"], checkpoint=str(out / "last.pt"), time_s=seconds)
        else:
            self.emit("finished", best_val_acc=best["val_acc"], best_epoch=best["epoch"],
                      epochs_done=sum(1 for r in self.state["history"] if r["epoch"] > 0),
                      time_s=seconds, run_dir=str(out), outcome=" ".join(self.notes))
