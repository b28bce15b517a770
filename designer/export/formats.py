"""Export a design to weight files, deployable formats and a training script.

Every export is *verified*: one seeded batch runs through the model (eval mode)
and through what was written, read back the way a user would read it
(``torch.load``/safetensors, onnxruntime, ``torch.export.load``,
``torch.jit.load``, or the generated script in a fresh Python). The largest
absolute difference of the outputs is reported; beyond the tolerance the export
fails with a message saying so.

``export`` is a plain function, safe to run in a worker thread: it takes an
optional ``progress(fraction, text)`` callback and a ``cancel()`` flag, checked
between the slow steps.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from designer.base.errors import DesignerError

FORMATS: dict[str, str] = {
    "pt": "PyTorch state dict (.pt)",
    "safetensors": "safetensors weights (.safetensors)",
    "onnx": "ONNX model (.onnx)",
    "pt2": "torch.export program (.pt2)",
    "torchscript": "TorchScript module (.torchscript.pt, deprecated by PyTorch)",
    "script": "standalone training script (.py)",
}
SUFFIXES = {
    "pt": ".pt", "safetensors": ".safetensors", "onnx": ".onnx",
    "pt2": ".pt2", "torchscript": ".torchscript.pt", "script": ".py",
}
DEFAULT_TOLERANCE = 1e-4
VERIFY_BATCH = 3  # differs from the export batch (2), so a fixed batch size would show up

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


@dataclass
class ExportResult:
    format: str
    path: Path
    max_abs_diff: float | None  # None when check=False
    ok: bool
    note: str = ""
    card_path: Path | None = None

    def summary(self) -> str:
        diff = "not checked" if self.max_abs_diff is None else f"max abs diff {self.max_abs_diff:.2e}"
        return f"{self.format}: {self.path} ({diff}){' - ' + self.note if self.note else ''}"


class ExportCancelled(DesignerError):
    def __init__(self) -> None:
        super().__init__("Export cancelled.")


@dataclass
class _Job:
    """What one export needs: the eval-mode model and its sample inputs."""

    model: nn.Module
    example: torch.Tensor
    verify_input: torch.Tensor
    progress: Progress
    cancel: Cancel

    def step(self, fraction: float, text: str) -> None:
        if self.cancel():
            raise ExportCancelled()
        self.progress(fraction, text)


def default_path(out_dir: str | Path, fmt: str, stem: str = "model") -> Path:
    """Where ``export`` writes format ``fmt`` inside ``out_dir``."""
    name = "train.py" if fmt == "script" else stem + SUFFIXES[_check_format(fmt)]
    return Path(out_dir) / name


def network_input(design) -> tuple[tuple[int, int, int], tuple, tuple]:
    """(C, H, W), mean and std of what the *network* takes. A grey-replicated design feeds
    3 channels to an unchanged RGB network, whatever channel count ``input_shape`` names."""
    channels, height, width = (int(v) for v in design.input_shape)
    mean, std = tuple(design.mean), tuple(design.std)
    if getattr(design, "replicate_grey", False):
        channels = 3
        mean, std = (mean * 3 if len(mean) == 1 else mean), (std * 3 if len(std) == 1 else std)
    return (channels, height, width), mean, std


def sample_input(input_shape: tuple[int, ...], batch: int, seed: int = 0) -> torch.Tensor:
    """A seeded standard-normal batch, shaped like normalised images."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *input_shape), generator=generator)


