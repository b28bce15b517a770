"""Generate a standalone, readable training script from a design: three small modules.

The script rebuilds the edited network from torchvision (or the same builder
the app used) plus each recipe op written out as plain PyTorch, applies the
freezing, LR factors and BatchNorm policy as small tables, and trains as the app
does in the mode it was exported from (``--mode``: the recommended mode's two stages,
fine-tuning, or from scratch), with the app's settings and its numbers (the recommended
plan, pacing, L2 grid, guards) written as constants from the app's own modules. It runs
with ``python train.py`` and unchanged with ``torchrun --nproc_per_node=N train.py``
(DistributedDataParallel). It imports nothing from NetSurgeon, only ``model.py`` (the network and
what trains) and ``data.py`` (the images), written beside it: each file reads top to bottom, and
an engineer can import the network for inference without the training code.

``script_files`` returns the three texts; ``write_script`` writes them, each atomically.
Model code comes from ``codegen.model``; the fixed parts from the Python modules in
``codegen.templates``, read as text; the constants here tell them the design and the app's settings.
"""

from __future__ import annotations

import stat
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

from designer import __version__
from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write_text
from designer.codegen import modules, templates
from designer.codegen.literals import comment_text, docstring_text, literal, number
from designer.codegen.model import ModelCode, model_code
from designer.codegen.policy import policy_code
from designer.data.folders import IGNORED_NAMES, SPLIT_DIRS
from designer.data.images import ALLOWED_FORMATS, IMAGE_EXTENSIONS
from designer.model.build import Design, network_input
from designer.model.recipe import Recipe
from designer.model.trained import structure_of
from designer.train import guards, logistic
from designer.train import recommended as rec
from designer.train.options import (
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    FINE_TUNE_LR_DIVISOR,
    FULL_RATE_MODES,
    OPTIMIZERS,
    PLAN_FIELDS,
    SCHEDULES,
    TrainOptions,
)
from designer.train.probe import probe_layer
from designer.zoo.sources import SOURCES

DEFAULT_VAL_FRACTION = 0.2
SCRIPT_MODES = ("recommended", "full", "scratch")  # the app's modes the script runs (--mode)
_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_PIL_CHANNELS = {"L": 1, "RGB": 3, "RGBA": 4}


class SplitArgs(TypedDict, total=False):
    """How the script finds the app's split, as ``generate_script``'s keyword arguments take it."""

    split_file: str | None
    val_fraction: float | None
    split_seed: int
    num_train: int | None


MODEL_FILE, DATA_FILE = "model.py", "data.py"  # beside the script, which imports them
SCRIPT_FILES = ("train.py", MODEL_FILE, DATA_FILE)  # as export writes them, the script first


def script_files(target: Design | Recipe, *, training=None, classes=None,
                 val_fraction: float | None = None, split_seed: int = 0, name: str = SCRIPT_FILES[0],
                 split_file: str | None = None, num_train: int | None = None) -> dict[str, str]:
    """The script for ``design`` (a built ``Design`` or a ``Recipe``; no weights are loaded), as
    {file name: text}: the training script ``name`` first, then ``model.py`` (the network and what
    trains) and ``data.py`` (the images) that it imports from beside it.
    ``training``: ``TrainOptions`` or its dict. ``split_file``: the name of the app's split file
    written beside the script (``export.splitfile``), which the script then uses by default;
    ``val_fraction`` and ``split_seed``: how the script splits DATA itself without one.
    ``num_train``: training images, for the header's words on the recommended mode's plan (the
    script plans it from the data it is given)."""
    if name in (MODEL_FILE, DATA_FILE) or not name.endswith(".py"):
        raise DesignerError(f"The training script cannot be called {name}: it needs a .py name other "
                            f"than {MODEL_FILE} and {DATA_FILE}, which are written beside it.")
    design = structure(target)
    options = _options(training)
    if options.mode == "search":  # the script trains what the search tries first: the recommended plan
        options = replace(options, mode="recommended")
    classes = list(classes) if classes else None
    if classes and len(classes) != design.num_classes:
        raise DesignerError(
            f"The design has {design.num_classes} outputs but {len(classes)} class names were given.",
            hint="Replace the classifier for the number of classes in your data.",
        )
    code = model_code(design)
    policy = policy_code(design)
    frac = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
    bodies = {
        MODEL_FILE: [_model_constants(design, classes, code.constants + policy.constants()), code.text,
                     templates.code("policy", {templates.BUILD_CALL: code.build_call})],
        DATA_FILE: [_data_constants(design, options), _data_code(design)],
        name: [_train_constants(design, options, split_file, frac, split_seed),
               *(templates.code(part) for part in templates.ORDER[2:])],
    }
    headers = {MODEL_FILE: _model_header(design), DATA_FILE: _data_header(),
               name: _header(design, name, options, split_file, num_train)}
    candidates = [*_STDLIB, *_third_party(code)]
    files: dict[str, str] = {}
    for file in (MODEL_FILE, DATA_FILE, name):  # each imports only from the ones before it
        body = "".join(bodies[file])
        files[file] = headers[file] + _imports(body, candidates, {f[:-3]: files[f] for f in files}, file)
        files[file] += body.rstrip("\n") + "\n"
    return {name: files[name], MODEL_FILE: files[MODEL_FILE], DATA_FILE: files[DATA_FILE]}


