"""main.py: the launcher opens the built-in default, or the gallery with --start-page."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from testkit.gui import close_and_check, shared_cache, wait_idle

import main


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
