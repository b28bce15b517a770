"""The settings one command runs under: may a design's Python builder run, and how much memory a
network may need. Set for the command, always put back after it (the CLI runs commands one by one
in one process in its tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from designer.inspect import budget
from designer.zoo import builders


@contextmanager
def command_settings(trust_builder: bool, memory_limit_gb: float | None) -> Iterator[None]:
    """Trust builders (``module:callable`` bases) only when asked; cap a network's memory at
    ``memory_limit_gb`` (None: 80 % of this computer's RAM)."""
    builders.trust_all(bool(trust_builder))
    budget.set_limit_gb(memory_limit_gb)
    try:
        yield
    finally:
        builders.trust_all(False)
        budget.set_limit_gb(None)
