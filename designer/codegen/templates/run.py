"""The script's run: stage 1, stage 2's epochs, guards, early stopping, time cap, best and last.

A template (see ``templates``): the code below SCRIPT_STARTS goes into the script as it is."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from designer.codegen.templates.loop import (
    BatchReports,
    Events,
    Pacing,
    all_sum,
    checkpoint,
    make_criterion,
    make_loaders,
    report_skipped,
    reset_parameters,
    resume_from,
    run_epoch,
    save_file,
    schedule_factor,
    seek,
    setup_distributed,
    shuffle_epoch,
    trainable_groups,
)
from designer.codegen.templates.modes import (
    diverged,
    fit_head,
    losing,
)
from designer.codegen.templates.names import (
    CLASSES,
    GUARDS,
    HEAD,
    MOMENTUM,
)
from designer.codegen.templates.policy import (
    layout,
    load_model,
    load_weights,
    set_train_mode,
    weights_of,
)

# --- the script: everything below this line is copied into it ---


def train(args) -> None:
    device, rank, world_size = setup_distributed(args.device)
    events = Events(args.events, rank)
    try:
        fit(args, device, rank, world_size, events)
    except BaseException as exc:
        message = f"Training failed: {type(exc).__name__}: {exc}"
        events.emit("failed", message=str(exc) if isinstance(exc, SystemExit) else message)
        raise
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def fit(args, device: torch.device, rank: int, world_size: int, events: Events) -> None:
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    train_loader, val_loader, train_set, val_set, (how, skipped) = make_loaders(args, rank,
                                                                                world_size)
    model = load_model(args.weights).to(device)
    if args.mode == "scratch" and not (args.weights or args.resume):
        reset_parameters(model)
    model.to(memory_format=layout(model, device))
    run = Run(args, model, len(train_loader), events, rank)
    events.say(f"Images: {how}")
    events.say(f"Training on {world_size} x {device.type}: {len(train_set)} training images, "
               f"{len(val_set)} validation images; {args.mode} mode, {args.epochs} epochs of "
               f"batches of {args.batch_size}")
    report_skipped(events, skipped)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    events.emit("start", epochs=args.epochs, start_epoch=1, steps_per_epoch=run.steps, lr=args.lr,
                device=f"{world_size} x {device.type}", amp=args.amp, mode=args.mode,
                num_train=len(train_set), num_val=len(val_set), classes=CLASSES,
                trainable_params=trainable, run_dir=str(run.out),
                frozen_params=sum(p.numel() for p in model.parameters()) - trainable)
    # The recommended mode's stage 1, unless the app did it (--baseline-acc) or the run resumes
    if args.mode == "recommended" and HEAD and not args.resume and args.baseline_acc is None:
        run.stage1(train_set, val_set)
    elif args.stage1_weights and args.baseline_acc is not None and not args.resume:
        run.stage1_weights = load_weights(args.stage1_weights)  # the app's stage 1 arms the guards
    run.make_optimizer()
    if args.resume:
        run.state = resume_from(args.resume, model, run.optimizer, run.scheduler, run.factor,
                                events)
        run.pacing.last = run.state["epoch"]
    net = model  # what trains; under torchrun, wrapped so gradients are averaged over processes
    if world_size > 1:
        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    criterion = make_criterion(args, train_set, device)
    reports = BatchReports(args, events, run.steps, world_size, device)
    while run.state["epoch"] < args.epochs:  # a time cap may shorten the plan as the run goes
        epoch, start = run.state["epoch"] + 1, time.perf_counter()
        shuffle_epoch(train_loader, args.seed, epoch)
        set_train_mode(model, True, args.mode)
        reports.begin(epoch, run.state["global_step"], lambda step: args.lr * run.factor(step))
        train_loss, train_acc, stopped = run_epoch(net, train_loader, criterion, device,
                                                   run.optimizer, run.scheduler, args.amp, reports)
        run.state["global_step"] = run.scheduler.last_epoch
        if stopped:  # asked to stop mid-epoch: keep this state to resume, and the best weights
            return run.finish("stopped")
        if not math.isfinite(train_loss):  # every later step would spread it through the weights
            if not run.can_restart():
                raise SystemExit(f"Training stopped at epoch {epoch}: the loss became "
                                 f"{train_loss}. Lower the learning rate, or check the images.")
            run.restart()
            train_loss = train_acc = None
        train_s = time.perf_counter() - start
        run.cap_time(epoch, train_s)
        val_loss = val_acc = None
        validate = train_loss is not None and run.pacing.validate_now(epoch, train_s, device)
        if len(val_set) and validate:
            set_train_mode(model, False, args.mode)
            val_loss, val_acc, _ = run_epoch(model, val_loader, criterion, device, amp=args.amp)
        run.end_epoch({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                       "val_loss": val_loss, "val_acc": val_acc}, start, len(val_set),
                      val_s=time.perf_counter() - start - train_s)
        if run.guard() or run.stop_early(epoch):
            break
    run.finish("finished")


class Run:
    """One run: its state, best.pt and last.pt, the schedule, and what ends it early."""

    def __init__(self, args, model: nn.Module, steps: int, events: Events, rank: int):
        self.args, self.model, self.events, self.rank = args, model, events, rank
        self.steps, self.out, self.started = steps, Path(args.out), time.perf_counter()
        # best starts at --baseline-acc: weights that do not beat it never replace best.pt
        best = {"val_acc": args.baseline_acc, "epoch": 0}
        self.state: dict = {"epoch": 0, "global_step": 0, "best": best, "history": []}
        self.tuned: dict = {"val_acc": None, "epoch": 0}  # this stage's best (early stopping)
        self.pacing, self.factor = Pacing(args, 0), schedule_factor(args, steps)
        self.stage1_weights: dict[str, torch.Tensor] | None = None  # set by stage1
        self.restarted = False
        self.notes: list[str] = []  # how the run ended early, if it did
        if rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)

    def stage1(self, train_set, val_set) -> None:
        """Fit the head (the baseline: epoch 0, best.pt), then start stage 2 from a fresh one."""
        head = self.model.get_submodule(HEAD)
        fresh = {k: v.detach().clone() for k, v in head.state_dict().items()}
        device = next(self.model.parameters()).device
        record = fit_head(self.args, self.model, train_set, val_set, device)
        # what a validation pass costs, from the feature pass: the pacing spaces the first one
        self.pacing.val_s = record["epoch_time_s"] * len(val_set) / (len(train_set) + len(val_set))
        self.events.say(f"stage 1: the classifier fitted on features (L2 {record['l2']:g})")
        self.end_epoch(record, self.started, len(val_set))
        self.stage1_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        head.load_state_dict(fresh)

    def make_optimizer(self) -> None:
        args = self.args
        groups = trainable_groups(self.model, args)
        kind = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
        extra = {"momentum": MOMENTUM} if args.optimizer == "sgd" else {}
        self.optimizer = kind[args.optimizer](groups, lr=args.lr, weight_decay=args.weight_decay,
                                              **extra)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.factor)

    def end_epoch(self, record: dict, start: float, num_val: int, val_s: float = 0.0) -> None:
        """Keep the weights if they beat the best (stage 1's included); record, report, save."""
        state, epoch, val_acc = self.state, record["epoch"], record["val_acc"]
        best = state["best"]["val_acc"]
        # No validation images: the latest count as the best; not validated now (pacing): not kept
        is_best = not num_val or (val_acc is not None and (best is None or val_acc > best))
        if val_acc is not None and epoch > 0:
            improved = self.tuned["val_acc"] is None or val_acc > self.tuned["val_acc"]
            self.tuned = {"val_acc": val_acc, "epoch": epoch} if improved else self.tuned
            self.pacing.validated(epoch, val_s, improved)
        if is_best:
            state["best"] = {"val_acc": val_acc, "epoch": epoch}
            if self.rank == 0:
                save_file(weights_of(self.model), self.out / "best.pt")
        if epoch > 0:
            record["lr"] = self.args.lr * self.factor(max(0, state["global_step"] - 1))
        record["epoch_time_s"] = record.get("epoch_time_s") or time.perf_counter() - start
        state["history"].append(record)
        state["epoch"] = epoch
        self.events.say(f"epoch {epoch}/{self.args.epochs}  " + "  ".join(
            f"{name.replace('_', ' ')} {record[name]:.4f}" for name in
            ("train_loss", "train_acc", "val_loss", "val_acc") if record[name] is not None)
            + f"  ({record['epoch_time_s']:.1f} s)")
        self.events.emit("epoch", **record, best_val_acc=state["best"]["val_acc"],
                         best_epoch=state["best"]["epoch"], is_best=is_best)
        if epoch > 0 and self.rank == 0:
            save_file(checkpoint(self.model, self.optimizer, state), self.out / "last.pt")
            self.events.emit("checkpoint", epoch=epoch, path=str(self.out / "last.pt"),
                             best_path=str(self.out / "best.pt"))

    def can_restart(self) -> bool:
        return self.stage1_weights is not None and not self.restarted

    def restart(self) -> None:
        """The divergence guard, once: stage 1's weights, a fresh optimizer at a tenth the rate."""
        assert self.stage1_weights is not None, "only a run with a stage 1 restarts"
        self.model.load_state_dict(self.stage1_weights)
        self.args.lr /= GUARDS["restart_lr_divisor"]
        self.make_optimizer()
        seek(self.optimizer, self.scheduler, self.factor, self.state["global_step"])
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
        if self.can_restart() and diverged(history, step >= warmup):
            self.restart()
        elif losing(history, step, total):
            self.note(f"Stage 2 gave up after {step} of {total} steps: it was still well below "
                      "stage 1, whose classifier is kept.")
            return True
        return False

    def stop_early(self, epoch: int) -> bool:
        if not self.pacing.stop_early(epoch, self.tuned["epoch"]):
            return False
        self.note(f"Stopped early after epoch {epoch} of {self.args.epochs}: validation accuracy "
                  f"had not improved for {self.pacing.since_best} validations.")
        return True

    def cap_time(self, epoch: int, epoch_s: float) -> None:
        """--max-minutes: shorten the plan to the epochs that fit (the schedule follows)."""
        cap, planned = self.args.max_minutes * 60, self.args.epochs
        if not cap or epoch >= planned:
            return
        left = max(0.0, cap - (time.perf_counter() - self.started))
        fits = max(epoch, min(planned, epoch + int(left // max(epoch_s, 1e-9))))
        world = dist.get_world_size() if dist.is_initialized() else 1
        device = next(self.model.parameters()).device
        fits = int(all_sum([fits], device)[0] // world)  # all processes end together
        if fits < planned:
            self.args.epochs = fits
            self.note(f"The time cap ({self.args.max_minutes:g} min) shortened the run from "
                      f"{planned} to {fits} epochs.")

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.events.say(text)

    def finish(self, kind: str) -> None:
        """Write last.pt (to resume from) and say how the run ended."""
        state, best, out = self.state, self.state["best"], self.out
        if self.rank == 0:
            save_file(checkpoint(self.model, self.optimizer, state), out / "last.pt")
        seconds = time.perf_counter() - self.started
        if best["val_acc"] is not None:
            kept = ", stage 1's classifier" if best["epoch"] == 0 and self.stage1_weights else ""
            self.events.say(f"Best validation accuracy {best['val_acc']:.3f} (epoch "
                            f"{best['epoch']}{kept}); weights in {out / 'best.pt'}")
        if kind == "stopped":
            self.events.say(f"Stopped; continue with --resume {out / 'last.pt'}")
            self.events.emit("stopped", epoch=state["epoch"], best_val_acc=best["val_acc"],
                             best_epoch=best["epoch"], checkpoint=str(out / "last.pt"),
                             time_s=seconds)
        else:
            self.events.emit("finished", best_val_acc=best["val_acc"], best_epoch=best["epoch"],
                             epochs_done=sum(1 for r in state["history"] if r["epoch"] > 0),
                             time_s=seconds, run_dir=str(out), outcome=" ".join(self.notes))
