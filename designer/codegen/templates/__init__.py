"""The fixed parts of the generated training script, as plain Python modules.

Each module is valid Python that ruff checks and tests import. Above its ``SCRIPT_STARTS`` line it
imports what the script defines elsewhere: the constants and ``build_model`` (stand-ins in
``names``) and the functions of the templates before it. ``code`` reads a module as text and
returns what follows that line; ``codegen.script`` pastes ``policy`` into the script's model.py,
``data`` into its data.py and the rest into the script itself, in ``ORDER``. The one
placeholder is ``BUILD_CALL`` in ``policy`` (how ``load_model`` calls ``build_model``); ``without``
leaves out a function the design cannot reach (``TILING``: the channel tiling).
"""

from __future__ import annotations

import ast
from pathlib import Path

SCRIPT_STARTS = "# --- the script: everything below this line is copied into it ---"
ORDER = ("policy", "data", "modes", "loop", "run", "main")
BUILD_CALL = "build_model(pretrained=weights is None)"
# The channel tiling in ``data``: its function and the line that uses it
TILING = ("tile_channels", "    steps.append(v2.Lambda(tile_channels))\n")


def code(name: str, replacements: dict[str, str] | None = None) -> str:
    """The script's part from template ``name``, each key of ``replacements`` (which must occur
    exactly once) replaced by its value."""
    text = Path(__file__).with_name(f"{name}.py").read_text(encoding="utf-8")
    _, marker, body = text.partition(SCRIPT_STARTS + "\n")
    if not marker:
        raise ValueError(f"The template {name}.py has no line '{SCRIPT_STARTS}'.")
    for old, new in (replacements or {}).items():
        if body.count(old) != 1:
            raise ValueError(f"The template {name}.py should hold '{old}' once, "
                             f"not {body.count(old)} times.")
        body = body.replace(old, new)
    return "\n\n" + body.strip("\n") + "\n"


def without(body: str, function: str) -> str:
    """``body`` (a template's code) without its top-level function ``function`` and the blank
    lines after it: the script carries no code its design cannot reach."""
    node = next((n for n in ast.parse(body).body
                 if isinstance(n, ast.FunctionDef) and n.name == function), None)
    if node is None or node.end_lineno is None:
        raise ValueError(f"The template code has no function {function}.")
    lines = body.split("\n")
    start, end = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1, node.end_lineno
    while end < len(lines) and not lines[end].strip():
        end += 1
    return "\n".join(lines[:start] + lines[end:])
