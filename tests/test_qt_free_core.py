"""designer/ is the Qt-free core: importing every module must not pull in Qt."""

import pkgutil
import subprocess
import sys

import designer


def test_designer_never_imports_qt():
    modules = [f"designer.{m.name}" for m in pkgutil.iter_modules(designer.__path__)]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'qtpy', 'shiboken6')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"designer pulled in Qt: {out.stdout}"
