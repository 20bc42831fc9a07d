"""The learned manifolds of a trained jrVAE: one tile per discrete class.

Each class's manifold is a ``d x d`` sweep of the continuous latent (``model.manifold2d``),
shown as one image with 1-pixel gaps, image ``i`` at row ``i // d`` and column ``i % d`` from
the top left (the layout of pyroVED's ``plot_img_grid``). The tile title gives the class's usage
(how many images the encoder assigns to it), so dead or empty classes are visible.

Bound to a :class:`~zbo_gui.model.CampaignModel`, the view shows the manifolds of the evaluation
selected in the table, else those of the final model once it is trained, else the latest
evaluation's, live.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from zbo_gui.gui import plots
from zbo_gui.model.campaign import CampaignModel

#: Grey value of the gaps between the images of a tile.
GAP_VALUE = 128


def assemble_tile(images: np.ndarray, gap: int = 1, gap_value: int = GAP_VALUE) -> np.ndarray:
    """Assemble ``d*d`` images into one ``d x d`` grid image.

    Args:
        images: ``(d*d, H, W)`` uint8 images, row-major (image ``i`` at row ``i // d``).
        gap: pixels between neighbouring images.
        gap_value: the value of the gap pixels.

    Returns:
        ``(d*H + (d-1)*gap, d*W + (d-1)*gap)`` uint8 image; row 0 is the top.

    Raises:
        ValueError: if ``images`` is not 3-D or its count is not a perfect square.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"a manifold is (d*d, H, W), got shape {images.shape}")
    n, h, w = images.shape
    d = math.isqrt(n)
    if d * d != n or n == 0:
        raise ValueError(f"a manifold has d*d images, got {n}")
    tile = np.full((d * h + (d - 1) * gap, d * w + (d - 1) * gap), gap_value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, d)
        top, left = r * (h + gap), c * (w + gap)
        tile[top:top + h, left:left + w] = images[i]
    return tile


def usage_text(k: int, usage: np.ndarray | None) -> str:
    """Title of class ``k``'s tile, e.g. ``"class 2 · 120 (30%)"`` (images in the class).

    Args:
        k: the class number (0-based).
        usage: ``(K,)`` images per class, or None.

    Returns:
        The title.
    """
    if usage is None or k >= len(usage):
        return f"class {k}"
    count = int(usage[k])
    total = float(np.sum(usage))
    if count == 0:
        return f"class {k} · unused"
    share = f" ({100.0 * count / total:.0f}%)" if total > 0 else ""
    return f"class {k} · {count}{share}"


class _TileLabel(pg.LabelItem):
    """A tile's title that never widens the grid of tiles beyond the dock (a narrow dock
    shortens the tiles, not the view)."""

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(0)
        height = self._sizeHint[QtCore.Qt.SizeHint.MinimumSize][1]
        for hint in (QtCore.Qt.SizeHint.MinimumSize, QtCore.Qt.SizeHint.PreferredSize):
            self._sizeHint[hint] = (0, height)
        self.updateGeometry()


