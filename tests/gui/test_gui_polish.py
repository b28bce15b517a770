"""Issue 22, item 10 (the walkthrough's polish): the window fits a small screen, long texts wrap or
end in "…" with the whole text in a tooltip, and opening a network whose weights must be
downloaded shows it is downloading and can be cancelled, while the download runs off the GUI thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QRect, QSize
from testkit.gui import wait_idle

from designer.base.errors import DesignerError

SMALL_SCREEN = QRect(0, 0, 1024, 700)
TIMM_NAME = "mobilenetv3_small_050.lamb_in1k"  # small, and in timm's registry


def test_window_sizes_never_exceed_the_screen():
    from widgets.base.screen import FRAME_ALLOWANCE, fitted_size

    room = SMALL_SCREEN.size() - FRAME_ALLOWANCE
    assert fitted_size(QSize(1500, 920), SMALL_SCREEN) == room
    assert fitted_size(QSize(800, 500), SMALL_SCREEN) == QSize(800, 500)  # small enough: as asked


def test_main_window_fits_a_1024x700_screen(qtbot, make_window):
    """Every tab's least size fits a 1024×700 screen (with its frame), so no tab can push the window
    past the screen's edge; before, the Start page needed 1066 pixels, Design 1184, Data 685 high."""
    from widgets.base.screen import FRAME_ALLOWANCE
    from widgets.shell.launcher import install_workspaces

    window = make_window()
    install_workspaces(window)
    window.open_model("efficientnet_lite0", "default")
    wait_idle(qtbot, window)
    room = SMALL_SCREEN.size() - FRAME_ALLOWANCE
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        least = window.minimumSizeHint()
        assert least.width() <= room.width() and least.height() <= room.height(), \
            (window.tabs.tabText(index), least)
    available = window.screen().availableGeometry()  # offscreen: 800×800, smaller than the 1500×920 asked
    assert window.height() <= available.height()
    assert window.width() <= max(least.width(), available.width())  # not the 1500 asked


def test_analyzer_totals_take_one_column_when_narrow(qtbot):
    from widgets.design.analyzer_panel import TotalsGrid

    grid = TotalsGrid()
    qtbot.addWidget(grid)
    grid.values["train_memory"].setText("≈ 2.5 GB at batch 32")
    grid.refresh_layout()
    grid.resize(2 * grid.minimumWidth() + 40, 200)
    grid.show()
    qtbot.waitUntil(lambda: grid.columns == 2)
    grid.resize(grid.minimumWidth(), 300)
    qtbot.waitUntil(lambda: grid.columns == 1)
    assert grid.minimumWidth() < 300  # two pairs a row needed about 460 pixels


def test_long_hints_wrap_instead_of_widening(qtbot, make_window):
    window = make_window()
    assert window.start.count_label.wordWrap()
    assert window.design.canvas.fit_note.wordWrap()
    search = window.design.canvas.search  # its placeholder was cut to "Find layer… (Ctrl+…"
    margins = 24  # the frame and the text margins of a line edit
    assert search.fontMetrics().horizontalAdvance(search.placeholderText()) + margins <= search.minimumWidth()


def test_graph_legend_takes_two_rows_in_a_narrow_view(qtbot):
    from widgets.graph.view import Legend

    legend = Legend()
    qtbot.addWidget(legend)
    legend.fit_width(10_000)
    one_row = legend.size()
    legend.fit_width(one_row.width() - 50)
    assert legend.width() < one_row.width() and legend.height() > one_row.height()


def test_a_long_choice_ends_in_an_ellipsis_with_the_whole_label_in_its_tooltip(qtbot, workspace):
    form = workspace().training.form
    combo = form.mode
    combo.setCurrentIndex(combo.findData("recommended"))
    label = combo.currentText()
    combo.resize(170, combo.height())
    shown = combo.displayed_text()
    assert shown != label and shown.endswith("…") and label.startswith(shown[:-1])
    assert combo.toolTip().startswith(label)
    combo.resize(combo.fontMetrics().horizontalAdvance(label) + 80, combo.height())
    assert combo.displayed_text() == label


def test_a_squeezed_run_name_keeps_its_end_and_tells_it_whole(qtbot, workspace, dialogs):
    """At 1024 pixels the Run column showed '2026…', which tells one run from no other."""
    from PySide6.QtCore import Qt
    from testkit.train import fake_run

    ws = workspace()
    fake_run(ws.context.runs_dir() / "20261206-074112-scratch", best_val_acc=0.8)
    ws.context.notify_runs()
    table = ws.training.runs
    assert table.textElideMode() == Qt.ElideMiddle
    assert table.item(0, 1).toolTip().startswith("20261206-074112-scratch")


