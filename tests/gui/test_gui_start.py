"""Start page: gallery table (sort, filter), the one-click default, other sources,
and the missing-weights dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from testkit.gui import wait_idle


def names(page) -> list[str]:
    return [page.proxy.data(page.proxy.index(r, 0), Qt.UserRole).name for r in range(page.proxy.rowCount())]


def test_gallery_lists_sorts_and_filters(qtbot, make_window):
    window = make_window()
    page = window.start
    assert window.tabs.currentWidget() is page
    all_names = names(page)
    assert "efficientnet_lite0" in all_names and "resnet18" in all_names and len(all_names) >= 80
    page.table.sortByColumn(4, Qt.DescendingOrder)  # parameters, biggest first
    params = [page.proxy.data(page.proxy.index(r, 0), Qt.UserRole).params for r in range(page.proxy.rowCount())]
    assert params == sorted(params, reverse=True)
    total = len(all_names)
    assert page.count_label.text().startswith(f"{total} networks")
    page.search.setText("resnet")
    infos = [page.proxy.data(page.proxy.index(r, 0), Qt.UserRole) for r in range(page.proxy.rowCount())]
    assert infos and all("resnet" in i.name or "resnet" in i.family for i in infos)
    assert page.count_label.text().startswith(f"{len(names(page))} of {total} networks shown")  # issue 13
    page.search.clear()
    page.category.setCurrentText("edge")
    assert "efficientnet_lite0" in names(page) and "vit_b_16" not in names(page)
    page.category.setCurrentIndex(0)
    page.search.setText("no such network")
    assert page.count_label.text().startswith(f"No network matches this filter (0 of {total} shown)")  # issue 22
    assert page.table.empty_text.startswith("No network matches this filter")  # where the rows would be
    page.search.clear()
    page.local_only.setChecked(True)
    assert "efficientnet_lite0" in names(page)
    header = [page.model.headerData(c, Qt.Horizontal) for c in range(page.model.columnCount())]
    assert header == ["Network", "Source", "Family", "Category", "Parameters", "GFLOPs", "ImageNet top-1", "Input",
                      "Weights"]


def test_gallery_filters_to_a_timm_family_and_opens_one(qtbot, make_window):
    window = make_window()
    page = window.start
    page.source.setCurrentText("timm")
    page.search.setText("convnext")
    shown = [page.proxy.data(page.proxy.index(r, 0), Qt.UserRole) for r in range(page.proxy.rowCount())]
    assert len(shown) > 20 and all(i.source == "timm" and "convnext" in i.name + i.family for i in shown)
    assert len(page.model.infos) > 1000
    page.select_name("convnext_atto.d2_in1k")
    page.pretrained.setChecked(False)  # random weights: nothing to download
    page.open_button.click()
    wait_idle(qtbot, window)
    base = window.qdoc.recipe.base
    assert (base.source, base.name, base.weights) == ("timm", "convnext_atto.d2_in1k", "none")
    assert window.qdoc.state.design.classifier_path == "head.fc" and window.qdoc.state.report.ok


def test_default_opens_in_one_click(qtbot, make_window):
    window = make_window()
    window.start.default_button.click()
    wait_idle(qtbot, window)
    base = window.qdoc.recipe.base
    assert (base.name, base.weights) == ("efficientnet_lite0", "default")
    assert window.tabs.currentWidget() is window.design
    assert window.qdoc.state.design.load_report is not None  # real weights were loaded


def test_open_selected_with_random_weights(qtbot, make_window):
    window = make_window()
    page = window.start
    page.search.setText("resnet18")
    page.select_name("resnet18")
    page.pretrained.setChecked(False)
    page.open_button.click()
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.base.weights == "none" and window.qdoc.recipe.base.name == "resnet18"


def test_missing_weights_offer_random(qtbot, make_window, dialogs, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setenv("NETSURGEON_OFFLINE", "1")
    window = make_window()
    asked = dialogs.answer("ask_missing_weights", "random")
    window.open_model("resnet18", "default")
    wait_idle(qtbot, window)
    wait_idle(qtbot, window)
    assert len(asked) == 1 and "resnet18" in asked[0][0]
    assert window.qdoc.recipe.base.weights == "none"
    assert dialogs.errors == []


def test_missing_weights_choose_a_file(qtbot, make_window, dialogs, monkeypatch, tmp_path):
    import torch
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setenv("NETSURGEON_OFFLINE", "1")
    weights = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    window = make_window()
    dialogs.answer("ask_missing_weights", "file")
    dialogs.answer("weights_path", str(weights))
    window.open_model("resnet18", "default")
    wait_idle(qtbot, window)
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.base.weights == str(weights)


def test_builder_entry(qtbot, make_window, dialogs):
    window = make_window()
    dialogs.answer("builder_spec", "torchvision.models:squeezenet1_1")
    window.start._open_builder()
    wait_idle(qtbot, window)
    assert window.qdoc.recipe.base.source == "builder"
    assert window.qdoc.state.design.num_classes == 1000


def test_weights_file_needs_a_gallery_row(qtbot, make_window, dialogs):
    window = make_window()
    window.start.table.clearSelection()
    window.start._open_weights_file()
    assert dialogs.errors and dialogs.errors[0][0] == "Choose the architecture"
    assert window.qdoc.state is None


def test_unknown_values_sort_last_both_ways(qtbot):
    """Issue 22, item 10: networks without a published top-1 ("–") sorted first or between the
    worst ones; they go last in either order."""
    from dataclasses import replace

    from PySide6.QtWidgets import QTableView

    from designer.zoo.sources import list_models
    from widgets.shell.start_page import GalleryFilter, GalleryModel

    infos = [info for info in list_models() if info.top1 is not None and info.gflops is not None][:4]
    unknown = {f"zz_unknown_{k}": replace(info, name=f"zz_unknown_{k}", top1=None, gflops=None)
               for k, info in enumerate(infos[:2])}
    model, proxy, view = GalleryModel(infos + list(unknown.values())), GalleryFilter(), QTableView()
    qtbot.addWidget(view)
    proxy.setSourceModel(model)
    view.setModel(proxy)
    for column, field in ((5, "gflops"), (6, "top1")):
        for order in (Qt.AscendingOrder, Qt.DescendingOrder):
            proxy.sort(column, order)
            shown = [proxy.data(proxy.index(r, 0), Qt.UserRole) for r in range(proxy.rowCount())]
            assert {i.name for i in shown[-2:]} == set(unknown), (field, order, [i.name for i in shown])
            known = [getattr(i, field) for i in shown[:-2]]
            assert known == sorted(known, reverse=order == Qt.DescendingOrder)
