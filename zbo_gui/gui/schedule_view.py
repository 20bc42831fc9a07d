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

from zbo_gui.core.schedules import LOG_SCALE_RATIO, Bounds, PairBounds
from zbo_gui.gui import plots
from zbo_gui.model.campaign import CampaignModel


def _as_schedule(schedule: np.ndarray) -> np.ndarray:
    """A schedule as ``(2, N)`` or ``(1, N)`` rows (a pair, or β_c alone)."""
    values = np.asarray(schedule, dtype=float)
    if values.ndim == 1 and values.size:
        return values[None]
    if values.ndim == 2 and values.shape[0] == 2 and values.shape[1]:
        return values
    raise ValueError("a schedule is a non-empty (N,) array or a pair (2, N), got shape"
                     f" {values.shape}")


class _Panel:
    """One curve's plot (β_c or β_d against epoch): the selected and the best curve, a band
    around the selected one and dashed lines at the bounds."""

    def __init__(self, name: str, legend: bool) -> None:
        self.name = name
        self.widget = plots.beta_plot_widget()
        item = self.widget.getPlotItem()
        item.setLabel("bottom", "epoch")
        item.setLabel("left", name)
        item.showGrid(x=True, y=True, alpha=0.2)
        plots.plain_axes(item)
        item.getViewBox().setMenuEnabled(False)  # log mode is ours (the bound lines follow it)
        self.legend = item.addLegend(offset=(-5, 5), labelTextSize="8pt") if legend else None
        self.best = item.plot(pen=pg.mkPen(plots.BEST_COLOR, width=2,
                                           style=QtCore.Qt.PenStyle.DashDotLine))
        self.band_values: tuple[np.ndarray, np.ndarray] | None = None
        self.band = QtWidgets.QGraphicsPolygonItem()  # drawn in view coordinates
        self.band.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.band.setZValue(-5)
        item.addItem(self.band)
        self.selected = item.plot(pen=pg.mkPen(width=2.5))
        self.bounds: tuple[float, float] | None = None
        self.bound_lines = (pg.InfiniteLine(angle=0, movable=False),
                            pg.InfiniteLine(angle=0, movable=False))
        for line in self.bound_lines:
            line.setVisible(False)
            item.addItem(line, ignoreBounds=False)
        self.log = False

    def set_bounds(self, bounds: tuple[float, float] | None) -> None:
        self.bounds = bounds
        for k, line in enumerate(self.bound_lines):
            line.setVisible(bounds is not None)
            if bounds is not None:
                line.setToolTip(f"{self.name} {('lower', 'upper')[k]} bound = {bounds[k]:.4g}")
        self.apply_log(self.log)

    def apply_log(self, log: bool) -> None:
        self.log = log
        self.widget.getPlotItem().setLogMode(x=False, y=log)
        self.draw_band()
        if self.bounds is not None:
            for line, value in zip(self.bound_lines, self.bounds, strict=True):
                line.setValue(math.log10(value) if log else value)

    def draw_band(self) -> None:
        """The band as a polygon in view coordinates (log10 β on a log axis)."""
        if self.band_values is None:
            self.band.setPolygon(QtGui.QPolygonF())
            return
        lo, hi = self.band_values
        if self.log:
            lo, hi = np.log10(lo), np.log10(hi)
        x = np.arange(lo.size, dtype=float)
        points = [QtCore.QPointF(float(a), float(b)) for a, b in zip(x, lo, strict=True)]
        points += [QtCore.QPointF(float(a), float(b))
                   for a, b in zip(x[::-1], hi[::-1], strict=True)]
        self.band.setPolygon(QtGui.QPolygonF(points))

    def restyle(self, source: QtWidgets.QWidget) -> None:
        plots.style_view(self.widget, source=source)
        palette = source.palette()
        highlight = palette.color(palette.ColorRole.Highlight)
        foreground = palette.color(palette.ColorRole.Text)
        self.selected.setPen(pg.mkPen(highlight, width=2.5))
        band = QtGui.QColor(highlight)
        band.setAlpha(50)
        self.band.setBrush(QtGui.QBrush(band))
        bound_pen = pg.mkPen(foreground, width=1, style=QtCore.Qt.PenStyle.DashLine)
        for line in self.bound_lines:
            line.setPen(bound_pen)