def export(
    design: Any,
    fmt: str,
    out_path: str | Path,
    *,
    weights: str | Path | dict | None = None,
    classes: list[str] | None = None,
    training: dict | None = None,
    metrics: dict | None = None,
    check: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ExportResult:
    """Write ``design`` (a built ``Design``) as ``fmt`` to ``out_path`` and verify it.

    ``weights``: a trained state dict (or its file) loaded into a copy of the
    model first. ``classes``, ``training`` and ``metrics`` go into the model
    card and, for the script, into its defaults.
    """
    _check_format(fmt)
    out_path = Path(out_path)
    prepare_folder(out_path.parent)
    model = model_for_export(design.model, weights)
    job = _Job(
        model=model,
        example=sample_input(network_input(design)[0], 2),
        verify_input=sample_input(network_input(design)[0], VERIFY_BATCH, seed=1),
        progress=progress or (lambda fraction, text: None),
        cancel=cancel or (lambda: False),
    )
    job.step(0.0, f"Exporting {FORMATS[fmt]}")
    _check_runs(job)
    if fmt == "script":
        from designer.export.script import export_script

        diff, note = export_script(design, job, out_path, training=training, classes=classes, check=check)
        card = None
    else:
        diff, note = _EXPORTERS[fmt](job, out_path, check)
        card = write_model_card(design, out_path, classes=classes, training=training, metrics=metrics)
    job.step(1.0, "Done")
    return _result(fmt, out_path, diff, note, card, tolerance)


@torch.no_grad()
def _check_runs(job: _Job) -> None:
    """A design that does not run cannot be exported: say so before writing anything."""
    try:
        job.model(job.example)
    except Exception as exc:  # any failure of the forward pass is a problem of the design
        shape = "x".join(str(s) for s in job.example.shape[1:])
        raise DesignerError(f"The design does not run on a {shape} input: {first_line(exc)}",
                            hint="Analyze the design to see which layer fails, fix it, then export.") from exc


def _result(fmt, path, diff, note, card, tolerance) -> ExportResult:
    if diff is not None and not diff <= tolerance:  # also catches NaN
        raise DesignerError(
            f"The {FORMATS[fmt]} written to {path} does not reproduce the model: its outputs differ "
            f"by up to {diff:.2e} (tolerance {tolerance:.0e}).",
            hint="Try another format (pt2 or safetensors reproduce the model exactly) "
            "or raise the tolerance if a small numeric difference is acceptable.",
        )
    return ExportResult(fmt, path, diff, True, note, card)


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise DesignerError(f"Unknown export format '{fmt}'.", hint=f"Choose one of: {', '.join(FORMATS)}.")
    return fmt


def model_for_export(model: nn.Module, weights: str | Path | dict | None = None) -> nn.Module:
    """An eval-mode copy of ``model`` with ``weights`` loaded strictly, if given."""
    model = copy.deepcopy(model).cpu().eval()
    if weights is None:
        return model
    state = read_weights(weights) if isinstance(weights, (str, Path)) else weights
    mismatch = weights_mismatch(model, state)
    if mismatch:
        raise DesignerError(f"The weights file does not fit this design: {mismatch}.",
                            hint="Export with the weights of a run trained on this same design.")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DesignerError("The weights file does not fit this design: " + first_line(exc),
                            hint="Export with the weights of a run trained on this same design.") from exc
    return model


def weights_mismatch(model: nn.Module, state: dict) -> str:
    """What keeps ``state`` from loading strictly into ``model``, in one line ('' if nothing):
    missing and unexpected keys and shape differences, a few of each named."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} is {_shape(state[k])} in the file, {_shape(v)} in the design"
              for k, v in expected.items() if k in state and hasattr(state[k], "shape")
              and tuple(state[k].shape) != tuple(v.shape)]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("with another shape", shapes)):
        if items:
            more = f" and {len(items) - 2} more" if len(items) > 2 else ""
            parts.append(f"{len(items)} {label} ({', '.join(items[:2])}{more})")
    return "; ".join(parts)


def _shape(tensor) -> str:
    return "x".join(str(s) for s in tensor.shape) or "a scalar"


def prepare_folder(folder: str | Path) -> Path:
    """Create ``folder`` if needed and make sure a file can be written in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".netsurgeon-write-test-{uuid.uuid4().hex[:8]}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise DesignerError(f"Cannot write to the folder {folder}: {exc.strerror or exc}.",
                            hint="Choose another output folder.") from exc
    return folder


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or ``.pt``/``.pth`` (never unpickles objects)."""
    from designer.model.weights import read_state_dict

    return read_state_dict(path)


# --- writing files atomically ------------------------------------------------------------------


def _file_mode() -> int:
    """The mode a newly created file gets (0o666 less the umask), read once at import."""
    if os.name != "posix":
        return 0o666
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place
    with ordinary file permissions (safetensors writes its files owner-only)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        write(tmp)
        try:
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, path)
        except OSError as exc:
            raise DesignerError(f"Cannot write {path}: {exc.strerror or exc}.",
                                hint="Choose another output folder or file name.") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def max_abs_diff(reference: torch.Tensor, other: Any) -> float:
    if not torch.isfinite(reference).all():
        raise DesignerError("The model's own outputs are not finite numbers (NaN or infinity), "
                            "so its exports cannot be checked.", hint="Check the weights you exported.")
    other = torch.as_tensor(other)
    if other.shape != reference.shape:
        raise DesignerError(
            f"The exported model's output has shape {tuple(other.shape)}, "
            f"the original's {tuple(reference.shape)}."
        )
    return float((reference - other).abs().max())


@torch.no_grad()
def _reference(job: _Job) -> torch.Tensor:
    return job.model(job.verify_input)


# --- the formats -------------------------------------------------------------------------------


def plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached, contiguous, unshared copies: what safetensors needs and torch.save likes."""
    return {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}


