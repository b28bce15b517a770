"""Each structural recipe op rendered as a few lines of plain PyTorch.

The recipe is replayed one op at a time (``stages``), so every renderer sees
the network just before and just after its op and writes what changed, read
off the modules the app built. Renderers are looked up by ``op.kind`` in
``OP_RENDERERS``: a table, not an if-chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from torch import nn

from .codegen_layers import attr_expr, render_module
from .errors import DesignerError


@dataclass
class Stage:
    """One structural op with the network before and after it (built ``Design`` objects)."""

    op: object
    before: object
    after: object
    base_kwargs: dict = field(default_factory=dict)  # builder arguments this op sets (image_size)


@dataclass
class Rendered:
    lines: list[str]
    why: str = ""  # appended to the op's comment
    helpers: list[str] = field(default_factory=list)  # module-level functions the lines call


def stages(design) -> list[Stage]:
    """Replay the structural ops one by one (the base model is built once and cached)."""
    from .build import BaseCache, build
    from .recipe import Recipe

    cache = BaseCache()
    ops = design.recipe.structural_ops
    base = replace(design.recipe.base, weights="none")  # structure only: no weights to load
    built = [build(Recipe(base, ops[:i]), cache) for i in range(len(ops) + 1)]
    return [Stage(op, built[i], built[i + 1], _base_kwargs(op, built[i + 1])) for i, op in enumerate(ops)]


def _base_kwargs(op, after) -> dict:
    """Input size baked into the builder: ViT's ``image_size``, Lite0's 'SAME' padding size."""
    if op.kind != "set_input":
        return {}
    if after.recipe.base.source == "lite0":
        return {"image_size": (op.height, op.width)}
    if hasattr(after.model, "image_size") and hasattr(after.model, "encoder"):  # torchvision ViT
        return {"image_size": op.height}
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
    """Pretrained RGB filters for ``in_channels`` inputs, as timm does: summed over RGB
    for 1 channel, else repeated over the channels and rescaled by 3 / in_channels."""
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_channels / 3)
    return weight.repeat(1, repeats, 1, 1)[:, :in_channels] * (3 / in_channels)
'''


def _set_input(stage: Stage) -> Rendered:
    op = stage.op
    lines: list[str] = []
    for path in changed_paths(stage.before.model, stage.after.model):
        old, new = get(stage.before.model, path), get(stage.after.model, path)
        if not (isinstance(new, nn.Conv2d) and new.in_channels == op.channels != old.in_channels):
            raise DesignerError(f"Setting the input changed {path} in a way the script cannot write yet.")
        conv = attr_expr(path)
        lines += [f"{conv}.weight = nn.Parameter(adapt_input_conv({conv}.weight.detach(), {op.channels}))",
                  f"{conv}.in_channels = {op.channels}"]
    return Rendered(lines, _input_why(stage, bool(lines)), [ADAPT_INPUT_CONV] if lines else [])


def _input_why(stage: Stage, adapted: bool) -> str:
    parts = []
    if adapted:
        n = stage.op.channels
        parts.append(f"the first conv takes {n} channel{'s' if n > 1 else ''}, keeping its pretrained filters")
    elif getattr(stage.after, "replicate_grey", False):
        parts.append("grey images are repeated to 3 channels by the data transform")
    if stage.base_kwargs:
        parts.append("the input size is passed to the builder above")
    else:
        parts.append("the data transform resizes the images")
    if not adapted and not stage.base_kwargs:
        parts.insert(0, "nothing changes in the network")
    return "; ".join(parts)


def _replace_at_changed(stage: Stage, keep_weights: bool = False) -> Rendered:
    lines, helpers = [], []
    for path in changed_paths(stage.before.model, stage.after.model):
        if not path:
            raise DesignerError(f"'{stage.op.describe()}' replaced the whole network; the script cannot write that.")
        target = attr_expr(path)
        code = render_module(get(stage.after.model, path))
        if keep_weights:
            lines += [f"old = {target}", f"{target} = {code}", f"load_fitting({target}, old.state_dict())"]
            helpers.append(LOAD_FITTING)
        else:
            lines.append(f"{target} = {code}")
    return Rendered(lines, helpers=helpers)


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


def _delete(stage: Stage) -> Rendered:
    return Rendered([f"{attr_expr(stage.op.path)} = nn.Identity()"], "an Identity keeps the module paths stable")


def _insert_after(stage: Stage) -> Rendered:
    path = stage.op.path
    new = get(stage.after.model, path)
    old = get(stage.before.model, path)
    if not (isinstance(new, nn.Sequential) and len(new) == 2 and repr(new[0]) == repr(old)):
        raise DesignerError(f"Inserting after {path} built something the script cannot write.")
    target = attr_expr(path)
    return Rendered([f"{target} = nn.Sequential({target}, {render_module(new[1], '    ')})"])


def _replace_layer(stage: Stage) -> Rendered:
    return _replace_at_changed(stage)


def _set_layer_params(stage: Stage) -> Rendered:
    rendered = _replace_at_changed(stage, keep_weights=True)
    rendered.why = "weights are kept where their shape still fits"
    return rendered


OP_RENDERERS = {
    "set_input": _set_input,
    "replace_classifier": _replace_classifier,
    "delete_layer": _delete,
    "insert_after": _insert_after,
    "replace_layer": _replace_layer,
    "set_layer_params": _set_layer_params,
}
