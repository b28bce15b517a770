"""Values and text written into the generated script, safely.

A value from outside (a project file, a run's saved options, a class name, a path)
never becomes code: it is written as a Python *literal* of a plain type, checked
here, or it is refused. Text that only documents (the docstring, comments) is
escaped so it cannot end the docstring or the comment it sits in.
"""

from __future__ import annotations

import ast
import json
import math
import re

from designer.base.errors import DesignerError

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def literal(value) -> str:
    """A Python literal for a plain value (None, bool, int, finite float, str, and lists, tuples
    and dicts of them). Strings use double quotes and ASCII escapes, as JSON does. Anything
    else is refused: it would have to be pasted as code."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DesignerError(f"The value {value!r} cannot be written into the script: "
                                "it is not a finite number.")
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(v) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise DesignerError(f"A value of type {type(value).__name__} cannot be written into the script.")


def number(value) -> str:
    """A finite number, written short (``0.001``, ``1e-05``, ``10``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DesignerError(f"The value {value!r} cannot be written into the script: "
                            "it is not a finite number.")
    return repr(int(value)) if isinstance(value, int) else f"{value:g}" if _short_ok(value) else repr(value)


def _short_ok(value: float) -> bool:
    return float(f"{value:g}") == value


def comment_text(text: str) -> str:
    """``text`` on one line, for a ``#`` comment: a line break would end the comment and start code."""
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(text)))


def docstring_text(text: str) -> str:
    """``text`` escaped for a triple-double-quoted docstring: backslashes and quotes cannot end it."""
    return _CONTROL.sub("", str(text)).replace("\\", "\\\\").replace('"', '\\"')


def only_literals(call: ast.Call) -> bool:
    """True if every argument of ``call`` is a literal (numbers, strings, tuples, negation), so
    evaluating it can only construct the called layer."""
    allowed = (ast.Constant, ast.Tuple, ast.List, ast.UnaryOp, ast.USub, ast.UAdd, ast.Load)
    values = list(call.args) + [kw.value for kw in call.keywords]
    return all(all(isinstance(node, allowed) for node in ast.walk(v)) for v in values) and all(
        kw.arg is not None for kw in call.keywords)
