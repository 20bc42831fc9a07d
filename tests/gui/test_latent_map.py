"""LatentMapView: heatmap orientation and placement, layers, markers, clicks and the menu."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from tests.gui.conftest import make_evaluation, make_posterior
from zbo_gui.core.types import Proposal, ProposalSource
from zbo_gui.gui.latent_map import LatentMapView, grid_rect
from zbo_gui.gui.plots import png_size
from zbo_gui.workers.messages import GridSnapshot, PosteriorSnapshot


@pytest.fixture
def view(qtbot) -> LatentMapView:
    widget = LatentMapView()
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


def test_heatmap_is_row_major_and_placed_on_grid(view, grid, posterior) -> None:
    view.set_grid(grid)
    view.set_posterior(posterior)
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


def test_infeasible_region_is_greyed(view, grid) -> None:
    view.set_grid(grid)
    overlay = view.overlay_item().image
    assert overlay.shape == (20, 30, 4)
    np.testing.assert_array_equal(overlay[..., 3] > 0, ~grid.feasible)
    assert view.heatmap_image() is None  # no posterior yet
    assert not view.is_feasible(2.5, 0.0) and view.is_feasible(0.0, 0.0)


def test_layers_switch_the_displayed_image(qtbot, view, grid, posterior) -> None:
    view.set_grid(grid)
    view.set_posterior(posterior)
    with qtbot.waitSignal(view.layerChanged) as blocker:
        view.set_layer("std")
    assert blocker.args == ["std"]
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


def test_mismatched_posterior_is_rejected(view, grid) -> None:
    view.set_grid(grid)
    bad = PosteriorSnapshot(n_train=1, mean=np.zeros((30, 20)), std=np.zeros((30, 20)),
                            acquisition=np.zeros((30, 20)), acquisition_name="ei")
    with pytest.raises(ValueError, match=r"posterior.mean has shape \(30, 20\)"):
        view.set_posterior(bad)


def test_evaluations_are_marked_by_outcome_and_source(view, grid, posterior,
                                                      evaluations) -> None:
    view.set_grid(grid)
    view.set_posterior(posterior)
    view.set_evaluations(evaluations[:3])
    for ev in evaluations[3:]:
        view.add_evaluation(ev)
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
    # replacing an evaluation by index does not add a point
    view.add_evaluation(make_evaluation(6, (0.2, 0.2), 0.9))
    assert len(view.evaluated_item.data) == 4
    best = view.best_item.getData()
    assert (best[0][0], best[1][0]) == pytest.approx((0.2, 0.2))
    # the best predicted point is the max of the mean over the feasible grid
    iy, ix = divmod(posterior.best_index, grid.x.size)
    got = view.best_predicted_item.getData()
    assert (got[0][0], got[1][0]) == pytest.approx((grid.x[ix], grid.y[iy]))
    assert len(view.seed_item.data) == grid.seed_z.shape[0]
    assert view.seed_item.data["data"][0] == "seed · cooldown"


def test_proposal_ring_and_clear(view, grid, posterior, evaluations) -> None:
    view.set_grid(grid)
    view.set_posterior(posterior)
    view.set_evaluations(evaluations)
    proposal = Proposal(grid_index=0, z=np.array([0.7, -0.3]), schedule=np.ones(12),
                        source=ProposalSource.ACQUISITION, acquisition=-1.5)
    view.set_proposal(proposal)
    x, y = view.proposal_item.getData()
    assert (x[0], y[0]) == pytest.approx((0.7, -0.3))
    assert view.proposal_item.opts["symbol"] == "o"
    assert view.proposal_item.opts["brush"].style() == QtCore.Qt.BrushStyle.NoBrush  # a ring
    view.set_proposal(None)
    assert len(view.proposal_item.data) == 0
    view.set_proposal(proposal)
    view.clear()
    assert view.heatmap_image() is None
    for item in (view.seed_item, view.evaluated_item, view.failed_item, view.proposal_item,
                 view.best_item):
        assert len(item.data) == 0
    # after clear() the view draws again
    view.set_grid(grid)
    view.set_posterior(make_posterior(grid))
    assert view.heatmap_image() is not None


def test_left_click_emits_latent_coordinates(qtbot, view, grid, posterior) -> None:
    view.set_grid(grid)
    view.set_posterior(posterior)
    target = (grid.x[9], grid.y[14])
    pos = _viewport_pos(view, *target)
    with qtbot.waitSignal(view.pointClicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.plot_widget().viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=pos)
    x, y = blocker.args
    # one viewport pixel in latent units is the tolerance
    vb = view.plot_widget().getPlotItem().getViewBox()
    px, py = vb.viewPixelSize()
    assert abs(x - target[0]) <= px and abs(y - target[1]) <= py
    assert view.grid_index_at(x, y) == 14 * grid.x.size + 9
    np.testing.assert_array_equal(view.schedule_at(x, y), grid.decoded[14 * 30 + 9])
    assert view.posterior_at(x, y) == pytest.approx(
        (posterior.mean[14, 9], posterior.std[14, 9]))


def test_hover_emits_and_updates_readout(qtbot, view, grid, posterior) -> None:
    view.set_grid(grid)
    view.set_posterior(posterior)
    hovered: list[tuple[float, float]] = []
    view.pointHovered.connect(lambda x, y: hovered.append((x, y)))
    pos = _viewport_pos(view, grid.x[5], grid.y[6])
    qtbot.mouseMove(view.plot_widget().viewport(), pos)
    qtbot.waitUntil(lambda: bool(hovered) and view.grid_index_at(*hovered[-1]) == 6 * 30 + 5,
                    timeout=2000)
    mean = posterior.mean[6, 5]
    assert f"mean {mean:.4g}" in view._readout.text()


def test_context_menu_requests_evaluation(qtbot, view, grid) -> None:
    view.set_grid(grid)
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


def test_export_png(tmp_path, view, grid, posterior) -> None:
    view.set_grid(grid)
    view.set_posterior(posterior)
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


def test_set_grid_rejects_wrong_feasible_shape(view, grid) -> None:
    bad = GridSnapshot(x=grid.x, y=grid.y, feasible=grid.feasible.T, decoded=grid.decoded,
                       seed_z=grid.seed_z, seed_schedules=grid.seed_schedules,
                       seed_families=grid.seed_families, beta_lo=0.1, beta_hi=10.0)
    with pytest.raises(ValueError, match=r"expected \(20, 30\)"):
        view.set_grid(bad)
