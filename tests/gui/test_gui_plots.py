"""The plots say what they show and hide nothing (issue 13): legends sit outside the plotting area,
and an empty plot shows a sentence instead of a meaningless 0.1 ... 0.9 scale."""

from __future__ import annotations

from testkit.data import make_shapes_folder

from designer.data.folders import scan_folder


def _legend_clear_of_the_data(plot) -> bool:
    item = plot.getPlotItem()
    view = item.getViewBox().sceneBoundingRect()
    return item.legend.isVisible() and not item.legend.sceneBoundingRect().intersects(view)


def _overlay(name: str, epochs: int) -> dict:
    acc = [0.1 + 0.8 * k / epochs for k in range(epochs)]
    return {"name": name, "steps_per_epoch": 5, "epochs": list(range(1, epochs + 1)), "val_acc": acc,
            "train_acc": acc, "val_loss": [2.0 - a for a in acc], "train_loss": [2.0 - a for a in acc]}


def test_compared_runs_legend_covers_no_curve(qtbot):
    from widgets.training.plot import MetricsPlot

    plot = MetricsPlot()
    qtbot.addWidget(plot)
    plot.resize(900, 420)
    plot.show()
    plot.set_overlays([_overlay("20261201-101010-full", 6), _overlay("20261201-111111-scratch", 6)])
    qtbot.wait(50)
    for p in (plot.acc_plot, plot.loss_plot):  # one legend for both, under them: none inside a plot
        assert p.getPlotItem().legend is None
        assert plot.legend.isVisible() and plot.legend.geometry().top() >= p.geometry().bottom()
    names = plot.legend.text()
    assert all(f"20261201-{run} ({what})" in names for run in ("101010-full", "111111-scratch")
               for what in ("validation", "training"))
    assert "training (running)" in names and "validation" in names


def test_class_count_legend_covers_no_bar_in_a_small_window(qtbot, tmp_path):
    from widgets.data.charts import ClassCountChart

    chart = ClassCountChart()
    qtbot.addWidget(chart)
    chart.resize(420, 220)
    chart.show()
    split = scan_folder(make_shapes_folder(tmp_path, per_class={"circle": 12, "square": 3, "triangle": 12},
                                           size=16), 0.25, 0)
    chart.set_split(split)
    qtbot.wait(50)
    assert _legend_clear_of_the_data(chart)


def test_empty_plots_say_so_instead_of_showing_a_unit_scale(qtbot, tmp_path):
    from widgets.data.charts import ClassCountChart
    from widgets.training.plot import MetricsPlot

    plot, chart = MetricsPlot(), ClassCountChart()
    for widget in (plot, chart):
        qtbot.addWidget(widget)
        widget.show()
    for p in (plot.acc_plot, plot.loss_plot, chart):
        assert not p.getAxis("bottom").style["showValues"] and not p.getAxis("left").style["showValues"]
        assert p.empty_note.isVisible() and p.empty_note.text()
    plot.set_planned(40, 4)  # a run started: its axes now mean something
    chart.set_split(scan_folder(make_shapes_folder(tmp_path, per_class=3, size=16), 0.25, 0))
    for p in (plot.acc_plot, plot.loss_plot, chart):
        assert p.getAxis("bottom").style["showValues"] and not p.empty_note.isVisible()
    plot.clear()
    assert plot.acc_plot.empty_note.isVisible()