class ScheduleView(QtWidgets.QWidget):
    """Plot of KL-weight schedules: β_c(epoch), and β_d(epoch) below it for schedule pairs.

    Shows a *selected* schedule (the point clicked or hovered on the latent map, with the GP's
    prediction in the caption above the plot) and the *best* schedule found so far, between
    dashed lines at the bounds [β_lo, β_hi]. When the campaign optimises β_d too (its
    schedules are pairs), a second panel under the first, on the same epoch axis, shows their
    β_d curves between β_d's bounds, with the same selection, band and best. The β axes are
    logarithmic when a curve's ``hi / lo >= 10`` (the same rule as the schedule families), and
    the "Log β" box overrides both.

    Args:
        model: the campaign model shown (None: a bare plot driven by its methods).
        parent: the parent widget.
    """

    def __init__(self, model: CampaignModel | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        plots.configure_pyqtgraph()
        self.model = model
        self._selected_label = ""
        self._best_label = ""
        self._title = ""
        self._panels = (_Panel("β_c", legend=True), _Panel("β_d", legend=False))
        c, d = self._panels
        self._plot, self._legend, self._selected = c.widget, c.legend, c.selected
        d.widget.setXLink(c.widget)
        d.widget.setVisible(False)

        self._log_check = QtWidgets.QCheckBox("Log β")
        self._log_check.setToolTip(
            "Logarithmic β axes (switched on automatically when β_hi / β_lo ≥ 10)")
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
        layout.setSpacing(0)
        layout.addLayout(controls)
        layout.addWidget(c.widget, 3)
        layout.addWidget(d.widget, 2)
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
            self.set_bounds(grid.beta_lo, grid.beta_hi, grid.beta_d_bounds)
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
        """±1 σ of the schedule VAE's decoder around a decoded schedule (each curve on its own
        scale), in β."""
        grid = self.model.grid if self.model is not None else None
        if grid is None or not math.isfinite(grid.decoder_sigma):
            return None
        bounds: Bounds | PairBounds = Bounds(grid.beta_lo, grid.beta_hi)
        if grid.beta_d_bounds is not None:
            bounds = PairBounds(bounds, Bounds(*grid.beta_d_bounds))
        unit = bounds.to_unit(np.asarray(schedule, np.float64))
        lo = bounds.from_unit(np.clip(unit - grid.decoder_sigma, 0.0, 1.0))
        hi = bounds.from_unit(np.clip(unit + grid.decoder_sigma, 0.0, 1.0))
        return lo, hi

    # ------------------------------------------------------------------------------ inputs
    def set_bounds(self, lo: float, hi: float,
                   beta_d: tuple[float, float] | None = None) -> None:
        """Draw the bounds of β_c as dashed lines and choose the axis scale; with ``beta_d``
        bounds, show the β_d panel too.

        Args:
            lo: β_lo, > 0.
            hi: β_hi, > lo.
            beta_d: β_d's ``(lo, hi)`` for schedule pairs; None hides the β_d panel.

        Raises:
            ValueError: if the bounds are not finite, ``lo <= 0`` or ``hi <= lo``.
        """
        pairs = [(float(lo), float(hi))] + ([] if beta_d is None else [tuple(map(float, beta_d))])
        for a, b in pairs:
            if not (math.isfinite(a) and math.isfinite(b) and 0 < a < b):
                raise ValueError(f"bounds must satisfy 0 < lo < hi, got lo={a}, hi={b}")
        c, d = self._panels
        c.set_bounds(pairs[0])
        d.set_bounds(pairs[1] if beta_d is not None else None)
        d.widget.setVisible(beta_d is not None)
        # one epoch axis under both panels: the height goes to the curves
        self._epoch_axis(beta_d is None)
        log = any(b / a >= LOG_SCALE_RATIO for a, b in pairs)
        if self._log_check.isChecked() != log:
            self._log_check.setChecked(log)  # calls _apply_log_mode
        else:
            self._apply_log_mode(log)

    def show_selected(self, schedule: np.ndarray, label: str, mean: float | None = None,
                      std: float | None = None,
                      band: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Show the selected (clicked or hovered) schedule.

        Args:
            schedule: ``(N,)`` β_c per epoch, or a pair ``(2, N)`` (β_c, β_d).
            label: what it is (e.g. ``"z = (0.12, -0.40)"`` or ``"evaluation #4"``).
            mean: the GP's predicted objective there, if known.
            std: the GP's predicted standard deviation there, if known.
            band: ``(low, high)``, each shaped like ``schedule``: a band drawn around it.

        Raises:
            ValueError: if ``schedule`` is neither ``(N,)`` nor ``(2, N)``.
        """
        rows = _as_schedule(schedule)
        bands = None if band is None else (_as_schedule(band[0]), _as_schedule(band[1]))
        for k, panel in enumerate(self._panels):
            values = rows[k] if k < len(rows) else np.zeros(0)
            panel.selected.setData(np.arange(values.size), values)
            panel.band_values = (None if bands is None or k >= len(rows)
                                 else (bands[0][k], bands[1][k]))
            panel.draw_band()
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
        for panel in self._panels:
            panel.selected.setData([], [])
            panel.band_values = None
            panel.draw_band()
        self._selected_label = ""
        self._set_title("")
        self._update_legend()

    def show_best(self, schedule: np.ndarray, label: str) -> None:
        """Show the best schedule so far.

        Args:
            schedule: ``(N,)`` β_c per epoch, or a pair ``(2, N)`` (β_c, β_d).
            label: its legend text (e.g. ``"best: #7, objective 0.41"``).

        Raises:
            ValueError: if ``schedule`` is neither ``(N,)`` nor ``(2, N)``.
        """
        rows = _as_schedule(schedule)
        for k, panel in enumerate(self._panels):
            values = rows[k] if k < len(rows) else np.zeros(0)
            panel.best.setData(np.arange(values.size), values)
        self._best_label = label
        self._update_legend()

    def clear_best(self) -> None:
        """Remove the best schedule."""
        for panel in self._panels:
            panel.best.setData([], [])
        self._best_label = ""
        self._update_legend()

    def clear(self) -> None:
        """Remove both schedules and the bounds (and hide the β_d panel)."""
        self.clear_selected()
        self.clear_best()
        for panel in self._panels:
            panel.set_bounds(None)
        self._panels[1].widget.setVisible(False)
        self._epoch_axis(True)

    # ----------------------------------------------------------------------------- queries
    def selected_curve(self, curve: int = 0) -> np.ndarray | None:
        """The ``(N,)`` selected β_c (``curve=1``: β_d) curve shown (in β units), or None."""
        return self._curve(self._panels[curve].selected)

    def band(self, curve: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``(low, high)`` band around the selected β_c (``curve=1``: β_d) curve (in β
        units), or None."""
        return self._panels[curve].band_values

    def best_curve(self, curve: int = 0) -> np.ndarray | None:
        """The ``(N,)`` best β_c (``curve=1``: β_d) curve shown (in β units), or None."""
        return self._curve(self._panels[curve].best)

    def shows_beta_d(self) -> bool:
        """Whether the β_d panel is part of the view (the schedules are pairs)."""
        return not self._panels[1].widget.isHidden()

    def title(self) -> str:
        """The plot title (label and predicted objective of the selected schedule)."""
        return self._title

    def is_log_scale(self) -> bool:
        """Whether the β axes are logarithmic."""
        return self._log_check.isChecked()

    def bound_positions(self, curve: int = 0) -> tuple[float, float] | None:
        """The view positions of the lower and upper bound lines of β_c (``curve=1``: β_d)
        (log10 on a log axis), or None."""
        panel = self._panels[curve]
        if panel.bounds is None:
            return None
        lo, hi = panel.bound_lines
        return float(lo.value()), float(hi.value())

    def plot_widget(self, curve: int = 0) -> pg.PlotWidget:
        """The ``PlotWidget`` of β_c (``curve=1``: β_d) inside the view."""
        return self._panels[curve].widget

    def export_png(self, path: str) -> str:
        """Write the plot as a PNG image (both panels for schedule pairs), titled with what
        the caption says.

        Args:
            path: the file to write.

        Returns:
            The path written.
        """
        if self.shows_beta_d():  # the caption above both panels, as shown
            return str(plots.export_png(self, path))
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
            self._legend.addItem(self._panels[0].best, self._best_label)
        _, foreground = plots.palette_colors(self)
        self._legend.setLabelTextColor(foreground)

    def _epoch_axis(self, on: bool) -> None:
        """Show the β_c panel's epoch axis (values and label), or leave it to the β_d panel."""
        item = self._plot.getPlotItem()
        item.getAxis("bottom").setStyle(showValues=on)
        item.setLabel("bottom", "epoch" if on else None)

    def _apply_log_mode(self, log: bool) -> None:
        for panel in self._panels:
            panel.apply_log(log)

    def _restyle(self) -> None:
        for panel in self._panels:
            panel.restyle(self)
        self._set_title(self._title)
        self._update_legend()

    def changeEvent(self, event: QtCore.QEvent) -> None:
        """Restyle the plot when the palette changes (light/dark theme switch)."""
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)


__all__ = ["ScheduleView"]
