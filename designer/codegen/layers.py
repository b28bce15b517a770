"""Write ``torch.nn`` modules and module paths as the Python that makes them.

A built layer is rendered from its own ``extra_repr`` (which for ``torch.nn``
layers reads as constructor arguments), trimmed of arguments that equal their
defaults, and then checked: the code is evaluated and must give a module with
the same ``repr``. So the script never drifts from what the app built.
"""

from __future__ import annotations

import ast
import keyword

from torch import nn

from designer.base.errors import DesignerError
from designer.codegen.literals import only_literals

_INDENT = "    "


def attr_expr(path: str, root: str = "model") -> str:
    """``"layer4.1.conv2"`` -> ``model.layer4[1].conv2``."""
    expr = root
    for part in path.split(".") if path else ():
        if part.isdigit():
            expr += f"[{part}]"
        elif part.isidentifier() and not keyword.iskeyword(part):
            expr += f".{part}"
        else:
            expr = f"{expr}.get_submodule({part!r})"
    return expr


def render_module(module: nn.Module, indent: str = "") -> str:
    """Constructor code for ``module`` (a ``torch.nn`` layer or a ``Sequential`` of them)."""
    if type(module) is nn.Sequential:
        return _render_sequential(module, indent)
    code = _render_leaf(module)
    check_renders(code, module)
    return code


def _render_sequential(seq: nn.Sequential, indent: str) -> str:
    names = [name for name, _ in seq.named_children()]
    if names != [str(i) for i in range(len(names))]:
        raise DesignerError(f"Cannot write a Sequential with named children {names} as code.")
    inner = indent + _INDENT
    items = "".join(f"{inner}{render_module(child, inner)},\n" for child in seq)
    return f"nn.Sequential(\n{items}{indent})"


def _render_leaf(module: nn.Module) -> str:
    name = type(module).__name__
    if getattr(nn, name, None) is not type(module):
        raise DesignerError(
            f"The layer {name} is not a torch.nn layer, so it cannot be written into the script.",
            hint="Use a layer from the layer library instead.",
        )
    try:
        call = ast.parse(f"nn.{name}({module.extra_repr()})", mode="eval").body
    except SyntaxError as exc:
        raise DesignerError(f"Cannot write the layer {module!r} as code.") from exc
    call = _NamesAsStrings().visit(call)
    if not isinstance(call, ast.Call) or not only_literals(call):
        # A layer's settings are numbers, flags and short words; anything else is never run.
        raise DesignerError(f"The {name} layer's settings cannot be written into the script as plain values.")
    return _simplest(call, module)


class _NamesAsStrings(ast.NodeTransformer):
    """``extra_repr`` prints some strings bare (``padding=same``); quote them."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ("nn", "True", "False", "None"):
            return node
        return ast.copy_location(ast.Constant(node.id), node)


def _simplest(call: ast.Call, module: nn.Module) -> str:
    """Drop keyword arguments that equal their defaults and square tuples like ``(3, 3)``."""
    target = repr(module)
    for kw in list(call.keywords):
        call.keywords.remove(kw)
        if not _same(call, target):
            call.keywords.insert(0, kw)
    for kw in call.keywords:
        value = kw.value
        if isinstance(value, ast.Tuple) and len({ast.dump(e) for e in value.elts}) == 1:
            kw.value = value.elts[0]
            if not _same(call, target):
                kw.value = value
    call.keywords.sort(key=_keyword_order(module))
    return ast.unparse(call)


def _keyword_order(module: nn.Module):
    order = {k: i for i, k in enumerate(_repr_keywords(module))}
    return lambda kw: order.get(kw.arg, len(order))


def _repr_keywords(module: nn.Module) -> list[str]:
    call = ast.parse(f"f({module.extra_repr()})", mode="eval").body
    if not isinstance(call, ast.Call):  # an extra_repr such as "a) or (b" parses as something else
        return []
    return [kw.arg for kw in call.keywords if kw.arg is not None]


def _same(call: ast.Call, target: str) -> bool:
    try:
        return repr(eval(compile(ast.Expression(call), "<layer>", "eval"), {"nn": nn})) == target
    except Exception:  # noqa: BLE001 -- any failure means the argument is needed: keep it
        return False


def check_renders(code: str, module: nn.Module) -> None:
    """Evaluate ``code``; it must build a module that prints exactly like ``module``."""
    try:
        rebuilt = eval(code, {"nn": nn})
    except Exception as exc:
        raise DesignerError(f"Cannot write the layer {module!r} as code: {exc}.") from exc
    if repr(rebuilt) != repr(module):
        raise DesignerError(f"The code {code} does not rebuild the layer {module!r}.")
