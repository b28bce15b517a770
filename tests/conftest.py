"""Settings every test shares, and the rule that no test is skipped without a named reason."""

import os
import tempfile

import pytest

# Qt runs headless in tests and CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the user's torch hub cache or the network from a test.
os.environ.setdefault("NETSURGEON_OFFLINE", "1")
# Nor the user's cache folder (the timm gallery metadata is cached there).
os.environ.setdefault("NETSURGEON_CACHE_DIR", tempfile.mkdtemp(prefix="netsurgeon-test-cache-"))
# Nor the user's private log folder (error.log of an unexpected problem goes there).
os.environ.setdefault("NETSURGEON_STATE_DIR", tempfile.mkdtemp(prefix="netsurgeon-test-state-"))



@pytest.fixture
def one_thread():
    """One torch thread for the test: tiny models run ~10x slower with two threads on a busy
    2-core machine. The old setting is restored afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# The only reasons a test may be skipped: what a machine has or lacks, never a module of ours
# that failed to import. Any other skip fails the run (CI runs pytest with -rs).
ALLOWED_SKIPS = ("this machine has CUDA", "scikit-image (the LFW subset) is not installed")
_unexpected: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):  # a known failure, named with xfail, is no skip
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason not in ALLOWED_SKIPS:
            _unexpected.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if _unexpected and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _unexpected:
        terminalreporter.section("unexpected skips (fail the run)")
        for line in _unexpected:
            terminalreporter.write_line(line)
