"""The import block of each file the script is made of, worked out from what the file reads.

The exported script is three plain modules (``train.py`` beside ``model.py`` and ``data.py``).
Rather than keep a hand-written import list per file in step with the templates, each file's
imports are derived: the names its code reads from its globals (``symtable`` knows a local ``train``
from the function ``train``), matched against the candidate import lines, then against the
top-level names of the modules it may import from. A name found nowhere is a generator bug and
raises, so a file never ships with a ``NameError`` waiting in it.
"""

from __future__ import annotations

import ast
import builtins
import symtable

MODULE_GLOBALS = {"__file__", "__name__", "__doc__"}


def global_reads(text: str) -> set[str]:
    """The global names ``text`` (a module's code) reads anywhere: at module level, or from a
    function or class body as an implicit global."""
    reads: set[str] = set()
    tables = [symtable.symtable(text, "<generated>", "exec")]
    while tables:
        table = tables.pop()
        module_level = table.get_type() == "module"  # a str, or a StrEnum from Python 3.13
        for symbol in table.get_symbols():
            if not symbol.is_referenced():
                continue
            if module_level or symbol.is_global() and not symbol.is_declared_global():
                reads.add(symbol.get_name())
        tables.extend(table.get_children())
    return reads


def defined_names(text: str, imported: bool = True) -> set[str]:
    """The names ``text`` binds at module level (under an ``if`` too): functions, classes,
    assignments, and imports unless ``imported`` is False."""
    table = symtable.symtable(text, "<generated>", "exec")
    return {symbol.get_name() for symbol in table.get_symbols()
            if symbol.is_assigned() or symbol.is_namespace() or imported and symbol.is_imported()}


def import_lines(candidates: list[str], reads: set[str]) -> list[str]:
    """The candidate import lines (each ``import m``, ``import m as a`` or ``from m import a, b``)
    that bind a name in ``reads``, each cut to the names read, in isort's order."""
    chosen = []
    for line in dict.fromkeys(candidates):
        node = ast.parse(line).body[0]
        assert isinstance(node, ast.Import | ast.ImportFrom), line
        used = [a for a in node.names if (a.asname or a.name.split(".")[0]) in reads]
        if not used:
            continue
        if isinstance(node, ast.ImportFrom):
            names = ", ".join(_alias(a) for a in sorted(used, key=lambda a: a.name))
            chosen.append(f"from {node.module} import {names}")
        else:
            chosen += [f"import {_alias(a)}" for a in used]
    # isort's order within a section: plain imports first, then from-imports, each by module name
    return sorted(dict.fromkeys(chosen), key=lambda s: (s.startswith("from"), s.split()[1].lower()))


def sibling_imports(reads: set[str], siblings: dict[str, str], width: int = 100) -> list[str]:
    """``from <module> import ...`` for each name in ``reads`` that a sibling module (name ->
    code) defines itself (not what it imports), wrapped to ``width``; the first sibling that
    defines a name provides it."""
    wanted: dict[str, list[str]] = {}
    for module, text in siblings.items():
        taken = {n for got in wanted.values() for n in got}
        names = sorted((reads & defined_names(text, imported=False)) - taken)
        if names:
            wanted[module] = names
    lines = []
    for module in sorted(wanted):
        line = f"from {module} import {', '.join(wanted[module])}"
        if len(line) > width:
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in wanted[module]) + ")"
        lines.append(line)
    return lines


def missing_names(reads: set[str], defined: set[str]) -> set[str]:
    """The names in ``reads`` (a module's ``global_reads``) that neither ``defined`` (what the module
    binds or imports) nor the builtins provide."""
    return reads - defined - set(dir(builtins)) - MODULE_GLOBALS


def _alias(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name
