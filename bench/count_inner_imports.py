"""Count the import statements that sit inside functions (issue 10's figure).

Imports inside functions were mostly there to dodge import cycles; this prints how many
remain, and how many of them import the project's own modules.

    .venv/bin/python bench/count_inner_imports.py [ROOT]   # ROOT: a checkout, default "."
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

OWN = ("designer", "widgets", "resources", "main")


def sources(root: Path) -> list[Path]:
    return sorted([*root.glob("designer/**/*.py"), *root.glob("widgets/**/*.py"), *root.glob("*.py")])


def imports_inside_functions(tree: ast.AST):
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from (n for n in ast.walk(function) if isinstance(n, (ast.Import, ast.ImportFrom)))


def is_own(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return bool(node.level) or (node.module or "").split(".")[0] in OWN
    return any(alias.name.split(".")[0] in OWN for alias in node.names)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    found = [node for path in sources(root) for node in imports_inside_functions(ast.parse(path.read_text()))]
    own = sum(is_own(node) for node in found)
    print(f"imports inside functions: {len(found)} ({own} of the project's own modules)")


if __name__ == "__main__":
    main()
