"""ONNX export with the dynamo exporter, checked with onnxruntime.

``torch.onnx.export`` defaults to the dynamo exporter, which needs ``onnx`` and
``onnxscript``; ``external_data=False`` keeps the weights inside the one
``.onnx`` file. The batch dimension is dynamic when the exporter accepts it.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import torch

from designer.base.errors import DesignerError
from designer.base.fileio import atomic_write
from designer.export.checks import first_line, max_abs_diff

INSTALL_HINT = 'Install the ONNX extras: pip install "netsurgeon[onnx]".'


def require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise DesignerError(f"ONNX export needs {', '.join(missing)}, which is not installed.",
                            hint=INSTALL_HINT)


def _onnx_export(job, tmp: Path, dynamic: bool) -> None:
    shapes = ({0: torch.export.Dim("batch", min=1, max=4096)},) if dynamic else None
    # verbose=False: no progress lines on stdout; the warnings are meant for developers.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            job.model, (job.example,), str(tmp), dynamo=True, external_data=False, verbose=False,
            input_names=["input"], output_names=["logits"], dynamic_shapes=shapes,
        )


def _write(job, path: Path, dynamic: bool) -> bool:
    try:
        atomic_write(path, lambda tmp: _onnx_export(job, tmp, dynamic))
        return True
    except Exception as exc:
        if dynamic:
            return False
        raise DesignerError(f"The ONNX exporter cannot convert this model: {first_line(exc)}",
                            hint="Export as pt2 (torch.export) or safetensors instead.") from exc


def export_onnx(job, path: Path, check: bool):
    """Write ``job.model`` to ``path``; returns (max abs diff or None, note)."""
    require("onnx", "onnxscript")
    job.step(0.1, "Converting to ONNX (takes a few seconds)")
    note = "dynamic batch size"
    if not _write(job, path, dynamic=True):
        job.step(0.4, "Retrying ONNX with a fixed batch size")
        _write(job, path, dynamic=False)
        note = "fixed batch size 2"
    if not check:
        return None, note
    require("onnxruntime")
    job.step(0.7, "Checking the ONNX file with onnxruntime")
    inputs = job.example if note.startswith("fixed") else job.verify_input
    return _run_and_compare(job, path, inputs), note


def _run_and_compare(job, path: Path, inputs: torch.Tensor) -> float:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    output = session.run(None, {name: inputs.numpy()})[0]
    with torch.no_grad():
        reference = job.model(inputs)
    return max_abs_diff(reference, torch.from_numpy(output))

