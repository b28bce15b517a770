"""Each structural recipe op rendered as a few lines of plain PyTorch.

The recipe is replayed one op at a time (``stages``), so every renderer sees
the network just before and just after its op and writes what changed, read
off the modules the app built. Renderers are looked up by ``op.kind`` in
``OP_RENDERERS``: a table, not an if-chain.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from torch import nn

from designer.base.errors import DesignerError
from designer.codegen.layers import attr_expr, render_module
from designer.codegen.literals import literal
from designer.codegen.pruning import render_pruning
from designer.model.build import BaseCache, Design, build, network_input, set_timm_input_size
from designer.model.ops import DeleteLayer, InsertAfter, Op
from designer.model.recipe import Recipe
from designer.zoo.families import has_position_embeddings
from designer.zoo.sources import SOURCES


@dataclass
class Stage:
    """One structural op with the network before and after it (built ``Design`` objects)."""

    op: Op
    before: Design
    after: Design
    base_kwargs: dict = field(default_factory=dict)  # builder arguments this op sets (image_size)


@dataclass
class Rendered:
    lines: list[str]
    why: str = ""  # appended to the op's comment
    helpers: list[str] = field(default_factory=list)  # module-level functions the lines call
    covers: list[str] = field(default_factory=list)  # module paths the lines rebuild
    baseline: nn.Module | None = None  # the network the lines start from, when not the one before the op


def stages(design: Design) -> list[Stage]:
    """Replay the structural ops one by one (the base model is built once and cached)."""
    cache = BaseCache()
    ops = design.recipe.structural_ops
    base = replace(design.recipe.base, weights="none")  # structure only: no weights to load
    built = [build(Recipe(base, ops[:i]), cache) for i in range(len(ops) + 1)]
    return [Stage(op, built[i], built[i + 1], _base_kwargs(op, built[i + 1])) for i, op in enumerate(ops)]


def _base_kwargs(op, after) -> dict:
    """Lite0's builder computes its TF 'SAME' paddings from ``image_size``."""
    if op.kind == "set_input" and SOURCES[after.recipe.base.source].builder_takes_size:
        return {"image_size": (op.height, op.width)}
    return {}


def get(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path) if path else model


def changed_paths(before: nn.Module, after: nn.Module, prefix: str = "") -> list[str]:
    """The outermost module paths whose layer differs between two networks."""
    if repr(before) == repr(after) and _shapes(before) == _shapes(after):
        return []
    kids_b, kids_a = dict(before.named_children()), dict(after.named_children())
    if type(before) is not type(after) or list(kids_b) != list(kids_a) or not kids_a or _own(before, after):
        return [prefix]
    out: list[str] = []
    for name, child in kids_a.items():
        out += changed_paths(kids_b[name], child, f"{prefix}.{name}" if prefix else name)
    return out


def _shapes(module: nn.Module) -> list[tuple]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


def _own(before: nn.Module, after: nn.Module) -> bool:
    """True if the module's own (non-child) parameters or settings changed."""
    own_b = [(k, tuple(v.shape)) for k, v in before.named_parameters(recurse=False)]
    own_a = [(k, tuple(v.shape)) for k, v in after.named_parameters(recurse=False)]
    return own_b != own_a or before.extra_repr() != after.extra_repr()


# --- renderers -----------------------------------------------------------------------------------


ADAPT_INPUT_CONV = '''
def adapt_input_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Pretrained filters for ``in_channels`` inputs, as timm does: summed over the input
    channels for 1, else repeated over the channels and rescaled by old / new count."""
    old = weight.shape[1]
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_channels / old)
    return weight.repeat(1, repeats, 1, 1)[:, :in_channels] * (old / in_channels)
'''

RESIZE_VIT = '''
def resize_vit(model: nn.Module, size: int) -> None:
    """A ViT bakes its image size into its position embeddings: interpolate them to the new
    grid of patches, as torchvision's interpolate_embeddings does when rebuilding at ``size``."""
    old = {"encoder.pos_embedding": model.encoder.pos_embedding.detach()}
    new = interpolate_embeddings(size, model.patch_size, old)["encoder.pos_embedding"]
    model.encoder.pos_embedding = nn.Parameter(new)
    model.image_size = size
    model.seq_length = new.shape[1]
'''

HELPER_IMPORTS = {RESIZE_VIT: "from torchvision.models.vision_transformer import interpolate_embeddings"}


def _set_input(stage: Stage) -> Rendered:
    channels = network_input(stage.after).shape[0]
    out = Rendered([])
    after, before = stage.after.model, stage.before.model
    if has_position_embeddings(after) and after.image_size != before.image_size:
        out.lines.append(f"resize_vit(model, {stage.after.model.image_size})")
        out.helpers.append(RESIZE_VIT)
        out.covers.append("encoder")
    before = out.baseline = _timm_resized(stage, out)
    for path in changed_paths(before, stage.after.model):
        new = get(stage.after.model, path)
        if path in out.covers or _is_padding(path) or not isinstance(new, nn.Conv2d):
            continue
        conv = attr_expr(path)
        out.lines += [f"{conv}.weight = nn.Parameter(adapt_input_conv({conv}.weight.detach(), {channels}))",
                      f"{conv}.in_channels = {channels}"]
        out.helpers.append(ADAPT_INPUT_CONV)
        out.covers.append(path)
    resized = RESIZE_VIT in out.helpers or any("set_input_size" in line for line in out.lines)
    out.why = _input_why(stage, channels if ADAPT_INPUT_CONV in out.helpers else 0, resized)
    return out


