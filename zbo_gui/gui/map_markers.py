"""The markers of the latent map: seeds, evaluations, the proposal, the best points, the
selection, and a legend that lists only the kinds on the map.

:class:`MapMarkers` owns the scatter items of a :class:`~zbo_gui.gui.latent_map.LatentMapView`'s
plot and redraws them from the campaign model; it keeps no data of its own.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from zbo_gui.core.types import Evaluation, EvaluationStatus, ProposalSource
from zbo_gui.gui import plots
from zbo_gui.model.campaign import CampaignModel


def evaluation_tip(ev: Evaluation) -> str:
    """One line about an evaluation: number, source, objective or why it failed."""
    head = f"#{ev.index + 1} ({ev.proposal.source.value})"
    if ev.succeeded and np.isfinite(ev.objective):
        return f"{head}: objective {ev.objective:.4g}"
    message = ev.message.strip().splitlines()[0] if ev.message.strip() else "no message"
    if ev.status is EvaluationStatus.COLLAPSED:
        return f"{head}: stopped, {message} (scored 0)"
    return f"{head}: failed — {message}"


def _tip(x: float, y: float, data: object) -> str:
    text = f"z = ({x:.3g}, {y:.3g})"
    return f"{data}\n{text}" if data is not None else text


def _positions(evaluations: list[Evaluation]) -> np.ndarray:
    if not evaluations:
        return np.zeros((0, 2))
    return np.array([np.asarray(ev.proposal.z, dtype=float)[:2] for ev in evaluations])


class MapMarkers:
    """The scatter items of the latent map and their legend.

    Args:
        plot_item: the map's plot.
        model: the campaign model the markers show.
    """

    def __init__(self, plot_item: pg.PlotItem, model: CampaignModel) -> None:
        self.model = model
        self.seed_item = pg.ScatterPlotItem(
            size=5, symbol="o", pen=None, brush=plots.SEED_COLOR, hoverable=True, tip=_tip)
        self.seed_item.setZValue(0)
        self.evaluated_item = pg.ScatterPlotItem(size=10, symbol="o", hoverable=True, tip=_tip)
        self.evaluated_item.setZValue(10)
        self.user_item = pg.ScatterPlotItem(size=13, symbol="d", hoverable=True, tip=_tip)
        self.user_item.setZValue(11)
        self.failed_item = pg.ScatterPlotItem(
            size=11, symbol="x", pen=pg.mkPen(plots.FAILED_COLOR, width=1.5),
            brush=pg.mkBrush(plots.FAILED_COLOR), hoverable=True, tip=_tip)
        self.failed_item.setZValue(12)
        self.collapsed_item = pg.ScatterPlotItem(
            size=10, symbol="t", pen=pg.mkPen(plots.COLLAPSED_COLOR, width=1.2),
            brush=pg.mkBrush(plots.COLLAPSED_COLOR), hoverable=True, tip=_tip)
        self.collapsed_item.setZValue(12)
        self.best_predicted_item = pg.ScatterPlotItem(
            size=16, symbol="crosshair", pen=pg.mkPen(plots.BEST_COLOR, width=2), brush=None,
            tip=_tip, hoverable=True)
        self.best_predicted_item.setZValue(13)
        self.best_item = pg.ScatterPlotItem(
            size=20, symbol="star", pen=pg.mkPen("k", width=1), brush=pg.mkBrush(plots.BEST_COLOR),
            hoverable=True, tip=_tip)
        self.best_item.setZValue(14)
        self.proposal_item = pg.ScatterPlotItem(
            size=20, symbol="o", pen=pg.mkPen(plots.PROPOSAL_COLOR, width=3), brush=None,
            hoverable=True, tip=_tip)
        self.proposal_item.setZValue(15)
        self.selection_item = pg.ScatterPlotItem(size=12, symbol="s", brush=None)
        self.selection_item.setZValue(16)
        self._legend_entries = (
            (self.seed_item, "seed schedules"),
            (self.evaluated_item, "evaluated"),
            (self.user_item, "chosen by you"),
            (self.failed_item, "failed"),
            (self.collapsed_item, "collapsed (stopped)"),
            (self.proposal_item, "in flight (training)"),
            (self.best_item, "best evaluated"),
            (self.best_predicted_item, "best predicted"),
        )
        for scatter, _name in self._legend_entries:
            plot_item.addItem(scatter)
        plot_item.addItem(self.selection_item)
        self.legend = plot_item.addLegend(offset=(5, 5), labelTextSize="8pt", verSpacing=-4)
        self._legend_shown: tuple[str, ...] = ()
        self.legend.setVisible(False)  # shown once a marker is on the map
        self._foreground = QtGui.QColor("black")

    # ------------------------------------------------------------------ drawing
    def show_seeds(self) -> None:
        """The encoded seed schedules of the model's grid (none without a grid)."""
        grid = self.model.grid
        if grid is None:
            self.seed_item.setData(pos=np.zeros((0, 2)))
        else:
            families = [f"seed · {family}" for family in grid.seed_families]
            self.seed_item.setData(pos=np.asarray(grid.seed_z, dtype=float), data=families)
        self.update_legend()

    def show_proposal(self) -> None:
        """Mark every point in flight (being trained) with a ring (none: no ring)."""
        pending = self.model.pending
        if not pending:
            self.proposal_item.setData(pos=np.zeros((0, 2)))
        else:
            tips = []
            for proposal in pending:
                if proposal.source is ProposalSource.USER:
                    tips.append("training: chosen by you")
                elif np.isfinite(proposal.acquisition):
                    tips.append(f"training: acquisition {proposal.acquisition:.4g}")
                else:
                    tips.append(f"training: {proposal.source.value} design")
            positions = np.array([np.asarray(p.z, dtype=float)[:2] for p in pending])
            self.proposal_item.setData(pos=positions, data=tips)
        self.update_legend()

    def show_selection(self) -> None:
        """Mark the model's selected point with a square (none: no mark)."""
        selection = self.model.selection
        if selection is None:
            self.selection_item.setData(pos=np.zeros((0, 2)))
        else:
            self.selection_item.setData(pos=np.asarray(selection.z, dtype=float).reshape(1, 2))

    def show_best_predicted(self) -> None:
        """Mark the GP's best feasible point (none before the GP)."""
        posterior, grid = self.model.posterior, self.model.grid
        if posterior is None or grid is None or posterior.best_index < 0:
            self.best_predicted_item.setData(pos=np.zeros((0, 2)))
        else:
            iy, ix = divmod(int(posterior.best_index), grid.x.shape[0])
            mean = float(posterior.mean[iy, ix])
            std = float(posterior.std[iy, ix])
            self.best_predicted_item.setData(
                pos=np.array([[grid.x[ix], grid.y[iy]]], dtype=float),
                data=[f"best predicted: {mean:.4g} ± {std:.2g}"])
        self.update_legend()

    def show_evaluations(self) -> None:
        """The evaluations coloured by objective (yours as diamonds), failures, collapses
        (stopped early, grey triangles), the best."""
        outline = pg.mkPen(self._foreground, width=1)
        evaluations = self.model.evaluations
        ok = [ev for ev in evaluations if ev.succeeded and np.isfinite(ev.objective)]
        collapsed = [ev for ev in evaluations if ev.status is EvaluationStatus.COLLAPSED]
        failed = [ev for ev in evaluations if ev.status is EvaluationStatus.FAILED
                  or (ev.succeeded and not np.isfinite(ev.objective))]
        values = np.array([ev.objective for ev in ok], dtype=float)
        levels = plots.finite_levels(values) if values.size else None
        cmap = plots.colormap(plots.OBJECTIVE_COLORMAP)
        brushes = plots.colors_for_values(values, cmap, levels)
        auto = [(ev, b) for ev, b in zip(ok, brushes, strict=True)
                if ev.proposal.source is not ProposalSource.USER]
        user = [(ev, b) for ev, b in zip(ok, brushes, strict=True)
                if ev.proposal.source is ProposalSource.USER]
        for scatter, rows in ((self.evaluated_item, auto), (self.user_item, user)):
            scatter.setData(pos=_positions([ev for ev, _ in rows]),
                            brush=[b for _, b in rows], pen=outline,
                            data=[evaluation_tip(ev) for ev, _ in rows])
        self.failed_item.setData(pos=_positions(failed),
                                 data=[evaluation_tip(ev) for ev in failed])
        self.collapsed_item.setData(pos=_positions(collapsed),
                                    data=[evaluation_tip(ev) for ev in collapsed])
        best = self.model.best_evaluated()
        if best is not None:
            self.best_item.setData(pos=_positions([best]),
                                   data=["best " + evaluation_tip(best)])
        else:
            self.best_item.setData(pos=np.zeros((0, 2)))
        self.update_legend()

    def update_legend(self) -> None:
        """List in the legend only the kinds of marker that are on the map."""
        shown = tuple(name for scatter, name in self._legend_entries if len(scatter.data) > 0)
        if shown == self._legend_shown:
            return
        self.legend.clear()
        for scatter, name in self._legend_entries:
            if name in shown:
                self.legend.addItem(scatter, name)
        self._legend_shown = shown
        self.legend.setVisible(bool(shown))
        self.legend.setLabelTextColor(self._foreground)

    def restyle(self, background: QtGui.QColor, foreground: QtGui.QColor) -> None:
        """Colours of the palette (light or dark theme)."""
        self._foreground = foreground
        self.selection_item.setPen(pg.mkPen(foreground, width=2))
        legend_background = QtGui.QColor(background)
        legend_background.setAlpha(200)
        self.legend.setBrush(pg.mkBrush(legend_background))
        self.legend.setPen(pg.mkPen(foreground))
        self.legend.setLabelTextColor(foreground)
        self.show_evaluations()
