"""Plain builders the tests share (image folders, designs, tiny networks); fixtures live in conftest.py files."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository root