def write_script(target: Design | Recipe, path: str | Path, **kwargs) -> Path:
    """Write the script to ``path`` and its ``model.py`` and ``data.py`` beside it (each atomically,
    the script last: it never stands without the modules it imports); returns ``path``."""
    path = Path(path)
    files = script_files(target, name=path.name, **kwargs)
    for name in files:  # all checked before any is written
        _refuse_foreign(path.with_name(name))
    for name, text in reversed(files.items()):
        atomic_write_text(path.with_name(name), text)
    return path


def _refuse_foreign(path: Path) -> None:
    """Refuse to replace a file NetSurgeon did not write there (a user's own model.py or train.py in
    the folder chosen for the export), or a link, which may lead to one; anything else (nothing,
    an earlier export, a folder or a pipe, which the write reports or replaces) goes ahead."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) and _written_by_us(path):
        return
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        what = "a link" if stat.S_ISLNK(mode) else "a file NetSurgeon did not write"
        raise DesignerError(f"{path} is {what}; the script's {path.name} would replace it, so nothing "
                            "was written.", hint="Choose another folder, or move that file away.")


def _written_by_us(path: Path) -> bool:
    """The file begins with a docstring of ours: every file of the script names NetSurgeon there."""
    try:
        with path.open("rb") as file:
            head = file.read(1024)
    except OSError:
        return False
    return head.startswith(b'"""') and b"NetSurgeon" in head.split(b"\n\n", 1)[0]


def companions(script: str | Path) -> tuple[Path, ...]:
    """The files ``write_script`` writes beside ``script``."""
    return Path(script).with_name(MODEL_FILE), Path(script).with_name(DATA_FILE)


def structure(target: Design | Recipe) -> Design:
    """``target`` (a built ``Design`` or a ``Recipe``) as a design whose structure is all that
    matters here: a design with random base weights is used as it is, anything else is rebuilt."""
    if isinstance(target, Design) and target.recipe.base.weights == "none":
        return target
    return structure_of(target.recipe if isinstance(target, Design) else target)


def _options(training):
    if training is None:
        return TrainOptions()
    if isinstance(training, TrainOptions):
        return training
    return TrainOptions.from_dict(dict(training))


# --- header, imports, constants -------------------------------------------------------------


def _title(design: Design) -> str:
    channels, height, width = network_input(design).shape
    return (f"{docstring_text(design.recipe.base.name)} ({channels}x{height}x{width} input, "
            f"{design.num_classes} classes)")


def _header(design: Design, name: str, options, split_file: str | None = None,
            num_train: int | None = None) -> str:
    return f'''"""Fine-tune {_title(design)}, as designed in NetSurgeon.

{_rebuilt_paragraph(design, options, num_train)}

{_data_paragraph(split_file)}

{_usage(name)}

--out (default runs/) gets best.pt, the best weights as a plain state dict, and last.pt.
"""
'''


