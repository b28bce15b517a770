"""Can Qt open a window on this Linux desktop? Asked before QApplication exists.

On a fresh Debian/Ubuntu desktop, Qt's xcb platform plugin lacks system libraries
(libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1 were missing there) and Qt aborts with a
message that blamed only the first. This module finds every missing one without importing
Qt, so ``main.py`` can print one line naming them and the command that installs them. Only
when some are missing is Qt tried in a child process, so a session that does not need them
(Wayland) still starts, and a normal start costs no more than a few library loads.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

# What PySide6's libqxcb.so and libQt6XcbQpa.so link against (their ldd), by soname -> the
# Debian/Ubuntu package that ships each.
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1", "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1", "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def loads(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` as it would for Qt (same search path, same
    LD_LIBRARY_PATH); loading it early is harmless, Qt loads it anyway."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(environ=None, platform: str | None = None) -> bool:
    """True when Qt will try its xcb plugin: on Linux, with QT_QPA_PLATFORM unset or xcb
    (offscreen, wayland, vnc... need none of these libraries)."""
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return False
    wanted = environ.get("QT_QPA_PLATFORM", "").strip().split(":")[0].split(";")[0]
    return wanted in ("", "xcb")


def missing_packages(find=None) -> list[str]:
    """The Debian/Ubuntu packages of the xcb libraries the system cannot load (``find``: whether a
    soname loads; ``loads`` by default)."""
    find = find or loads
    return [package for library, package in XCB_LIBRARIES.items() if not find(library)]


def qt_starts(environ=None, timeout: float = 30.0) -> bool:
    """Whether Qt opens its platform plugin here, tried in a child process (a failing plugin
    aborts the process it is in). Asked only when libraries are missing: a Wayland session
    may not need them. A child that takes too long is taken as a yes: never block for nothing."""
    code = "import sys\nfrom PySide6.QtGui import QGuiApplication\nQGuiApplication(sys.argv[:1])\n"
    env = dict(os.environ if environ is None else environ)
    try:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return True
    return done.returncode == 0


def platform_problem(environ=None, platform: str | None = None, find=None, starts=None) -> str:
    """One line naming the missing libraries and how to install them, or "" when nothing is
    missing, Qt will not use xcb, or Qt starts all the same (``starts``: ``qt_starts``)."""
    if not uses_xcb(environ, platform):
        return ""
    missing = missing_packages(find)
    if not missing or (starts or qt_starts)(environ):
        return ""
    return (f"NetSurgeon cannot open its window: Qt's X11 (xcb) display plugin needs system libraries that "
            f"are not installed ({', '.join(missing)}). On Debian/Ubuntu install them with: "
            f"sudo apt-get install {' '.join(missing)}")
