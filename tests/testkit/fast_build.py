"""Building many big networks quickly in tests."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch
from torch import nn


@contextmanager
def zero_init_one_thread():
    """Zero-filled weights instead of random init (a memset: random init is most of a big
    model's build time, and uninitialised memory could hold denormals that crawl through a
    forward), and one thread: building and tracing is Python-bound, and two OpenMP threads on
    two cores shared with other test processes spin against each other (resnet152 forward 4 s
    instead of 0.5 s)."""
    def zero(tensor, *args, **kwargs):
        with torch.no_grad():
            return tensor.zero_()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name in dir(nn.init):
                if name.endswith("_") and not name.startswith("_"):
                    mp.setattr(nn.init, name, zero)
            yield
    finally:
        torch.set_num_threads(threads)
