"""What a dataset looks like: a mosaic of prepared images and a summary of the source.

A widget that shows what it is given — the draft's :class:`~zbo_gui.model.draft.DatasetPreview`
(:meth:`DatasetSummaryView.show_preview`) or an open campaign's
:class:`~zbo_gui.model.messages.DatasetSnapshot` (:meth:`DatasetSummaryView.show_snapshot`).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QSplitter, QWidget

from zbo_gui.gui.forms import WARN_STYLE
from zbo_gui.model.draft import DatasetPreview
from zbo_gui.model.messages import DatasetSnapshot

pg.setConfigOptions(imageAxisOrder="row-major")

SUMMARY_ROWS = (
    ("source", "Where the images come from"),
    ("count", "Number of images"),
    ("shape", "Shape of one image (H×W, or H×W×channels)"),
    ("dtype", "The values' type as stored"),
    ("range", "Smallest and largest finite value"),
    ("nan", "NaN and infinite values"),
    ("labels", "Images per class of the labels stored with the data (diagnostics only)"),
    ("fingerprint", "SHA-256 of the data, identifying what a campaign used"),
    ("warnings", "Suspicious but usable properties of the data"),
)


def mosaic(images: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """Tile ``n x H x W`` images into one ``rows*(H+gap) x cols*(W+gap)`` image.

    Each image is min–max scaled to [0, 1] on its own; gaps and empty cells are NaN.
    """
    n, h, w = images.shape
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, dtype=np.float32)
    for i, image in enumerate(images.astype(np.float64)):
        finite = np.isfinite(image)
        lo = float(image[finite].min()) if finite.any() else 0.0
        hi = float(image[finite].max()) if finite.any() else 1.0
        scaled = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
        r, c = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = scaled
    return out


class DatasetSummaryView(QSplitter):
    """The preview mosaic above the summary table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.preview_widget = pg.GraphicsLayoutWidget()
        self.preview_widget.setToolTip(
            "Images as prepared for training (each scaled to its own range)")
        self.preview_widget.setMinimumSize(200, 200)
        self._view = self.preview_widget.addViewBox(lockAspect=True, invertY=True)
        self._view.setMouseEnabled(x=False, y=False)
        self.preview_item = pg.ImageItem()
        self._view.addItem(self.preview_item)
        box = QGroupBox("Summary")
        box.setToolTip("What the source holds, as stored")
        form = QFormLayout(box)
        self.labels: dict[str, QLabel] = {}
        for name, tip in SUMMARY_ROWS:
            value = QLabel("—")
            value.setObjectName(f"summary.{name}")
            value.setWordWrap(True)
            value.setToolTip(tip)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            title = QLabel(name)
            title.setToolTip(tip)
            form.addRow(title, value)
            self.labels[name] = value
        self.addWidget(self.preview_widget)
        self.addWidget(box)

    def show_images(self, images: np.ndarray | None) -> None:
        """Show ``(k, H, W)`` images as a mosaic (None: nothing)."""
        if images is None:
            self.preview_item.clear()
            return
        self.preview_item.setImage(mosaic(images), levels=(0.0, 1.0))
        self._view.autoRange(padding=0.02)

    def show_preview(self, preview: DatasetPreview) -> None:
        """The draft's preview: its images when it has some, its summary when read."""
        if preview.images is not None:
            self.show_images(preview.images)
        summary, complete = preview.summary, preview.complete
        if summary is None:
            return
        pending = "scanning…" if not complete else "—"
        labels = self.labels
        labels["source"].setText(summary.source)
        labels["count"].setText(str(summary.count))
        labels["shape"].setText("×".join(str(s) for s in summary.image_shape))
        labels["dtype"].setText(summary.dtype)
        if summary.value_range is not None:
            low, high = summary.value_range
            labels["range"].setText(f"{low:.6g} … {high:.6g}")
        else:
            labels["range"].setText(pending if not complete else "no finite values")
        labels["nan"].setText(str(summary.nan_count) if complete else pending)
        if summary.labels:
            counts = ", ".join(f"{k}: {v}" for k, v in summary.labels.items())
            labels["labels"].setText(f"{len(summary.labels)} classes ({counts})")
        else:
            labels["labels"].setText("none" if complete else pending)
        self._show_fingerprint(summary.fingerprint or "", pending)
        notes = list(summary.warnings)
        if summary.others:
            notes.append("other arrays: " + ", ".join(summary.others))
        labels["warnings"].setText("\n".join(notes) if notes else "none")
        labels["warnings"].setStyleSheet(WARN_STYLE if notes else "color: gray;")

    def show_snapshot(self, snapshot: DatasetSnapshot | None) -> None:
        """An open campaign's evaluation images and what is known of them."""
        for label in self.labels.values():
            label.setText("—")
        self.labels["warnings"].setStyleSheet("")
        if snapshot is None:
            self.show_images(None)
            return
        self.show_images(snapshot.images[:16])
        labels = self.labels
        labels["source"].setText(snapshot.source)
        labels["count"].setText(f"{snapshot.count} (the campaign's evaluation subset)")
        labels["shape"].setText("×".join(str(s) for s in snapshot.images.shape[1:]))
        labels["dtype"].setText(str(snapshot.images.dtype))
        self._show_fingerprint(snapshot.fingerprint, "—")
        if snapshot.labels is not None:
            labels["labels"].setText(f"{len(set(snapshot.labels.tolist()))} classes")

    def _show_fingerprint(self, fingerprint: str, pending: str) -> None:
        label = self.labels["fingerprint"]
        if fingerprint:
            label.setText(fingerprint[:16] + "…")
            label.setToolTip(f"sha256:{fingerprint}")
        else:
            label.setText(pending)
