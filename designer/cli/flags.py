"""Command-line flags <-> edit ops: how ``edit`` spells an op, and how a fix is printed.

``PATH=Type[:k=v,...]`` for layers, ``PATH:k=v,...`` for hyperparameters,
``CxHxW[:replicate]`` for the input. Values are Python literals where they
parse as one (``3``, ``0.5``, ``(7,7)``, ``true``), else plain strings.
"""

from __future__ import annotations

import argparse
import ast
import math
import re

from designer.app.vocabulary import (
    DeleteLayer,
    Freeze,
    FreezeUntil,
    InsertAfter,
    LayerSpec,
    LRPreset,
    Op,
    ReplaceClassifier,
    ReplaceLayer,
    SetBatchNormMode,
    SetInput,
    SetLayerParams,
    SetLRFactor,
)
from designer.base.errors import DesignerError


def number(lo: float | None = None, hi: float | None = None, *, whole: bool = False, above: bool = False):
    """An argparse ``type`` for a finite number in a range, refused in one line otherwise
    (``above``: strictly above ``lo``)."""
    kind = "a whole number" if whole else "a number"

    def parse(text: str):
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        low_ok = lo is None or (value > lo if above else value >= lo)
        if not low_ok or (hi is not None and value > hi):
            shown = (lambda v: f"{int(v):,}") if whole else (lambda v: f"{v:g}")
            low = "" if lo is None else f"above {shown(lo)}" if above else f"at least {shown(lo)}"
            high = "" if hi is None else f"at most {shown(hi)}"
            bounds = " and ".join(filter(None, (low, high)))
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {bounds}")
        return value
    return parse


DURATION_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def duration(lo: float, hi: float):
    """An argparse ``type`` for a time such as ``90s``, ``5m``, ``1.5h`` (a bare number is seconds),
    returned in seconds: finite and from ``lo`` to ``hi``, refused in one line otherwise."""

    def parse(text: str) -> float:
        pattern = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*"
        match = re.fullmatch(pattern, text.lower()) if len(text) <= 40 else None
        if match is None or match.group(2) not in DURATION_UNITS:
            raise argparse.ArgumentTypeError(f"{text!r} is not a time: write e.g. 90s, 5m or 1h")
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
        if not math.isfinite(seconds) or not lo <= seconds <= hi:
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: it must be from {lo:g} s to {hi / 3600:g} h")
        return seconds
    return parse


def file_stem(text: str) -> str:
    """A plain file name without folders (``--name``): ``../../x`` would write outside ``-o``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}", text) or ".." in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain file name (letters, digits, _ . -; no "
                                         "folders)")
    return text


def parse_input(text: str) -> SetInput:
    """``1x32x32``, ``1x32x32:replicate`` or ``64x64`` (3 channels) -> SetInput."""
    dims, _, mode = text.partition(":")
    mode = mode or "adapt"
    try:
        sizes = [int(d) for d in dims.lower().split("x")] if len(dims) <= 40 else []
    except ValueError:
        sizes = []
    if len(sizes) == 2:
        sizes = [3, *sizes]
    if len(sizes) != 3 or min(sizes) < 1 or mode not in ("adapt", "replicate"):
        raise DesignerError(f"'{text}' is not an input size.",
                            hint="Write CxHxW, e.g. 3x224x224 or 1x32x32:replicate.")
    c, h, w = sizes
    return SetInput(h, w, c, "replicate" if mode == "replicate" else "adapt")


MAX_VALUE_TEXT = 200


def _value(text: str):
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, '(7,7)' -> (7, 7), 'none' -> None, else the string."""
    text = text.strip()
    special = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in special:
        return special[text.lower()]
    if len(text) > MAX_VALUE_TEXT:  # a layer argument is a short number or tuple, never a novel
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):  # deep nesting, 5000 digits
        return text
    return tuple(value) if isinstance(value, list) else value


