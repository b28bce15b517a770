"""Count import statements inside functions (issue 10's figure). Usage: python inner_imports.py [ROOT]"""
import ast, sys
from pathlib import Path
root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
total = project = 0
for path in sorted(list(root.glob("designer/**/*.py")) + list(root.glob("widgets/**/*.py")) + list(root.glob("*.py"))):
    tree = ast.parse(path.read_text())
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    total += 1
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    if node.__class__ is ast.ImportFrom and node.level: project += 1
                    elif any(n.split(".")[0] in ("designer", "widgets", "resources", "main") for n in names): project += 1
print(f"imports inside functions: {total} ({project} of the project's own modules)")