@torch.no_grad()
def _verify_state_dict(job: _Job, state: dict) -> float:
    reloaded = copy.deepcopy(job.model)
    reloaded.load_state_dict(state, strict=True)
    return max_abs_diff(_reference(job), reloaded(job.verify_input))


def _export_pt(job: _Job, path: Path, check: bool):
    atomic_write(path, lambda tmp: torch.save(plain_state_dict(job.model), tmp))
    if not check:
        return None, ""
    job.step(0.5, "Checking the saved weights")
    return _verify_state_dict(job, torch.load(path, map_location="cpu", weights_only=True)), ""


def _export_safetensors(job: _Job, path: Path, check: bool):
    from safetensors.torch import load_file, save_file

    atomic_write(path, lambda tmp: save_file(plain_state_dict(job.model), str(tmp), metadata={"format": "pt"}))
    if not check:
        return None, ""
    job.step(0.5, "Checking the saved weights")
    return _verify_state_dict(job, load_file(str(path))), ""


def _batch_dim() -> dict:
    return {0: torch.export.Dim("batch", min=1, max=4096)}


def _export_program(job: _Job, dynamic: bool):
    shapes = (_batch_dim(),) if dynamic else None
    try:
        return torch.export.export(job.model, (job.example,), dynamic_shapes=shapes)
    except Exception as exc:
        if dynamic:
            return None
        raise DesignerError(f"torch.export cannot capture this model: {first_line(exc)}") from exc


def _export_pt2(job: _Job, path: Path, check: bool):
    job.step(0.1, "Capturing the graph with torch.export")
    program = _export_program(job, dynamic=True)
    note = "dynamic batch size"
    if program is None:
        program, note = _export_program(job, dynamic=False), "fixed batch size 2"
    atomic_write(path, lambda tmp: torch.export.save(program, tmp))
    if not check:
        return None, note
    job.step(0.6, "Checking the saved program")
    loaded = torch.export.load(path).module()
    return _verify_fixed_or_dynamic(job, loaded, note), note


@torch.no_grad()
def _verify_fixed_or_dynamic(job: _Job, run: Callable, note: str) -> float:
    if note.startswith("fixed"):
        return max_abs_diff(job.model(job.example), run(job.example))
    return max_abs_diff(_reference(job), run(job.verify_input))


def _export_torchscript(job: _Job, path: Path, check: bool):
    job.step(0.1, "Tracing with torch.jit.trace")
    with warnings.catch_warnings(), torch.no_grad():
        # Deliberate: TorchScript is deprecated (FutureWarning); the note tells the user.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            traced = torch.jit.trace(job.model, job.example)
        except Exception as exc:
            raise DesignerError(f"TorchScript cannot trace this model: {first_line(exc)}",
                                hint="Export as pt2 (torch.export) or ONNX instead.") from exc
        atomic_write(path, lambda tmp: torch.jit.save(traced, str(tmp)))
        diff = None
        if check:
            job.step(0.6, "Checking the saved module")
            diff = max_abs_diff(_reference(job), torch.jit.load(str(path), map_location="cpu")(job.verify_input))
    return diff, "TorchScript is deprecated by PyTorch; prefer pt2 (torch.export) or ONNX."


def _export_onnx(job: _Job, path: Path, check: bool):
    from designer.export.onnx import export_onnx

    return export_onnx(job, path, check)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_EXPORTERS = {
    "pt": _export_pt,
    "safetensors": _export_safetensors,
    "onnx": _export_onnx,
    "pt2": _export_pt2,
    "torchscript": _export_torchscript,
}


# --- the model card ----------------------------------------------------------------------------


def card_path_for(path: Path) -> Path:
    """``model.pt`` -> ``model.card.json`` (one card serves every format of one model)."""
    name = path.name
    for suffix in sorted(SUFFIXES.values(), key=len, reverse=True):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(name + ".card.json")


def write_model_card(design, path: Path, *, classes=None, training=None, metrics=None) -> Path:
    from designer.export.card import model_card

    card = model_card(design, classes=classes, training=training, metrics=metrics)
    target = card_path_for(path)
    atomic_write_text(target, json.dumps(card, indent=2, default=str) + "\n")
    return target
