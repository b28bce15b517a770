"""Structured channel pruning with Torch-Pruning's dependency graph (DepGraph).

Coupled layers (a residual sum, a depthwise conv and its BatchNorm, the classifier's inputs) are
pruned together as one group. Channels are ranked by magnitude (L2 of the group's weights) or by
Taylor importance (weight x gradient on a few training batches). The first conv and the classifier
are kept out by default; the user may keep more layers out (``--keep``). A network Torch-Pruning
cannot prune is refused in one line naming the layer where it breaks.
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Iterable

import torch
from torch import nn

from designer.base.errors import DesignerError, plain_reason
from designer.model.pruned import require_torch_pruning
from designer.model.surgery import companion_heads, find_first_conv, path_exists

IMPORTANCES = ("magnitude", "taylor")
ROUND_TO = 8  # channel counts stay multiples of 8 where they can: CPU kernels run faster on them
TAYLOR_BATCHES = 4
UNPRUNABLE_HINT = ("Pick another network family: channel shuffles (ShuffleNet) and shifted windows (Swin) "
                   "are known not to prune.")


def kept_layers(design, keep: Iterable[str] = ()) -> list[str]:
    """The layer paths pruning leaves alone: the first conv, the classifier (and companion heads),
    and each of ``keep``, which must name a layer of the network."""
    model = design.model
    kept = []
    for path in keep:
        if not path_exists(model, path):
            raise DesignerError(f"--keep names '{path}', which is not a layer of this network.",
                                hint="Use a dotted layer path as shown by `python -m designer inspect`.")
        kept.append(path)
    with contextlib.suppress(DesignerError):  # a network without a conv: nothing to keep at the input
        kept.append(find_first_conv(model))
    if design.classifier_path:
        kept += [design.classifier_path, *companion_heads(model, design.classifier_path)]
    return list(dict.fromkeys(kept))


def importance(name: str):
    require_torch_pruning()
    import torch_pruning as tp

    if name == "magnitude":
        return tp.importance.MagnitudeImportance(p=2)
    if name == "taylor":
        return tp.importance.TaylorImportance()
    raise DesignerError(f"'{name}' is not a way to rank channels; choose {' or '.join(IMPORTANCES)}.")


def make_pruner(model: nn.Module, input_shape: tuple, how: str, kept: list[str], steps: int,
                max_ratio: float):
    """A Torch-Pruning pruner that removes ``max_ratio`` of the prunable channels in ``steps`` equal steps."""
    ignored = [model.get_submodule(p) if p else model for p in kept]
    example = torch.zeros(1, *input_shape)
    with warnings.catch_warnings(), torch.enable_grad():  # the dependency graph is traced through autograd
        warnings.simplefilter("ignore")
        try:
            return _nearest_round_pruner()(model.eval(), example, importance=importance(how),
                                        pruning_ratio=max_ratio, iterative_steps=steps,
                                        ignored_layers=ignored, round_to=ROUND_TO)
        except DesignerError:
            raise
        except Exception as exc:  # Torch-Pruning cannot trace or group this network
            raise refusal(model, example, exc) from exc


def _nearest_round_pruner():
    """Torch-Pruning's pruner, with channel counts rounded to the *nearest* multiple of ``ROUND_TO``.

    Its own rounding goes down: a 16-channel layer asked to lose 10 % (2 channels) kept 8, half of it,
    so the first "10 %" step of EfficientNet-Lite0 cut its narrow early blocks by a third to a half.
    Rounding to the nearest count keeps each layer close to the ratio asked; a layer whose share is
    below half a multiple waits for a later step, as the schedule's targets grow."""
    import torch_pruning as tp

    class NearestRoundPruner(tp.pruner.BasePruner):
        def _round_to(self, n_pruned, current_channels, round_to):
            return nearest_round_pruned(n_pruned, current_channels, round_to)

    return NearestRoundPruner


