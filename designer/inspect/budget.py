"""A memory budget: a forward pass, a training run or an export is refused before it starts when
the analyzer says it needs more memory than this computer should give it.

Every value in a design can be legal on its own and the product still absurd: a 1024-channel
4096x4096 input passes each limit and then asks for 68 GB per image. The analyzer knows the
activation size at batch 1 (traced on the meta device, nothing allocated), so the check costs
milliseconds. The limit is a share of the machine's RAM (``DEFAULT_SHARE``); ``--memory-limit GB``
(or ``NETSURGEON_MEMORY_LIMIT_GB``) raises or lowers it for one command.
"""

from __future__ import annotations

import math
import os

from designer.base.errors import DesignerError

DEFAULT_SHARE = 0.8  # of the machine's RAM: the rest is the OS, torch itself and the data loader
LIMIT_ENV = "NETSURGEON_MEMORY_LIMIT_GB"
FALLBACK_RAM = 8 * 2**30  # when the machine will not say
_override: list[float | None] = [None]  # bytes; set by the CLI's --memory-limit for one command


def machine_ram() -> int:
    """Bytes of physical memory (``FALLBACK_RAM`` when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_RAM


def set_limit_gb(gb: float | None) -> None:
    """Use ``gb`` gigabytes as the limit until reset with None (the CLI's ``--memory-limit``)."""
    _override[0] = None if gb is None else gb * 2**30


def memory_limit() -> int:
    if _override[0] is not None:
        return int(_override[0])
    text = os.environ.get(LIMIT_ENV, "")
    try:
        gb = float(text)
    except ValueError:
        gb = math.nan
    if math.isfinite(gb) and gb > 0:
        return int(gb * 2**30)
    return int(machine_ram() * DEFAULT_SHARE)


def gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 / 10 else f"{n / 2**20:,.0f} MB"


def refuse_over_limit(need: int, what: str, batch: int = 1) -> None:
    """One line naming the size when ``need`` bytes are over the limit (``analysis.check_memory``
    computes ``need`` from the analyzer's figures)."""
    limit = memory_limit()
    if need > limit:
        at = f" at batch size {batch}" if batch > 1 else ""
        raise DesignerError(f"{what} would need about {gb(need)} of memory{at}; "
                            f"the limit here is {gb(limit)} (this computer has {gb(machine_ram())}).",
                            hint="Use a smaller input size or batch size, or raise the limit with "
                                 "--memory-limit GB.")
