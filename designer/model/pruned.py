"""Replaying a recorded channel pruning on a freshly built network.

The pruning is plain data: Torch-Pruning's ``pruning_history()``, a list of
``(layer path, out channels?, channel indices)``, one entry per pruned dependency
group, in the order they were pruned. Replaying it on the same structure (the
gallery model plus the recipe's earlier edits) gives the same pruned network,
with no pickled module anywhere (Torch-Pruning's own ``tests/test_load.py``).
"""

from __future__ import annotations

import importlib.util
import warnings

import torch
from torch import nn

from designer.base.errors import DesignerError

INSTALL_HINT = 'Install the compression extras: pip install "netsurgeon[compress]".'


def require_torch_pruning() -> None:
    if importlib.util.find_spec("torch_pruning") is None:
        raise DesignerError("Pruning needs the torch-pruning package, which is not installed.",
                            hint=INSTALL_HINT)


def replay_pruning(model: nn.Module, input_shape: tuple[int, int, int], history) -> None:
    """Prune ``model`` in place as ``history`` records (see the module docstring)."""
    require_torch_pruning()
    import torch_pruning as tp

    names = dict(model.named_modules())
    for path, _, _ in history:
        if path not in names:
            raise DesignerError(f"The recorded pruning names layer '{path}', which this network lacks.",
                                hint="The pruning belongs to the design it was made on; undo the edits "
                                     "before it.")
    was_training = model.training
    model.eval()
    example = torch.zeros(1, *input_shape)
    # Torch-Pruning traces the graph through autograd: gradients must be on, whoever called the build
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")  # Torch-Pruning warns about parameters it will not touch
        graph = tp.DependencyGraph().build_dependency(model, example, verbose=False)
        graph.load_pruning_history([[path, bool(out), list(idxs)] for path, out, idxs in history])
    model.train(was_training)