def test_training_progress_lines_wrap_in_the_side_panel(qtbot):
    from widgets.training.progress import TrainingProgress

    progress = TrainingProgress()
    qtbot.addWidget(progress)
    progress.stage.setText("Stage 2 of 2 (fine-tuning): epoch 5 of 25 · step 5 of 10")
    progress.eta.setText("About 1 min 47 s left")
    assert progress.minimumSizeHint().width() <= 400  # the side panel is 440 wide, its margins included


def test_gallery_weights_column_is_never_cut(qtbot, make_window):
    from widgets.shell.start_page import WEIGHTS

    window = make_window()
    table = window.start.table
    for width in (1500, 900):
        window.resize(width, 700)
        qtbot.wait(50)
        needed = max(table.fontMetrics().horizontalAdvance(window.start.model._text(info, WEIGHTS))
                     for info in window.start.model.infos[:1] + [window.start.model.infos[-1]])
        assert table.horizontalHeader().sectionSize(WEIGHTS) >= needed + 12, width


def test_gallery_names_cut_with_an_ellipsis_are_whole_in_their_tooltip(qtbot, make_window):
    from PySide6.QtCore import Qt

    page = make_window().start
    page.search.setText("beit3_large_patch16_224.indomain")
    index = page.proxy.index(0, 0)
    assert page.proxy.data(index, Qt.ToolTipRole) == page.proxy.data(index, Qt.DisplayRole)
    family = page.proxy.index(0, 2)
    assert page.proxy.data(family, Qt.ToolTipRole) == "vision_transformer"


def _offline_timm(monkeypatch, tmp_path, download):
    """No timm weights on this computer; ``download`` stands in for the real download."""
    from designer.zoo import timm_gallery

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.delenv("NETSURGEON_OFFLINE", raising=False)
    monkeypatch.setattr(timm_gallery, "download_weights", download)


def test_a_download_says_so_runs_off_the_gui_thread_and_can_be_cancelled(
        qtbot, make_window, dialogs, monkeypatch, tmp_path):
    release, threads = threading.Event(), []

    def blocked_download(item):
        threads.append(threading.current_thread())
        release.wait(30)
        raise DesignerError("no network")

    _offline_timm(monkeypatch, tmp_path, blocked_download)
    window = make_window()
    window.open_model(TIMM_NAME, "default")
    qtbot.waitUntil(lambda: bool(threads) and window.busy_label.text() != "", timeout=30_000)
    assert window.busy_label.text().startswith(f"Downloading the pretrained weights of {TIMM_NAME}")
    assert window.cancel_button.isVisible() and window.busy_bar.isVisible()
    assert threads and threads[0] is not threading.main_thread()  # the window stays responsive meanwhile
    window.cancel_button.click()
    assert not window.cancel_button.isVisible() and not window.busy_bar.isVisible()
    assert "Cancelled" in window.statusBar().currentMessage() and window.qdoc.state is None
    release.set()  # the download ends (here: fails); the cancelled open says nothing more
    wait_idle(qtbot, window)
    assert window.qdoc.state is None and dialogs.errors == []


def test_a_failed_download_still_offers_random_weights(qtbot, make_window, dialogs, monkeypatch, tmp_path):
    def failing_download(item):
        raise DesignerError("no network")

    _offline_timm(monkeypatch, tmp_path, failing_download)
    asked = dialogs.answer("ask_missing_weights", "random")
    window = make_window()
    window.open_model(TIMM_NAME, "default")
    wait_idle(qtbot, window)
    wait_idle(qtbot, window)
    assert len(asked) == 1 and TIMM_NAME in asked[0][0]
    assert window.qdoc.recipe.base.weights == "none" and not window.cancel_button.isVisible()


def test_a_cancelled_open_lets_the_next_one_through(qtbot, make_window, dialogs, monkeypatch, tmp_path):
    release = threading.Event()

    def blocked_download(item):
        release.wait(30)
        raise DesignerError("no network")

    _offline_timm(monkeypatch, tmp_path, blocked_download)
    window = make_window()
    window.open_model(TIMM_NAME, "default")
    qtbot.waitUntil(lambda: window.cancel_button.isVisible(), timeout=30_000)
    window.cancel_button.click()
    window.open_model("efficientnet_lite0", "default")  # waits for the abandoned thread, then opens
    assert window.busy_label.text().startswith("Waiting for the cancelled download")
    release.set()
    qtbot.waitUntil(lambda: window.qdoc.state is not None, timeout=60_000)
    assert window.qdoc.recipe.base.name == "efficientnet_lite0" and dialogs.errors == []
