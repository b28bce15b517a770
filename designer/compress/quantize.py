"""Post-training int8 quantization with ONNX Runtime's static quantizer, calibrated on training images.

Int8 is not always faster (ONNX Runtime's QDQ format made EfficientNetV2-S slower on one CPU), so
several formats are tried (QDQ and QOperator, per-channel or per-tensor weights), each one is
measured like every other step, and the caller keeps whichever model is fastest, float included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from designer.base.errors import plain_reason
from designer.base.jobs import is_cancelled
from designer.compress.measure import BATCHES, Figures, latency_ms, onnx_accuracy
from designer.data.loading import make_loader
from designer.data.transforms import make_transform
from designer.export.onnx import require
from designer.model.build import network_input

CALIBRATION_IMAGES = 128
VARIANTS = (("QDQ", True), ("QDQ", False), ("QOperator", True), ("QOperator", False))


@dataclass
class Parity:
    """How the int8 model's outputs compare with the float one's on the validation images."""

    max_abs_logit_diff: float
    top1_agreement: float

    def to_dict(self) -> dict:
        return {"max_abs_logit_diff": self.max_abs_logit_diff, "top1_agreement": self.top1_agreement}


def calibration_batches(design, samples, count: int = CALIBRATION_IMAGES, seed: int = 0) -> list[np.ndarray]:
    """Up to ``count`` training images, preprocessed as the network sees them (no augmentation)."""
    rng = np.random.default_rng(seed)
    chosen = [samples[i] for i in rng.permutation(len(samples))[:count]]
    loader = make_loader(chosen, make_transform(design), 16, workers=0)
    return [batch[0].numpy().astype(np.float32) for batch in loader]


def _reader(batches: list[np.ndarray], input_name: str):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{input_name: b} for b in batches])

        def get_next(self):
            return next(self.items, None)

    return Reader()


def preprocess(float_path: Path, out_path: Path) -> Path:
    """ONNX Runtime's recommended preprocessing (shape inference, graph optimisation) before quantizing;
    the file as it is when that step fails."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(float_path), str(out_path), skip_symbolic_shape=True)
        return out_path
    except Exception:  # noqa: BLE001 -- an optional step: quantizing the plain file still works
        return float_path


def quantize(float_path: Path, out_path: Path, batches, fmt: str, per_channel: bool) -> Path:
    require("onnxruntime")
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    name = ort.InferenceSession(str(float_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    quantize_static(str(float_path), str(out_path), _reader(batches, name),
                    quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
                    per_channel=per_channel, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    return out_path


def parity(float_logits: np.ndarray, int8_logits: np.ndarray) -> Parity:
    diff = float(np.abs(float_logits - int8_logits).max())
    agree = float((float_logits.argmax(1) == int8_logits.argmax(1)).mean())
    return Parity(diff, agree)


def int8_variants(design, float_path: Path, folder: Path, train_samples, val_samples, step: int,
                  runs: int, cancel=None):
    """Yields (Figures, Parity, None) for each int8 format, or (None, None, 'format: why') when one fails."""
    shape = tuple(network_input(design).shape)
    batches = calibration_batches(design, train_samples)
    source = preprocess(float_path, folder / "model.preprocessed.onnx")
    _, float_logits = onnx_accuracy(float_path, design, val_samples, cancel)
    for fmt, per_channel in VARIANTS:
        if is_cancelled(cancel):
            return
        label = f"int8 {fmt} {'per-channel' if per_channel else 'per-tensor'}"
        path = folder / f"model.int8.{fmt.lower()}{'.pc' if per_channel else ''}.onnx"
        try:
            quantize(source, path, batches, fmt, per_channel)
            b1, b32 = (latency_ms(path, shape, b, runs, cancel) for b in BATCHES)
            acc, logits = onnx_accuracy(path, design, val_samples, cancel)
        except Exception as exc:  # noqa: BLE001 -- one format failing leaves the others
            yield None, None, f"{label}: {plain_reason(exc)}"
            continue
        figures = Figures(step, label, 0, 0, path.stat().st_size, b1, b32, acc, str(path))
        match = parity(float_logits, logits) if float_logits is not None and logits is not None else None
        yield figures, match, None
