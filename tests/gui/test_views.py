"""ScheduleView, ConvergencePlot, ManifoldView and the shared plot helpers."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtGui

from tests.gui.conftest import N_EPOCHS, make_evaluation, make_grid, make_posterior, opened_model
from zbo_gui.core.types import ProposalSource
from zbo_gui.gui import plots
from zbo_gui.gui.convergence import ConvergencePlot, best_so_far
from zbo_gui.gui.manifold_view import GAP_VALUE, ManifoldView, assemble_tile
from zbo_gui.gui.schedule_view import ScheduleView
from zbo_gui.model.messages import CampaignClosed


def _shown(qtbot, widget, width: int = 480, height: int = 320):
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


# ------------------------------------------------------------------------------ ScheduleView
def test_schedule_view_shows_exactly_the_curve_and_prediction(qtbot) -> None:
    view = _shown(qtbot, ScheduleView())
    schedule = np.geomspace(8.0, 0.2, 37)
    view.show_selected(schedule, "z = (0.10, -0.40)", mean=0.4123, std=0.0311)
    np.testing.assert_array_equal(view.selected_curve(), schedule)
    assert view.title() == "z = (0.10, -0.40) — predicted objective 0.4123 ± 0.031"
    assert "0.4123 ± 0.031" in view._caption.text()
    # the curve is drawn against epochs 0..N-1
    x, _ = view._selected.getOriginalDataset()
    np.testing.assert_array_equal(x, np.arange(37))
    # without a prediction the title is only the label
    view.show_selected(schedule[::-1], "evaluation #3")
    assert view.title() == "evaluation #3"
    np.testing.assert_array_equal(view.selected_curve(), schedule[::-1])
    view.show_best(np.ones(37), "best: #5")
    np.testing.assert_array_equal(view.best_curve(), np.ones(37))
    names = [label.text for _sample, label in view._legend.items]
    assert names == ["selected", "best: #5"]
    view.clear_selected()
    assert view.selected_curve() is None and view.title() == ""
    assert view.best_curve() is not None
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        view.show_selected(np.ones((3, 3)), "bad")


def test_schedule_view_shows_the_models_best_and_selection_with_a_band(qtbot) -> None:
    import dataclasses

    model = opened_model()
    view = _shown(qtbot, ScheduleView(model))
    grid = dataclasses.replace(make_grid(), decoder_sigma=0.1)
    model.apply(grid)
    posterior = make_posterior(grid)
    model.apply(posterior)
    assert view.is_log_scale()  # bounds 0.1..10 from the grid
    model.apply(make_evaluation(0, (0.0, 0.0), 0.3))
    np.testing.assert_array_equal(view.best_curve(), model.evaluations[0].proposal.schedule)
    x, y = float(grid.x[4]), float(grid.y[3])
    model.select_point(x, y)
    index = 3 * grid.x.size + 4
    np.testing.assert_array_equal(view.selected_curve(), grid.decoded[index])
    assert f"{posterior.mean[3, 4]:.4g}" in view.title()
    low, high = view.band()
    assert np.all(low <= view.selected_curve() + 1e-12)
    assert np.all(high >= view.selected_curve() - 1e-12) and np.any(high > low)
    model.select_evaluation(0)
    assert view.title().startswith("evaluation #1") and view.band() is None
    assert view.title().endswith("— objective 0.3") and "predicted" not in view.title()
    model.clear_selection()
    assert view.selected_curve() is None


def test_schedule_view_shows_both_curves_of_schedule_pairs_with_bands(qtbot) -> None:
    import dataclasses

    model = opened_model()
    view = _shown(qtbot, ScheduleView(model), height=420)
    assert not view.shows_beta_d()
    grid = dataclasses.replace(make_grid(pairs=True), decoder_sigma=0.1)
    model.apply(grid)
    assert view.shows_beta_d()
    assert view.bound_positions(1) == pytest.approx((-2.0, 1.0))  # log10 of 0.01 and 10
    x, y = float(grid.x[4]), float(grid.y[3])
    model.select_point(x, y)
    index = 3 * grid.x.size + 4
    np.testing.assert_array_equal(view.selected_curve(0), grid.decoded[index][0])
    np.testing.assert_array_equal(view.selected_curve(1), grid.decoded[index][1])
    for curve in (0, 1):
        low, high = view.band(curve)
        selected = view.selected_curve(curve)
        assert np.all(low <= selected + 1e-12) and np.all(high >= selected - 1e-12)
        assert np.any(high > low)
    evaluation = make_evaluation(0, (x, y), 0.3)
    pair = np.stack([evaluation.proposal.schedule, np.linspace(0.02, 4.0, N_EPOCHS)])
    model.apply(dataclasses.replace(
        evaluation, proposal=dataclasses.replace(evaluation.proposal, schedule=pair)))
    np.testing.assert_array_equal(view.best_curve(1), pair[1])
    model.select_evaluation(0)
    np.testing.assert_array_equal(view.selected_curve(1), pair[1])
    assert view.band(1) is None
    model.apply(make_grid())  # a campaign of β_c schedules hides the β_d panel again
    assert not view.shows_beta_d()


def test_schedule_view_log_scale_follows_the_bounds(qtbot) -> None:
    view = _shown(qtbot, ScheduleView())
    view.set_bounds(0.1, 10.0)  # ratio 100: log
    assert view.is_log_scale()
    assert view.plot_widget().getPlotItem().ctrl.logYCheck.isChecked()
    assert view.bound_positions() == pytest.approx((-1.0, 1.0))
    view.set_bounds(1.0, 5.0)  # ratio 5: linear
    assert not view.is_log_scale()
    assert view.bound_positions() == pytest.approx((1.0, 5.0))
    view.set_bounds(0.001, 0.05)  # the paper's nanoparticle bounds: log
    assert view.is_log_scale()
    assert view.bound_positions() == pytest.approx((-3.0, np.log10(0.05)))
    # the log box overrides; the curve keeps its β values
    view._log_check.setChecked(False)
    assert view.bound_positions() == pytest.approx((0.001, 0.05))
    view.show_selected(np.linspace(0.001, 0.05, 10), "x")
    np.testing.assert_allclose(view.selected_curve(), np.linspace(0.001, 0.05, 10))
    with pytest.raises(ValueError, match="0 < lo < hi"):
        view.set_bounds(0.0, 1.0)


# ----------------------------------------------------------------------------- Convergence
def test_best_so_far_is_running_max_of_successes() -> None:
    values = np.array([np.nan, 0.2, np.nan, 0.1, 0.5, 0.4, np.nan])
    np.testing.assert_array_equal(best_so_far(values),
                                  [np.nan, 0.2, 0.2, 0.2, 0.5, 0.5, 0.5])
    assert best_so_far(np.zeros(0)).shape == (0,)


def test_convergence_plot(qtbot, evaluations) -> None:
    from zbo_gui.core.config import BOConfig, CampaignConfig

    model = opened_model(CampaignConfig(bo=BOConfig(initial=2, budget=20)))
    plot = _shown(qtbot, ConvergencePlot(model))
    for ev in evaluations:
        model.apply(ev)
    objectives = [ev.objective if ev.succeeded else np.nan for ev in evaluations]
    expected = np.fmax.accumulate(np.array(objectives))
    np.testing.assert_array_equal(plot.best_so_far(), expected)
    np.testing.assert_array_equal(plot.best_so_far(), [0.2, 0.35, 0.35, 0.35, 0.55, 0.55, 0.55])
    # points: 5 successes at their objective, 2 failures along the bottom
    x, y = plot.points_item.getData()
    np.testing.assert_array_equal(x, [1, 2, 4, 5, 7])
    np.testing.assert_array_equal(y, [0.2, 0.35, 0.3, 0.55, 0.1])
    fx, fy = plot.failed_item.getData()
    np.testing.assert_array_equal(fx, [3, 6])
    assert np.all(fy < 0.1)
    symbols = list(plot.points_item.data["symbol"])
    assert symbols == ["s", "s", "o", "d", "o"]  # initial, initial, acquisition, user, acq.
    # the best line is a step through the running maximum
    _, line_y = plot._best_line.getData()
    assert np.nanmax(line_y) == pytest.approx(0.55)
    assert plot._design_line.isVisible() and plot._design_line.value() == pytest.approx(2.5)
    model.apply(make_evaluation(7, (1.0, -0.5), 0.9, ProposalSource.ACQUISITION))
    assert plot.best_so_far()[7] == pytest.approx(0.9)
    model.apply(CampaignClosed("/tmp/c.h5"))
    assert plot.best_so_far().shape == (0,)


def test_design_line_only_once_the_initial_design_is_complete(qtbot) -> None:
    from zbo_gui.core.config import BOConfig, CampaignConfig

    model = opened_model(CampaignConfig(bo=BOConfig(initial=3, budget=20)))
    plot = _shown(qtbot, ConvergencePlot(model))
    for index, source in enumerate([ProposalSource.INITIAL, ProposalSource.USER,
                                    ProposalSource.INITIAL]):
        model.apply(make_evaluation(index, (0.1 * index, 0.0), 0.1, source))
    assert not plot._design_line.isVisible()  # two of three initial points: still the design
    model.apply(make_evaluation(3, (0.5, 0.0), 0.2, ProposalSource.INITIAL))
    assert not plot._design_line.isVisible()  # complete, but nothing after it yet
    model.apply(make_evaluation(4, (0.6, 0.0), 0.3, ProposalSource.ACQUISITION))
    assert plot._design_line.isVisible() and plot._design_line.value() == pytest.approx(4.5)


def test_convergence_plot_all_failed(qtbot) -> None:
    model = opened_model()
    plot = _shown(qtbot, ConvergencePlot(model))
    for ev in (make_evaluation(0, (0, 0), None), make_evaluation(1, (0, 1), None)):
        model.apply(ev)
    assert np.isnan(plot.best_so_far()).all()
    assert len(plot.failed_item.data) == 2


# ---------------------------------------------------------------------------- ManifoldView
def _manifolds(k: int = 3, d: int = 4, h: int = 12, w: int = 10) -> np.ndarray:
    """(k, d*d, h, w) uint8; image i of class c is filled with 10*c + i."""
    values = 10 * np.arange(k)[:, None] + np.arange(d * d)[None, :]
    return np.broadcast_to(values[:, :, None, None], (k, d * d, h, w)).astype(np.uint8)


def test_assemble_tile_layout() -> None:
    images = _manifolds(1, 3, 5, 7)[0]
    tile = assemble_tile(images)
    assert tile.shape == (3 * 5 + 2, 3 * 7 + 2)
    assert tile[0, 0] == 0 and tile[0, 8] == 1 and tile[6, 0] == 3  # row-major from top left
    assert tile[5, 0] == GAP_VALUE and tile[0, 7] == GAP_VALUE
    with pytest.raises(ValueError, match="d\\*d images, got 5"):
        assemble_tile(np.zeros((5, 4, 4), np.uint8))


def test_manifold_view_follows_selection_latest_and_final(qtbot) -> None:
    import dataclasses

    from zbo_gui.model.messages import FinalModel

    model = opened_model()
    view = _shown(qtbot, ManifoldView(model), 420, 420)
    first = make_evaluation(0, (0.0, 0.0), 0.3)
    with_tiles = dataclasses.replace(first.replicates[0], manifolds=_manifolds(2, 2, 6, 6))
    model.apply(dataclasses.replace(first, replicates=(with_tiles,)))
    assert view.title() == "evaluation #1" and view.n_tiles() == 2
    second = make_evaluation(1, (0.5, 0.0), 0.2)
    tiles = dataclasses.replace(second.replicates[0], manifolds=_manifolds(3, 2, 6, 6))
    model.apply(dataclasses.replace(second, replicates=(tiles,)))
    assert view.title() == "evaluation #2" and view.n_tiles() == 3  # the latest, live
    model.select_evaluation(0)
    assert view.title() == "evaluation #1"
    model.apply(FinalModel(np.ones(12), "evaluated", _manifolds(4, 2, 6, 6), np.ones(12)))
    assert view.title() == "evaluation #1"  # a selection wins
    model.clear_selection()
    assert view.title() == "final model (evaluated schedule)" and view.n_tiles() == 4


def test_manifold_view_tiles_titles_and_export(qtbot, tmp_path) -> None:
    view = _shown(qtbot, ManifoldView(), 420, 420)
    d, h, w = 4, 12, 10
    view.show(_manifolds(3, d, h, w), "evaluation #4", usage=np.array([120, 80, 0]))
    assert view.n_tiles() == 3
    for k in range(3):
        tile = view.tile_image(k)
        assert tile.shape == (d * h + d - 1, d * w + d - 1)
        assert tile[0, 0] == 10 * k and tile[h + 1, w + 1] == 10 * k + d + 1
    assert view.title() == "evaluation #4"
    assert view.tile_title(0) == "class 0 · 120 (60%)"
    assert view.tile_title(2) == "class 2 · unused"
    # the image item shows the tile, top row at the top of the view box
    _label, viewbox, image = view._items[1]
    np.testing.assert_array_equal(image.image, view.tile_image(1))
    assert viewbox.yInverted()
    path = view.export_png(str(tmp_path / "manifolds.png"))
    size = plots.png_size(path)
    ratio = view.devicePixelRatioF()
    assert (size.width(), size.height()) == (round(view.width() * ratio),
                                             round(view.height() * ratio))
    # fewer classes rebuild the tiles; a wrong dtype is refused
    view.show(_manifolds(2, 2, 6, 6), "final model")
    assert view.n_tiles() == 2 and view.tile_image(1).shape == (13, 13)
    assert view.tile_title(1) == "class 1"
    with pytest.raises(ValueError, match="uint8"):
        view.show(_manifolds(2, 2, 6, 6).astype(float), "bad")
    view.clear()
    assert view.n_tiles() == 0


# --------------------------------------------------------------------------------- helpers
def test_export_png_of_widget_and_plot_item(qtbot, tmp_path) -> None:
    widget = _shown(qtbot, pg.PlotWidget(), 300, 200)
    widget.plot([0, 1, 2], [2, 0, 1])
    path = plots.export_png(widget, tmp_path / "widget")
    assert path.suffix == ".png" and path.stat().st_size > 0
    size = plots.png_size(path)
    ratio = widget.devicePixelRatioF()
    assert size.width() == round(300 * ratio) and size.height() == round(200 * ratio)
    item_path = plots.export_png(widget.getPlotItem(), tmp_path / "item.png")
    assert QtGui.QImage(str(item_path)).width() > 100


def test_views_follow_a_dark_palette(qtbot) -> None:
    view = _shown(qtbot, ScheduleView())
    palette = QtGui.QPalette(view.palette())
    dark = QtGui.QColor(30, 30, 35)
    palette.setColor(QtGui.QPalette.ColorRole.Base, dark)
    palette.setColor(QtGui.QPalette.ColorRole.Text, QtGui.QColor(230, 230, 230))
    view.setPalette(palette)
    qtbot.waitUntil(lambda: view.plot_widget().backgroundBrush().color() == dark, timeout=1000)
    axis = view.plot_widget().getPlotItem().getAxis("left")
    assert axis.textPen().color() == QtGui.QColor(230, 230, 230)


def test_colors_for_values_spans_the_map() -> None:
    cmap = plots.colormap("viridis")
    brushes = plots.colors_for_values(np.array([0.0, 0.5, 1.0]), cmap)
    assert brushes[0].color() == cmap.map(0.0, mode=pg.ColorMap.QCOLOR)
    assert brushes[-1].color() == cmap.map(1.0, mode=pg.ColorMap.QCOLOR)
    assert plots.finite_levels(np.array([np.nan, -np.inf, 2.0])) == (1.5, 2.5)
    assert plots.finite_levels(np.array([np.nan])) == (0.0, 1.0)


def test_every_control_has_a_tooltip(qtbot) -> None:
    from PySide6 import QtWidgets

    from zbo_gui.gui.evaluations_table import EvaluationsTable
    from zbo_gui.gui.latent_map import LatentMapView
    from zbo_gui.gui.log_panel import LogPanel

    controls = (QtWidgets.QAbstractButton, QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox,
                QtWidgets.QLineEdit)
    model = opened_model()
    for cls in (LatentMapView, ScheduleView, ConvergencePlot, EvaluationsTable, ManifoldView,
                LogPanel):
        widget = cls() if cls is LogPanel else cls(model)
        qtbot.addWidget(widget)
        missing = [type(child).__name__ for child in widget.findChildren(QtWidgets.QWidget)
                   if isinstance(child, controls) and child.isVisibleTo(widget)
                   and not child.toolTip()]
        assert missing == [], f"{cls.__name__}: {missing}"
    menu = LatentMapView(model)
    qtbot.addWidget(menu)
    assert all(action.toolTip() for action in menu.context_menu.actions()
               if not action.isSeparator())