def _timm_resized(stage: Stage, out: Rendered) -> nn.Module:
    """Where the app let timm take the new size (``set_input_size``), the script does the same; the
    network before the op, so resized, is what the remaining changes are read against."""
    size = tuple(int(v) for v in stage.after.input_shape[1:])
    if size == tuple(stage.before.input_shape[1:]):
        return stage.before.model
    resized = copy.deepcopy(stage.before.model)
    if not set_timm_input_size(resized, *size):
        return stage.before.model
    out.lines.append(f"model.set_input_size(img_size={literal(size)})  # timm's own resize")
    return resized


def _input_why(stage: Stage, adapted: int, vit: bool) -> str:
    parts = []
    if adapted:
        parts.append(f"the first conv takes {adapted} channel{'s' if adapted > 1 else ''}, "
                     "keeping its pretrained filters")
    if getattr(stage.after, "replicate_grey", False):
        parts.append("grey images are repeated to 3 channels by the data transform")
    if vit:
        parts.append("the position embeddings (or attention biases) are resized to the new size")
    elif stage.base_kwargs:
        parts.append("the input size is passed to the builder above")
    if not parts:
        parts.append("nothing changes in the network")
    return "; ".join(parts + ["the data transform resizes the images"])


def _is_padding(path: str) -> bool:
    """Lite0's TF 'SAME' padding modules, recomputed by the app when the sizes reaching them change."""
    return path == "static_padding" or path.endswith(".static_padding")


def _replace_at_changed(stage: Stage, keep_weights: bool = False) -> Rendered:
    lines, helpers = [], []
    paths = [p for p in changed_paths(stage.before.model, stage.after.model) if not _is_padding(p)]
    for path in paths:
        if not path:
            raise DesignerError(f"'{stage.op.describe()}' replaced the whole network; "
                                "the script cannot write that.")
        target = attr_expr(path)
        code = render_module(get(stage.after.model, path))
        if keep_weights:
            lines += [f"old = {target}", f"{target} = {code}", f"load_fitting({target}, old.state_dict())"]
            helpers.append(LOAD_FITTING)
        else:
            lines.append(f"{target} = {code}")
    return Rendered(lines, helpers=helpers, covers=paths)


LOAD_FITTING = '''
def load_fitting(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load every tensor whose name and shape fit the model; the rest keep their initial values."""
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if k in own and v.shape == own[k].shape},
                          strict=False)
'''


def _replace_classifier(stage: Stage) -> Rendered:
    rendered = _replace_at_changed(stage)
    rendered.why = "a new, randomly initialised head"
    return rendered


def _layer_path(stage: Stage) -> str:
    """The layer a per-layer op (delete, insert after) acts on."""
    if not isinstance(stage.op, (DeleteLayer, InsertAfter)):
        raise DesignerError(f"'{stage.op.describe()}' names no layer; "
                            "the script cannot write it as a layer edit.")
    return stage.op.path


def _delete(stage: Stage) -> Rendered:
    path = _layer_path(stage)
    return Rendered([f"{attr_expr(path)} = nn.Identity()"], "an Identity keeps the module paths stable",
                    covers=[path])


def _insert_after(stage: Stage) -> Rendered:
    path = _layer_path(stage)
    new = get(stage.after.model, path)
    old = get(stage.before.model, path)
    if not (isinstance(new, nn.Sequential) and len(new) == 2 and repr(new[0]) == repr(old)):
        raise DesignerError(f"Inserting after {path} built something the script cannot write.")
    target = attr_expr(path)
    return Rendered([f"{target} = nn.Sequential({target}, {render_module(new[1], '    ')})"], covers=[path])


def _replace_layer(stage: Stage) -> Rendered:
    return _replace_at_changed(stage)


def _set_layer_params(stage: Stage) -> Rendered:
    rendered = _replace_at_changed(stage, keep_weights=True)
    rendered.why = "weights are kept where their shape still fits"
    return rendered


def _prune_channels(stage: Stage) -> Rendered:
    lines, helpers, covers = render_pruning(stage)
    return Rendered(lines, "the recorded channel pruning", helpers=helpers, covers=covers)


OP_RENDERERS = {
    "set_input": _set_input,
    "replace_classifier": _replace_classifier,
    "delete_layer": _delete,
    "insert_after": _insert_after,
    "replace_layer": _replace_layer,
    "set_layer_params": _set_layer_params,
    "prune_channels": _prune_channels,
}


def render_stage(stage: Stage) -> Rendered:
    """The op's own lines, plus Lite0 'SAME' paddings that the op made the app recompute.
    Anything else that changed and no renderer wrote is an error, never a silent mismatch."""
    out = OP_RENDERERS[stage.op.kind](stage)
    before = stage.before.model if out.baseline is None else out.baseline
    left = [p for p in changed_paths(before, stage.after.model)
            if not any(_under(p, c) for c in out.covers)]
    unknown = [p for p in left if not _is_padding(p)]
    if unknown:
        raise DesignerError(f"'{stage.op.describe()}' changed {', '.join(unknown[:3])} in a way the "
                            "script cannot write yet.", hint="The other export formats still work.")
    if left and not stage.base_kwargs:  # with base_kwargs, Lite0's builder pads for the new size
        out.lines += ["# TF 'SAME' paddings for the sizes that now reach these convs:"]
        out.lines += [f"{attr_expr(p)} = {render_module(get(stage.after.model, p))}" for p in left]
    return out


def _under(path: str, prefix: str) -> bool:
    return prefix == "" or path == prefix or path.startswith(prefix + ".")
