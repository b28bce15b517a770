"""Class-activation maps: which part of an image made the network say a class.

Both methods come from captum (Meta's PyTorch interpretability library; pure Python, needs
only torch, numpy and matplotlib) rather than being written here:

- ``gradcam``: Grad-CAM (Selvaraju et al. 2017), captum's ``LayerGradCam``. The target
  layer's channels are weighted by the mean gradient of the class score, summed, and
  only the positive part is kept. One forward and one backward pass.
- ``ablation``: gradient-free, captum's ``LayerFeatureAblation``. Each region of the target
  layer's map is blanked in turn (all channels set to 0) and the drop in the class score
  is that region's weight, as in Ablation-CAM, but per position. Its cost grows with the
  regions, so a large map is grouped into at most ``MAX_REGIONS`` regions, the perturbed
  maps run through the layers after the target in batches, and the layers before it run
  once per batch on one copy of the image.

Scores are logits (pre-softmax), as in the Grad-CAM paper. A map is upsampled to the
network's input size and scaled to 0..1; a map with no positive evidence stays all 0.
For ViT-style layers the tokens after the class token are reshaped to their patch grid
through a small identity module that the map is taken at (``CamTarget.tokens``); the same
module takes the map a layer receives when that is the target (``CamTarget.on_input``).

Cancelling: the forward function captum calls checks the job's flag, so even a long
ablation stops within one batch.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from designer.base.errors import DesignerError
from designer.base.jobs import JobCancelled, is_cancelled
from designer.inspect.cam_layers import CamTarget
from designer.inspect.tracing import eval_mode
from designer.model.surgery import get_module

METHODS = {"gradcam": "Grad-CAM", "ablation": "Feature ablation (gradient-free)"}
MAX_REGIONS = 144  # 12 x 12 regions of the layer's map at most: bounded ablation cost
ABLATION_BATCH = 16  # perturbed maps per forward pass of the layers after the target


class MapTap(nn.Module):
    """Identity on a (B, C, h, w) map: the module a map is taken at when the target layer's own
    output is not that map (ViT tokens, or the input the layer receives)."""

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return grid


@contextlib.contextmanager
def map_layer(model: nn.Module, target: CamTarget):
    """The module whose output is the map: the target layer itself, or a ``MapTap`` that a hook
    on it sends its output (or, ``on_input``, its input) through, tokens laid out as their grid."""
    layer = get_module(model, target.path)
    if not target.tokens and not target.on_input:
        yield layer
        return
    tap = MapTap()

    def through_tap(x: torch.Tensor) -> torch.Tensor:
        if not target.tokens:
            return tap(x)
        (h, w), prefix = target.grid, target.prefix
        grid = tap(x[:, prefix:].transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w))
        # an ablation hands back more maps than images came in: their class tokens are the same
        prefix_tokens = x[:, :prefix].expand(grid.shape[0], -1, -1)
        return torch.cat([prefix_tokens, grid.flatten(2).transpose(1, 2)], dim=1)

    if target.on_input:
        handle = layer.register_forward_pre_hook(lambda module, args: (through_tap(args[0]), *args[1:]))
    else:
        handle = layer.register_forward_hook(lambda module, args, out: through_tap(out))
    try:
        yield tap
    finally:
        handle.remove()


def _scores(model: nn.Module, cancel, copies_of_one: bool = False):
    """The forward function captum calls: logits, after checking the cancel flag.

    ``copies_of_one``: captum's layer ablation runs the network on as many copies of the one image
    as perturbed maps it evaluates at once, and its hook then replaces the layer's output with
    those maps. The layers before it need only run once: on the first copy. A network that
    reshapes by its input's batch size after the layer (Lite0's ``x.view(bs, -1)``) fails or
    answers for the wrong batch that way; it then gets every copy, from then on."""
    shortcut = [copies_of_one]

    def run(x: torch.Tensor) -> torch.Tensor:
        out = model(x)
        return out[0] if isinstance(out, (tuple, list)) else out  # (logits, aux...) in train mode

    def forward(x: torch.Tensor) -> torch.Tensor:
        if is_cancelled(cancel):
            raise JobCancelled()
        if shortcut[0] and x.shape[0] > 1 and torch.equal(x[0], x[-1]):
            try:
                out = run(x[:1])
                if out.shape[0] == x.shape[0]:
                    return out
            except RuntimeError:
                pass
            shortcut[0] = False
        return run(x)
    return forward


def region_mask(grid: tuple[int, int], most: int = MAX_REGIONS) -> torch.Tensor:
    """(1, 1, h, w) region numbers: one per position, or ``most`` at most in blocks."""
    h, w = grid
    side = max(1, math.isqrt(most))
    rows, cols = min(h, side), min(w, side)
    r = (torch.arange(h) * rows // h).view(h, 1)
    c = (torch.arange(w) * cols // w).view(1, w)
    return (r * cols + c).view(1, 1, h, w)


def _attribute(model, layer, x, classes, method, grid, cancel) -> torch.Tensor:
    """(K, 1, h, w) raw attributions at the layer for ``classes`` (one per row of ``x``)."""
    from captum.attr import LayerFeatureAblation, LayerGradCam  # imports matplotlib: load on use

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captum's notes on setting requires_grad for us
        if method == "gradcam":
            return LayerGradCam(_scores(model, cancel), layer).attribute(x, target=classes)
        # One class at a time: captum 0.9 does not expand a list of targets to the batched copies.
        ablation = LayerFeatureAblation(_scores(model, cancel, copies_of_one=True), layer)
        mask = region_mask(grid).to(x.device)
        attr = torch.cat([ablation.attribute(x[k:k + 1], target=int(c), layer_mask=mask,
                                             perturbations_per_eval=ABLATION_BATCH)
                          for k, c in enumerate(classes)])
    return attr[:, :1]  # every channel of a region holds that region's score drop


def class_maps(model: nn.Module, image: torch.Tensor, classes: list[int], target: CamTarget,
               method: str = "gradcam", cancel=None) -> np.ndarray:
    """(K, H, W) float32 maps in 0..1 for one prepared image (C, H, W) and K class indices."""
    if method not in METHODS:
        raise DesignerError(f"'{method}' is not a heat-map method.",
                            hint=f"Use one of: {', '.join(METHODS)}.")
    if not classes:
        return np.zeros((0, *image.shape[1:]), dtype=np.float32)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = image.unsqueeze(0).to(device).repeat(len(classes), 1, 1, 1)
    with eval_mode(model), map_layer(model, target) as layer:
        attr = _attribute(model, layer, x, list(classes), method, target.grid, cancel)
    height, width = image.shape[1:]
    return normalise(attr.detach().float(), (height, width))


def normalise(attr: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Positive part, upsampled to ``size`` (bilinear), each map scaled to a maximum of 1."""
    maps = F.interpolate(F.relu(attr), size=size, mode="bilinear", align_corners=False)[:, 0]
    peak = maps.flatten(1).amax(1).view(-1, 1, 1)
    maps = torch.where(peak > 1e-12, maps / peak.clamp_min(1e-12), torch.zeros_like(maps))
    return maps.cpu().numpy().astype(np.float32)
