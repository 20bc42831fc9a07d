"""The latent map: the 2-D latent space of the schedule VAE, where the search happens.

Shows, in latent coordinates ``(z₁, z₂)``, what the :class:`~zbo_gui.model.CampaignModel` holds:
a heatmap of the GP posterior (mean, σ or the acquisition) over the grid, the infeasible region
greyed out, the seed cloud, the evaluated points coloured by objective, the next proposal, the
best point and the selection. The view subscribes to the model's events and keeps no copy of
its data. A left click selects a point (on the model), hovering reports the point under the
mouse, and the context menu asks for a point to be evaluated next.

Grid images are row-major: ``image[iy, ix]`` is the value at ``(x[ix], y[iy])`` (see
:mod:`zbo_gui.model.messages`); pixel centres sit on the grid coordinates.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6 import QtCore, QtWidgets

from zbo_gui.gui import plots
from zbo_gui.gui.map_markers import MapMarkers
from zbo_gui.model.campaign import CampaignModel

#: Heatmap layers: key → text of the layer combo box.
LAYERS: dict[str, str] = {
    "mean": "GP mean",
    "std": "GP σ",
    "acquisition": "Acquisition",
}
_LAYER_TIPS: dict[str, str] = {
    "mean": "Posterior mean of the objective predicted by the Gaussian process",
    "std": "Posterior standard deviation (uncertainty) of the Gaussian process",
    "acquisition": "Acquisition function: where the search would evaluate next",
}
_HOVER_INTERVAL_MS = 30
_INFEASIBLE_RGBA = (128, 128, 128, 150)


def grid_rect(x: np.ndarray, y: np.ndarray) -> QtCore.QRectF:
    """The rectangle covered by a grid's pixels, with pixel centres on the grid coordinates.

    Args:
        x: ``(nx,)`` increasing, evenly spaced x coordinates.
        y: ``(ny,)`` increasing, evenly spaced y coordinates.

    Returns:
        ``[x0 - dx/2, x_last + dx/2] × [y0 - dy/2, y_last + dy/2]`` as a ``QRectF``.
    """
    nx, ny = int(x.shape[0]), int(y.shape[0])
    dx = float(x[-1] - x[0]) / (nx - 1) if nx > 1 else 1.0
    dy = float(y[-1] - y[0]) / (ny - 1) if ny > 1 else 1.0
    return QtCore.QRectF(float(x[0]) - dx / 2, float(y[0]) - dy / 2, dx * nx, dy * ny)


class LatentMapView(QtWidgets.QWidget):
    """The latent space with the GP posterior, the seeds, the evaluations and the proposal.

    Args:
        model: the campaign model shown.
        parent: the parent widget.

    Signals:
        evaluateRequested(float, float): "Evaluate this point next" chosen in the context menu.
    """

    evaluateRequested = QtCore.Signal(float, float)

    def __init__(self, model: CampaignModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        plots.configure_pyqtgraph()
        self.model = model
        self._layer = "mean"
        self._menu_point: tuple[float, float] | None = None
        self._hover_point: tuple[float, float] | None = None

        self._build_controls()
        self._build_plot()
        self._build_menu()

        self._hover_timer = QtCore.QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(_HOVER_INTERVAL_MS)
        self._hover_timer.timeout.connect(self._emit_hover)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._controls)
        layout.addWidget(self._plot, 1)
        self._restyle()
        events = model.events
        events.opened.connect(lambda _: self._show_all())
        events.grid.connect(lambda _: self._show_grid())
        events.posterior.connect(lambda _: self._show_posterior())
        events.evaluations.connect(lambda _: self.markers.show_evaluations())
        events.proposal.connect(lambda _: self.markers.show_proposal())
        events.selection.connect(lambda _: self.markers.show_selection())
        self._show_all()

    # ----------------------------------------------------------------------------- building
    def _build_controls(self) -> None:
        self._layer_combo = QtWidgets.QComboBox()
        for i, (key, text) in enumerate(LAYERS.items()):
            self._layer_combo.addItem(text, key)
            self._layer_combo.setItemData(i, _LAYER_TIPS[key], QtCore.Qt.ItemDataRole.ToolTipRole)
        self._layer_combo.setToolTip("Which Gaussian-process layer the heatmap shows")
        self._layer_combo.currentIndexChanged.connect(self._on_layer_combo)

        self._seeds_check = QtWidgets.QCheckBox("Seeds")
        self._seeds_check.setChecked(True)
        self._seeds_check.setToolTip("Show the encoded seed schedules (grey dots)")
        self._seeds_check.toggled.connect(self._on_seeds_toggled)

        self._readout = QtWidgets.QLabel()
        # the readout's text must not widen the map's column (and squeeze the docks)
        self._readout.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                    QtWidgets.QSizePolicy.Policy.Preferred)
        self._readout.setToolTip("The latent point under the mouse and the GP prediction there")
        self._readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)

        self._controls = QtWidgets.QHBoxLayout()
        self._controls.setContentsMargins(4, 2, 4, 2)
        label = QtWidgets.QLabel("Heatmap:")
        label.setBuddy(self._layer_combo)
        self._controls.addWidget(label)
        self._controls.addWidget(self._layer_combo)
        self._controls.addWidget(self._seeds_check)
        self._readout.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                   | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self._controls.addWidget(self._readout, 1)

    def _build_plot(self) -> None:
        self._plot = pg.PlotWidget()
        item = self._plot.getPlotItem()
        item.setLabel("bottom", "z₁")
        item.setLabel("left", "z₂")
        item.showGrid(x=False, y=False)
        plots.plain_axes(item)
        self._viewbox = item.getViewBox()
        self._viewbox.setMenuEnabled(False)  # our own context menu replaces pyqtgraph's

        self._heatmap = pg.ImageItem()
        self._heatmap.setZValue(-20)
        item.addItem(self._heatmap)
        self._overlay = pg.ImageItem()
        self._overlay.setZValue(-10)
        item.addItem(self._overlay)
        self._colorbar = pg.ColorBarItem(
            colorMap=plots.colormap(plots.LAYER_COLORMAPS[self._layer]),
            interactive=True, rounding=1e-6, width=15)
        self._colorbar.axis.setLabel(LAYERS[self._layer])
        self._colorbar.axis.enableAutoSIPrefix(False)
        self._colorbar.axis.setWidth(plots.COLORBAR_AXIS_WIDTH)  # its 45 px hid long labels
        self._colorbar.setImageItem(self._heatmap, insert_in=item)
        self._colorbar.setToolTip("Colour scale of the heatmap; drag the handles to change it")
        self._colorbar.setVisible(False)

        self.markers = MapMarkers(item, self.model)
        for name in ("seed_item", "evaluated_item", "user_item", "failed_item",
                     "collapsed_item", "best_predicted_item", "best_item", "proposal_item",
                     "selection_item"):
            setattr(self, name, getattr(self.markers, name))

        scene = self._plot.scene()
        scene.sigMouseClicked.connect(self._on_scene_clicked)
        scene.sigMouseMoved.connect(self._on_scene_moved)

    def _build_menu(self) -> None:
        self.context_menu = QtWidgets.QMenu(self)
        self.context_menu.setToolTipsVisible(True)
        self._evaluate_action = self.context_menu.addAction("Evaluate this point next")
        self._evaluate_action.setToolTip(
            "Queue the schedule decoded at this point as the next evaluation")
        self._evaluate_action.triggered.connect(self._on_evaluate_action)
        self.context_menu.addSeparator()
        reset = self.context_menu.addAction("Reset view")
        reset.setToolTip("Zoom to show the whole latent grid")
        reset.triggered.connect(self.reset_view)

    # ------------------------------------------------------------------------------ showing
    def _show_all(self) -> None:
        """Draw everything the model holds (a campaign was opened, created or closed)."""
        self._show_grid()
        self.markers.show_proposal()
        self.markers.show_selection()
        self._readout.clear()

    def _show_grid(self) -> None:
        """The model's latent grid: its feasible region and seed cloud (or nothing)."""
        grid = self.model.grid
        if grid is None:
            self._overlay.clear()
        else:
            shape = (grid.y.shape[0], grid.x.shape[0])
            if grid.feasible.shape != shape:
                raise ValueError(f"grid.feasible has shape {grid.feasible.shape}, expected"
                                 f" {shape}")
            rgba = np.zeros((*shape, 4), dtype=np.uint8)
            rgba[~np.asarray(grid.feasible, dtype=bool)] = _INFEASIBLE_RGBA
            self._overlay.setImage(rgba, autoLevels=False, levels=(0, 255))
            self._overlay.setRect(grid_rect(grid.x, grid.y))
        self.markers.show_seeds()
        self._show_posterior()
        self.markers.show_evaluations()
        self.reset_view()

    def _show_posterior(self) -> None:
        """The model's GP posterior as the heatmap, and its best predicted point."""
        posterior, grid = self.model.posterior, self.model.grid
        if posterior is not None and grid is not None:
            for name in ("mean", "std", "acquisition"):
                got = getattr(posterior, name).shape
                if got != grid.feasible.shape:
                    raise ValueError(f"posterior.{name} has shape {got}, the grid is"
                                     f" {grid.feasible.shape}")
        self._update_heatmap()
        self.markers.show_best_predicted()

    def set_layer(self, layer: str) -> None:
        """Choose the heatmap layer.

        Args:
            layer: ``"mean"``, ``"std"`` or ``"acquisition"``.

        Raises:
            ValueError: for any other name.
        """
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {sorted(LAYERS)}")
        self._layer = layer
        index = self._layer_combo.findData(layer)
        if index != self._layer_combo.currentIndex():
            blocked = self._layer_combo.blockSignals(True)
            self._layer_combo.setCurrentIndex(index)
            self._layer_combo.blockSignals(blocked)
        self._colorbar.setColorMap(plots.colormap(plots.LAYER_COLORMAPS[layer]))
        self._colorbar.axis.setLabel(self._layer_label())
        self._update_heatmap()

    def layer(self) -> str:
        """The heatmap layer shown (``"mean"``, ``"std"`` or ``"acquisition"``)."""
        return self._layer

    # ----------------------------------------------------------------------------- queries
    def heatmap_image(self) -> np.ndarray | None:
        """The ``(ny, nx)`` array the heatmap displays (NaN where infeasible), or None."""
        if not self._heatmap.isVisible():
            return None
        return self._heatmap.image

    def heatmap_item(self) -> pg.ImageItem:
        """The heatmap's ``ImageItem`` (e.g. to map scene points to pixels)."""
        return self._heatmap

    def overlay_item(self) -> pg.ImageItem:
        """The ``ImageItem`` of the infeasible-region overlay (RGBA, ``(ny, nx, 4)``)."""
        return self._overlay

    def colorbar(self) -> pg.ColorBarItem:
        """The colour bar that owns the heatmap's levels."""
        return self._colorbar

    def plot_widget(self) -> pg.PlotWidget:
        """The ``PlotWidget`` inside the view."""
        return self._plot

    def grid_index_at(self, x: float, y: float) -> int | None:
        """Flat index (``iy * nx + ix``) of the grid cell containing ``(x, y)``, or None
        outside the grid (or without one)."""
        return self.model.grid_index(x, y)

    def schedule_at(self, x: float, y: float) -> np.ndarray | None:
        """The ``(N,)`` schedule (a pair: ``(2, N)``) decoded at the grid cell containing
        ``(x, y)``, or None."""
        index = self.grid_index_at(x, y)
        return None if index is None else self.model.decoded(index)

    def posterior_at(self, x: float, y: float) -> tuple[float, float] | None:
        """The GP ``(mean, σ)`` at the grid cell containing ``(x, y)``, or None."""
        index = self.grid_index_at(x, y)
        return None if index is None else self.model.predicted(index)

    def is_feasible(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` lies in a feasible grid cell."""
        index = self.grid_index_at(x, y)
        return index is not None and self.model.feasible(index)

    # ------------------------------------------------------------------------------ output
    def export_png(self, path: str) -> str:
        """Write the map (plot and colour bar) as a PNG image.

        Args:
            path: the file to write.

        Returns:
            The path written.
        """
        return str(plots.export_png(self._plot, path))

    def reset_view(self) -> None:
        """Zoom to the whole grid (or to everything shown, without a grid)."""
        grid = self.model.grid
        if grid is not None:
            self._viewbox.setRange(rect=grid_rect(grid.x, grid.y), padding=0.02)
        else:
            self._viewbox.autoRange()

    # ----------------------------------------------------------------------------- drawing
    def _layer_label(self) -> str:
        if self._layer == "acquisition" and self.model.posterior is not None:
            return self._acquisition_label()
        return LAYERS[self._layer]

    def _acquisition_label(self) -> str:
        if self.model.posterior is None:
            return "acquisition"
        name = self.model.posterior.acquisition_name
        return {"logei": "log EI", "ei": "EI", "ucb": "UCB"}.get(name, name)

    def _update_heatmap(self) -> None:
        grid, posterior = self.model.grid, self.model.posterior
        if grid is None or posterior is None:
            self._heatmap.clear()
            self._heatmap.setVisible(False)
            self._colorbar.setVisible(False)
            return
        values = np.array(getattr(posterior, self._layer), dtype=np.float64)
        values[~np.isfinite(values)] = np.nan
        values[~np.asarray(grid.feasible, dtype=bool)] = np.nan
        self._heatmap.setImage(values, autoLevels=False)
        self._heatmap.setRect(grid_rect(grid.x, grid.y))
        lo, hi = plots.finite_levels(values)
        self._colorbar.rounding = max((hi - lo) * 1e-3, 1e-12)
        self._colorbar.setLevels((lo, hi))
        self._colorbar.axis.setLabel(self._layer_label())
        self._heatmap.setVisible(True)
        self._colorbar.setVisible(True)

    def _describe(self, x: float, y: float) -> str:
        text = f"z = ({x:.3f}, {y:.3f})"
        index = self.grid_index_at(x, y)
        posterior = self.model.posterior
        if index is None:
            return text + " · outside the grid" if self.model.grid is not None else text
        if not self.is_feasible(x, y):
            return text + " · infeasible"
        if posterior is not None:
            mean = float(posterior.mean.flat[index])
            std = float(posterior.std.flat[index])
            acq = float(posterior.acquisition.flat[index])
            text += f" · mean {mean:.4g} ± {std:.2g} · {self._acquisition_label()} {acq:.3g}"
        return text

    # ------------------------------------------------------------------------------ events
    def _on_layer_combo(self, index: int) -> None:
        self.set_layer(str(self._layer_combo.itemData(index)))

    def _on_seeds_toggled(self, checked: bool) -> None:
        self.seed_item.setVisible(checked)

    def _scene_to_view(self, scene_pos: QtCore.QPointF) -> tuple[float, float] | None:
        if not self._viewbox.sceneBoundingRect().contains(scene_pos):
            return None
        point = self._viewbox.mapSceneToView(scene_pos)
        return float(point.x()), float(point.y())

    def _on_scene_clicked(self, event: MouseClickEvent) -> None:
        if event.double():
            return
        point = self._scene_to_view(event.scenePos())
        if point is None:
            return
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.model.select_point(*point)
        elif event.button() == QtCore.Qt.MouseButton.RightButton:
            self._show_menu(point, event.screenPos().toPoint())

    def _show_menu(self, point: tuple[float, float], screen_pos: QtCore.QPoint) -> None:
        """Pop up the context menu for latent ``point`` at ``screen_pos`` (non-blocking)."""
        self._menu_point = point
        feasible = self.model.grid is None or self.is_feasible(*point)
        self._evaluate_action.setEnabled(feasible)
        self._evaluate_action.setText("Evaluate this point next" if feasible
                                      else "Evaluate this point next (infeasible)")
        self.context_menu.popup(screen_pos)

    def _on_evaluate_action(self) -> None:
        if self._menu_point is not None:
            self.evaluateRequested.emit(*self._menu_point)

    def _on_scene_moved(self, scene_pos: QtCore.QPointF) -> None:
        point = self._scene_to_view(scene_pos)
        if point is None:
            return
        self._hover_point = point
        if not self._hover_timer.isActive():
            self._hover_timer.start()

    def _emit_hover(self) -> None:
        if self._hover_point is None:
            return
        self._readout.setText(self._describe(*self._hover_point))

    def _restyle(self) -> None:
        plots.style_view(self._plot, source=self)
        background, foreground = plots.palette_colors(self)
        for name in ("left", "right", "top", "bottom"):
            self._colorbar.getAxis(name).setPen(pg.mkPen(foreground))
        self._colorbar.axis.setTextPen(pg.mkPen(foreground))
        self.markers.restyle(background, foreground)

    def changeEvent(self, event: QtCore.QEvent) -> None:
        """Restyle the plot when the palette changes (light/dark theme switch)."""
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)


__all__ = ["LAYERS", "LatentMapView", "grid_rect"]