def _model_header(design: Design) -> str:
    ops = enumerate(design.recipe.ops, 1)
    steps = "\n".join(f"    {i}. {docstring_text(op.describe())}" for i, op in ops)
    text = (f"build_model rebuilds it from {_builder_words(design)} plus each edit as plain PyTorch; "
            "FROZEN, LR_FACTORS and BN_MODE say what trains and how fast. The training script beside "
            "it trains it; to classify an image with the weights it saved:")
    return f'''"""{_title(design)}: the network, as designed in NetSurgeon.

Generated by NetSurgeon {__version__} from this design:

    base: {docstring_text(design.recipe.base.describe())}
{steps or "    (no edits)"}

{textwrap.fill(docstring_text(text), 88)}

    from data import load_image, make_transform
    from model import load_model
    model = load_model("runs/best.pt").eval()
    image = make_transform(train=False)(load_image("image.png"))
    print(model(image.unsqueeze(0)).softmax(1)[0].tolist())  # one per class, as in CLASSES
"""
'''


def _data_header() -> str:
    return '''"""The images the training script beside it trains on, read as NetSurgeon reads them: which
files count, how DATA is split and how an image is loaded and transformed.
"""
'''


def _data_paragraph(split_file: str | None) -> str:
    text = "DATA holds one sub-folder per class, or train/ and val/ ones; unusable files are skipped "
    if split_file:
        text += (f"and listed. {split_file}, beside this script, lists the app's training and validation "
                 "images (paths relative to DATA); --split none splits DATA here instead.")
    else:
        text += "and listed, and without val/ each class is split here, seeded, as in the app."
    return textwrap.fill(docstring_text(text), 88, break_on_hyphens=False)


def _usage(name: str) -> str:
    commands = [
        (f"python {name} --data DATA", "one device"),
        (f"torchrun --nproc_per_node=4 {name} --data DATA", "DDP over 4 processes"),
        (f"python {name} --data DATA --weights model.safetensors", "from the app's weights"),
        (f"python {name} --weights model.safetensors --check", "parity check (JSON)"),
        (f"python {name} --data DATA --resume runs/last.pt", "continue a stopped run"),
    ]
    width = max(len(c) for c, _ in commands)
    return "\n".join(f"    {c:<{width}}  # {why}" for c, why in commands)


def _rebuilt_paragraph(design: Design, options, num_train: int | None = None) -> str:
    text = (f"Generated by NetSurgeon {__version__}. It trains the network that {MODEL_FILE} beside it "
            f"rebuilds, on the images {DATA_FILE} reads, as the app does, in its {script_mode(options)} "
            "mode (--mode). ")
    if script_mode(options) == "recommended":
        text += ("Stage 1 fits the new classifier on the pretrained features by logistic regression: "
                 "the baseline, saved as best.pt. Stage 2 fine-tunes from a fresh classifier for a "
                 "length planned from the data")
        if num_train:
            plan = rec.plan(options, num_train)
            text += (f" (on the app's {num_train} training images: {plan.options.epochs} epochs of "
                     f"{plan.steps_per_epoch} batches of {plan.options.batch_size})")
        text += ", with warm-up, a cosine schedule and early stopping, and is kept only if it beats stage 1."
    else:
        text += (f"Defaults: {options.optimizer}, lr {number(options.resolved_lr)}, {options.schedule} "
                 f"schedule, {options.epochs} epochs, batch {options.batch_size}.")
    if options.mode not in SCRIPT_MODES:
        text += f" (The app's {options.mode} mode has no script: it fine-tunes instead.)"
    return textwrap.fill(docstring_text(text), 88)


def script_mode(options: TrainOptions) -> str:
    """The script's --mode default: the app's mode, or plain fine-tuning for the head-only modes."""
    return options.mode if options.mode in SCRIPT_MODES else "full"


def _builder_words(design: Design) -> str:
    base = design.recipe.base
    words = SOURCES[base.source].description
    return f"{words} {base.name}" if base.source == "builder" else words


_STDLIB = ("import argparse", "import json", "import math", "import os", "import random", "import sys",
           "import time", "from pathlib import Path")


def _third_party(code: ModelCode) -> list[str]:
    """Every third-party import a file of the script may need; ``_imports`` keeps the used ones."""
    return [
        "import torch", "import torch.distributed as dist", "from PIL import Image, ImageOps",
        "from torch import nn", "from torch.nn.parallel import DistributedDataParallel",
        "from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset",
        *([f"from torchvision import {', '.join(sorted(code.torchvision_names))}"]
          if code.torchvision_names else []),
        "from torchvision.transforms import v2", *code.imports,
    ]


