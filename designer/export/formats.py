"""Export a design to weight files, deployable formats and a training script.

Every export is *verified*: one seeded batch runs through the model (eval mode)
and through what was written, read back the way a user would read it
(``torch.load``/safetensors, onnxruntime, ``torch.export.load``,
``torch.jit.load``, or the generated script in a fresh Python). The largest
absolute difference of the outputs is reported; beyond the tolerance the export
fails with a message saying so.

``export`` is a plain function, safe to run in a worker thread. It speaks the job
protocol (``designer.base.jobs``): ``report`` receives a ``Progress`` between the
slow steps, and ``cancel`` (an Event, a callable or a ``JobControl``) stops it there.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from designer.base.errors import DesignerError, plain_reason
from designer.base.fileio import atomic_write, atomic_write_text
from designer.base.jobs import JobCancelled, Progress, is_cancelled
from designer.codegen.script import SCRIPT_FILES
from designer.export.card import model_card
from designer.export.checks import ExportJob, first_line, max_abs_diff
from designer.export.onnx import export_onnx
from designer.export.script import export_script
from designer.inspect.analysis import check_memory
from designer.model.build import Design, network_input
from designer.zoo.weights import load_strict, plain_state_dict

FORMATS: dict[str, str] = {
    "pt": "PyTorch state dict (.pt)",
    "safetensors": "safetensors weights (.safetensors)",
    "onnx": "ONNX model (.onnx)",
    "pt2": "torch.export program (.pt2)",
    "torchscript": "TorchScript module (.torchscript.pt, deprecated by PyTorch)",
    "script": "standalone training script (train.py, model.py, data.py)",
}
SUFFIXES = {
    "pt": ".pt", "safetensors": ".safetensors", "onnx": ".onnx",
    "pt2": ".pt2", "torchscript": ".torchscript.pt", "script": ".py",
}
DEFAULT_TOLERANCE = 1e-4


@dataclass
class ExportResult:
    format: str
    path: Path
    max_abs_diff: float | None  # None when check=False
    ok: bool
    note: str = ""
    card_path: Path | None = None
    beside: tuple[Path, ...] = ()  # written with it: the script's model.py, data.py, split.json, sbatch

    def summary(self) -> str:
        diff = "not checked" if self.max_abs_diff is None else f"max abs diff {self.max_abs_diff:.2e}"
        also = f" (with {', '.join(p.name for p in self.beside)})" if self.beside else ""
        return f"{self.format}: {self.path}{also} ({diff}){' - ' + self.note if self.note else ''}"


def default_path(out_dir: str | Path, fmt: str, stem: str = "model") -> Path:
    """Where ``export`` writes format ``fmt`` inside ``out_dir``."""
    name = SCRIPT_FILES[0] if fmt == "script" else stem + SUFFIXES[_check_format(fmt)]
    return Path(out_dir) / name


def export(
    design: Any,
    fmt: str,
    out_path: str | Path,
    *,
    weights: str | Path | dict | None = None,
    classes: list[str] | None = None,
    training: dict | None = None,
    metrics: dict | None = None,
    split: Any = None,
    check: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    report: Callable[[Progress], None] | None = None,
    cancel: Any = None,
) -> ExportResult:
    """Write ``design`` (a built ``Design``) as ``fmt`` to ``out_path`` and verify it.

    ``weights``: a trained state dict (or its file) loaded into a copy of the
    model first. ``classes``, ``training`` and ``metrics`` go into the model
    card and, for the script, into its defaults. ``split``: the ``DatasetSplit`` the app trained
    on, written beside the script (``split.json``) so that the script uses the same images.
    """
    _check_format(fmt)
    out_path = Path(out_path)
    prepare_folder(out_path.parent)
    model = model_for_export(design.model, weights)
    job = ExportJob.for_model(model, network_input(design).shape, report, cancel)
    job.step(0.0, f"Exporting {FORMATS[fmt]}")
    _check_runs(job)
    beside = ()
    if fmt == "script":
        diff, note, beside = export_script(design, job, out_path, training=training, classes=classes,
                                           split=split, check=check)
        card = None
    else:
        diff, note = _EXPORTERS[fmt](job, out_path, check)
        card = write_model_card(design, out_path, classes=classes, training=training, metrics=metrics)
    job.step(1.0, "Done")
    return _result(fmt, out_path, diff, note, card, tolerance, beside)


@dataclass
class ExportOutcome:
    """One format's end: its result, or why it failed (the other formats still go on)."""

    format: str
    result: ExportResult | None
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok


def export_all(design: Any, formats: list[str], folder: str | Path, *, stem: str = "model",
               report: Callable[[Progress], None] | None = None, cancel: Any = None,
               **options) -> Iterator[ExportOutcome]:
    """Export each of ``formats`` into ``folder`` in turn (``options`` as for ``export``); yields
    an ``ExportOutcome`` per format. A format that fails does not stop the others. The CLI and
    the window's Export dialog both run this."""
    for fmt in formats:
        _check_format(fmt)
    if hasattr(design, "model") and hasattr(design, "input_shape"):  # the parity checks run batch 2
        check_memory(design, "Exporting", batch=2)
    prepare_folder(folder)
    send = report or (lambda progress: None)
    for k, fmt in enumerate(formats):
        if is_cancelled(cancel):
            return
        send(Progress(k, len(formats), f"Exporting {FORMATS[fmt]}"))
        start = time.perf_counter()
        try:
            result = export(design, fmt, default_path(folder, fmt, stem), cancel=cancel, **options)
        except JobCancelled:
            raise
        except DesignerError as exc:
            yield ExportOutcome(fmt, None, str(exc), time.perf_counter() - start)
            continue
        except Exception as exc:  # noqa: BLE001 -- one format failing must not stop the others
            yield ExportOutcome(fmt, None, plain_reason(exc), time.perf_counter() - start)
            continue
        yield ExportOutcome(fmt, result, "", time.perf_counter() - start)


@torch.no_grad()
def _check_runs(job: ExportJob) -> None:
    """A design that does not run cannot be exported: say so before writing anything."""
    try:
        job.model(job.example)
    except Exception as exc:  # any failure of the forward pass is a problem of the design
        shape = "x".join(str(s) for s in job.example.shape[1:])
        raise DesignerError(f"The design does not run on a {shape} input: {first_line(exc)}",
                            hint="Analyze the design to see which layer fails, fix it, then export.") from exc


def _result(fmt, path, diff, note, card, tolerance, beside=()) -> ExportResult:
    if diff is not None and not diff <= tolerance:  # also catches NaN
        raise DesignerError(
            f"The {FORMATS[fmt]} written to {path} does not reproduce the model: its outputs differ "
            f"by up to {diff:.2e} (tolerance {tolerance:.0e}).",
            hint="Try another format (pt2 or safetensors reproduce the model exactly) "
            "or raise the tolerance if a small numeric difference is acceptable.",
        )
    return ExportResult(fmt, path, diff, True, note, card, tuple(beside))


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise DesignerError(f"Unknown export format '{fmt}'.", hint=f"Choose one of: {', '.join(FORMATS)}.")
    return fmt


def model_for_export(model: nn.Module, weights: str | Path | dict | None = None) -> nn.Module:
    """An eval-mode copy of ``model`` with ``weights`` loaded strictly, if given."""
    model = copy.deepcopy(model).cpu().eval()
    if weights is None:
        return model
    load_strict(model, weights)
    return model


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


# --- the formats -------------------------------------------------------------------------------


@torch.no_grad()
def _verify_state_dict(job: ExportJob, state: dict) -> float:
    reloaded = copy.deepcopy(job.model)
    reloaded.load_state_dict(state, strict=True)
    return max_abs_diff(job.reference(), reloaded(job.verify_input))


def _export_pt(job: ExportJob, path: Path, check: bool):
    atomic_write(path, lambda tmp: torch.save(plain_state_dict(job.model), tmp))
    if not check:
        return None, ""
    job.step(0.5, "Checking the saved weights")
    return _verify_state_dict(job, torch.load(path, map_location="cpu", weights_only=True)), ""


def _export_safetensors(job: ExportJob, path: Path, check: bool):
    atomic_write(path,
                 lambda tmp: save_file(plain_state_dict(job.model), str(tmp), metadata={"format": "pt"}))
    if not check:
        return None, ""
    job.step(0.5, "Checking the saved weights")
    return _verify_state_dict(job, load_file(str(path))), ""


def _batch_dim() -> dict:
    return {0: torch.export.Dim("batch", min=1, max=4096)}


def _export_program(job: ExportJob, dynamic: bool):
    shapes = (_batch_dim(),) if dynamic else None
    try:
        return torch.export.export(job.model, (job.example,), dynamic_shapes=shapes)
    except Exception as exc:
        if dynamic:
            return None
        raise DesignerError(f"torch.export cannot capture this model: {first_line(exc)}") from exc


def _export_pt2(job: ExportJob, path: Path, check: bool):
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
def _verify_fixed_or_dynamic(job: ExportJob, run: Callable, note: str) -> float:
    if note.startswith("fixed"):
        return max_abs_diff(job.model(job.example), run(job.example))
    return max_abs_diff(job.reference(), run(job.verify_input))


def _export_torchscript(job: ExportJob, path: Path, check: bool):
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
            diff = max_abs_diff(job.reference(),
                                torch.jit.load(str(path), map_location="cpu")(job.verify_input))
    return diff, "TorchScript is deprecated by PyTorch; prefer pt2 (torch.export) or ONNX."


_EXPORTERS = {
    "pt": _export_pt,
    "safetensors": _export_safetensors,
    "onnx": export_onnx,
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


def write_model_card(design: Design, path: Path, *, classes=None, training=None, metrics=None) -> Path:
    card = model_card(design, classes=classes, training=training, metrics=metrics)
    target = card_path_for(path)
    atomic_write_text(target, json.dumps(card, indent=2, default=str) + "\n")
    return target
