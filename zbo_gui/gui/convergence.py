"""Convergence of the search: the objective of each evaluation and the best so far.

Shows the evaluations of a :class:`~zbo_gui.model.CampaignModel`, redrawn on its events; the
view keeps no copy of them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from zbo_gui.core.types import ProposalSource
from zbo_gui.gui import plots
from zbo_gui.gui.map_markers import evaluation_tip
from zbo_gui.model.campaign import CampaignModel

#: Marker of a successful evaluation by who chose it.
SOURCE_SYMBOLS: dict[ProposalSource, str] = {
    ProposalSource.INITIAL: "s",
    ProposalSource.ACQUISITION: "o",
    ProposalSource.USER: "d",
}


def best_so_far(objectives: np.ndarray) -> np.ndarray:
    """Running maximum of ``objectives``, ignoring NaN (failed evaluations).

    Args:
        objectives: ``(n,)`` objective per evaluation, NaN where it failed.

    Returns:
        ``(n,)`` best objective among the first ``i + 1`` evaluations (NaN before the first
        success).
    """
    values = np.asarray(objectives, dtype=float)
    if values.size == 0:
        return np.zeros(0)
    return np.fmax.accumulate(values)


class ConvergencePlot(QtWidgets.QWidget):
    """The objective of every evaluation (by number) and the best-so-far step line.

    Successful evaluations are marked by who chose them (square: initial design, circle:
    acquisition, diamond: you); failed ones as red crosses along the bottom of the plot. A
    dotted vertical line separates the initial design from the Bayesian-optimisation steps,
    once the design is complete.

    Args:
        model: the campaign model shown.
        parent: the parent widget.
    """

    def __init__(self, model: CampaignModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        plots.configure_pyqtgraph()
        self.model = model

        self._plot = pg.PlotWidget()
        item = self._plot.getPlotItem()
        item.setLabel("bottom", "evaluation")
        item.setLabel("left", "objective")
        item.showGrid(x=True, y=True, alpha=0.2)
        plots.plain_axes(item)
        item.getViewBox().setMenuEnabled(False)
        self._legend = item.addLegend(offset=(-5, -5), labelTextSize="8pt")
        self._best_line = item.plot(pen=pg.mkPen(plots.BEST_COLOR, width=2), connect="finite",
                                    name="best so far")
        self.points_item = pg.ScatterPlotItem(size=9, hoverable=True, tip=self._tip)
        self.failed_item = pg.ScatterPlotItem(
            size=10, symbol="x", pen=pg.mkPen(plots.FAILED_COLOR, width=1.5),
            brush=pg.mkBrush(plots.FAILED_COLOR), hoverable=True, tip=self._tip)
        item.addItem(self.points_item)
        item.addItem(self.failed_item)
        self._legend.addItem(self.points_item, "objective")
        self._legend.addItem(self.failed_item, "failed")
        self._design_line = pg.InfiniteLine(angle=90, movable=False,
                                            label="initial | BO",
                                            labelOpts={"position": 0.95})
        self._design_line.setVisible(False)
        item.addItem(self._design_line)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plot)
        self._plot.setToolTip("Objective of each evaluation (maximised) and the best so far")
        self._restyle()
        model.events.opened.connect(lambda _: self._redraw())
        model.events.evaluations.connect(lambda _: self._redraw())

    # ----------------------------------------------------------------------------- queries
    def objectives(self) -> np.ndarray:
        """``(n,)`` objective per evaluation in index order, NaN where it failed (a collapse
        stopped early scores 0)."""
        return np.array([ev.objective if ev.observed else np.nan
                         for ev in self.model.evaluations], dtype=float)

    def best_so_far(self) -> np.ndarray:
        """``(n,)`` running maximum of the successful objectives (NaN before the first)."""
        return best_so_far(self.objectives())

    def plot_widget(self) -> pg.PlotWidget:
        """The ``PlotWidget`` inside the view."""
        return self._plot

    def export_png(self, path: str) -> str:
        """Write the plot as a PNG image.

        Args:
            path: the file to write.

        Returns:
            The path written.
        """
        return str(plots.export_png(self._plot, path))

    # ---------------------------------------------------------------------------- internal
    def design_boundary(self) -> float | None:
        """Where the dotted line between the initial design and the BO steps is (between the
        last initial evaluation and the next), or None while the design is not complete."""
        evaluations = self.model.evaluations
        initial = [ev.index for ev in evaluations if ev.proposal.source is ProposalSource.INITIAL]
        if not initial or len(initial) < self.model.initial_count:
            return None
        last = initial[-1]
        if last + 1 >= len(evaluations):
            return None  # nothing after the design yet
        return last + 1.5

    def _redraw(self) -> None:
        evaluations = self.model.evaluations
        numbers = np.array([ev.index + 1 for ev in evaluations], dtype=float)
        objectives = self.objectives()
        ok = np.isfinite(objectives)
        palette = self.palette()
        highlight = palette.color(palette.ColorRole.Highlight)
        foreground = palette.color(palette.ColorRole.Text)
        muted = palette.color(palette.ColorRole.PlaceholderText)
        brushes = [pg.mkBrush(muted if ev.proposal.source is ProposalSource.INITIAL
                              else highlight) for ev, good in zip(evaluations, ok, strict=True)
                   if good]
        self.points_item.setData(
            x=numbers[ok], y=objectives[ok],
            symbol=[SOURCE_SYMBOLS[ev.proposal.source]
                    for ev, good in zip(evaluations, ok, strict=True) if good],
            brush=brushes, pen=pg.mkPen(foreground, width=1),
            data=[evaluation_tip(ev) for ev, good in zip(evaluations, ok, strict=True) if good])
        if ok.any():
            lo, hi = float(objectives[ok].min()), float(objectives[ok].max())
            floor = lo - 0.08 * (hi - lo if hi > lo else max(abs(lo), 1.0))
        else:
            floor = 0.0
        failed = [ev for ev, good in zip(evaluations, ok, strict=True) if not good]
        self.failed_item.setData(x=numbers[~ok], y=np.full(len(failed), floor),
                                 data=[evaluation_tip(ev) for ev in failed])
        best = best_so_far(objectives)
        if np.isfinite(best).any():  # (a path of NaN alone crashes Qt's painter)
            step_x = np.repeat(numbers, 2)[1:]
            step_y = np.repeat(best, 2)[:-1]
            self._best_line.setData(step_x, step_y, connect="finite")
        else:
            self._best_line.setData([], [])
        boundary = self.design_boundary()
        self._design_line.setVisible(boundary is not None)
        if boundary is not None:
            self._design_line.setValue(boundary)

    @staticmethod
    def _tip(x: float, y: float, data: object) -> str:
        return str(data)

    def _restyle(self) -> None:
        plots.style_view(self._plot, source=self)
        _, foreground = plots.palette_colors(self)
        self._design_line.setPen(pg.mkPen(foreground, width=1,
                                          style=QtCore.Qt.PenStyle.DotLine))
        self._design_line.label.setColor(foreground)
        self._redraw()

    def changeEvent(self, event: QtCore.QEvent) -> None:
        """Restyle the plot when the palette changes (light/dark theme switch)."""
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)


__all__ = ["SOURCE_SYMBOLS", "ConvergencePlot", "best_so_far"]