def _imports(body: str, candidates: list[str], siblings: dict[str, str], file: str) -> str:
    """The import block for ``body``: the standard library, then third-party, then the script's own
    modules (``siblings``: module name -> its code), each what ``body`` reads."""
    reads = modules.global_reads(body)
    stdlib = modules.import_lines([c for c in candidates if c in _STDLIB], reads)
    third = modules.import_lines([c for c in candidates if c not in _STDLIB], reads)
    provided = {n for line in stdlib + third for n in modules.defined_names(line)}
    provided |= modules.defined_names(body)
    local = modules.sibling_imports(reads - provided, siblings)
    provided |= {n for line in local for n in modules.defined_names(line)}
    missing = modules.missing_names(reads, provided)
    if missing:  # a template reads a name no file of the script defines
        raise DesignerError(f"The generated script would not run: {', '.join(sorted(missing))} "
                            "undefined.", hint="Please report this design.")
    blocks = ["\n".join(block) for block in (stdlib, third) if block]
    if local:
        blocks.append(_guarded(local, file))
    return "\n" + "\n\n".join(blocks) + "\n"


def _guarded(imports: list[str], file: str) -> str:
    """The script's own imports, saying in one line what to do when ``file`` was copied without the
    modules beside it (a lone train.py next to a data/ image folder would otherwise fail with
    "cannot import name ... from 'data' (unknown location)")."""
    needed = tuple(line.split()[1] for line in imports)  # "from model import ..." -> "model"
    return "\n".join([
        "try:  # the script's own modules, written beside this file",
        textwrap.indent("\n".join(imports), "    "),
        "except ImportError as exc:",
        f"    if exc.name not in {literal(list(needed))}:",
        "        raise",
        f"    raise SystemExit(f\"{{exc}}: keep {' and '.join(f'{m}.py' for m in needed)} beside {file}, \"",
        "                     \"as NetSurgeon exported them.\") from exc",
    ])


def _model_constants(design: Design, classes, extra: list[str]) -> str:
    channels, height, width = network_input(design).shape
    lines = [
        "",
        "# Class names in output order (the data's class sub-folders, sorted by name):",
        (f"CLASSES = {_strings(classes)}" if classes
         else "CLASSES: list[str] = []  # not known when generated"),
        f"NUM_CLASSES = {literal(int(design.num_classes))}",
        (f"IN_CHANNELS, HEIGHT, WIDTH = {literal(int(channels))}, {literal(int(height))}, "
         f"{literal(int(width))}"),
        *extra,
    ]
    return "\n".join(lines) + "\n"


def _strings(items: list[str]) -> str:
    text = literal([str(s) for s in items])
    if len(text) <= 88:
        return text
    return "[\n" + "".join(f"    {literal(str(s))},\n" for s in items) + "]"


def assign(name: str, value, width: int = 100) -> str:
    """``name = value`` for a list or dict of literals, its items wrapped under the bracket."""
    if isinstance(value, dict):
        items, brackets = [f"{literal(k)}: {literal(v)}" for k, v in value.items()], "{}"
    else:
        items, brackets = [literal(v) for v in value], "[]"
    lines, line = [], f"{name} = {brackets[0]}"
    indent = " " * len(line)
    for k, item in enumerate(items):
        piece = item + (", " if k < len(items) - 1 else brackets[1])
        if len(line) + len(piece.rstrip()) > width and line.strip() not in (f"{name} = {brackets[0]}",):
            lines.append(line.rstrip())
            line = indent
        line += piece
    return "\n".join([*lines, line or indent + brackets[1]]) if items else f"{name} = {brackets}"


def _floats(values) -> str:
    items = ", ".join(number(float(f"{float(v):.6g}")) for v in values)
    return f"({items},)" if len(values) == 1 else f"({items})"


def _augment(augment) -> str:
    """The app's training augmentation, as torchvision v2 steps (a list, maybe empty)."""
    steps = []
    if augment.hflip:
        steps.append("v2.RandomHorizontalFlip()")
    if augment.vflip:
        steps.append("v2.RandomVerticalFlip()")
    if augment.rotation or augment.translate or tuple(augment.scale) != (1.0, 1.0):
        args = [f"degrees={number(float(augment.rotation))}"]
        if augment.translate:
            t = number(float(augment.translate))
            args.append(f"translate=({t}, {t})")
        if tuple(augment.scale) != (1.0, 1.0):
            args.append(f"scale=({number(float(augment.scale[0]))}, {number(float(augment.scale[1]))})")
        args.append("interpolation=v2.InterpolationMode.BILINEAR")
        steps.append(f"v2.RandomAffine({', '.join(args)})")
    if augment.color:
        s = number(float(augment.color))
        steps.append(f"v2.ColorJitter(brightness={s}, contrast={s}, saturation={s}, "
                     f"hue={number(min(0.5, float(augment.color) / 10))})")
    if not steps:
        return "AUGMENT: list = []  # training-time augmentation: none was chosen"
    body = "".join(f"    {s},\n" for s in steps)
    return f"AUGMENT = [  # training-time augmentation, as chosen in the app\n{body}]"


