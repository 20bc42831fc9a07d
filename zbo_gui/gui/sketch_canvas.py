"""Draw a schedule β(epoch) with the mouse; preview K jittered variants; add them to the library.

The canvas is a pyqtgraph plot with x = epoch ``0..N-1`` and y = β in ``[β_lo, β_hi]`` (a log axis
when the bounds span a factor of 10 or more, so the drawing is mapped in log space). A stroke
(press, drag, release) is rasterised onto the integer epochs it covers, segment by segment in the
order drawn, so a later stroke (or a later part of the same stroke) overwrites the epochs it
covers: a user can redraw part of the curve. Epochs not drawn yet are interpolated between drawn
ones (held constant beyond the ends).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.core.schedules import Bounds, jitter
from zbo_gui.gui import plots

pg.setConfigOptions(imageAxisOrder="row-major")

#: Colour of the drawn curve and of its variants.
SKETCH_COLOUR = (213, 94, 0)


class _DrawingPlot(pg.PlotWidget):
    """A plot whose left-button drags draw instead of panning."""

    def __init__(self, canvas: SketchCanvas) -> None:
        super().__init__(axisItems={"left": plots.BetaAxis("left")})
        self._canvas = canvas
        self._points: list[tuple[float, float]] | None = None

    def _view_point(self, event: QMouseEvent) -> tuple[float, float]:
        scene = self.mapToScene(event.position().toPoint())
        point = self.getPlotItem().getViewBox().mapSceneToView(scene)
        return point.x(), point.y()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self._points = [self._view_point(event)]
        self._canvas._preview_stroke(self._points)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._points is None:
            super().mouseMoveEvent(event)
            return
        self._points.append(self._view_point(event))
        self._canvas._preview_stroke(self._points)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._points is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        self._points.append(self._view_point(event))
        points, self._points = self._points, None
        self._canvas.stroke(points)
        event.accept()


class SketchCanvas(QWidget):
    """Sketch a schedule with the mouse, smooth it, and add it with K jittered variants.

    Args:
        n_epochs: N, the schedule length (x runs over ``0..N-1``).
        bounds: The β bounds (y range; a log axis when ``bounds.log_scale``).
        seed: Seed of the jittered variants.
        parent: The parent widget.

    Signals:
        curveChanged(object): The drawn curve changed: an ``(N,)`` float64 array, or None
            after "Clear".
        sketchAdded(object): "Add to library": a ``(K + 1) x N`` float64 array, the curve
            first, then its K variants.
    """

    curveChanged = Signal(object)
    sketchAdded = Signal(object)

    def __init__(
        self,
        n_epochs: int = 50,
        bounds: Bounds | None = None,
        seed: int = 0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._n = int(n_epochs)
        self._bounds = bounds or Bounds(0.1, 10.0)
        self._seed = int(seed)
        self._drawn = np.full(self._n, np.nan)  # β per epoch, NaN where nothing was drawn
        self._variants = np.empty((0, self._n))

        self.plot = _DrawingPlot(self)
        self.plot.setToolTip(
            "Press and drag with the left mouse button to draw β(epoch); draw again over part"
            " of the curve to change that part")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "β")
        self.plot.setMinimumHeight(160)
        self._variant_item = self.plot.plot(pen=pg.mkPen((*SKETCH_COLOUR, 90), width=1),
                                            connect="finite")
        self._variant_item.setZValue(-1)
        self._stroke_item = self.plot.plot(pen=pg.mkPen((120, 120, 120), width=1,
                                                        style=Qt.PenStyle.DashLine))
        self._curve_item = self.plot.plot(pen=pg.mkPen(SKETCH_COLOUR, width=3))

        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Erase the drawn curve")
        self.clear_button.clicked.connect(self.clear)
        self.smooth_button = QPushButton("Smooth")
        self.smooth_button.setToolTip("Smooth the drawn curve (a moving average over epochs)")
        self.smooth_button.clicked.connect(self.smooth)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(0, 100)
        self.k_spin.setValue(5)
        self.k_spin.setPrefix("K = ")
        self.k_spin.setToolTip("Number of jittered variants added with the drawn curve")
        self.k_spin.valueChanged.connect(self._update_variants)
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(0.0, 0.5)
        self.scale_spin.setSingleStep(0.01)
        self.scale_spin.setDecimals(3)
        self.scale_spin.setValue(0.05)
        self.scale_spin.setPrefix("jitter ")
        self.scale_spin.setToolTip(
            "Size of the variants' random perturbation (RMS, as a fraction of the bounds;"
            " in log space when the axis is logarithmic)")
        self.scale_spin.valueChanged.connect(self._update_variants)
        self.add_button = QPushButton("Add to library")
        self.add_button.setToolTip("Add the drawn curve and its K variants to the seed library")
        self.add_button.clicked.connect(self.add_to_library)
        self.status = QLabel()
        self.status.setToolTip("What the sketch holds")

        self.status.setWordWrap(True)
        controls = QGridLayout()  # two rows: fits a narrow dock
        for column, widget in enumerate((self.clear_button, self.smooth_button)):
            controls.addWidget(widget, 0, column)
        for column, widget in enumerate((self.k_spin, self.scale_spin, self.add_button)):
            controls.addWidget(widget, 1, column)
        controls.setColumnStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        self._apply_axes()
        self._refresh()

    # ------------------------------------------------------------------ range and mapping

    @property
    def n_epochs(self) -> int:
        """N, the schedule length."""
        return self._n

    @property
    def bounds(self) -> Bounds:
        """The β bounds of the drawing."""
        return self._bounds

    def set_seed(self, seed: int) -> None:
        """Set the seed of the jittered variants (redraws the preview)."""
        self._seed = int(seed)
        self._update_variants()

    def set_range(self, n_epochs: int, bounds: Bounds) -> None:
        """Change N and the bounds; a drawn curve is resampled to N and clipped to the bounds.

        Raises:
            ValueError: If ``n_epochs < 2``.
        """
        n = int(n_epochs)
        if n < 2:
            raise ValueError(f"n_epochs must be >= 2, got {n_epochs}")
        curve = self.curve()
        self._n, self._bounds = n, bounds
        if curve is None:
            self._drawn = np.full(n, np.nan)
        else:
            x_old = np.linspace(0.0, 1.0, curve.size)
            resampled = np.interp(np.linspace(0.0, 1.0, n), x_old, self._to_view(curve))
            self._drawn = np.clip(self._from_view(resampled), bounds.lo, bounds.hi)
        self._apply_axes()
        self._refresh()

    def _apply_axes(self) -> None:
        log = self._bounds.log_scale
        self.plot.setLogMode(x=False, y=log)
        lo, hi = self._to_view(np.array([self._bounds.lo, self._bounds.hi]))
        self.plot.setXRange(0, self._n - 1, padding=0.02)
        self.plot.setYRange(lo, hi, padding=0.05)

    def _to_view(self, beta: np.ndarray) -> np.ndarray:
        """β -> the plot's y coordinate (log10 β on a log axis)."""
        values = np.asarray(beta, dtype=np.float64)
        return np.log10(values) if self._bounds.log_scale else values

    def _from_view(self, y: np.ndarray) -> np.ndarray:
        values = np.asarray(y, dtype=np.float64)
        return np.power(10.0, values) if self._bounds.log_scale else values

    def view_point(self, epoch: float, beta: float) -> tuple[float, float]:
        """The plot (view) coordinates of a point ``(epoch, β)``; the inverse of the drawing map."""
        return float(epoch), float(self._to_view(np.array(beta)))

    def widget_pos(self, epoch: float, beta: float) -> QPointF:
        """Where ``(epoch, β)`` lies in the plot's viewport (for synthetic mouse events)."""
        x, y = self.view_point(epoch, beta)
        scene = self.plot.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y))
        return QPointF(self.plot.mapFromScene(scene))

    # ------------------------------------------------------------------ drawing

    def _rasterise(self, points: Sequence[tuple[float, float]], target: np.ndarray) -> None:
        """Write a stroke (view coordinates) into ``target`` (view y per epoch), in order."""
        lo, hi = self._to_view(np.array([self._bounds.lo, self._bounds.hi]))
        pts = [(float(x), float(np.clip(y, lo, hi))) for x, y in points
               if math.isfinite(x) and math.isfinite(y)]
        last = self._n - 1
        if len(pts) == 1 or all(p == pts[0] for p in pts):
            x, y = pts[0]
            target[int(np.clip(round(x), 0, last))] = y
            return
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            if x0 == x1:
                e = round(x0)
                if 0 <= e <= last:
                    target[e] = y1
                continue
            a, b = sorted((x0, x1))
            epochs = np.arange(max(math.ceil(a), 0), min(math.floor(b), last) + 1)
            if epochs.size == 0:  # a short segment between two epochs: nearest epoch
                e = round((x0 + x1) / 2)
                if 0 <= e <= last:
                    target[e] = (y0 + y1) / 2
                continue
            target[epochs] = y0 + (epochs - x0) * (y1 - y0) / (x1 - x0)

    def stroke(self, points: Sequence[tuple[float, float]]) -> None:
        """Apply one stroke, given in plot (view) coordinates; the mouse handlers call this.

        Args:
            points: ``(x, y)`` view points in drawing order: x in epochs, y in β (log10 β on a
                log axis; see :meth:`view_point`). Points outside the bounds are clipped to them;
                x outside ``0..N-1`` is ignored.
        """
        if not points:
            return
        view = self._to_view(self._drawn)
        self._rasterise(points, view)
        self._drawn = np.clip(self._from_view(view), self._bounds.lo, self._bounds.hi)
        self._stroke_item.setData([], [])
        self._refresh()
        self.curveChanged.emit(self.curve())

    def _preview_stroke(self, points: Sequence[tuple[float, float]]) -> None:
        xs = np.array([p[0] for p in points])
        ys = self._from_view(np.array([p[1] for p in points]))
        self._stroke_item.setData(xs, ys)

    def clear(self) -> None:
        """Erase the drawn curve."""
        self._drawn = np.full(self._n, np.nan)
        self._refresh()
        self.curveChanged.emit(None)

    def smooth(self, window: int | None = None) -> None:
        """Smooth the curve with a centred moving average (in plot coordinates).

        Args:
            window: Width in epochs (default: about N / 12, at least 3, odd).
        """
        curve = self.curve()
        if curve is None:
            return
        width = window or max(3, self._n // 12)
        width = min(width | 1, 2 * (self._n // 2) + 1)
        half = width // 2
        view = np.pad(self._to_view(curve), half, mode="edge")
        smoothed = np.convolve(view, np.ones(width) / width, mode="valid")
        self._drawn = np.clip(self._from_view(smoothed), self._bounds.lo, self._bounds.hi)
        self._refresh()
        self.curveChanged.emit(self.curve())

    def set_curve(self, curve: np.ndarray | None) -> None:
        """Replace the drawing with a given ``(N,)`` curve (resampled to N; None clears)."""
        if curve is None:
            self.clear()
            return
        values = np.asarray(curve, dtype=np.float64).reshape(-1)
        x = np.linspace(0.0, 1.0, values.size)
        view = np.interp(np.linspace(0.0, 1.0, self._n), x, self._to_view(values))
        self._drawn = np.clip(self._from_view(view), self._bounds.lo, self._bounds.hi)
        self._refresh()
        self.curveChanged.emit(self.curve())

    # ------------------------------------------------------------------ results

    def curve(self) -> np.ndarray | None:
        """The drawn schedule: ``(N,)`` float64 β in the bounds, or None when nothing is drawn.

        Epochs not drawn are interpolated between the drawn ones (in plot coordinates) and held
        constant before the first and after the last drawn epoch.
        """
        drawn = np.isfinite(self._drawn)
        if not drawn.any():
            return None
        epochs = np.arange(self._n)
        view = np.interp(epochs, epochs[drawn], self._to_view(self._drawn[drawn]))
        return np.clip(self._from_view(view), self._bounds.lo, self._bounds.hi)

    def drawn_mask(self) -> np.ndarray:
        """``(N,)`` bool: the epochs a stroke has set (the rest are interpolated)."""
        return np.isfinite(self._drawn)

    def variants(self) -> np.ndarray:
        """The K jittered variants previewed: ``K x N`` float64 (``0 x N`` without a curve)."""
        return self._variants.copy()

    def sketch(self) -> np.ndarray | None:
        """The curve and its variants, ``(K + 1) x N``, as "Add to library" emits (or None)."""
        curve = self.curve()
        if curve is None:
            return None
        return np.vstack([curve[None, :], self._variants])

    def add_to_library(self) -> None:
        """Emit :attr:`sketchAdded` with the curve and its variants (nothing when empty)."""
        rows = self.sketch()
        if rows is None:
            self.status.setText("Draw a curve first (press and drag on the plot).")
            return
        self.status.setText(f"Added the sketch and {rows.shape[0] - 1} variants.")
        self.sketchAdded.emit(rows)

    # ------------------------------------------------------------------ display

    def _update_variants(self, *_: object) -> None:
        curve = self.curve()
        k = self.k_spin.value()
        if curve is None or k == 0:
            self._variants = np.empty((0, self._n))
        else:
            rng = np.random.default_rng(self._seed)
            self._variants = jitter(curve, k, self._bounds, rng, scale=self.scale_spin.value())
        self._variants.flags.writeable = False
        if len(self._variants):
            n = self._n
            x = np.tile(np.append(np.arange(n, dtype=np.float64), np.nan), len(self._variants))
            y = np.concatenate([self._variants, np.full((len(self._variants), 1), np.nan)],
                               axis=1).reshape(-1)
            self._variant_item.setData(x, y, connect="finite")
            self._variant_item.show()
        else:
            self._variant_item.setData([], [])
            self._variant_item.hide()

    def _refresh(self) -> None:
        curve = self.curve()
        if curve is None:
            self._curve_item.setData([], [])
            self.status.setText("Press and drag on the plot to draw β(epoch).")
        else:
            self._curve_item.setData(np.arange(self._n), curve)
            drawn = int(self.drawn_mask().sum())
            self.status.setText(f"Drawn {drawn} of {self._n} epochs (the rest interpolated).")
        self.add_button.setEnabled(curve is not None)
        self.smooth_button.setEnabled(curve is not None)
        self._update_variants()
