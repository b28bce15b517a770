"""The fixed parts of the generated training script.

``codegen`` fills the ``$name`` placeholders (``string.Template``) with the
parts that depend on the design: the header, the imports, the model builder,
the freeze / LR tables, the transforms and the training defaults. The rest is
the same for every design: plain PyTorch that reads like a hand-written
fine-tuning script and runs unchanged under ``python`` and ``torchrun``.
"""

POLICY = '''

def is_under(name: str, prefix: str) -> bool:
    """True if parameter ``name`` lies in the module at ``prefix`` ("" is the whole model)."""
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def lr_factor_of(name: str) -> float:
    """The LR factor of the LR_FACTORS entry containing parameter ``name`` (1.0 if none)."""
    return next((factor for prefix, factor in LR_FACTORS.items() if is_under(name, prefix)), 1.0)


def freeze(model: nn.Module) -> None:
    """Frozen parameters get no gradient and stay out of the optimizer."""
    for name, param in model.named_parameters():
        if any(is_under(name, prefix) for prefix in FROZEN):
            param.requires_grad_(False)


def param_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """One optimizer group per LR factor, lr = base lr x factor; frozen parameters are left out."""
    groups: dict[float, dict] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            factor = lr_factor_of(name)
            group = groups.setdefault(factor, {"params": [], "param_names": [], "lr": lr * factor,
                                               "weight_decay": weight_decay})
            group["params"].append(param)
            group["param_names"].append(name)
    return list(groups.values())


$set_train_mode
'''

SET_TRAIN_MODE = {
    "frozen_eval": '''
def set_train_mode(model: nn.Module, training: bool) -> None:
    """Like model.train(training), but BatchNorm layers whose weights are frozen stay in eval
    mode: in train mode they would keep updating their running statistics and drift."""
    model.train(training)
    for module in model.modules():
        params = list(module.parameters())
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and params and not any(
            p.requires_grad for p in params
        ):
            module.eval()
''',
    "train": '''
def set_train_mode(model: nn.Module, training: bool) -> None:
    """Every layer follows the mode, BatchNorm included (the design trains all BN statistics)."""
    model.train(training)
''',
    "eval": '''
def set_train_mode(model: nn.Module, training: bool) -> None:
    """Like model.train(training), but every BatchNorm layer stays in eval mode (fixed statistics)."""
    model.train(training)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
''',
}

MODEL_IO = '''

def load_weights(path: str) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a .pt/.pth file (tensors only, no code); from a
    checkpoint (last.pt), its model weights."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["model"] if isinstance(state.get("model"), dict) else state


def load_model(weights: str | None) -> nn.Module:
    """The designed network, its freezing applied; with ``weights``, those weights loaded."""
    model = $build_call
    if weights:
        model.load_state_dict(load_weights(weights))
    freeze(model)
    return model


def check(weights: str | None) -> None:
    """Print what a parity check compares, as JSON: state-dict keys, the logits of a fixed
    seeded input (eval mode) and the LR factor of every trainable parameter."""
    model = load_model(weights).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn((2, IN_CHANNELS, HEIGHT, WIDTH), generator=generator)
    with torch.no_grad():
        logits = model(inputs)
    groups = param_groups(model, lr=1.0, weight_decay=0.0)
    factors = {name: group["lr"] for group in groups for name in group["param_names"]}
    report = {"keys": list(model.state_dict()), "logits": logits.tolist(), "lr_factors": factors}
    print(json.dumps(report))
'''