# --- data and main ------------------------------------------------------------------------


def _data_constants(design: Design, options) -> str:
    """How images load, and what the app counts as an image file and a split folder."""
    _, mean, std = network_input(design)
    split_dirs = {k: list(v) for k, v in SPLIT_DIRS.items()}
    lines = [
        "",
        f"MEAN, STD = {_floats(mean)}, {_floats(std)}",
        f"PIL_MODE = {literal(_pil_mode(design))}  # the mode images load in",
        _augment(options.augment),
        "",
        "# What the app reads as images, which names it ignores, and the split folders it knows:",
        assign("IMAGE_EXTENSIONS", sorted(IMAGE_EXTENSIONS)),
        "# Pillow decodes only these (EPS/PDF would start Ghostscript):",
        assign("IMAGE_FORMATS", list(ALLOWED_FORMATS)),
        f"IGNORED_NAMES = {_strings(sorted(IGNORED_NAMES))}",
        assign("SPLIT_DIRS", split_dirs),
    ]
    return "\n".join(lines) + "\n"


def _train_constants(design: Design, options, split_file: str | None, val_fraction: float,
                     split_seed: int) -> str:
    lines = [
        "",
        f"MOMENTUM = {number(options.momentum)}  # SGD only",
        (f"STEP_SIZE, GAMMA = {literal(int(options.step_size))}, {number(options.gamma)}  "
         "# step schedule: LR x GAMMA every STEP_SIZE epochs (0: epochs / 3)"),
        f"SPLIT_FILE = {literal(split_file)}  # the app's train/val split, beside this script"
        if split_file else "SPLIT_FILE = None  # no split was exported: DATA is split here",
    ]
    return ("\n".join(lines) + "\n" + _mode_constants(design, options)
            + _flag_defaults(options, val_fraction, split_seed))


def _data_code(design: Design) -> str:
    """The data template; without the channel tiling when images load in the network's channels."""
    function, use = templates.TILING
    if _PIL_CHANNELS[_pil_mode(design)] != network_input(design).shape[0]:
        return templates.code("data")
    return templates.without(templates.code("data", {use: ""}), function)


def _pil_mode(design: Design) -> str:
    """The mode images load in: grey for a grey-replicated network (repeated to RGB after), else
    by the channels (other counts load RGB and repeat it up to IN_CHANNELS)."""
    if getattr(design, "replicate_grey", False):
        return "L"
    return _PIL_MODES.get(network_input(design).shape[0], "RGB")


def script_settings(options: TrainOptions) -> dict:
    """The settings each mode starts from (the script's SETTINGS): what the form said; lr None where
    the app's default rate for the optimizer and mode applies."""
    return {"epochs": int(options.epochs), "batch_size": int(options.batch_size),
            "warmup_epochs": float(options.warmup_epochs), "schedule": _choice(options.schedule, SCHEDULES),
            "lr": None if options.lr is None else float(options.lr)}


