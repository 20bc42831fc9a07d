"""LatentMapView: heatmap orientation and placement, layers, markers, clicks and the menu."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from tests.gui.conftest import make_evaluation, make_posterior
from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.types import EvaluationStatus, Proposal, ProposalSource
from zbo_gui.gui.latent_map import LatentMapView, grid_rect
from zbo_gui.gui.plots import png_size
from zbo_gui.model.messages import CampaignClosed, CampaignOpened, GridSnapshot, PosteriorSnapshot


@pytest.fixture
def view(qtbot, model) -> LatentMapView:
    widget = LatentMapView(model)
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _pixel_under(view: LatentMapView, x: float, y: float) -> tuple[int, int]:
    """(row, column) of the heatmap pixel under latent point (x, y), via the item's transform."""
    point = view.heatmap_item().mapFromView(QtCore.QPointF(x, y))
    return int(np.floor(point.y())), int(np.floor(point.x()))


def _viewport_pos(view: LatentMapView, x: float, y: float) -> QtCore.QPoint:
    """Viewport pixel of latent point (x, y), once pending layout changes are applied."""
    QtWidgets.QApplication.processEvents()  # e.g. the colour bar appearing narrows the plot
    plot = view.plot_widget()
    scene_point = plot.getPlotItem().getViewBox().mapViewToScene(QtCore.QPointF(x, y))
    return plot.mapFromScene(scene_point)


def test_heatmap_is_row_major_and_placed_on_grid(view, model, grid, posterior) -> None:
    model.apply(grid)
    model.apply(posterior)
    image = view.heatmap_image()
    assert image is not None
    assert image.shape == (grid.y.size, grid.x.size) == (20, 30)
    for iy, ix in [(0, 1), (3, 7), (12, 25), (19, 0), (19, 16), (5, 21)]:
        row, column = _pixel_under(view, grid.x[ix], grid.y[iy])
        assert (row, column) == (iy, ix)  # pixel centres sit on the grid coordinates
        if grid.feasible[iy, ix]:
            assert image[row, column] == pytest.approx(posterior.mean[iy, ix])
        else:
            assert np.isnan(image[row, column])
    # half a cell off a grid point still lands in that cell
    dx = grid.x[1] - grid.x[0]
    assert _pixel_under(view, grid.x[4] + 0.45 * dx, grid.y[2])[1] == 4
    # the image covers exactly the grid rectangle
    rect = view.heatmap_item().mapRectToView(view.heatmap_item().boundingRect())
    expected = grid_rect(grid.x, grid.y)
    for got, want in zip(rect.getRect(), expected.getRect(), strict=True):
        assert got == pytest.approx(want)
    assert view.colorbar().levels() == pytest.approx(
        (np.nanmin(image), np.nanmax(image)))


def test_infeasible_region_is_greyed(view, model, grid) -> None:
    model.apply(grid)
    overlay = view.overlay_item().image
    assert overlay.shape == (20, 30, 4)
    np.testing.assert_array_equal(overlay[..., 3] > 0, ~grid.feasible)
    assert view.heatmap_image() is None  # no posterior yet
    assert not view.is_feasible(2.5, 0.0) and view.is_feasible(0.0, 0.0)


def test_layers_switch_the_displayed_image(qtbot, view, model, grid, posterior) -> None:
    model.apply(grid)
    model.apply(posterior)
    view.set_layer("std")
    assert view.layer() == "std"
    assert view._layer_combo.currentData() == "std"
    feasible = grid.feasible
    np.testing.assert_allclose(view.heatmap_image()[feasible], posterior.std[feasible])
    view._layer_combo.setCurrentIndex(view._layer_combo.findData("acquisition"))
    assert view.layer() == "acquisition"
    image = view.heatmap_image()
    finite = feasible & np.isfinite(posterior.acquisition)
    np.testing.assert_allclose(image[finite], posterior.acquisition[finite])
    assert np.isnan(image[0, 0])  # -inf log-EI is not drawn
    assert view.colorbar().axis.labelText == "log EI"
    with pytest.raises(ValueError, match="unknown layer 'sigma'"):
        view.set_layer("sigma")


def test_mismatched_posterior_is_rejected(view, model, grid) -> None:
    model.apply(grid)
    bad = PosteriorSnapshot(n_train=1, mean=np.zeros((30, 20)), std=np.zeros((30, 20)),
                            acquisition=np.zeros((30, 20)), acquisition_name="ei")
    with pytest.raises(ValueError, match=r"posterior.mean has shape \(30, 20\)"):
        model.apply(bad)


