"""The latent map: the 2-D latent space of the schedule VAE, where the search happens.

Shows, in latent coordinates ``(z₁, z₂)``: a heatmap of the GP posterior (mean, σ or the
acquisition) over the grid, the infeasible region greyed out, the seed cloud, the evaluated
points coloured by objective, the next proposal and the best point. A left click selects a
point, hovering reports the point under the mouse, and the context menu asks for a point to be
evaluated next.

Grid images are row-major: ``image[iy, ix]`` is the value at ``(x[ix], y[iy])`` (see
:mod:`zbo_gui.workers.messages`); pixel centres sit on the grid coordinates.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6 import QtCore, QtGui, QtWidgets

from zbo_gui.core.types import Evaluation, Proposal, ProposalSource
from zbo_gui.gui import plots
from zbo_gui.workers.messages import GridSnapshot, PosteriorSnapshot

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

    Signals:
        pointClicked(float, float): left click at latent point ``(z₁, z₂)``.
        pointHovered(float, float): the mouse is over latent point ``(z₁, z₂)`` (throttled).
        evaluateRequested(float, float): "Evaluate this point next" chosen in the context menu.
        layerChanged(str): the heatmap layer changed (``"mean"``, ``"std"``, ``"acquisition"``).
    """

    pointClicked = QtCore.Signal(float, float)
    pointHovered = QtCore.Signal(float, float)
    evaluateRequested = QtCore.Signal(float, float)
    layerChanged = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        """Create the view, empty.

        Args:
            parent: the parent widget.
        """
        super().__init__(parent)
        plots.configure_pyqtgraph()
        self._grid: GridSnapshot | None = None
        self._posterior: PosteriorSnapshot | None = None
        self._evaluations: dict[int, Evaluation] = {}
        self._proposal: Proposal | None = None
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
        self._readout.setToolTip("The latent point under the mouse and the GP prediction there")
        self._readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)

        self._controls = QtWidgets.QHBoxLayout()
        self._controls.setContentsMargins(4, 2, 4, 2)
        label = QtWidgets.QLabel("Heatmap:")
        label.setBuddy(self._layer_combo)
        self._controls.addWidget(label)
        self._controls.addWidget(self._layer_combo)
        self._controls.addWidget(self._seeds_check)
        self._controls.addStretch(1)
        self._controls.addWidget(self._readout)

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
        self._colorbar.setImageItem(self._heatmap, insert_in=item)
        self._colorbar.setToolTip("Colour scale of the heatmap; drag the handles to change it")
        self._colorbar.setVisible(False)

        self.seed_item = pg.ScatterPlotItem(
            size=5, symbol="o", pen=None, brush=plots.SEED_COLOR, hoverable=True,
            tip=self._tip)
        self.seed_item.setZValue(0)
        self.evaluated_item = pg.ScatterPlotItem(size=10, symbol="o", hoverable=True,
                                                 tip=self._tip)
        self.evaluated_item.setZValue(10)
        self.user_item = pg.ScatterPlotItem(size=13, symbol="d", hoverable=True, tip=self._tip)
        self.user_item.setZValue(11)
        self.failed_item = pg.ScatterPlotItem(
            size=11, symbol="x", pen=pg.mkPen(plots.FAILED_COLOR, width=1.5),
            brush=pg.mkBrush(plots.FAILED_COLOR), hoverable=True, tip=self._tip)
        self.failed_item.setZValue(12)
        self.best_predicted_item = pg.ScatterPlotItem(
            size=16, symbol="crosshair", pen=pg.mkPen(plots.BEST_COLOR, width=2), brush=None,
            tip=self._tip, hoverable=True)
        self.best_predicted_item.setZValue(13)
        self.best_item = pg.ScatterPlotItem(
            size=20, symbol="star", pen=pg.mkPen("k", width=1), brush=pg.mkBrush(plots.BEST_COLOR),
            hoverable=True, tip=self._tip)
        self.best_item.setZValue(14)
        self.proposal_item = pg.ScatterPlotItem(
            size=20, symbol="o", pen=pg.mkPen(plots.PROPOSAL_COLOR, width=3), brush=None,
            hoverable=True, tip=self._tip)
        self.proposal_item.setZValue(15)
        self.selection_item = pg.ScatterPlotItem(size=12, symbol="s", brush=None)
        self.selection_item.setZValue(16)

        self._legend_entries = (
            (self.seed_item, "seed schedules"),
            (self.evaluated_item, "evaluated"),
            (self.user_item, "chosen by you"),
            (self.failed_item, "failed"),
            (self.proposal_item, "next proposal"),
            (self.best_item, "best evaluated"),
            (self.best_predicted_item, "best predicted"),
        )
        for scatter, _name in self._legend_entries:
            item.addItem(scatter)
        item.addItem(self.selection_item)
        self._legend = item.addLegend(offset=(5, 5), labelTextSize="8pt", verSpacing=-4)
        self._legend_shown: tuple[str, ...] = ()
        self._legend.setVisible(False)  # shown once a marker is on the map

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

    # ------------------------------------------------------------------------------ inputs
    def set_grid(self, grid: GridSnapshot) -> None:
        """Show a new latent grid: its feasible region and seed cloud.

        A posterior whose shape does not match the new grid is dropped.

        Args:
            grid: the grid snapshot (``feasible`` is ``(ny, nx)``, row-major).

        Raises:
            ValueError: if ``grid.feasible`` does not have shape ``(len(y), len(x))``.
        """
        shape = (grid.y.shape[0], grid.x.shape[0])
        if grid.feasible.shape != shape:
            raise ValueError(f"grid.feasible has shape {grid.feasible.shape}, expected {shape}")
        self._grid = grid
        if self._posterior is not None and self._posterior.mean.shape != shape:
            self._posterior = None
        rect = grid_rect(grid.x, grid.y)
        rgba = np.zeros((*shape, 4), dtype=np.uint8)
        rgba[~np.asarray(grid.feasible, dtype=bool)] = _INFEASIBLE_RGBA
        self._overlay.setImage(rgba, autoLevels=False, levels=(0, 255))
        self._overlay.setRect(rect)
        self._overlay.setToolTip("")
        families = [f"seed · {family}" for family in grid.seed_families]
        self.seed_item.setData(pos=np.asarray(grid.seed_z, dtype=float), data=families)
        self._update_heatmap()
        self._update_evaluation_items()
        self.reset_view()

    def set_posterior(self, posterior: PosteriorSnapshot | None) -> None:
        """Show the GP posterior over the grid (None hides the heatmap).

        Args:
            posterior: the posterior snapshot; its arrays are ``(ny, nx)`` row-major.

        Raises:
            ValueError: if the arrays do not match the grid shown.
        """
        if posterior is not None and self._grid is not None:
            shape = self._grid.feasible.shape
            for name in ("mean", "std", "acquisition"):
                got = getattr(posterior, name).shape
                if got != shape:
                    raise ValueError(f"posterior.{name} has shape {got}, the grid is {shape}")
        self._posterior = posterior
        self._update_heatmap()
        self._update_best_predicted()

    def set_layer(self, layer: str) -> None:
        """Choose the heatmap layer.

        Args:
            layer: ``"mean"``, ``"std"`` or ``"acquisition"``.

        Raises:
            ValueError: for any other name.
        """
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {sorted(LAYERS)}")
        changed = layer != self._layer
        self._layer = layer
        index = self._layer_combo.findData(layer)
        if index != self._layer_combo.currentIndex():
            blocked = self._layer_combo.blockSignals(True)
            self._layer_combo.setCurrentIndex(index)
            self._layer_combo.blockSignals(blocked)
        self._colorbar.setColorMap(plots.colormap(plots.LAYER_COLORMAPS[layer]))
        self._colorbar.axis.setLabel(self._layer_label())
        self._update_heatmap()
        if changed:
            self.layerChanged.emit(layer)

    def layer(self) -> str:
        """The heatmap layer shown (``"mean"``, ``"std"`` or ``"acquisition"``)."""
        return self._layer

    def set_evaluations(self, evaluations: list[Evaluation]) -> None:
        """Replace the evaluated points.

        Args:
            evaluations: every evaluation of the campaign.
        """
        self._evaluations = {ev.index: ev for ev in evaluations}
        self._update_evaluation_items()

    def add_evaluation(self, evaluation: Evaluation) -> None:
        """Add one evaluated point (or replace the one with the same index).

        Args:
            evaluation: the new evaluation.
        """
        self._evaluations[evaluation.index] = evaluation
        self._update_evaluation_items()

    def set_proposal(self, proposal: Proposal | None) -> None:
        """Mark the next point to be evaluated with a ring (None removes it).

        Args:
            proposal: the proposal, or None.
        """
        self._proposal = proposal
        if proposal is None:
            self.proposal_item.setData(pos=np.zeros((0, 2)))
        else:
            if proposal.source is ProposalSource.USER:
                tip = "next: chosen by you"
            elif np.isfinite(proposal.acquisition):
                tip = f"next: acquisition {proposal.acquisition:.4g}"
            else:
                tip = f"next: {proposal.source.value} design"
            self.proposal_item.setData(pos=np.asarray(proposal.z, dtype=float).reshape(1, 2),
                                       data=[tip])
        self._update_legend()

    def set_selection(self, z: tuple[float, float] | np.ndarray | None) -> None:
        """Mark the selected point with a square (None removes the mark).

        Args:
            z: latent coordinates ``(z₁, z₂)``, or None.
        """
        if z is None:
            self.selection_item.setData(pos=np.zeros((0, 2)))
        else:
            self.selection_item.setData(pos=np.asarray(z, dtype=float).reshape(1, 2))

    def clear(self) -> None:
        """Remove everything: grid, posterior, evaluations, proposal and selection."""
        self._grid = None
        self._posterior = None
        self._evaluations = {}
        self._proposal = None
        self._heatmap.clear()
        self._overlay.clear()
        self._colorbar.setVisible(False)
        empty = np.zeros((0, 2))
        for scatter in (self.seed_item, self.evaluated_item, self.user_item, self.failed_item,
                        self.best_item, self.best_predicted_item, self.proposal_item,
                        self.selection_item):
            scatter.setData(pos=empty)
        self._update_legend()
        self._readout.clear()

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

    def grid(self) -> GridSnapshot | None:
        """The grid shown, or None."""
        return self._grid

    def grid_index_at(self, x: float, y: float) -> int | None:
        """Flat index (``iy * nx + ix``) of the grid cell containing ``(x, y)``, or None.

        Args:
            x: latent z₁.
            y: latent z₂.

        Returns:
            The index, or None outside the grid (or without one).
        """
        if self._grid is None or not grid_rect(self._grid.x, self._grid.y).contains(
                QtCore.QPointF(x, y)):
            return None
        return self._grid.index_of((x, y))

    def schedule_at(self, x: float, y: float) -> np.ndarray | None:
        """The ``(N,)`` schedule decoded at the grid cell containing ``(x, y)``, or None."""
        index = self.grid_index_at(x, y)
        if index is None or self._grid is None:
            return None
        return self._grid.decoded[index]

    def posterior_at(self, x: float, y: float) -> tuple[float, float] | None:
        """The GP ``(mean, σ)`` at the grid cell containing ``(x, y)``, or None."""
        index = self.grid_index_at(x, y)
        if index is None or self._posterior is None:
            return None
        return (float(self._posterior.mean.flat[index]), float(self._posterior.std.flat[index]))

    def is_feasible(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` lies in a feasible grid cell."""
        index = self.grid_index_at(x, y)
        return index is not None and self._grid is not None and bool(
            np.asarray(self._grid.feasible).flat[index])

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
        if self._grid is not None:
            self._viewbox.setRange(rect=grid_rect(self._grid.x, self._grid.y), padding=0.02)
        else:
            self._viewbox.autoRange()

    # ----------------------------------------------------------------------------- drawing
    def _update_legend(self) -> None:
        """List in the legend only the kinds of marker that are on the map."""
        shown = tuple(name for scatter, name in self._legend_entries if len(scatter.data) > 0)
        if shown == self._legend_shown:
            return
        self._legend.clear()
        for scatter, name in self._legend_entries:
            if name in shown:
                self._legend.addItem(scatter, name)
        self._legend_shown = shown
        self._legend.setVisible(bool(shown))
        _, foreground = plots.palette_colors(self)
        self._legend.setLabelTextColor(foreground)

    def _layer_label(self) -> str:
        if self._layer == "acquisition" and self._posterior is not None:
            return self._acquisition_label()
        return LAYERS[self._layer]

    def _acquisition_label(self) -> str:
        if self._posterior is None:
            return "acquisition"
        name = self._posterior.acquisition_name
        return {"logei": "log EI", "ei": "EI", "ucb": "UCB"}.get(name, name)

    def _update_heatmap(self) -> None:
        if self._grid is None or self._posterior is None:
            self._heatmap.clear()
            self._heatmap.setVisible(False)
            self._colorbar.setVisible(False)
            return
        values = np.array(getattr(self._posterior, self._layer), dtype=np.float64)
        values[~np.isfinite(values)] = np.nan
        values[~np.asarray(self._grid.feasible, dtype=bool)] = np.nan
        self._heatmap.setImage(values, autoLevels=False)
        self._heatmap.setRect(grid_rect(self._grid.x, self._grid.y))
        lo, hi = plots.finite_levels(values)
        self._colorbar.rounding = max((hi - lo) * 1e-3, 1e-12)
        self._colorbar.setLevels((lo, hi))
        self._colorbar.axis.setLabel(self._layer_label())
        self._heatmap.setVisible(True)
        self._colorbar.setVisible(True)

    def _update_best_predicted(self) -> None:
        posterior, grid = self._posterior, self._grid
        if posterior is None or grid is None or posterior.best_index < 0:
            self.best_predicted_item.setData(pos=np.zeros((0, 2)))
        else:
            iy, ix = divmod(int(posterior.best_index), grid.x.shape[0])
            mean = float(posterior.mean[iy, ix])
            std = float(posterior.std[iy, ix])
            self.best_predicted_item.setData(
                pos=np.array([[grid.x[ix], grid.y[iy]]], dtype=float),
                data=[f"best predicted: {mean:.4g} ± {std:.2g}"])
        self._update_legend()

    def _update_evaluation_items(self) -> None:
        _, foreground = plots.palette_colors(self)
        outline = pg.mkPen(foreground, width=1)
        evaluations = [self._evaluations[i] for i in sorted(self._evaluations)]
        ok = [ev for ev in evaluations if ev.succeeded and np.isfinite(ev.objective)]
        failed = [ev for ev in evaluations if not (ev.succeeded and np.isfinite(ev.objective))]
        values = np.array([ev.objective for ev in ok], dtype=float)
        levels = plots.finite_levels(values) if values.size else None
        cmap = plots.colormap(plots.OBJECTIVE_COLORMAP)
        brushes = plots.colors_for_values(values, cmap, levels)
        auto = [(ev, b) for ev, b in zip(ok, brushes, strict=True)
                if ev.proposal.source is not ProposalSource.USER]
        user = [(ev, b) for ev, b in zip(ok, brushes, strict=True)
                if ev.proposal.source is ProposalSource.USER]
        for scatter, rows in ((self.evaluated_item, auto), (self.user_item, user)):
            scatter.setData(
                pos=self._positions([ev for ev, _ in rows]),
                brush=[b for _, b in rows], pen=outline,
                data=[self._evaluation_tip(ev) for ev, _ in rows])
        self.failed_item.setData(pos=self._positions(failed),
                                 data=[self._evaluation_tip(ev) for ev in failed])
        if ok:
            best = ok[int(np.argmax(values))]
            self.best_item.setData(pos=self._positions([best]),
                                   data=["best " + self._evaluation_tip(best)])
        else:
            self.best_item.setData(pos=np.zeros((0, 2)))
        self._update_legend()

    @staticmethod
    def _positions(evaluations: list[Evaluation]) -> np.ndarray:
        if not evaluations:
            return np.zeros((0, 2))
        return np.array([np.asarray(ev.proposal.z, dtype=float)[:2] for ev in evaluations])

    @staticmethod
    def _evaluation_tip(ev: Evaluation) -> str:
        head = f"#{ev.index + 1} ({ev.proposal.source.value})"
        if ev.succeeded and np.isfinite(ev.objective):
            return f"{head}: objective {ev.objective:.4g}"
        message = ev.message.strip().splitlines()[0] if ev.message.strip() else "no message"
        return f"{head}: failed — {message}"

    @staticmethod
    def _tip(x: float, y: float, data: object) -> str:
        text = f"z = ({x:.3g}, {y:.3g})"
        return f"{data}\n{text}" if data is not None else text

    def _describe(self, x: float, y: float) -> str:
        text = f"z = ({x:.3f}, {y:.3f})"
        index = self.grid_index_at(x, y)
        if index is None:
            return text + " · outside the grid" if self._grid is not None else text
        if not self.is_feasible(x, y):
            return text + " · infeasible"
        if self._posterior is not None:
            mean = float(self._posterior.mean.flat[index])
            std = float(self._posterior.std.flat[index])
            acq = float(self._posterior.acquisition.flat[index])
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
            self.set_selection(point)
            self.pointClicked.emit(*point)
        elif event.button() == QtCore.Qt.MouseButton.RightButton:
            self._show_menu(point, event.screenPos().toPoint())

    def _show_menu(self, point: tuple[float, float], screen_pos: QtCore.QPoint) -> None:
        """Pop up the context menu for latent ``point`` at ``screen_pos`` (non-blocking)."""
        self._menu_point = point
        feasible = self._grid is None or self.is_feasible(*point)
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
        self.pointHovered.emit(*self._hover_point)

    def _restyle(self) -> None:
        plots.style_view(self._plot, source=self)
        background, foreground = plots.palette_colors(self)
        self.selection_item.setPen(pg.mkPen(foreground, width=2))
        for name in ("left", "right", "top", "bottom"):
            self._colorbar.getAxis(name).setPen(pg.mkPen(foreground))
        self._colorbar.axis.setTextPen(pg.mkPen(foreground))
        legend_background = QtGui.QColor(background)
        legend_background.setAlpha(200)
        self._legend.setBrush(pg.mkBrush(legend_background))
        self._legend.setPen(pg.mkPen(foreground))
        self._legend.setLabelTextColor(foreground)
        self._update_evaluation_items()

    def changeEvent(self, event: QtCore.QEvent) -> None:
        """Restyle the plot when the palette changes (light/dark theme switch)."""
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)


__all__ = ["LAYERS", "LatentMapView", "grid_rect"]
