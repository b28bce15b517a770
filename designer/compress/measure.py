"""Figures measured on this machine, never estimated: ONNX Runtime latency at batch 1 and 32
(warm-up, then the median of at least 20 runs), the ONNX file's size, parameters, multiply-adds,
and validation accuracy.

Compared models are measured in the same process, one after another, so they see the same
machine; the machine may still be busy with other work, which is why the median is used.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from designer.base.errors import DesignerError
from designer.base.jobs import is_cancelled
from designer.data.loading import make_loader
from designer.data.transforms import make_transform
from designer.export.onnx import export_onnx, require
from designer.inspect.tracing import FlopTally
from designer.model.build import network_input
from designer.train.evaluate import evaluate

BATCHES = (1, 32)
MIN_RUNS = 20
WARMUP_RUNS = 3


@dataclass
class Figures:
    """One compression step, as measured (``val_acc`` None when there is no validation set)."""

    step: int
    label: str  # "original", "pruned 30%", "int8 QDQ per-channel"
    params: int
    macs: int
    size_bytes: int
    latency_b1_ms: float
    latency_b32_ms: float
    val_acc: float | None
    onnx: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: torch.nn.Module, input_shape: tuple) -> int:
    """Multiply-adds of one image (torch's FLOP formulas halved: torchvision's convention). Counted on
    the calls themselves, so Lite0's convs (``F.conv2d`` in a subclass) are counted too."""
    was_training = model.training
    model.eval()
    tally = FlopTally()
    with torch.no_grad(), tally:
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    return int(tally.total // 2)


def write_onnx(model: torch.nn.Module, input_shape: tuple, path: Path) -> Path:
    """The float ONNX file (dynamic batch when the exporter allows it), written atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    job = SimpleNamespace(model=model.eval(), example=torch.zeros(2, *input_shape), step=lambda *a: None)
    try:
        _, note = export_onnx(job, Path(path), check=False)
    finally:
        model.train(was_training)
    if note.startswith("fixed"):
        raise DesignerError("The ONNX exporter could only write this network with a fixed batch size, so its "
                            "speed at batch 1 and 32 cannot be measured.")
    return Path(path)


def session(path: Path):
    require("onnxruntime")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def latency_ms(path: Path, input_shape: tuple, batch: int, runs: int = MIN_RUNS, cancel=None) -> float:
    """Median wall time of one ONNX Runtime call on ``batch`` random images, after a warm-up."""
    sess = session(path)
    name = sess.get_inputs()[0].name
    feed = {name: np.random.default_rng(0).standard_normal((batch, *input_shape), dtype=np.float32)}
    for _ in range(WARMUP_RUNS):
        sess.run(None, feed)
    times = []
    for _ in range(max(MIN_RUNS, runs)):
        if is_cancelled(cancel):
            break
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(statistics.median(times)) if times else float("nan")


def torch_accuracy(design, samples, classes, cancel=None) -> float | None:
    """Validation accuracy of ``design`` (PyTorch, float) on ``samples``."""
    if not samples:
        return None
    result = evaluate(design, samples, classes, batch_size=32, device="cpu", cancel=cancel)
    return None if result is None else result.accuracy


def onnx_accuracy(path: Path, design, samples, cancel=None) -> tuple[float | None, np.ndarray | None]:
    """(accuracy, logits) of an ONNX file on ``samples``, with the design's own preprocessing."""
    if not samples:
        return None, None
    sess = session(path)
    name = sess.get_inputs()[0].name
    loader = make_loader(samples, make_transform(design), 32, workers=0)
    correct, seen, outputs = 0, 0, []
    for batch in loader:
        if is_cancelled(cancel):
            return None, None
        images, labels = batch[0], batch[1]
        logits = sess.run(None, {name: images.numpy().astype(np.float32)})[0]
        outputs.append(logits)
        correct += int((logits.argmax(1) == labels.numpy()).sum())
        seen += len(labels)
    return (correct / seen if seen else None), (np.concatenate(outputs) if outputs else None)


def measure(design, onnx_path: Path, samples, classes, step: int, label: str, runs: int = MIN_RUNS,
            cancel=None) -> Figures:
    """Every figure of one step; writes the float ONNX file to ``onnx_path``."""
    shape = tuple(network_input(design).shape)
    model = design.model
    write_onnx(model, shape, onnx_path)
    b1, b32 = (latency_ms(onnx_path, shape, b, runs, cancel) for b in BATCHES)
    return Figures(step, label, count_params(model), count_macs(model, shape), onnx_path.stat().st_size,
                   b1, b32, torch_accuracy(design, samples, classes, cancel), str(onnx_path))