def test_evaluations_are_marked_by_outcome_and_source(view, model, grid, posterior,
                                                      evaluations) -> None:
    model.apply(grid)
    model.apply(posterior)
    for ev in evaluations:
        model.apply(ev)
    assert len(view.failed_item.data) == 2
    assert len(view.user_item.data) == 1  # the user's failed point is a red cross
    assert len(view.evaluated_item.data) == 4
    assert view.failed_item.opts["symbol"] == "x"
    assert view.user_item.opts["symbol"] != view.evaluated_item.opts["symbol"]
    # coloured by objective: the brushes differ between the lowest and highest point
    brushes = {b.color().name() for b in view.evaluated_item.data["brush"]}
    assert len(brushes) == 4
    # the star sits on the best evaluation (#5, objective 0.55)
    best = view.best_item.getData()
    assert (best[0][0], best[1][0]) == pytest.approx((1.5, 0.0))
    # a better one moves the star
    model.apply(make_evaluation(7, (0.2, 0.4), 0.9))
    assert len(view.evaluated_item.data) == 5
    best = view.best_item.getData()
    assert (best[0][0], best[1][0]) == pytest.approx((0.2, 0.4))
    # a training stopped as collapsed: its own grey triangle, scored 0, not a failure
    import dataclasses

    stopped = dataclasses.replace(make_evaluation(8, (-0.3, 0.6), 0.0), replicates=(),
                                  status=EvaluationStatus.COLLAPSED,
                                  message="collapsed at epoch 15: one class held 119 of 120")
    model.apply(stopped)
    assert len(view.collapsed_item.data) == 1 and len(view.failed_item.data) == 2
    assert view.collapsed_item.opts["symbol"] == "t"
    assert "stopped, collapsed at epoch 15" in view.collapsed_item.data["data"][0]
    assert "collapsed (stopped)" in [label.text for _, label in view.markers.legend.items]
    # the best predicted point is the max of the mean over the feasible grid
    iy, ix = divmod(posterior.best_index, grid.x.size)
    got = view.best_predicted_item.getData()
    assert (got[0][0], got[1][0]) == pytest.approx((grid.x[ix], grid.y[iy]))
    assert len(view.seed_item.data) == grid.seed_z.shape[0]
    assert view.seed_item.data["data"][0] == "seed · cooldown"


def test_proposal_ring_and_clear(view, model, grid, posterior, evaluations) -> None:
    model.apply(grid)
    model.apply(posterior)
    for ev in evaluations:
        model.apply(ev)
    proposal = Proposal(grid_index=grid.index_of((0.7, -0.3)), z=np.array([0.7, -0.3]),
                        schedule=np.ones(12), source=ProposalSource.ACQUISITION,
                        acquisition=-1.5)
    model.apply(proposal)
    x, y = view.proposal_item.getData()
    assert (x[0], y[0]) == pytest.approx((0.7, -0.3))
    assert view.proposal_item.opts["symbol"] == "o"
    assert view.proposal_item.opts["brush"].style() == QtCore.Qt.BrushStyle.NoBrush  # a ring
    done = make_evaluation(len(evaluations), (0.7, -0.3), 0.2)  # its evaluation removes it
    model.apply(dataclasses.replace(done, proposal=proposal))
    assert len(view.proposal_item.data) == 0
    model.apply(CampaignClosed("/tmp/c.h5"))  # closing the campaign empties the map
    assert view.heatmap_image() is None
    for item in (view.seed_item, view.evaluated_item, view.failed_item, view.proposal_item,
                 view.best_item):
        assert len(item.data) == 0
    # the next campaign draws again
    model.apply(CampaignOpened("/tmp/d.h5", CampaignConfig(), 0, ()))
    model.apply(grid)
    model.apply(make_posterior(grid))
    assert view.heatmap_image() is not None


