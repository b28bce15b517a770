"""main.py: the launcher opens the built-in default, or the gallery with --start-page."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings
from testkit.gui import close_and_check, shared_cache, wait_idle

from widgets.shell import launcher as main


def launch(tmp_path, argv):
    from designer.app.document import Document

    main.make_app()
    doc = Document(cache=shared_cache(), data_dir=str(tmp_path / "appdata"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    return main.create_window(main.parse_args(argv), doc=doc, settings=settings)


def test_main_opens_lite0_with_real_weights(qtbot, tmp_path, dialogs):
    window = launch(tmp_path, [])
    try:
        wait_idle(qtbot, window)
        base = window.qdoc.recipe.base
        assert (base.name, base.source, base.weights) == ("efficientnet_lite0", "lite0", "default")
        assert window.qdoc.state.design.load_report is not None
        assert window.tabs.currentWidget() is window.design and window.design.canvas.scene.nodes
    finally:
        close_and_check(window, dialogs)


def test_start_page_flag_opens_nothing(qtbot, tmp_path, dialogs):
    window = launch(tmp_path, ["--start-page"])
    try:
        assert window.qdoc.state is None and not window.qdoc.busy
        assert window.tabs.currentWidget() is window.start
    finally:
        close_and_check(window, dialogs)


def test_main_is_the_entry_point():
    assert callable(main.main)
    args = main.parse_args(["p.nsd.json", "--weights", "none"])
    assert args.project == "p.nsd.json" and args.weights == "none" and args.model == "efficientnet_lite0"


def test_missing_xcb_libraries_are_named_with_the_command_that_installs_them(monkeypatch, capsys):
    """Issue 22, item 11: on a fresh Ubuntu desktop Qt aborted blaming only libxcb-cursor0 though
    libxcb-icccm4 and libxcb-keysyms1 were missing too. main.py names all of them, in one line."""
    from widgets.shell import desktop

    absent = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    monkeypatch.setattr(desktop, "loads", lambda soname: soname not in absent)
    monkeypatch.setattr(desktop, "qt_starts", lambda environ=None: False)  # as Qt's abort on that desktop
    monkeypatch.setattr(desktop.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(main, "make_app", lambda: pytest.fail("Qt was started: it would abort here"))
    assert main.main(["--start-page"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in lines[0]
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # no X11: nothing is asked of xcb
    assert desktop.platform_problem() == ""
    assert desktop.platform_problem({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert desktop.platform_problem({}, "darwin") == "" and desktop.platform_problem({}, "win32") == ""
    # a session where Qt starts without them (Wayland) is not stopped
    assert desktop.platform_problem({}, "linux", starts=lambda environ: True) == ""


def test_the_libraries_this_machine_has_load():
    from widgets.shell import desktop

    assert desktop.loads("libc.so.6") and not desktop.loads("libnot-a-library.so.9")
    assert desktop.qt_starts({**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert not desktop.qt_starts({**os.environ, "QT_QPA_PLATFORM": "no-such-platform"})  # Qt aborts there