class ManifoldView(QtWidgets.QWidget):
    """The learned manifolds of one evaluation or of the final model.

    Args:
        model: the campaign model shown (None: a bare view driven by :meth:`show`).
        parent: the parent widget.
    """

    #: The smallest size that keeps the tiles readable (the dock does not squeeze it more).
    MINIMUM = QtCore.QSize(260, 220)

    def __init__(self, model: CampaignModel | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        plots.configure_pyqtgraph()
        self.model = model
        self._final_shown = False
        self.setMinimumSize(self.MINIMUM)
        self._tiles: list[np.ndarray] = []
        self._items: list[tuple[pg.LabelItem, pg.ViewBox, pg.ImageItem]] = []
        self._usage: np.ndarray | None = None

        self._title = QtWidgets.QLabel()
        self._title.setToolTip("What these manifolds come from")
        font = self._title.font()
        font.setBold(True)
        self._title.setFont(font)
        self._title.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setToolTip(
            "Each tile: one discrete class, decoded over a d×d grid of the continuous latent")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._title)
        layout.addWidget(self._graphics, 1)
        plots.style_view(self._graphics, source=self)
        if model is not None:
            model.events.opened.connect(lambda _: self._prepare_tiles())
            model.events.evaluations.connect(lambda _: self._show_model())
            model.events.selection.connect(lambda _: self._show_model())
            model.events.final.connect(lambda _: self._show_model(final=True))

    def _prepare_tiles(self) -> None:
        """A campaign opened: lay out its classes' tiles now, not when the first evaluation
        arrives (which then only fills them in)."""
        config = self.model.config if self.model is not None else None
        if config is not None:
            self._ensure_items(config.jrvae.classes)
        self._show_model()

    def _show_model(self, final: bool = False) -> None:
        """The selected evaluation's manifolds, else the final model's, else the latest."""
        model = self.model
        assert model is not None
        if final:
            self._final_shown = True  # shown once no evaluation is selected
        selected = model.selection.evaluation if model.selection is not None else None
        if selected is not None:
            e = model.evaluations[selected]
            if e.replicates and e.replicates[0].manifolds.size:
                r = e.replicates[0]
                self.show(r.manifolds, f"evaluation #{selected + 1}", r.class_usage)
            else:
                self.clear()
                self._title.setText(f"evaluation #{selected + 1}: no manifolds (it failed)")
            return
        if model.final is not None and self._final_shown:
            f = model.final
            self.show(f.manifolds, f"final model ({f.which} schedule)", f.class_usage)
            return
        self._final_shown = False
        latest = next((e for e in reversed(model.evaluations)
                       if e.replicates and e.replicates[0].manifolds.size), None)
        if latest is None:
            self.clear()
        else:
            r = latest.replicates[0]
            self.show(r.manifolds, f"evaluation #{latest.index + 1}", r.class_usage)

    def show(self, manifolds: np.ndarray | None = None, title: str = "",
             usage: np.ndarray | None = None) -> None:
        """Show the manifolds of every class.

        Called without ``manifolds`` it is ``QWidget.show`` (shows the widget).

        Args:
            manifolds: ``(K, d*d, H, W)`` uint8 images (0..255).
            title: what they come from (e.g. ``"evaluation #4"`` or ``"final model"``).
            usage: ``(K,)`` images the encoder assigns to each class, or None.

        Raises:
            ValueError: if ``manifolds`` is not a ``(K, d*d, H, W)`` uint8 array.
        """
        if manifolds is None:
            super().show()
            return
        manifolds = np.asarray(manifolds)
        if manifolds.ndim != 4:
            raise ValueError(f"manifolds must be (K, d*d, H, W), got shape {manifolds.shape}")
        if manifolds.dtype != np.uint8:
            raise ValueError(f"manifolds must be uint8, got {manifolds.dtype}")
        self._usage = None if usage is None else np.asarray(usage)
        self._tiles = [assemble_tile(m) for m in manifolds] if manifolds.shape[1] else []
        self._title.setText(title)
        self._ensure_items(len(self._tiles))
        _, foreground = plots.palette_colors(self)
        for k, (tile, (label, viewbox, image)) in enumerate(
                zip(self._tiles, self._items, strict=True)):
            image.setImage(tile, autoLevels=False, levels=(0, 255))
            label.setText(usage_text(k, self._usage), color=foreground,
                          size="9pt" if len(self._tiles) <= 4 else "8pt")
            viewbox.autoRange(padding=0.0)
            viewbox.setToolTip(f"{usage_text(k, self._usage)} images: learned manifold")

    def clear(self) -> None:
        """Blank every tile and the title (the tiles' places stay)."""
        self._tiles = []
        self._usage = None
        self._title.clear()
        for label, viewbox, image in self._items:
            image.clear()
            label.setText("")
            viewbox.setToolTip("")

    def n_tiles(self) -> int:
        """Number of classes shown."""
        return len(self._tiles)

    def tile_image(self, k: int) -> np.ndarray:
        """The assembled ``(d*H + d-1, d*W + d-1)`` image of class ``k`` (row 0 at the top)."""
        return self._tiles[k]

    def tile_title(self, k: int) -> str:
        """The title of class ``k``'s tile."""
        return usage_text(k, self._usage)

    def title(self) -> str:
        """The title above the tiles."""
        return self._title.text()

    def export_png(self, path: str) -> str:
        """Write the title and the tiles as a PNG image.

        Args:
            path: the file to write.

        Returns:
            The path written.
        """
        self._graphics.scene().prepareForPaint()
        return str(plots.export_png(self, path))

    # ---------------------------------------------------------------------------- internal
    def _ensure_items(self, count: int) -> None:
        """Create (or drop) the label, view box and image of ``count`` tiles."""
        if count == len(self._items):
            return
        self._graphics.clear()
        self._items = []
        columns = max(1, math.ceil(math.sqrt(count)))
        for k in range(count):
            row, column = divmod(k, columns)
            label = _TileLabel()
            self._graphics.addItem(label, row=2 * row, col=column)
            viewbox = self._graphics.addViewBox(row=2 * row + 1, col=column, lockAspect=True,
                                                invertY=True, enableMouse=False,
                                                enableMenu=False)
            image = pg.ImageItem()
            viewbox.addItem(image)
            self._items.append((label, viewbox, image))

    def changeEvent(self, event: QtCore.QEvent) -> None:
        """Restyle when the palette changes (light/dark theme switch)."""
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            plots.style_view(self._graphics, source=self)
            _, foreground = plots.palette_colors(self)
            for label, _viewbox, _image in self._items:
                label.setText(label.text, color=foreground)
        super().changeEvent(event)


__all__ = ["GAP_VALUE", "ManifoldView", "assemble_tile", "usage_text"]