def _kwargs(text: str, where: str) -> dict:
    """``k=v,k2=(1,2)`` -> dict; commas inside brackets do not split."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([") - (ch in ")]")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    out = {}
    for part in filter(str.strip, parts):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise DesignerError(f"'{part}' in {where} is not key=value.",
                                hint="Write e.g. kernel_size=3,stride=2.")
        out[key.strip()] = _value(value)
    return out


def parse_layer(text: str, flag: str) -> tuple[str, LayerSpec]:
    """``PATH=Type[:k=v,...]`` -> (path, LayerSpec)."""
    path, eq, rest = text.partition("=")
    layer_type, _, args = rest.partition(":")
    if not eq or not path.strip() or not layer_type.strip():
        raise DesignerError(f"{flag} '{text}' is not PATH=Type[:k=v,...].",
                            hint=f"For example {flag} features.3=Dropout:p=0.2")
    return path.strip(), LayerSpec.of(layer_type.strip(), **_kwargs(args, flag))


def parse_set(text: str) -> tuple[str, dict]:
    path, colon, args = text.partition(":")
    params = _kwargs(args, "--set") if colon else {}
    if not path.strip() or not params:
        raise DesignerError(f"--set '{text}' is not PATH:k=v,...",
                            hint="For example --set layer4.0.conv1:stride=1")
    return path.strip(), params


def parse_lr_factor(text: str) -> tuple[str, float]:
    path, eq, factor = text.rpartition("=")
    try:
        value = float(factor)
    except ValueError:
        value = -1.0
    if not eq or value < 0:
        raise DesignerError(f"--lr-factor '{text}' is not PATH=F.", hint="For example --lr-factor layer4=0.1")
    return path.strip(), value


def _flag_value(value) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_flag_value(v) for v in value) + ")"
    return str(value).lower() if isinstance(value, bool) else str(value)


def format_op_flag(op: Op) -> str:
    """The ``edit`` flag that appends ``op``: how the CLI spells a one-click fix."""
    def spec(layer: LayerSpec) -> str:
        args = ",".join(f"{k}={_flag_value(v)}" for k, v in layer.args)
        return layer.type + (f":{args}" if args else "")

    if isinstance(op, SetInput):
        grey = ":replicate" if op.conv_mode == "replicate" else ""
        return f"--input {op.channels}x{op.height}x{op.width}{grey}"
    if isinstance(op, ReplaceClassifier):
        extra = (f" --head-dropout {op.dropout:g}" if op.dropout else "") + \
            (f" --head-hidden {op.hidden}" if op.hidden else "") + (" --head-bn" if op.batchnorm else "")
        return f"--classes {op.num_classes}{extra}"
    match op:  # a class pattern narrows ``op`` for each case
        case DeleteLayer():
            return f"--delete {op.path}"
        case InsertAfter():
            return f"--insert-after {op.path}={spec(op.layer)}"
        case ReplaceLayer():
            return f"--replace {op.path}={spec(op.layer)}"
        case SetLayerParams():
            return f"--set {op.path}:" + ",".join(f"{k}={_flag_value(v)}" for k, v in op.params)
        case Freeze():
            return f"--{'freeze' if op.frozen else 'unfreeze'} {op.path}"
        case FreezeUntil():
            return f"--freeze-until {op.path}"
        case SetLRFactor():
            return f"--lr-factor {op.path}={op.factor:g}"
        case LRPreset():
            return f"--lr-preset {op.name}"
        case SetBatchNormMode():
            return f"--bn-mode {op.mode}"
    return op.describe()


def add_data_flags(parser, val_help: str = "a separate validation folder") -> None:
    """--data (required), --val-data and --val-split: the image folder flags every data command takes."""
    parser.add_argument("--data", required=True,
                        help="image folder: one sub-folder per class, or train/ + val/")
    parser.add_argument("--val-data", metavar="DIR", help=val_help)
    parser.add_argument("--val-split", type=number(0, 0.9), default=0.2, metavar="F")