def _mode_constants(design: Design, options: TrainOptions) -> str:
    """How the app trains, as data (each value from the app's own modules): the settings, the
    recommended mode's plan, pacing, stage 1's head and L2 grid, and stage 2's guards."""
    reason = rec.head_fit_unavailable(design)
    head = None if reason else probe_layer(design)
    # the engine's Pacing()
    plain = {"val_budget": 0.25, "patience": 0, "patience_fraction": 0.25, "minutes": 0.0}
    pacing = {mode: [plain["val_budget"], plain["patience"], plain["patience_fraction"], plain["minutes"]]
              for mode in SCRIPT_MODES}
    pacing["recommended"] = [rec.VAL_BUDGET, rec.PATIENCE, rec.PATIENCE_FRACTION, float(options.max_minutes)]
    plan = {"images": rec.AUTO_IMAGES, "min_epochs": DEFAULT_EPOCHS, "max_epochs": rec.MAX_AUTO_EPOCHS,
            "min_batch": rec.MIN_BATCH, "steps_per_tiny_epoch": rec.STEPS_PER_TINY_EPOCH,
            "warmup_fraction": rec.WARMUP_FRACTION, "min_warmup_steps": rec.MIN_WARMUP_STEPS}
    guard = {"diverged_x": guards.DIVERGED_X, "diverged_epochs": guards.DIVERGED_EPOCHS,
             "losing_after": guards.LOSING_AFTER, "losing_margin": guards.LOSING_MARGIN,
             "restart_lr_divisor": guards.RESTART_LR_DIVISOR}
    full_rate = [mode for mode in FULL_RATE_MODES if mode in SCRIPT_MODES]  # the rest fine-tune
    planned = [str(name) for name in PLAN_FIELDS if name not in options.fixed]
    lines = [
        "",
        "# How the app trains. --mode picks one; the settings not given as flags come from SETTINGS,",
        "# but the recommended mode plans those in PLANNED from the data, with the numbers in PLAN.",
        "# DEFAULT_LR: the from-scratch rates (divided by LR_DIVISOR to fine-tune), also the LR ceiling.",
        f"MODE = {literal(script_mode(options))}",
        assign("SETTINGS", script_settings(options)),
        f"PLANNED = {literal(planned)}  # the rest were set in the app",
        assign("DEFAULT_LR", {k: float(v) for k, v in DEFAULT_LR.items()}),
        f"FULL_RATE_MODES, LR_DIVISOR = {literal(full_rate)}, {number(FINE_TUNE_LR_DIVISOR)}",
        assign("PLAN", plan),
        "# Validation's share of the time, patience (validations), the share of the steps the best must",
        "# be old to stop early, and a time cap in minutes (0: none), by mode:",
        assign("PACING", pacing),
        *([] if head else textwrap.wrap(comment_text(f"No stage 1: {reason}"), 98, initial_indent="# ",
                                        subsequent_indent="# ")),
        f"HEAD = {literal(head)}" + ("  # the final Linear: stage 1 fits it" if head else ""),
        f"L2_GRID = {literal([float(x) for x in logistic.L2_GRID])}  # stage 1's L2 strengths",
        "# Stage 2's guards: restart when it diverges, give up when it cannot beat stage 1",
        assign("GUARDS", guard),
    ]
    return "\n".join(lines) + "\n"


def _flag_defaults(options, val_fraction: float, split_seed: int) -> str:
    """The flags' choices and defaults, as constants the command line reads."""
    d = _main_defaults(options, val_fraction, split_seed)
    lines = [
        "",
        "# The flags' choices and defaults (as the app's run was set):",
        f"MODES, OPTIMIZERS = {d['modes']}, {d['optimizers']}",
        f"SCHEDULES = {d['schedules']}",
        f"OPTIMIZER, WEIGHT_DECAY, SEED = {d['optimizer']}, {d['weight_decay']}, {d['seed']}",
        f"VAL_FRACTION, SPLIT_SEED, WORKERS = {d['val_fraction']}, {d['split_seed']}, {d['workers']}",
        f"CLASS_WEIGHTS, AMP = {d['class_weights']}, {d['amp']}",
    ]
    return "\n".join(lines) + "\n"


def _main_defaults(options, val_fraction: float, split_seed: int) -> dict:
    """The script's argparse defaults: every one a literal of a checked plain type, never pasted text."""
    return {
        "mode": literal(script_mode(options)), "modes": literal(list(SCRIPT_MODES)),
        "optimizer": literal(_choice(options.optimizer, OPTIMIZERS)),
        "optimizers": literal(list(OPTIMIZERS)), "schedules": literal(list(SCHEDULES)),
        "weight_decay": number(float(options.weight_decay)),
        "seed": literal(int(options.seed)), "val_fraction": number(float(val_fraction)),
        "split_seed": literal(int(split_seed)),
        "workers": literal(int(options.workers)),
        "class_weights": literal(bool(options.class_weights)), "amp": literal(bool(options.amp)),
    }


def _choice(value, choices) -> str:
    if value not in choices:
        raise DesignerError(f"'{value}' cannot be written into the script: "
                            f"expected one of {', '.join(choices)}.")
    return value
