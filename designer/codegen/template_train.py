"""The training part of the generated script: one process or DDP, events, pacing, checkpoints,
and the app's modes (the recommended mode's two stages, fine-tuning, from scratch).

``codegen.script`` pastes ``TRAINING`` as it is (no placeholders). Split from ``template`` to keep
each module readable.
"""

TRAINING = '''

EVENT_INTERVAL_S = 0.25  # with --events: a 'batch' event at most this often

def setup_distributed(device_name: str) -> tuple[torch.device, int, int]:
    """Under torchrun, join the process group (nccl on GPUs, gloo on CPU); else one process."""
    use_cuda = torch.cuda.is_available() and device_name != "cpu"
    if device_name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but PyTorch sees no CUDA GPU here.")
    if "RANK" not in os.environ:
        return torch.device("cuda" if use_cuda else "cpu"), 0, 1
    if use_cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    else:
        dist.init_process_group("gloo")
        device = torch.device("cpu")
    return device, dist.get_rank(), dist.get_world_size()


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum numbers over all processes (a no-op on one process)."""
    total = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(total)
    return total.tolist()


class Events:
    """What the run tells the outside. People get lines of text. With --events, process 0 also
    prints each step of the run as one JSON line on stdout (start, batch, epoch, checkpoint, and
    one of finished, stopped or failed): NetSurgeon reads them to draw its live plot, and the text
    for people goes to stderr instead."""

    def __init__(self, enabled: bool, rank: int):
        self.enabled, self.rank = enabled and rank == 0, rank
        self.text = sys.stderr if enabled else sys.stdout

    def say(self, line: str) -> None:
        if self.rank == 0:
            print(line, file=self.text, flush=True)

    def emit(self, kind: str, **fields) -> None:
        if self.enabled:
            print(json.dumps({"kind": kind, **fields}), flush=True)


def stop_requested(stop_file: str | None, device: torch.device) -> bool:
    """True on every process once --stop-file exists. Process 0 looks and all of them agree, so
    they all stop after the same step and none is left waiting for the others."""
    if not stop_file:
        return False
    looks = not dist.is_initialized() or dist.get_rank() == 0
    seen = 1.0 if looks and os.path.exists(stop_file) else 0.0
    return all_sum([seen], device)[0] > 0


def make_optimizer(name: str, groups: list[dict], lr: float, weight_decay: float):
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=MOMENTUM, weight_decay=weight_decay)
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    return optimizers[name](groups, lr=lr, weight_decay=weight_decay)


def trainable_groups(model: nn.Module, args) -> list[dict]:
    """The optimizer's groups. From scratch every layer trains at one rate (as in the app: the
    design's freezing and LR factors are for fine-tuning); else FROZEN and LR_FACTORS apply, and no
    factor lifts a layer above the from-scratch rate (x10 on the head at 0.01 diverges)."""
    if args.mode == "scratch":
        model.requires_grad_(True)
        names, params = zip(*model.named_parameters(), strict=True)
        return [{"params": list(params), "param_names": list(names), "lr": args.lr,
                 "weight_decay": args.weight_decay}]
    groups = param_groups(model, args.lr, args.weight_decay)
    ceiling = max(args.lr, DEFAULT_LR[args.optimizer])
    for group in groups:
        group["lr"] = min(group["lr"], ceiling)
    return groups


def set_mode(model: nn.Module, training: bool, mode: str) -> None:
    """From scratch every BatchNorm trains; else the design's BatchNorm policy applies."""
    if mode == "scratch":
        model.train(training)
    else:
        set_train_mode(model, training)


def reset_parameters(model: nn.Module) -> None:
    """Re-initialise every layer that knows how: the from-scratch mode's start."""
    for module in model.modules():
        if callable(getattr(module, "reset_parameters", None)):
            module.reset_parameters()


def schedule_factor(args, steps_per_epoch: int):
    """The LR multiplier at each step: linear warmup, then constant, step decay or cosine to 0.
    It reads --epochs at each step: a time cap that shortens the run also ends its schedule."""

    def factor(step: int) -> float:
        warmup = round(args.warmup_epochs * steps_per_epoch)
        if step < warmup:
            return (step + 1) / warmup
        if args.schedule == "step":
            return GAMMA ** (step // ((STEP_SIZE or max(1, args.epochs // 3)) * steps_per_epoch))
        if args.schedule == "cosine":
            total = max(1, args.epochs * steps_per_epoch - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / total)))
        return 1.0

    return factor


def run_epoch(model, loader, criterion, device, optimizer=None, scheduler=None, amp=False,
              after_step=None):
    """One pass over ``loader``; trains when given an optimizer. Returns (loss, accuracy, stopped),
    loss and accuracy summed over every process. ``after_step(step, loss_sum, correct, seen)`` runs
    after each training step; when it returns True, the pass ends there."""
    loss_sum, correct, seen, stopped = 0.0, 0, 0, False
    with torch.set_grad_enabled(optimizer is not None):
        for step, batch in enumerate(loader, 1):
            if batch is None:  # every image of this batch failed to load
                continue
            images, labels = batch
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(images)
                loss = criterion(logits.float(), labels)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
            loss_sum += loss.item() * labels.numel()
            correct += (logits.argmax(1) == labels).sum().item()
            seen += labels.numel()
            if after_step is not None and after_step(step, loss_sum, correct, seen):
                stopped = True
                break
    loss_sum, correct, seen = all_sum([loss_sum, correct, seen], device)
    return loss_sum / max(seen, 1), correct / max(seen, 1), stopped


class BatchReports:
    """After each training step: a 'batch' event at most every EVENT_INTERVAL_S (always on an
    epoch's first and last step; NetSurgeon estimates the time left from them); then whether
    the run was asked to stop."""

    def __init__(self, args, events: Events, steps: int, world_size: int, device: torch.device):
        self.args, self.events, self.steps = args, events, steps
        self.world_size, self.device, self.last = world_size, device, 0.0

    def begin(self, epoch: int, global_step: int, lr) -> None:
        self.epoch, self.global_step, self.lr = epoch, global_step, lr
        self.start = time.perf_counter()

    def __call__(self, step: int, loss_sum: float, correct: int, seen: int) -> bool:
        now = time.perf_counter()
        if step in (1, self.steps) or now - self.last >= EVENT_INTERVAL_S:
            self.last = now
            self.events.emit("batch", epoch=self.epoch, step=step, steps_per_epoch=self.steps,
                             global_step=self.global_step + step, loss=loss_sum / seen,
                             acc=correct / seen, lr=self.lr(self.global_step + step - 1), eta_s=0.0,
                             images_per_s=seen * self.world_size / max(now - self.start, 1e-9))
        return stop_requested(self.args.stop_file, self.device)


class Pacing:
    """When to validate and when to stop early. Validation may take about --val-budget of the
    wall time (on 100 training and 1,700 validation images, validating after every epoch is most
    of the run): it runs again once enough training has passed, and always after the last epoch.
    With --patience N, the run stops once its own best accuracy (not a baseline's) is N
    validations old and at least --patience-fraction of the epochs old."""

    def __init__(self, args, epochs_done: int):
        self.args, self.last, self.val_s, self.since_best = args, epochs_done, None, 0

    def validate_now(self, epoch: int, train_s: float, device: torch.device) -> bool:
        budget = self.args.val_budget
        due = epoch >= self.args.epochs or budget >= 1 or self.val_s is None or (
            (epoch - self.last) * train_s >= self.val_s * (1 - budget) / budget)
        return all_sum([float(due)], device)[0] > 0  # one process due: all validate together

    def validated(self, epoch: int, seconds: float, improved: bool) -> None:
        self.last, self.val_s = epoch, seconds
        self.since_best = 0 if improved else self.since_best + 1

    def stop_early(self, epoch: int, best_epoch: int) -> bool:
        args = self.args
        if not args.patience or epoch >= args.epochs or self.since_best < args.patience:
            return False
        return epoch - best_epoch >= args.patience_fraction * args.epochs


def make_loaders(args, rank: int, world_size: int):
    """The loaders, once the mode has settled the batch size from the number of images. Each
    process gets its own shard. One process shuffles as the app does (reseeded each epoch by
    shuffle_epoch), so the same seed gives the app's order of images."""
    train_set, val_set, notes = load_datasets(args)
    settle(args, len(train_set))
    sampler = generator = None
    if world_size > 1:
        sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, seed=args.seed)
    else:
        generator = torch.Generator().manual_seed(args.seed)
    val_shard = Subset(val_set, range(rank, len(val_set), world_size))
    shard, batch_size = len(sampler) if sampler else len(train_set), args.batch_size
    drop_last = shard > batch_size and shard % batch_size == 1  # BatchNorm needs 2+
    train_loader = DataLoader(train_set, batch_size, shuffle=sampler is None, sampler=sampler,
                              generator=generator, num_workers=args.workers, drop_last=drop_last,
                              pin_memory=torch.cuda.is_available(), collate_fn=collate_loaded)
    val_loader = DataLoader(val_shard, batch_size, num_workers=args.workers,
                            collate_fn=collate_loaded)
    return train_loader, val_loader, train_set, val_set, notes


def shuffle_epoch(loader: DataLoader, seed: int, epoch: int) -> None:
    """Each epoch's order and random draws (augmentation, dropout) come from seed + epoch, as in
    the app: the same after a resume."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    else:
        loader.generator.manual_seed(seed + epoch)
    torch.manual_seed(seed + epoch)


def class_weights(dataset: ImageFiles) -> list[float]:
    """Inverse class frequency, averaging 1 over the classes that have images."""
    counts = [dataset.targets.count(k) for k in range(NUM_CLASSES)]
    inverse = [1.0 / c if c else 0.0 for c in counts]
    mean = sum(inverse) / max(1, sum(1 for w in inverse if w))
    return [w / mean for w in inverse]


def make_criterion(args, train_set: Dataset, device: torch.device) -> nn.Module:
    """Cross-entropy; with --class-weights, classes weigh by inverse frequency (mean 1)."""
    if not args.class_weights:
        return nn.CrossEntropyLoss()
    return nn.CrossEntropyLoss(weight=torch.tensor(class_weights(train_set), device=device))


def report_skipped(events: Events, skipped: list, shown: int = 10) -> None:
    """Say which files were left out and why (the app lists the same ones)."""
    if not skipped:
        return
    events.say(f"Skipped {len(skipped)} file(s) that are not usable images:")
    for path, reason in skipped[:shown]:
        events.say(f"  {path}: {reason}")
    if len(skipped) > shown:
        events.say(f"  ... and {len(skipped) - shown} more")


def save_file(obj, path: Path) -> None:
    """torch.save to a temporary file first, so a crash never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def checkpoint(model, optimizer, state: dict) -> dict:
    """What last.pt holds to continue the run with --resume (the same keys as the app's)."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": {"global_step": state["global_step"]}, "epoch": state["epoch"],
            "best": dict(state["best"]), "history": list(state["history"]), "classes": CLASSES}


def seek(optimizer, scheduler, factor, step: int) -> None:
    """Put the schedule at ``step`` (a resumed run, or a restart after divergence)."""
    scheduler.last_epoch = step
    for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base_lr * factor(step)


def resume_from(path: str, model, optimizer, scheduler, factor, events: Events) -> dict:
    """Continue a run from its last.pt: weights, optimizer state, schedule position, best and
    history."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(saved["model"])
    names = [group.get("param_names") for group in saved["optimizer"]["param_groups"]]
    if names == [group["param_names"] for group in optimizer.param_groups]:
        optimizer.load_state_dict(saved["optimizer"])
    else:
        events.say("Note: the checkpoint's optimizer state is for other layers; it starts afresh.")
    step = int(saved["scheduler"]["global_step"])
    seek(optimizer, scheduler, factor, step)
    return {"epoch": int(saved["epoch"]), "global_step": step, "best": dict(saved["best"]),
            "history": list(saved.get("history", []))}


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
    loaders = make_loaders(args, rank, world_size)
    train_loader, val_loader, train_set, val_set, (how, skipped) = loaders
    model = load_model(args.weights).to(device)
    if args.mode == "scratch" and not (args.weights or args.resume):
        reset_parameters(model)
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
        set_mode(model, True, args.mode)
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
            set_mode(model, False, args.mode)
            val_loss, val_acc, _ = run_epoch(model, val_loader, criterion, device, amp=args.amp)
        run.end_epoch({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                       "val_loss": val_loss, "val_acc": val_acc}, start, len(val_set),
                      val_s=time.perf_counter() - start - train_s)
        if run.guard() or run.stop_early(epoch):
            break
    run.finish("finished")


class Run:
    """One run: its state (epoch, step, best, history), best.pt and last.pt, the schedule, and
    what ends it early (the recommended mode's guards, early stopping, the time cap)."""

    def __init__(self, args, model: nn.Module, steps: int, events: Events, rank: int):
        self.args, self.model, self.events, self.rank = args, model, events, rank
        self.steps, self.out, self.started = steps, Path(args.out), time.perf_counter()
        # best starts at --baseline-acc: weights that do not beat it never replace best.pt
        best = {"val_acc": args.baseline_acc, "epoch": 0}
        self.state = {"epoch": 0, "global_step": 0, "best": best, "history": []}
        self.tuned = {"val_acc": None, "epoch": 0}  # this stage's own best (for early stopping)
        self.pacing, self.factor = Pacing(args, 0), schedule_factor(args, steps)
        self.stage1_weights, self.restarted, self.notes = None, False, []
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
        self.optimizer = make_optimizer(args.optimizer, groups, args.lr, args.weight_decay)
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
                save_file(self.model.state_dict(), self.out / "best.pt")
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
        """The divergence guard, once: back to stage 1's weights, a fresh optimizer at a tenth of
        the rate, the schedule where it was."""
        self.model.load_state_dict(self.stage1_weights)
        self.args.lr /= GUARDS["restart_lr_divisor"]
        self.make_optimizer()
        seek(self.optimizer, self.scheduler, self.factor, self.state["global_step"])
        self.restarted = True
        self.note(f"Stage 2 diverged, so it restarted from stage 1's weights at lr "
                  f"{self.args.lr:g} after step {self.state['global_step']}.")

    def guard(self) -> bool:
        """After a stage 1: restart once if stage 2 diverged; True (give up) when it is still
        well below stage 1 late in its steps."""
        if self.stage1_weights is None:
            return False
        history, step = self.state["history"], self.state["global_step"]
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
        """--max-minutes: once an epoch has shown its cost, shorten the plan to the epochs that
        fit (the schedule follows --epochs, so it still ends where it should)."""
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
'''