DATA = '''

def load_image(path: str) -> Image.Image:
    """Open an image upright (phone photos store their rotation in EXIF) in $pil_mode mode."""
    with Image.open(path, formats=IMAGE_FORMATS) as img:
        return ImageOps.exif_transpose(img).convert("$pil_mode")
$extra_data_code

def make_transform(train: bool) -> v2.Compose:
    """Resize to the network's input, augment (training only), scale to [0, 1] and normalise."""
    steps = [v2.Resize((HEIGHT, WIDTH), antialias=True)]
    if train:
        steps += AUGMENT
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)$channel_steps,
              v2.Normalize(MEAN, STD)]
    return v2.Compose(steps)


def unusable(path: Path) -> str | None:
    """Why ``path`` is not a usable image, or None: the same cheap check as the app's scan."""
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return "not an image file (unknown extension)"
    try:
        if not path.is_file():  # a pipe or device would block the open, or never end
            return "not a regular file"
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path, formats=IMAGE_FORMATS) as img:
            img.verify()
    except Exception as exc:  # noqa: BLE001 -- PIL raises many types for a bad file: skip it
        return f"cannot be read as an image ({type(exc).__name__}: {exc})"
    return None


def list_images(folder: Path, skipped: list) -> list[str]:
    """Usable images under ``folder`` (hidden files left out); bad ones go to ``skipped``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in IGNORED_NAMES:
                continue
            path = Path(dirpath) / name
            reason = unusable(path)
            if reason:
                skipped.append((str(path), reason))
            else:
                found.append(str(path))
    return sorted(found)


def class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def stratified_split(per_class: dict[str, list[str]], val_fraction: float, seed: int):
    """Seeded per-class split into (train, val) samples, the same as NetSurgeon's:
    each class keeps at least one training image."""
    rng = random.Random(seed)
    train, val = [], []
    for label, paths in enumerate(per_class.values()):
        paths = sorted(paths)
        rng.shuffle(paths)
        n_val = 0
        if val_fraction > 0:
            n_val = min(max(1, round(len(paths) * val_fraction)), max(0, len(paths) - 1))
        val += [(p, label) for p in paths[:n_val]]
        train += [(p, label) for p in paths[n_val:]]
    return train, val


def split_folders(root: Path) -> dict[str, Path]:
    """ROOT's train/ and val/ (or test/) folders, if ROOT is laid out that way."""
    names = {p.name.lower(): p for p in class_folders(root)}
    found = {}
    for which, aliases in SPLIT_DIRS.items():
        match = next((names[a] for a in aliases if a in names), None)
        if match is not None:
            found[which] = match
    return found if "train" in found and ("val" in found or "test" in found) else {}


def scan(folder: Path, skipped: list, classes: list[str] | None = None) -> dict[str, list[str]]:
    """Usable images per class sub-folder of ``folder``; classes with none are left out."""
    names = classes or [p.name for p in class_folders(folder)]
    per_class = {name: list_images(folder / name, skipped) if (folder / name).is_dir() else []
                 for name in names}
    if classes:
        return per_class
    return {name: paths for name, paths in per_class.items() if paths}


def scan_data(root: str, val_fraction: float, seed: int):
    """(classes, train, val, skipped) from ROOT, checked and split exactly as the app does:
    one sub-folder per class split per class, or train/ and val/ used as they are."""
    root_path, skipped = Path(root), []
    splits = split_folders(root_path)
    if not splits:
        per_class = scan(root_path, skipped)
        return list(per_class), *stratified_split(per_class, val_fraction, seed), skipped
    per_class = scan(splits["train"], skipped)
    classes = list(per_class)
    if "val" not in splits:  # only test/ beside train/: validation comes out of train/
        return classes, *stratified_split(per_class, val_fraction, seed), skipped
    train, _ = stratified_split(per_class, 0.0, seed)
    val_class = scan(splits["val"], skipped, classes)
    val = [(p, label) for label, name in enumerate(classes) for p in val_class[name]]
    return classes, train, val, skipped


def read_split(path: str, root: str | None):
    """(classes, train, val, skipped) from a split file the app wrote: the very images it
    trained and validated on. Paths in it are relative to the data folder (--data, else the
    folder the app used); files that are gone are skipped."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    base = Path(root or data.get("root") or ".")
    classes = [str(c) for c in data["classes"]]
    skipped = [(str(base / p), str(why)) for p, why in data.get("skipped", [])]

    def samples(key: str) -> list:
        out = []
        for item, label in data.get(key, []):
            file = base / item
            if not isinstance(label, int) or not 0 <= label < len(classes):
                raise SystemExit(f"{path}: label {label!r} of {item} is not a class index.")
            if file.is_file():
                out.append((str(file), label))
            else:
                skipped.append((str(file), "listed in the split but not found"))
        return out

    train, val = samples("train"), samples("val")
    if not train:
        raise SystemExit(f"None of the training images listed in {path} is under {base}. "
                         "Point --data at the folder the app used, or pass --split none.")
    return classes, train, val, skipped


class ImageFiles(Dataset):
    """(path, label) samples -> (image tensor, label); None for a file that fails to load, so
    one damaged image never ends the run (``collate_loaded`` drops it)."""

    def __init__(self, samples: list, train: bool):
        self.samples = list(samples)
        self.targets = [label for _, label in self.samples]
        self.transform = make_transform(train)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        try:
            return self.transform(load_image(path)), label
        except Exception as exc:  # noqa: BLE001 -- damaged after the scan: skip it, say so
            print(f"skipped {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return None


def collate_loaded(items: list):
    """A batch of the images that loaded (None when none did)."""
    loaded = [item for item in items if item is not None]
    return torch.utils.data.default_collate(loaded) if loaded else None


def load_datasets(args) -> tuple[Dataset, Dataset, tuple[str, list]]:
    """The training and validation images: the app's own split when there is one (--split),
    else DATA scanned and split here the way the app does. Unreadable files are skipped."""
    use_split = args.split and args.split.lower() != "none"
    if use_split:
        classes, train, val, skipped = read_split(args.split, args.data)
        how = f"the app's split ({args.split})"
    else:
        classes, train, val, skipped = scan_data(args.data, args.val_fraction, args.split_seed)
        how = f"split here: {args.val_fraction:g} of each class held out, seed {args.split_seed}"
    check_classes(classes)
    return ImageFiles(train, train=True), ImageFiles(val, train=False), (how, skipped)


def check_classes(found: list[str]) -> None:
    if len(found) != NUM_CLASSES:
        raise SystemExit(f"The data has {len(found)} classes {found}, "
                         f"but the network has {NUM_CLASSES} outputs.")
    if CLASSES and found != CLASSES:
        print(f"Note: the data's classes {found} differ from the design's {CLASSES}.")
'''

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


