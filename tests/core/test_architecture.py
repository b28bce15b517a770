"""The shape of the house: the core never imports Qt, the layers import only downward with no
cycles (import-linter's contracts in pyproject.toml), and every module lives in a package that
says what it owns."""

import importlib
import pkgutil
import subprocess
import sys

from importlinter.cli import lint_imports
from testkit import REPO

import designer
import widgets

PACKAGE_FACES = {"__init__.py", "__main__.py"}  # what may sit in designer/ and widgets/ themselves


def _modules(package) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def test_designer_never_imports_qt():
    code = (
        "import importlib, sys\n"
        f"for m in {_modules(designer)!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'qtpy', 'shiboken6')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"designer pulled in Qt: {out.stdout}"


def test_import_contracts_hold(monkeypatch):
    """lint-imports: designer never imports widgets or Qt; each side's layers import only
    downward; no cycles between siblings. Its report is printed when this fails."""
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True) == 0


def test_every_module_lives_in_a_package_that_says_what_it_owns():
    for root in ("designer", "widgets"):
        loose = sorted(p.name for p in (REPO / root).glob("*.py") if p.name not in PACKAGE_FACES)
        assert not loose, f"{root}/ holds modules outside its packages: {loose}"
        for package in (REPO / root).iterdir():
            if package.is_dir() and not package.name.startswith(("_", ".")):
                module = importlib.import_module(f"{root}.{package.name}")
                assert (module.__doc__ or "").strip(), f"{root}/{package.name} has no docstring saying what it owns"


def test_every_module_imports():
    for name in _modules(designer) + _modules(widgets):
        importlib.import_module(name)
