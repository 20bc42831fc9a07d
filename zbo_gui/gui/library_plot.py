"""The seed library as a plot: every schedule drawn in its family's colour, one selectable.

A widget that shows what it is given (:meth:`LibraryPlot.show_library`); it keeps no library of
its own beyond the one it draws. One plot item per family (rows joined, separated by NaN), so a
library of thousands of rows draws fast; clicking a curve selects the nearest row of that
family (:attr:`LibraryPlot.rowClicked`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from zbo_gui.core.schedules import EXTRA_FAMILIES, FAMILIES, Bounds, ScheduleLibrary
from zbo_gui.gui import plots

#: Colour per family (Okabe-Ito, then two greys), used by the plot and the family names.
FAMILY_COLOURS: dict[str, tuple[int, int, int]] = dict(
    zip(
        FAMILIES + EXTRA_FAMILIES,
        [(0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233),
         (240, 228, 66), (120, 120, 120), (213, 94, 0), (0, 0, 0)],
        strict=False,
    )
)


def family_colour(family: str) -> str:
    """The family's colour as ``#rrggbb`` (black for an unknown family)."""
    return "#{:02x}{:02x}{:02x}".format(*FAMILY_COLOURS.get(family, (0, 0, 0)))


class LibraryPlot(QWidget):
    """A seed library's schedules on a β axis (log when the bounds span a decade).

    Signals:
        rowClicked(int): a person clicked the curve of this library row.
    """

    rowClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = plots.beta_plot_widget()
        self.plot.setToolTip("The seed library, coloured by family (the colours of the family"
                             " names on the left); click a curve to select it")
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "β")
        # framed by show_library; the wheel scrolls the panel rather than zooming away
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._library: ScheduleLibrary | None = None
        self._selected: int | None = None
        self._items: dict[str, pg.PlotDataItem] = {}
        self._plotted: dict[str, int] = {}
        for family in FAMILIES + EXTRA_FAMILIES:
            colour = FAMILY_COLOURS.get(family, (0, 0, 0))
            item = self.plot.plot(pen=pg.mkPen((*colour, 170), width=1.5), connect="finite")
            item.setCurveClickable(True, width=6)
            item.sigClicked.connect(self._on_curve_clicked)
            self._items[family] = item
        self._highlight = self.plot.plot(connect="finite")
        self._highlight.setZValue(10)

    # ------------------------------------------------------------------ what it shows
    def show_library(self, library: ScheduleLibrary | None, bounds: Bounds) -> None:
        """Draw ``library`` (its rows ``(n, N)``; None: nothing); a selection beyond its rows is
        dropped."""
        self._library = library
        if self._selected is not None and (library is None or self._selected >= len(library)):
            self._selected = None
        self.plot.setLogMode(x=False, y=bounds.log_scale)
        n_epochs = library.n_epochs if library is not None else 0
        epochs = np.append(np.arange(n_epochs, dtype=np.float64), np.nan)
        families = np.array(library.families if library is not None else ())
        self._plotted = {}
        for family, item in self._items.items():
            rows = (library.beta_c[families == family] if library is not None
                    else np.empty((0, 0)))
            self._plotted[family] = len(rows)
            if len(rows) == 0:
                item.setData([], [])
                item.hide()
                continue
            x = np.tile(epochs, len(rows))
            y = np.concatenate([rows, np.full((len(rows), 1), np.nan)], axis=1).reshape(-1)
            item.setData(x, y, connect="finite")
            item.show()
        self._draw_selection()
        self._frame(library, bounds)

    def _frame(self, library: ScheduleLibrary | None, bounds: Bounds) -> None:
        """Show every epoch and the bounds (widened to any curve outside them); set, not
        auto-ranged, so a plot laid out while hidden or tiny is framed right when shown."""
        lo, hi = bounds.lo, bounds.hi
        if library is not None and library.schedules.size:
            lo = min(lo, float(np.min(library.beta_c)))
            hi = max(hi, float(np.max(library.beta_c)))
        if bounds.log_scale:
            lo, hi = np.log10(lo), np.log10(hi)
        n_epochs = library.n_epochs if library is not None else 2
        self.plot.setXRange(0, max(n_epochs - 1, 1), padding=0.02)
        self.plot.setYRange(lo, hi, padding=0.05)

    def select(self, row: int | None) -> None:
        """Highlight library row ``row`` (None: none)."""
        self._selected = row
        self._draw_selection()

    @property
    def selected(self) -> int | None:
        """The highlighted row, or None."""
        return self._selected

    def curve_items(self) -> dict[str, pg.PlotDataItem]:
        """The plot item of each family drawn (its rows joined, separated by NaN)."""
        return {f: item for f, item in self._items.items() if self._plotted.get(f)}

    def plotted_counts(self) -> dict[str, int]:
        """Rows drawn per family (equals the library's family counts)."""
        return {f: n for f, n in self._plotted.items() if n}

    def row_at(self, family: str, epoch: float, y_view: float) -> int | None:
        """The row of ``family`` nearest to a point of the plot, or None when it has none.

        Args:
            family: the family whose rows are searched.
            epoch: x of the point.
            y_view: y of the point in view coordinates (log10 β on a log axis).
        """
        if self._library is None:
            return None
        rows = [i for i, f in enumerate(self._library.families) if f == family]
        if not rows:
            return None
        values = self._library.beta_c[rows]
        if self.plot.getPlotItem().getAxis("left").logMode:
            values = np.log10(values)
        at = np.array([np.interp(epoch, np.arange(values.shape[1]), v) for v in values])
        return rows[int(np.argmin(np.abs(at - y_view)))]

    # ------------------------------------------------------------------ internals
    def _draw_selection(self) -> None:
        row = self._selected
        if row is None or self._library is None:
            self._highlight.setData([], [])
            self._highlight.hide()
            return
        family = self._library.families[row]
        self._highlight.setPen(pg.mkPen(FAMILY_COLOURS.get(family, (0, 0, 0)), width=4))
        self._highlight.setData(np.arange(self._library.n_epochs), self._library.beta_c[row])
        self._highlight.show()

    def _on_curve_clicked(self, item: pg.GraphicsObject, event: object = None) -> None:
        family = next((f for f, it in self._items.items()
                       if item is it or item is it.curve), None)  # 0.14 emits the curve
        pos = getattr(event, "pos", None)
        if family is None or pos is None:
            return
        point = pos()
        row = self.row_at(family, point.x(), point.y())
        if row is not None:
            self.rowClicked.emit(row)