def schedule_factor(name: str, epochs: int, steps_per_epoch: int, warmup_epochs: float):
    """The LR multiplier at each step: linear warmup, then constant, step decay or cosine to 0."""
    warmup = round(warmup_epochs * steps_per_epoch)
    total = max(1, epochs * steps_per_epoch - warmup)
    step_every = (STEP_SIZE or max(1, epochs // 3)) * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if name == "step":
            return GAMMA ** (step // step_every)
        if name == "cosine":
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
    With --patience N, the run stops once its best accuracy is N validations old and at least
    --patience-fraction of the epochs old."""

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
    train_set, val_set, notes = load_datasets(args)
    # Each process gets its own shard; one process (world_size 1) gets everything.
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, seed=args.seed)
    val_shard = Subset(val_set, range(rank, len(val_set), world_size))
    batch_size = args.batch_size
    drop_last = len(sampler) > batch_size and len(sampler) % batch_size == 1  # BatchNorm needs 2+
    train_loader = DataLoader(train_set, batch_size, sampler=sampler, num_workers=args.workers,
                              drop_last=drop_last, pin_memory=torch.cuda.is_available(),
                              collate_fn=collate_loaded)
    val_loader = DataLoader(val_shard, batch_size, num_workers=args.workers,
                            collate_fn=collate_loaded)
    return train_loader, val_loader, train_set, len(val_set), notes


def class_counts(dataset: ImageFiles) -> list[int]:
    return [dataset.targets.count(c) for c in range(NUM_CLASSES)]


def make_criterion(args, train_set: Dataset, device: torch.device) -> nn.Module:
    """Cross-entropy; with --class-weights, classes weigh by inverse frequency (mean 1)."""
    if not args.class_weights:
        return nn.CrossEntropyLoss()
    inverse = [1.0 / c if c else 0.0 for c in class_counts(train_set)]
    mean = sum(inverse) / max(1, sum(1 for w in inverse if w))
    return nn.CrossEntropyLoss(weight=torch.tensor([w / mean for w in inverse], device=device))


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
    scheduler.last_epoch = step
    for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base_lr * factor(step)
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
    train_loader, val_loader, train_set, num_val, (how, skipped) = loaders
    model = load_model(args.weights).to(device)
    optimizer = make_optimizer(args.optimizer, param_groups(model, args.lr, args.weight_decay),
                               args.lr, args.weight_decay)
    steps = len(train_loader)
    factor = schedule_factor(args.schedule, args.epochs, steps, args.warmup_epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    criterion = make_criterion(args, train_set, device)
    # best["val_acc"] starts at --baseline-acc: weights that do not beat it never replace best.pt
    best = {"val_acc": args.baseline_acc, "epoch": 0}
    state = {"epoch": 0, "global_step": 0, "best": best, "history": []}
    if args.resume:
        state = resume_from(args.resume, model, optimizer, scheduler, factor, events)
    net = model  # what trains; under torchrun, wrapped so gradients are averaged over processes
    if world_size > 1:
        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    out, started = Path(args.out), time.perf_counter()
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    events.say(f"Images: {how}")
    events.say(f"Training on {world_size} x {device.type}: {len(train_set)} training images, "
               f"{num_val} validation images")
    report_skipped(events, skipped)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters()) - trainable
    events.emit("start", epochs=args.epochs, start_epoch=state["epoch"] + 1, steps_per_epoch=steps,
                device=f"{world_size} x {device.type}", lr=args.lr, amp=args.amp,
                num_train=len(train_set), num_val=num_val, classes=CLASSES,
                trainable_params=trainable, frozen_params=frozen, run_dir=str(out))
    reports = BatchReports(args, events, steps, world_size, device)
    pacing, note = Pacing(args, state["epoch"]), ""
    for epoch in range(state["epoch"] + 1, args.epochs + 1):
        start = time.perf_counter()
        train_loader.sampler.set_epoch(epoch)
        set_train_mode(model, True)
        reports.begin(epoch, state["global_step"], lambda step: args.lr * factor(step))
        train_loss, train_acc, stopped = run_epoch(net, train_loader, criterion, device, optimizer,
                                                   scheduler, args.amp, reports)
        state["global_step"] = scheduler.last_epoch
        if stopped:  # asked to stop mid-epoch: keep this state to resume, and the best weights
            finish(events, "stopped", args, model, optimizer, state, started, rank)
            return
        if not math.isfinite(train_loss):  # every later step would spread it through the weights
            raise SystemExit(f"Training stopped at epoch {epoch}: the loss became {train_loss}. "
                             "Lower the learning rate, or check the images for damage.")
        train_s = time.perf_counter() - start
        val_loss = val_acc = None
        if num_val and pacing.validate_now(epoch, train_s, device):
            set_train_mode(model, False)
            val_loss, val_acc, _ = run_epoch(model, val_loader, criterion, device, amp=args.amp)
        val_s = time.perf_counter() - start - train_s
        best = state["best"]
        # No validation images: the latest count as the best; not validated now (pacing): not kept
        beats = val_acc is not None and (best["val_acc"] is None or val_acc > best["val_acc"])
        is_best = not num_val or beats
        if val_acc is not None:
            pacing.validated(epoch, val_s, is_best)
        if is_best:
            state["best"] = {"val_acc": val_acc, "epoch": epoch}
            if rank == 0:
                save_file(model.state_dict(), out / "best.pt")
        record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                  "val_loss": val_loss, "val_acc": val_acc,
                  "lr": args.lr * factor(max(0, state["global_step"] - 1)),
                  "epoch_time_s": time.perf_counter() - start}
        state["history"].append(record)
        state["epoch"] = epoch
        events.say(f"epoch {epoch}/{args.epochs}  train loss {train_loss:.4f} acc {train_acc:.3f}  "
                   + (f"val loss {val_loss:.4f} acc {val_acc:.3f}  " if val_acc is not None else "")
                   + f"({record['epoch_time_s']:.1f} s)")
        events.emit("epoch", **record, best_val_acc=state["best"]["val_acc"],
                     best_epoch=state["best"]["epoch"], is_best=is_best)
        if rank == 0:
            save_file(checkpoint(model, optimizer, state), out / "last.pt")
        events.emit("checkpoint", epoch=epoch, path=str(out / "last.pt"),
                    best_path=str(out / "best.pt"))
        if pacing.stop_early(epoch, state["best"]["epoch"]):
            note = (f"Stopped early after epoch {epoch} of {args.epochs}: validation accuracy "
                    f"had not improved for {pacing.since_best} validations.")
            events.say(note)
            break
    finish(events, "finished", args, model, optimizer, state, started, rank, note)


def finish(events, kind, args, model, optimizer, state, started, rank, note="") -> None:
    """Write last.pt (to resume from) and say how the run ended."""
    out, best = Path(args.out), state["best"]
    if rank == 0:
        save_file(checkpoint(model, optimizer, state), out / "last.pt")
    seconds = time.perf_counter() - started
    if best["val_acc"] is not None:
        events.say(f"Best validation accuracy {best['val_acc']:.3f} (epoch {best['epoch']}); "
                   f"weights in {out / 'best.pt'}")
    if kind == "stopped":
        events.say(f"Stopped; continue with --resume {out / 'last.pt'}")
        events.emit("stopped", epoch=state["epoch"], best_val_acc=best["val_acc"],
                    best_epoch=best["epoch"], checkpoint=str(out / "last.pt"), time_s=seconds)
    else:
        events.emit("finished", epochs_done=sum(1 for r in state["history"] if r["epoch"] > 0),
                    best_val_acc=best["val_acc"], best_epoch=best["epoch"], time_s=seconds,
                    run_dir=str(out), outcome=note)
'''

MAIN = '''

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", help="image folder: one sub-folder per class, or train/ and val/")
    parser.add_argument("--split", help="the app's split file: the images it trained and "
                        "validated on (default: the one exported beside this script, if any); "
                        "'none' splits DATA here with --val-fraction and --split-seed")
    parser.add_argument("--weights", help="start from these weights (.pt or .safetensors)")
    parser.add_argument("--out", default="runs", help="folder for best.pt (the best weights) and "
                        "last.pt (a checkpoint to continue from)")
    parser.add_argument("--resume", metavar="LAST_PT",
                        help="continue a stopped run from its last.pt")
    parser.add_argument("--epochs", type=int, default=$epochs)
    parser.add_argument("--batch-size", type=int, default=$batch_size, help="per process")
    parser.add_argument("--lr", type=float, default=$lr, help="base LR, times each LR factor")
    parser.add_argument("--optimizer", choices=$optimizers, default=$optimizer)
    parser.add_argument("--schedule", choices=$schedules, default=$schedule)
    parser.add_argument("--warmup-epochs", type=float, default=$warmup_epochs)
    parser.add_argument("--weight-decay", type=float, default=$weight_decay)
    parser.add_argument("--seed", type=int, default=$seed)
    parser.add_argument("--val-fraction", type=float, default=$val_fraction,
                        help="share of each class held out when DATA has no val/ folder")
    parser.add_argument("--split-seed", type=int, default=$split_seed,
                        help="which images are held out (the app's split seed)")
    parser.add_argument("--workers", type=int, default=$workers, help="data loading processes")
    parser.add_argument("--class-weights", action=argparse.BooleanOptionalAction, default=$class_weights,
                        help="weigh classes by inverse frequency")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=$amp,
                        help="bfloat16 mixed precision")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: the GPUs when PyTorch sees one, else the CPU")
    parser.add_argument("--val-budget", type=float, default=1.0,
                        help="share of the wall time validation may take (1: after every epoch)")
    parser.add_argument("--patience", type=int, default=0,
                        help="stop when validation accuracy has not improved for this many "
                        "validations (0: never)")
    parser.add_argument("--patience-fraction", type=float, default=0.0,
                        help="... and the best is at least this share of the epochs old")
    parser.add_argument("--baseline-acc", type=float, default=None,
                        help="best.pt is only replaced by weights that beat this validation "
                        "accuracy (the app passes its stage-1 classifier's)")
    parser.add_argument("--events", action="store_true",
                        help="print the run's events as JSON lines on stdout (what NetSurgeon "
                        "reads); text for people goes to stderr")
    parser.add_argument("--stop-file", help="stop after the current step once this file exists, "
                        "keeping last.pt to resume and best.pt")
    parser.add_argument("--check", action="store_true",
                        help="print state-dict keys, logits of a fixed input and LR factors "
                        "as JSON, then exit")
    args = parser.parse_args()
    beside = Path(__file__).with_name(SPLIT_FILE) if SPLIT_FILE else None
    if args.split is None and beside is not None and beside.is_file():
        args.split = str(beside)
    if args.split and args.split.lower() != "none" and not Path(args.split).is_file():
        parser.error(f"the split file {args.split} does not exist "
                     "(pass --split none to split DATA here)")
    if not args.check and not args.data and not (args.split and args.split.lower() != "none"):
        parser.error("--data is required to train")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.check:
        check(arguments.weights)
    else:
        train(arguments)
'''