def test_left_click_selects_the_latent_point(qtbot, view, model, grid, posterior) -> None:
    model.apply(grid)
    model.apply(posterior)
    target = (grid.x[9], grid.y[14])
    pos = _viewport_pos(view, *target)
    qtbot.mouseClick(view.plot_widget().viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    assert model.selection is not None
    x, y = model.selection.z
    # one viewport pixel in latent units is the tolerance
    vb = view.plot_widget().getPlotItem().getViewBox()
    px, py = vb.viewPixelSize()
    assert abs(x - target[0]) <= px and abs(y - target[1]) <= py
    assert view.grid_index_at(x, y) == 14 * grid.x.size + 9
    np.testing.assert_array_equal(view.schedule_at(x, y), grid.decoded[14 * 30 + 9])
    assert view.posterior_at(x, y) == pytest.approx(
        (posterior.mean[14, 9], posterior.std[14, 9]))
    assert model.selection is not None and model.selection.z == (x, y)
    marked = view.selection_item.getData()
    assert (marked[0][0], marked[1][0]) == pytest.approx((x, y))


def test_hover_updates_the_readout(qtbot, view, model, grid, posterior) -> None:
    model.apply(grid)
    model.apply(posterior)
    pos = _viewport_pos(view, grid.x[5], grid.y[6])
    qtbot.mouseMove(view.plot_widget().viewport(), pos)
    mean = posterior.mean[6, 5]
    qtbot.waitUntil(lambda: f"mean {mean:.4g}" in view._readout.text(), timeout=2000)
    x, y = (float(v) for v in view._readout.text().split("(")[1].split(")")[0].split(","))
    assert view.grid_index_at(x, y) == 6 * 30 + 5  # the point under the mouse


def test_context_menu_requests_evaluation(qtbot, view, model, grid) -> None:
    model.apply(grid)
    target = (grid.x[3], grid.y[4])
    pos = _viewport_pos(view, *target)
    qtbot.mouseClick(view.plot_widget().viewport(), QtCore.Qt.MouseButton.RightButton, pos=pos)
    qtbot.waitUntil(view.context_menu.isVisible, timeout=2000)
    action = next(a for a in view.context_menu.actions()
                  if a.text() == "Evaluate this point next")
    assert action.isEnabled()
    with qtbot.waitSignal(view.evaluateRequested, timeout=2000) as blocker:
        action.trigger()
    view.context_menu.hide()
    x, y = blocker.args
    assert view.grid_index_at(x, y) == 4 * grid.x.size + 3
    # on an infeasible point the action is disabled
    pos = _viewport_pos(view, grid.x[28], grid.y[10])
    qtbot.mouseClick(view.plot_widget().viewport(), QtCore.Qt.MouseButton.RightButton, pos=pos)
    qtbot.waitUntil(view.context_menu.isVisible, timeout=2000)
    assert not view._evaluate_action.isEnabled()
    view.context_menu.hide()


def test_export_png(tmp_path, view, model, grid, posterior) -> None:
    model.apply(grid)
    model.apply(posterior)
    path = view.export_png(str(tmp_path / "map"))
    assert path.endswith("map.png")
    size = png_size(path)
    plot = view.plot_widget()
    ratio = plot.devicePixelRatioF()
    assert size.width() == pytest.approx(plot.width() * ratio, abs=2)
    assert size.height() == pytest.approx(plot.height() * ratio, abs=2)
    image = QtGui.QImage(path)
    assert not image.isNull()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 23)
               for y in range(0, image.height(), 19)}
    assert len(colours) > 10  # the heatmap is in it, not a blank widget


def test_a_grid_of_the_wrong_shape_is_rejected(view, model, grid) -> None:
    bad = GridSnapshot(x=grid.x, y=grid.y, feasible=grid.feasible.T, decoded=grid.decoded,
                       seed_z=grid.seed_z, seed_schedules=grid.seed_schedules,
                       seed_families=grid.seed_families, beta_lo=0.1, beta_hi=10.0)
    with pytest.raises(ValueError, match=r"expected \(20, 30\)"):
        model.apply(bad)


@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (0.41230, 0.41236), (1e-4, 3e-4),
                                    (-300.0, -2.0), (5.0, 5.0 + 1e-9), (1000.0, 1000.5)])
def test_the_colour_bar_always_has_numbers(view, model, grid, lo, hi) -> None:
    """Narrow ranges (a GP σ of 1e-4, a mean flat to 1e-9) once left the bar unlabelled: its
    labels were wider than the axis and pyqtgraph drops those."""
    model.apply(grid)
    xx, _ = np.meshgrid(grid.x, grid.y)
    values = lo + (hi - lo) * (xx - xx.min()) / (xx.max() - xx.min())
    model.apply(PosteriorSnapshot(n_train=3, mean=values, std=values, acquisition=values,
                                  acquisition_name="logei", best_index=0))
    QtWidgets.QApplication.processEvents()
    image = QtGui.QImage(200, 480, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(image)
    try:
        _, _, texts = view.colorbar().axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    labels = [text for _, _, text in texts]
    assert len(labels) >= 2, labels
    shown = [float(t) for t in labels]
    assert min(shown) >= view.colorbar().levels()[0] - 1e-12


def test_hover_text_never_widens_the_map(view, model, grid, posterior, qtbot) -> None:
    """A long readout once widened the map's column for good, squeezing the docks."""
    model.apply(grid)
    model.apply(posterior)
    before = view.minimumSizeHint().width()
    viewport = view.plot_widget().viewport()
    qtbot.mouseMove(viewport, _viewport_pos(view, float(grid.x[3]), float(grid.y[4])))
    qtbot.waitUntil(lambda: "mean" in view._readout.text())
    assert view.minimumSizeHint().width() == before
    assert view.sizeHint().width() <= 640
