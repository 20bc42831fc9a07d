"""Shared pyqtgraph setup for the views: config options, colour maps, palette styling, PNG export.

Every view calls :func:`configure_pyqtgraph` before it creates plot items, so that images are
interpreted row-major (``array[iy, ix]`` is the point at ``(x[ix], y[iy])``, the layout of the
grid messages). Plot backgrounds and axes follow the widget's :class:`QPalette`, so the plots
read well in light and dark themes. PNG is the export format (pyqtgraph's SVG export is broken
on this Qt version, DESIGN.md §5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

#: Colour map of each heatmap layer of the latent map.
LAYER_COLORMAPS: dict[str, str] = {
    "mean": "viridis",
    "std": "cividis",
    "acquisition": "inferno",
}
#: Colour map of the evaluated points (coloured by objective).
OBJECTIVE_COLORMAP = "plasma"
#: Failed evaluations (red in either theme).
FAILED_COLOR = QtGui.QColor(220, 50, 47)
#: Trainings stopped early because they collapsed (scored 0): dark grey.
COLLAPSED_COLOR = QtGui.QColor(70, 70, 70)
#: Seed schedules of the library (mid grey, half transparent).
SEED_COLOR = QtGui.QColor(128, 128, 128, 150)
#: The next proposal's ring (magenta reads on all three heatmap colour maps).
PROPOSAL_COLOR = QtGui.QColor(230, 40, 200)
#: The best evaluated point's star.
BEST_COLOR = QtGui.QColor(255, 200, 0)

_configured = False


class BetaAxis(pg.AxisItem):
    """An axis whose log mode labels only the decades — and 2 and 5 between them when the axis
    spans at most two decades — as plain numbers, so that its labels never overlap (pyqtgraph
    labels every minor tick 2…9)."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Labels of the log-mode ticks at ``values`` (log10 of the values)."""
        logs = np.asarray(values, dtype=float)
        few = logs.size > 0 and float(logs.max() - logs.min()) <= 2.0
        out = []
        for v in logs:
            x = float(10.0 ** v * scale)
            if not np.isfinite(x) or x <= 0:
                out.append("")
                continue
            mantissa = round(x / 10.0 ** np.floor(np.log10(x)), 6)
            keep = mantissa == 1.0 or (few and mantissa in (2.0, 5.0))
            out.append(f"{x:g}" if keep else "")
        return out


def beta_plot_widget() -> pg.PlotWidget:
    """A ``PlotWidget`` whose left axis is a :class:`BetaAxis`."""
    return pg.PlotWidget(axisItems={"left": BetaAxis("left")})


def configure_pyqtgraph() -> None:
    """Set the pyqtgraph options the views rely on (idempotent).

    ``imageAxisOrder="row-major"`` makes ``ImageItem`` read arrays as ``[row, column]``; without
    it every heatmap is shown transposed.
    """
    global _configured
    if _configured:
        return
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    _configured = True


def colormap(name: str) -> pg.ColorMap:
    """Return the pyqtgraph colour map called ``name`` (e.g. ``"viridis"``)."""
    return pg.colormap.get(name)


def palette_colors(widget: QtWidgets.QWidget) -> tuple[QtGui.QColor, QtGui.QColor]:
    """Return the (background, foreground) colours of ``widget``'s palette for a plot.

    Args:
        widget: the widget whose palette is read.

    Returns:
        The palette's ``Base`` and ``Text`` colours.
    """
    palette = widget.palette()
    return (palette.color(QtGui.QPalette.ColorRole.Base),
            palette.color(QtGui.QPalette.ColorRole.Text))


def style_plot_item(plot_item: pg.PlotItem, foreground: QtGui.QColor) -> None:
    """Draw the axes, labels and title of ``plot_item`` in ``foreground``.

    Args:
        plot_item: the plot to style.
        foreground: the colour of axes, tick labels and text.
    """
    pen = pg.mkPen(foreground)
    for name in ("left", "bottom", "right", "top"):
        axis = plot_item.getAxis(name)
        axis.setPen(pen)
        axis.setTextPen(pen)
    plot_item.titleLabel.setText(plot_item.titleLabel.text, color=foreground)
    legend = plot_item.legend
    if legend is not None:
        legend.setLabelTextColor(foreground)
        for _sample, label in legend.items:
            label.setText(label.text)


