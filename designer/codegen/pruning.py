"""The script's lines for a recorded channel pruning (``PruneChannels``): the same Torch-Pruning
replay the app does (``model.pruned``), with the recorded history written as a literal. Kept apart
from ``codegen.ops`` so the rest of the renderers stay free of Torch-Pruning."""

from __future__ import annotations

from designer.codegen.literals import literal
from designer.model.build import network_input

REPLAY_PRUNING = '''
def replay_pruning(model: nn.Module, input_shape: tuple, history: list) -> None:
    """Prune ``model`` in place as recorded: each entry is one pruned group of coupled layers
    (layer path, out channels?, channel indices), replayed by Torch-Pruning's dependency graph."""
    import torch_pruning as tp  # pip install torch-pruning

    graph = tp.DependencyGraph().build_dependency(model.eval(), torch.zeros(1, *input_shape), verbose=False)
    graph.load_pruning_history(history)
'''


def render_pruning(stage):
    """(lines, helpers, covers) for a ``PruneChannels`` stage: one call, every layer covered."""
    history = [[path, bool(out), list(indices)] for path, out, indices in stage.op.history]
    shape = tuple(network_input(stage.before).shape)
    lines = [f"replay_pruning(model, {literal(shape)}, {literal(history)})"]
    return lines, [REPLAY_PRUNING], [""]
