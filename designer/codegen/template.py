"""The fixed parts of the generated training script.

``codegen`` fills the ``$name`` placeholders (``string.Template``) with the
parts that depend on the design: the header, the imports, the model builder,
the freeze / LR tables, the transforms and the argument defaults. The rest is
the same for every design: plain PyTorch that reads like a hand-written
fine-tuning script and runs unchanged under ``python`` and ``torchrun``. The
modes and the training loop are in ``template_modes`` and ``template_train``.
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

MAIN = '''

class Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where the mode decides it (None)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=Help)
    parser.add_argument("--data", help="image folder: one sub-folder per class, or train/ and val/")
    parser.add_argument("--split", help="the app's split file: the images it trained and "
                        "validated on (default: the one exported beside this script, if any); "
                        "'none' splits DATA here with --val-fraction and --split-seed")
    parser.add_argument("--weights", help="start from these weights (.pt or .safetensors)")
    parser.add_argument("--out", default="runs", help="folder for best.pt (the best weights) and "
                        "last.pt (a checkpoint to continue from)")
    parser.add_argument("--resume", metavar="LAST_PT",
                        help="continue a stopped run from its last.pt")
    parser.add_argument("--mode", choices=$modes, default=$mode,
                        help="recommended: fit the classifier on features computed once, then "
                        "fine-tune from a fresh one; full: fine-tune; scratch: from random weights")
    # Flags left out (None) are settled by the mode: SETTINGS, or planned (see settle)
    for flag, kind in (("--epochs", int), ("--batch-size", int), ("--warmup-epochs", float)):
        parser.add_argument(flag, type=kind, help="default: planned (recommended) or SETTINGS")
    parser.add_argument("--lr", type=float, help="base LR, times each LR factor")
    parser.add_argument("--optimizer", choices=$optimizers, default=$optimizer)
    parser.add_argument("--schedule", choices=$schedules)
    parser.add_argument("--weight-decay", type=float, default=$weight_decay)
    parser.add_argument("--seed", type=int, default=$seed)
    parser.add_argument("--val-fraction", type=float, default=$val_fraction,
                        help="share of each class held out when DATA has no val/ folder")
    parser.add_argument("--split-seed", type=int, default=$split_seed,
                        help="which images are held out (the app's split seed)")
    parser.add_argument("--workers", type=int, default=$workers, help="data loading processes")
    parser.add_argument("--class-weights", action=argparse.BooleanOptionalAction,
                        default=$class_weights,
                        help="weigh classes by inverse frequency")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=$amp,
                        help="bfloat16 mixed precision")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: the GPUs when PyTorch sees one, else the CPU")
    parser.add_argument("--val-budget", type=float, help="share of the time validation may take "
                        "(1: after every epoch); this and the next three default to PACING[mode]")
    parser.add_argument("--patience", type=int, help="stop when validation accuracy has not "
                        "improved for this many validations (0: never)")
    parser.add_argument("--patience-fraction", type=float,
                        help="... and the best is at least this share of the epochs old")
    parser.add_argument("--max-minutes", type=float, help="time cap (0: none)")
    parser.add_argument("--baseline-acc", type=float, default=None,
                        help="best.pt is only replaced by weights that beat this validation "
                        "accuracy (the app's stage 1: then the script skips its own)")
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