def plain_axes(plot_item: pg.PlotItem) -> None:
    """Turn off the automatic SI prefixes of the axes (``(x0.001)`` on unit-less values)."""
    for name in ("left", "bottom", "right", "top"):
        plot_item.getAxis(name).enableAutoSIPrefix(False)


def style_view(view: pg.GraphicsView, plot_items: list[pg.PlotItem] | None = None,
               source: QtWidgets.QWidget | None = None) -> None:
    """Give ``view`` the palette's background and its plots the palette's text colour.

    Args:
        view: a ``PlotWidget`` or ``GraphicsLayoutWidget``.
        plot_items: the plots inside ``view`` to style; for a ``PlotWidget`` its own plot item
            is used when omitted.
        source: the widget whose palette is used (default ``view``). Pass the widget that
            received a ``PaletteChange``: its children may not have the new palette yet.
    """
    background, foreground = palette_colors(view if source is None else source)
    view.setBackground(background)
    if plot_items is None and isinstance(view, pg.PlotWidget):
        plot_items = [view.getPlotItem()]
    for item in plot_items or []:
        style_plot_item(item, foreground)


def colors_for_values(values: np.ndarray, cmap: pg.ColorMap,
                      levels: tuple[float, float] | None = None) -> list[QtGui.QBrush]:
    """Map ``values`` through ``cmap`` to one brush per value.

    Args:
        values: ``(n,)`` finite values.
        cmap: the colour map.
        levels: the values mapped to the two ends of the map; ``(min, max)`` of ``values``
            when omitted.

    Returns:
        ``n`` brushes.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return []
    lo, hi = (float(np.min(values)), float(np.max(values))) if levels is None else levels
    span = hi - lo
    unit = np.full(values.shape, 0.5) if span <= 0 else np.clip((values - lo) / span, 0.0, 1.0)
    colors = cmap.map(unit, mode=pg.ColorMap.QCOLOR)
    return [pg.mkBrush(color) for color in colors]


#: The narrowest colour range, relative to the values' magnitude, that :func:`finite_levels`
#: returns: narrower ranges need more digits than a colour bar has room for.
MIN_RELATIVE_SPAN = 1e-4
#: Width (px) of a colour bar's axis: room for labels such as ``0.41235`` or ``-1.5e-05``.
COLORBAR_AXIS_WIDTH = 64


def finite_levels(image: np.ndarray) -> tuple[float, float]:
    """Return ``(min, max)`` of the finite values of ``image`` (a range an axis can label).

    Args:
        image: any float array; NaN and ±inf are ignored.

    Returns:
        The range, widened to ``(v - 0.5, v + 0.5)`` when all finite values equal ``v``,
        ``(0, 1)`` when there is none, and to at least :data:`MIN_RELATIVE_SPAN` of its
        magnitude about its centre (a surface flat to 1e-9 gets ticks, not a blank bar).
    """
    finite = np.asarray(image, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return lo - 0.5, hi + 0.5
    least = MIN_RELATIVE_SPAN * max(abs(lo), abs(hi))
    if hi - lo < least:
        centre = 0.5 * (lo + hi)
        return centre - least / 2, centre + least / 2
    return lo, hi


def export_png(target: QtWidgets.QWidget | pg.GraphicsItem, path: str | Path) -> Path:
    """Write ``target`` as a PNG image.

    A widget is grabbed as it is shown on screen (its size, in device pixels); a pyqtgraph
    item (e.g. a ``PlotItem``) is rendered with pyqtgraph's ``ImageExporter``.

    Args:
        target: a ``QWidget`` (e.g. a ``PlotWidget``) or a pyqtgraph graphics item.
        path: the file to write; a missing ``.png`` suffix is added.

    Returns:
        The path written.

    Raises:
        OSError: if the image could not be written.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    if isinstance(target, QtWidgets.QWidget):
        if isinstance(target, pg.GraphicsView):
            target.scene().prepareForPaint()
        pixmap = target.grab()
        if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
            raise OSError(f"could not write the PNG image {path}")
        return path
    from pyqtgraph.exporters import ImageExporter  # imported on use: it loads more modules

    ImageExporter(target).export(str(path))
    if not path.exists():
        raise OSError(f"could not write the PNG image {path}")
    return path


def png_size(path: str | Path) -> QtCore.QSize:
    """Return the pixel size of the PNG at ``path`` (an invalid size when it cannot be read)."""
    return QtGui.QImageReader(str(path)).size()
