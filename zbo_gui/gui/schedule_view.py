"""The β(epoch) plot: the selected schedule (a latent point or an evaluation) and the best one.

Shows what the :class:`~zbo_gui.model.CampaignModel` holds: the bounds of its grid, the best
evaluated schedule, and the selection — for a latent point its decoded schedule with the
decoder's σ band and the GP's predicted objective, for an evaluation its schedule and objective.
Redrawn on the model's events; no copies kept.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from zbo_gui.core.schedules import LOG_SCALE_RATIO, Bounds
from zbo_gui.gui import plots
from zbo_gui.model.campaign import CampaignModel


def _as_schedule(schedule: np.ndarray) -> np.ndarray:
    values = np.asarray(schedule, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"a schedule is a non-empty (N,) array, got shape {values.shape}")
    return values


class ScheduleView(QtWidgets.QWidget):
    """Plot of KL-weight schedules β_c(epoch).

    Shows a *selected* schedule (the point clicked or hovered on the latent map, with the GP's
    prediction in the caption above the plot) and the *best* schedule found so far, between
    dashed lines at the bounds [β_lo, β_hi]. The β axis is logarithmic when
    ``β_hi / β_lo >= 10`` (the same rule as the schedule families), and the "Log β" box
    overrides it.

    Args:
        model: the campaign model shown (None: a bare plot driven by its methods).
        parent: the parent widget.
    """

    def __init__(self, model: CampaignModel | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        plots.configure_pyqtgraph()
        self.model = model
        self._bounds: tuple[float, float] | None = None
        self._selected_label = ""
        self._best_label = ""
        self._title = ""

        self._plot = plots.beta_plot_widget()
        item = self._plot.getPlotItem()
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "β_c")
        item.showGrid(x=True, y=True, alpha=0.2)
        plots.plain_axes(item)
        item.getViewBox().setMenuEnabled(False)  # log mode is ours (the bound lines follow it)
        self._legend = item.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self._best = item.plot(pen=pg.mkPen(plots.BEST_COLOR, width=2,
                                            style=QtCore.Qt.PenStyle.DashDotLine))
        self._band_values: tuple[np.ndarray, np.ndarray] | None = None
        self._band = QtWidgets.QGraphicsPolygonItem()  # drawn in view coordinates
        self._band.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self._band.setZValue(-5)
        item.addItem(self._band)
        self._selected = item.plot(pen=pg.mkPen(width=2.5))
        self._bound_lines = (
            pg.InfiniteLine(angle=0, movable=False),
            pg.InfiniteLine(angle=0, movable=False),
        )
        for line in self._bound_lines:
            line.setVisible(False)
            item.addItem(line, ignoreBounds=False)

        self._log_check = QtWidgets.QCheckBox("Log β")
        self._log_check.setToolTip(
            "Logarithmic β axis (switched on automatically when β_hi / β_lo ≥ 10)")
        self._log_check.toggled.connect(self._apply_log_mode)

        # what the selected schedule is, above the plot (a plot title would widen the dock)
        self._caption = QtWidgets.QLabel()
        self._caption.setWordWrap(True)
        self._caption.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                    QtWidgets.QSizePolicy.Policy.Preferred)
        self._caption.setToolTip("The selected schedule and the GP's prediction of its"
                                 " objective (mean ± σ)")
        controls = QtWidgets.QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        controls.addWidget(self._caption, 1)
        controls.addWidget(self._log_check)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self._plot, 1)
        self._restyle()
        if model is not None:
            model.events.opened.connect(lambda _: self._show_model())
            model.events.grid.connect(lambda _: self._show_model())
            model.events.evaluations.connect(lambda _: self._show_best())
            model.events.posterior.connect(lambda _: self._show_selection())
            model.events.selection.connect(lambda _: self._show_selection())
            self._show_model()

    # ------------------------------------------------------------------------------ the model
    def _show_model(self) -> None:
        """Everything from the model: bounds, best, selection (or nothing)."""
        assert self.model is not None
        grid = self.model.grid
        if grid is None:
            self.clear()
        else:
            self.set_bounds(grid.beta_lo, grid.beta_hi)
        self._show_best()
        self._show_selection()

    def _show_best(self) -> None:
        assert self.model is not None
        best = self.model.best_evaluated()
        if best is None:
            self.clear_best()
        else:
            self.show_best(best.proposal.schedule, f"best (#{best.index + 1})")

    def _show_selection(self) -> None:
        model = self.model
        assert model is not None
        selection = model.selection
        if selection is None:
            self.clear_selected()
            return
        x, y = selection.z
        if selection.evaluation is not None:
            e = model.evaluations[selection.evaluation]
            outcome = (f"objective {e.objective:.4g}" if e.succeeded
                       else e.status.value)  # what it scored, not a prediction
            self.show_selected(e.proposal.schedule,
                               f"evaluation #{e.index + 1} at ({x:.2f}, {y:.2f}) — {outcome}")
            return
        index = model.grid_index(x, y)
        if index is None:
            self.clear_selected()
            return
        predicted = model.predicted(index)
        mean, std = predicted if predicted is not None else (None, None)
        label = f"z = ({x:.2f}, {y:.2f})" + ("" if model.feasible(index) else " — infeasible")
        schedule = model.decoded(index)
        self.show_selected(schedule, label, mean, std, band=self._sigma_band(schedule))

    def _sigma_band(self, schedule: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """±1 σ of the schedule VAE's decoder around a decoded schedule, in β."""
        grid = self.model.grid if self.model is not None else None
        if grid is None or not math.isfinite(grid.decoder_sigma):
            return None
        bounds = Bounds(grid.beta_lo, grid.beta_hi)
        unit = bounds.to_unit(np.asarray(schedule, np.float64))
        lo = bounds.from_unit(np.clip(unit - grid.decoder_sigma, 0.0, 1.0))
        hi = bounds.from_unit(np.clip(unit + grid.decoder_sigma, 0.0, 1.0))
        return lo, hi

    # ------------------------------------------------------------------------------ inputs
    def set_bounds(self, lo: float, hi: float) -> None:
        """Draw the bounds of β_c as dashed lines and choose the axis scale.

        Args:
            lo: β_lo, > 0.
            hi: β_hi, > lo.

        Raises:
            ValueError: if the bounds are not finite, ``lo <= 0`` or ``hi <= lo``.
        """
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"bounds must satisfy 0 < lo < hi, got lo={lo}, hi={hi}")
        self._bounds = (lo, hi)
        for line, name, value in zip(self._bound_lines, ("β_lo", "β_hi"), (lo, hi), strict=True):
            line.setToolTip(f"{name} = {value:.4g}")
            line.setVisible(True)
        log = hi / lo >= LOG_SCALE_RATIO
        if self._log_check.isChecked() != log:
            self._log_check.setChecked(log)  # calls _apply_log_mode
        else:
            self._apply_log_mode(log)

    def show_selected(self, schedule: np.ndarray, label: str, mean: float | None = None,
                      std: float | None = None,
                      band: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Show the selected (clicked or hovered) schedule.

        Args:
            schedule: ``(N,)`` β_c per epoch.
            label: what it is (e.g. ``"z = (0.12, -0.40)"`` or ``"evaluation #4"``).
            mean: the GP's predicted objective there, if known.
            std: the GP's predicted standard deviation there, if known.
            band: ``(low, high)``, each ``(N,)``: a band drawn around the schedule.

        Raises:
            ValueError: if ``schedule`` is not a non-empty 1-D array.
        """
        values = _as_schedule(schedule)
        self._selected.setData(np.arange(values.size), values)
        self._band_values = None if band is None else (_as_schedule(band[0]),
                                                       _as_schedule(band[1]))
        self._draw_band()
        self._selected_label = label
        title = label
        if mean is not None and math.isfinite(mean):
            prediction = f"predicted objective {mean:.4g}"
            if std is not None and math.isfinite(std):
                prediction += f" ± {std:.2g}"
            title = f"{label} — {prediction}" if label else prediction
        self._set_title(title)
        self._update_legend()

    def clear_selected(self) -> None:
        """Remove the selected schedule and its title."""
        self._selected.setData([], [])
        self._band_values = None
        self._draw_band()
        self._selected_label = ""
        self._set_title("")
        self._update_legend()

    def show_best(self, schedule: np.ndarray, label: str) -> None:
        """Show the best schedule so far.

        Args:
            schedule: ``(N,)`` β_c per epoch.
            label: its legend text (e.g. ``"best: #7, objective 0.41"``).

        Raises:
            ValueError: if ``schedule`` is not a non-empty 1-D array.
        """
        values = _as_schedule(schedule)
        self._best.setData(np.arange(values.size), values)
        self._best_label = label
        self._update_legend()

    def clear_best(self) -> None:
        """Remove the best schedule."""
        self._best.setData([], [])
        self._best_label = ""
        self._update_legend()

    def clear(self) -> None:
        """Remove both schedules and the bounds."""
        self.clear_selected()
        self.clear_best()
        self._bounds = None
        for line in self._bound_lines:
            line.setVisible(False)

    # ----------------------------------------------------------------------------- queries
    def selected_curve(self) -> np.ndarray | None:
        """The ``(N,)`` selected schedule shown (in β units), or None."""
        return self._curve(self._selected)

    def band(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``(low, high)`` band around the selected schedule (in β units), or None."""
        return self._band_values

    def _draw_band(self) -> None:
        """The band as a polygon in view coordinates (log10 β on a log axis)."""
        if self._band_values is None:
            self._band.setPolygon(QtGui.QPolygonF())
            return
        lo, hi = self._band_values
        if self.is_log_scale():
            lo, hi = np.log10(lo), np.log10(hi)
        x = np.arange(lo.size, dtype=float)
        points = [QtCore.QPointF(float(a), float(b)) for a, b in zip(x, lo, strict=True)]
        points += [QtCore.QPointF(float(a), float(b))
                   for a, b in zip(x[::-1], hi[::-1], strict=True)]
        self._band.setPolygon(QtGui.QPolygonF(points))

    def best_curve(self) -> np.ndarray | None:
        """The ``(N,)`` best schedule shown (in β units), or None."""
        return self._curve(self._best)

    def title(self) -> str:
        """The plot title (label and predicted objective of the selected schedule)."""
        return self._title

    def is_log_scale(self) -> bool:
        """Whether the β axis is logarithmic."""
        return self._log_check.isChecked()

    def bound_positions(self) -> tuple[float, float] | None:
        """The view positions of the (β_lo, β_hi) lines (log10 on a log axis), or None."""
        if self._bounds is None:
            return None
        lo, hi = self._bound_lines
        return float(lo.value()), float(hi.value())

    def plot_widget(self) -> pg.PlotWidget:
        """The ``PlotWidget`` inside the view."""
        return self._plot

    def export_png(self, path: str) -> str:
        """Write the plot as a PNG image, titled with what the caption says.

        Args:
            path: the file to write.

        Returns:
            The path written.
        """
        item = self._plot.getPlotItem()
        _, foreground = plots.palette_colors(self)
        item.setTitle(self._title or None, color=foreground, size="9pt")
        try:
            return str(plots.export_png(self._plot, path))
        finally:
            item.setTitle(None)

    # ---------------------------------------------------------------------------- internal
    @staticmethod
    def _curve(item: pg.PlotDataItem) -> np.ndarray | None:
        y = item.yData
        if y is None or len(y) == 0:
            return None
        return np.asarray(y)

    def _set_title(self, title: str) -> None:
        self._title = title
        self._caption.setText(title)

    def _update_legend(self) -> None:
        self._legend.clear()
        if self._selected_label and self.selected_curve() is not None:
            self._legend.addItem(self._selected, "selected")
        if self._best_label and self.best_curve() is not None:
            self._legend.addItem(self._best, self._best_label)
        _, foreground = plots.palette_colors(self)
        self._legend.setLabelTextColor(foreground)

    def _apply_log_mode(self, log: bool) -> None:
        self._plot.getPlotItem().setLogMode(x=False, y=log)
        self._draw_band()
        if self._bounds is not None:
            for line, value in zip(self._bound_lines, self._bounds, strict=True):
                line.setValue(math.log10(value) if log else value)

    def _restyle(self) -> None:
        plots.style_view(self._plot, source=self)
        palette = self.palette()
        highlight = palette.color(palette.ColorRole.Highlight)
        foreground = palette.color(palette.ColorRole.Text)
        self._selected.setPen(pg.mkPen(highlight, width=2.5))
        band = QtGui.QColor(highlight)
        band.setAlpha(50)
        self._band.setBrush(QtGui.QBrush(band))
        bound_pen = pg.mkPen(foreground, width=1, style=QtCore.Qt.PenStyle.DashLine)
        for line in self._bound_lines:
            line.setPen(bound_pen)
        self._set_title(self._title)
        self._update_legend()

    def changeEvent(self, event: QtCore.QEvent) -> None:
        """Restyle the plot when the palette changes (light/dark theme switch)."""
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)


__all__ = ["ScheduleView"]
