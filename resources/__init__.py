"""Package data for the app: the style sheet, the icon set, the freedesktop .desktop entry and the user guide.

Loaded with ``importlib.resources`` (``resources.path_of``), so it works from a wheel as well as a checkout.
"""

from __future__ import annotations

from importlib import resources as _resources


def read_text(name: str) -> str:
    """The text of a packaged resource file (UTF-8)."""
    return (_resources.files(__name__) / name).read_text(encoding="utf-8")


def read_bytes(name: str) -> bytes:
    """The bytes of a packaged resource file (``icons/netsurgeon-64.png``)."""
    return (_resources.files(__name__) / name).read_bytes()


ICON_SIZES = (16, 32, 48, 64, 128, 256)  # icons/netsurgeon-<size>.png, rendered from icons/netsurgeon.svg


def path_of(name: str):
    """A context manager giving a real file path for a packaged resource (for Qt, which wants paths)."""
    return _resources.as_file(_resources.files(__name__) / name)
