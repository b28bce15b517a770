"""Weight files: read a state dict safely and load whatever fits into a model.

Two formats: PyTorch's ``.pth``/``.pt`` (read with ``weights_only=True``, so a
pickle that carries code is refused before any of it runs) and
``.safetensors`` (no pickle at all). ``load_into`` never fails on a shape
mismatch: it loads every tensor that fits and reports the rest, which is what
a user loading a fine-tuned checkpoint into an edited network needs to see.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import pickletools
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from designer.base.errors import DesignerError
from designer.base.safeio import regular_file

# Checkpoints often nest the weights under one of these keys (Lightning, timm, DDP scripts).
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "weights")
# Prefixes added by DistributedDataParallel / DataParallel and by torch.compile.
STRIP_PREFIXES = ("module.", "_orig_mod.")
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")

_CODE_MESSAGE = "This file contains code, not just weights; NetSurgeon refuses to run it."
_CODE_HINT = (
    "If you made the file yourself with torch.save(model), save model.state_dict() instead, "
    "or export it as .safetensors."
)


@dataclass
class LoadReport:
    """What happened when a state dict was loaded into a model."""

    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # key, file, model shape

    @property
    def ok(self) -> bool:
        """True when the file and the model fit each other exactly."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """One plain-English line for the status bar or the CLI."""
        total = len(self.matched) + len(self.missing) + len(self.mismatched)
        line = f"Loaded {len(self.matched)} of {total} weight tensors."
        if self.ok:
            return line + " Everything fit."
        parts = []
        if self.mismatched:
            key, file_shape, model_shape = self.mismatched[0]
            more = f" and {len(self.mismatched) - 1} more" if len(self.mismatched) > 1 else ""
            parts.append(
                f"{len(self.mismatched)} had a different shape and kept their initial values "
                f"(e.g. {key}: file {_shape(file_shape)}, model {_shape(model_shape)}{more})"
            )
        if self.missing:
            parts.append(f"{len(self.missing)} were not in the file and kept their initial values")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} in the file matched no layer and were ignored")
        return line + " " + "; ".join(parts) + "."


def _shape(shape: tuple) -> str:
    return "x".join(str(s) for s in shape) or "scalar"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks so big checkpoints need little memory."""
    digest = hashlib.sha256()
    with open(_existing_file(path), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _existing_file(path: str | os.PathLike) -> Path:
    p = Path(path).expanduser()
    if p.is_dir():
        raise DesignerError(f"'{p}' is a folder, not a weights file.",
                            hint="Pick the .pt, .pth or .safetensors file inside it (a run's best.pt).")
    # Only a regular file: a pipe would block torch.load forever and /dev/zero never ends.
    return regular_file(p, "weights file", hint="Check the path, or pick the file again.")


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Tensors from a ``.pth``/``.pt`` or ``.safetensors`` file, wrappers and DDP prefixes removed."""
    p = _existing_file(path)
    raw = _read_safetensors(p) if _is_safetensors(p) else _read_torch(p)
    return _clean(_unwrap(raw), p)


def read_torch_file(path: str | os.PathLike) -> object:
    """Whatever a ``.pt`` file holds (a training checkpoint's dict), read as safely as weights are:
    no code runs, a decompression bomb is refused, and any failure is one plain sentence."""
    return _read_torch(_existing_file(path))


def _is_safetensors(p: Path) -> bool:
    if p.suffix.lower() in SAFETENSORS_SUFFIXES:
        return True
    if p.suffix.lower() in TORCH_SUFFIXES:
        return False
    # Unknown suffix: safetensors starts with an 8-byte header length, then a JSON '{'.
    with open(p, "rb") as fh:
        head = fh.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _read_safetensors(p: Path) -> dict:
    try:
        return load_file(str(p), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise _not_weights(p, exc) from exc


def _numpy_data_globals() -> list:
    """NumPy numbers and arrays that training scripts often save next to the weights
    (``"best_acc": np.float64(...)``). They rebuild data only; object arrays would still
    need a refused global, so allowing these lets no code in."""
    # numpy 2 moved numpy.core to numpy._core; import by name so either version type-checks
    multiarray = importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core")
                                         else "numpy.core.multiarray")
    numeric = [type(np.dtype(t)) for t in "?bhilqBHILQefdFD"]  # bool, ints, floats, complex
    return [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype, *numeric]


def _check_zip_size(p: Path) -> None:
    """torch.save stores its zip entries uncompressed: a file that inflates to many times its
    size is a decompression bomb, refused before torch reads (and allocates) any of it."""
    with zipfile.ZipFile(p) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
    if inflated > 4 * p.stat().st_size + (16 << 20):
        raise DesignerError(f"'{p.name}' would unpack to {inflated / 2**30:.1f} GB from a "
                            f"{p.stat().st_size / 2**20:.1f} MB file; NetSurgeon refuses it.",
                            hint="Weight files saved by PyTorch are not compressed; this one is not a real "
                                 "checkpoint.")


def _read_torch(p: Path) -> object:
    if zipfile.is_zipfile(p):
        try:
            _check_zip_size(p)
        except (zipfile.BadZipFile, OSError) as exc:
            raise _not_weights(p, exc) from exc
    try:
        # weights_only=True: the unpickler only builds tensors and plain containers; any
        # other global (os.system, a user class) is refused before it can run.
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_data_globals()):
            warnings.simplefilter("ignore", UserWarning)  # odd pickle protocols: we report instead
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc).lower()
        if "unsupported global" in text or "can only build" in text or _pickle_has_code(p):
            raise DesignerError(_CODE_MESSAGE, hint=_CODE_HINT) from exc
        raise _not_weights(p, exc) from exc
    except Exception as exc:  # junk makes the unpickler fail in many ways; none of them ran code
        raise _not_weights(p, exc) from exc


# Opcodes that import or call something: a pickle using them carries code, not just data.
_CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"}


def _pickle_has_code(p: Path) -> bool:
    """Scan a plain pickle's opcodes without executing any of them."""
    if zipfile.is_zipfile(p):
        return False  # torch's zip format: the weights-only unpickler already named the global
    try:
        with open(p, "rb") as fh:
            return any(op.name in _CODE_OPCODES for op, _, _ in pickletools.genops(fh))
    except (ValueError, OSError, EOFError, IndexError, KeyError):  # not a pickle; genops never runs it
        return False


def _not_weights(p: Path, exc: Exception) -> DesignerError:
    return DesignerError(
        f"'{p.name}' is not a weights file NetSurgeon can read (its contents are not a saved PyTorch or "
        "safetensors file, or it is damaged).",
        hint="Pick a PyTorch state dict (.pth/.pt) or a .safetensors file.",
    )


def _unwrap(obj: object) -> object:
    """Descend through {"state_dict": {...}} style wrappers until we reach the tensors."""
    for _ in range(4):  # wrappers nest at most a couple of levels in practice
        if not isinstance(obj, dict) or any(isinstance(v, Tensor) for v in obj.values()):
            return obj
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            return obj
        obj = inner
    return obj


def _clean(obj: object, p: Path) -> dict[str, Tensor]:
    if not isinstance(obj, dict):
        obj = {}
    tensors = OrderedDict((str(k), v) for k, v in obj.items() if isinstance(v, Tensor))
    odd = next((k for k, v in tensors.items() if v.layout != torch.strided or v.device.type != "cpu"), None)
    if odd is not None:  # sparse or meta tensors hold no plain numbers to load
        kind = "sparse" if tensors[odd].layout != torch.strided else "placeholder (meta)"
        raise DesignerError(f"'{p.name}' holds a {kind} tensor ('{odd}'), not plain weights.",
                            hint="Save the weights with torch.save(model.state_dict()) or as .safetensors.")
    if not tensors:
        raise DesignerError(
            f"'{p.name}' holds no weight tensors.",
            hint="Pick a file saved with torch.save(model.state_dict()) or safetensors.",
        )
    # Module versions (torch's state-dict "_metadata") steer how some layers load old files.
    metadata = _metadata(obj)
    for prefix in STRIP_PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = OrderedDict((k[len(prefix):], v) for k, v in tensors.items())
            metadata = {_strip(k, prefix[:-1]): v for k, v in metadata.items()}
    if metadata:
        tensors._metadata = metadata  # type: ignore[attr-defined]
    return tensors


def _metadata(obj) -> dict:
    """torch's module versions ``{"layer": {"version": 2}}``, or {} when the file's are malformed
    (they only steer how old files load, so wrong ones are dropped rather than trusted)."""
    raw = getattr(obj, "_metadata", None)
    if not isinstance(raw, dict) or len(raw) > 100_000:
        return {}
    good = all(isinstance(k, str) and isinstance(v, dict) and all(
        isinstance(a, str) and isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 1000
        for a, b in v.items()) for k, v in raw.items())
    return dict(raw) if good else {}


def _strip(key: str, name: str) -> str:
    return "" if key == name else key[len(name) + 1:] if key.startswith(name + ".") else key


def plain_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Detached, contiguous, unshared CPU copies: what safetensors needs and torch.save likes."""
    return {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}


def load_into(model: nn.Module, state_dict: dict[str, Tensor]) -> LoadReport:
    """Copy every tensor whose name and shape fit into ``model``; report everything else."""
    own = model.state_dict()
    report = LoadReport()
    fitting: dict[str, Tensor] = OrderedDict()
    for key, value in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(own[key].shape):
            report.mismatched.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            check_values(key, value, own[key])
            fitting[key] = value
            report.matched.append(key)
    # num_batches_tracked is bookkeeping that old files (torchvision's resnet18) lack.
    report.missing = [k for k in own if k not in state_dict and not k.endswith("num_batches_tracked")]
    # The model's own module versions, overridden by the file's: some layers (MNASNet) need one.
    metadata = dict(getattr(own, "_metadata", None) or {})
    metadata.update(getattr(state_dict, "_metadata", None) or {})
    fitting._metadata = metadata  # type: ignore[attr-defined]
    try:
        model.load_state_dict(fitting, strict=False)
    except (RuntimeError, ValueError) as exc:
        raise DesignerError(
            f"The weights could not be loaded into this network: {exc}",
            hint="Pick a weights file saved from the same architecture.",
        ) from exc
    return report


def check_values(key: str, value: Tensor, own: Tensor) -> None:
    """A tensor from a file may take ``own``'s place only with numbers of the same kind (floating
    point for weights, whole numbers for counters) that are all finite."""
    if (own.is_floating_point() != value.is_floating_point() or value.is_complex()
            or value.dtype == torch.bool):
        raise DesignerError(f"'{key}' in the weights file holds {str(value.dtype).removeprefix('torch.')} "
                            f"values where the network needs {str(own.dtype).removeprefix('torch.')}.",
                            hint="The file was not saved from this kind of network; pick another.")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise DesignerError(f"'{key}' in the weights file holds NaN or infinite values.",
                            hint="The weights are damaged (a run that diverged?); pick an earlier or other "
                                 "file.")


def load_strict(model: nn.Module, weights: str | os.PathLike | dict[str, Tensor]) -> None:
    """Load a state dict (or its file) that must fit ``model`` exactly: every name and shape, and
    values of the right kind, all finite. A misfit is one clear line naming what is wrong."""
    state = read_state_dict(weights) if isinstance(weights, (str, os.PathLike)) else weights
    mismatch = weights_mismatch(model, state)
    if mismatch:
        raise DesignerError(f"The weights file does not fit this design: {mismatch}.",
                            hint="Use the weights of a run trained on this same design.")
    own = model.state_dict()
    for key, value in state.items():
        check_values(key, value, own[key])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        raise DesignerError(f"The weights file does not fit this design: {lines[0] if lines else exc}",
                            hint="Use the weights of a run trained on this same design.") from exc


def weights_mismatch(model: nn.Module, state: dict) -> str:
    """What keeps ``state`` from loading strictly into ``model``, in one line ('' if nothing):
    missing and unexpected keys and shape differences, a few of each named."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} is {_tensor_shape(state[k])} in the file, {_tensor_shape(v)} in the design"
              for k, v in expected.items() if k in state and hasattr(state[k], "shape")
              and tuple(state[k].shape) != tuple(v.shape)]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("with another shape", shapes)):
        if items:
            more = f" and {len(items) - 2} more" if len(items) > 2 else ""
            parts.append(f"{len(items)} {label} ({', '.join(items[:2])}{more})")
    return "; ".join(parts)


def _tensor_shape(tensor) -> str:
    return "x".join(str(s) for s in tensor.shape) or "a scalar"