def nearest_round_pruned(n_pruned: int, current: int, round_to: int) -> int:
    """How many of ``current`` channels to remove when ``n_pruned`` were asked and the count kept is
    rounded to the nearest multiple of ``round_to`` (never below one multiple, never above ``current``)."""
    if current <= round_to:
        return max(min(n_pruned, current - 1), 0)
    kept = max(round_to, math.floor((current - n_pruned) / round_to + 0.5) * round_to)  # a tie keeps more
    return max(current - min(kept, current), 0)


def prune_step(pruner, model: nn.Module, taylor_batches=None) -> None:
    """One step of the pruner's schedule. Taylor importance needs gradients: they come from a few
    training batches (``taylor_batches``, (images, labels) pairs) first."""
    if taylor_batches is not None:
        model.zero_grad(set_to_none=True)
        model.train()
        for images, labels in taylor_batches:
            nn.functional.cross_entropy(model(images), labels).backward()
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruner.step()
    model.zero_grad(set_to_none=True)


def check_prunable(model: nn.Module, input_shape: tuple, how: str, kept: list[str], num_classes: int) -> None:
    """Prune a copy by one small step and run it: a network that breaks is refused here, in one line
    naming the layer, before any training time is spent."""
    require_torch_pruning()
    trial = copy.deepcopy(model).eval()
    example = torch.zeros(1, *input_shape)
    # half of every layer in one step: enough to remove whole multiples of ROUND_TO even in narrow layers
    pruner = make_pruner(trial, input_shape, "magnitude" if how == "taylor" else how, kept, 1, 0.5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pruner.step()
    except Exception as exc:
        raise refusal(trial, example, exc) from exc
    try:
        with torch.no_grad():
            out = trial(example)
    except Exception as exc:
        raise refusal(trial, example, exc) from exc
    if not isinstance(out, torch.Tensor) or out.shape[-1] != num_classes:
        raise DesignerError("After pruning, the network no longer gives one score per class.",
                            hint="Keep the layers before the classifier out of pruning with --keep.")


def refusal(model: nn.Module, example: torch.Tensor, exc: Exception) -> DesignerError:
    """One line: which layer breaks (the innermost one running when the pruned network fails, or
    the layer feeding the operation Torch-Pruning could not follow)."""
    layer = failing_layer(model, example)
    if layer is None:
        feeding = layer_in_traceback(model, exc)
        where = f"after layer '{feeding}'" if feeding else "through this network"
        return DesignerError(f"This network cannot be pruned: Torch-Pruning cannot follow the channels "
                             f"{where} ({plain_reason(exc)}).", hint=UNPRUNABLE_HINT)
    return DesignerError(f"This network cannot be pruned: layer '{layer}' breaks ({plain_reason(exc)}).",
                         hint=f"Keep it out of pruning with --keep {layer}, or pick another network family.")


def layer_in_traceback(model: nn.Module, exc: Exception) -> str | None:
    """The layer nearest the dependency-graph node Torch-Pruning was handling when it failed (its frames
    hold it as ``node``; a reshape or shuffle is not a layer, so the layer feeding it is named)."""
    names = {id(m): n for n, m in model.named_modules() if n}
    tb, node = exc.__traceback__, None
    while tb is not None:
        node = tb.tb_frame.f_locals.get("node", node)
        tb = tb.tb_next
    seen = 0
    while node is not None and seen < 50:  # walk up the inputs until a named module
        if id(getattr(node, "module", None)) in names:
            return names[id(node.module)]
        inputs = getattr(node, "inputs", None)
        node, seen = (inputs[0] if inputs else None), seen + 1
    return None


def failing_layer(model: nn.Module, example: torch.Tensor) -> str | None:
    """The innermost module that was running when a forward pass failed; None when it runs."""
    running: list[str] = []
    failed: list[str] = []
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue
        handles.append(module.register_forward_pre_hook(lambda m, a, n=name: running.append(n)))
        handles.append(module.register_forward_hook(lambda m, a, o, n=name: running.remove(n)))
    try:
        with torch.no_grad():
            model(example)
    except Exception:  # noqa: BLE001 -- the failure is what we are looking for
        failed = list(running)
    finally:
        for handle in handles:
            handle.remove()
    return failed[-1] if failed else None
