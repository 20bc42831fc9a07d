"""The dataset of a campaign: open a file or folder (or drop it here), or use a built-in demo.

The panel opens sources lazily (``core.data.open_images``): on the GUI thread it reads only a
preview of :data:`PREVIEW_COUNT` images (through the same preparation as the campaign:
``core.datasets.load_dataset`` on a subset of that size) and, for sources up to
:data:`SYNC_SCAN_BYTES`, the full summary (``core.data.inspect_file``). Larger files and the demos
are summarised on a background Python thread (no Qt object crosses it; a timer polls the result),
so the window never waits for a whole file. The summary shown is what the file holds as stored
(for a demo: the generated set).

A source that cannot be used shows its one-line :class:`~zbo_gui.core.errors.DatasetError` in
the panel and emits ``errorOccurred``; the dataset open before is kept. Nothing raises.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.core import config as config_module
from zbo_gui.core.config import DatasetConfig, JrVAEConfig
from zbo_gui.core.data import (
    CROP_MODES,
    FORMATS,
    NORMALIZE_MODES,
    PATCH_MODES,
    DatasetWarning,
    DataSummary,
    detect_format,
    inspect_file,
    open_images,
)
from zbo_gui.core.data.base import reading
from zbo_gui.core.data.readers import npz_members
from zbo_gui.core.datasets import load_dataset
from zbo_gui.core.errors import DatasetError, ZboError
from zbo_gui.gui.forms import ERROR_STYLE, DataclassForm

pg.setConfigOptions(imageAxisOrder="row-major")

#: Images shown in the preview grid.
PREVIEW_COUNT = 16
#: Sources up to this many stored bytes are summarised at once; larger ones in the background.
SYNC_SCAN_BYTES = 32 * 1024**2
#: Built-in demo sources (``dataset.source`` values).
DEMO_SOURCES: tuple[str, ...] = tuple(getattr(config_module, "DEMO_SOURCES", ("demo",)))
_FILE_FILTER = ("Image data (*.npy *.npz *.h5 *.hdf5 *.hdf *.he5 *.nxs *.emd *.tif *.tiff *.png"
                " *.jpg *.jpeg *.bmp);;All files (*)")
_CHOICES = {"format": FORMATS, "crop": CROP_MODES, "normalize": NORMALIZE_MODES,
            "patch_mode": PATCH_MODES}
# Fields that apply to one kind of source only (others are greyed out); fields not listed apply
# to every source.
_ONLY_FOR = {
    "digits": {"demo"}, "max_rotation": {"demo"}, "max_particles": {"particles"},
    "format": {"file"}, "labels": {"file"}, "crop": {"file"}, "normalize": {"file"},
    "percentiles": {"file"}, "patch_size": {"file"}, "patch_stride": {"file"},
    "patch_mode": {"file"}, "balance": {"file"},
}
_SUMMARY_ROWS = (
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
_OK_STYLE = "color: #2e7d32;"
_WARN_STYLE = "color: #e65100;"


def list_candidates(path: str | Path, fmt: str) -> list[tuple[str, str]]:
    """The arrays of an NPZ file or the image datasets of an HDF5 file that could be the images.

    Args:
        path: The file.
        fmt: Its format (``npz`` or ``hdf5``; other formats have no candidates).

    Returns:
        ``(key, description)`` pairs in file order; ``labels`` arrays are left out.

    Raises:
        DatasetError: If the file cannot be read.
    """
    path = Path(path)
    if fmt == "npz":
        members = npz_members(path)
        return [(name, f"{name}  {shape} {dtype}") for name, (shape, dtype) in members.items()
                if len(shape) >= 2 and dtype.kind in "biuf" and name != "labels"]
    if fmt == "hdf5":
        import h5py

        from zbo_gui.core.data.hdf5 import image_datasets

        with reading(str(path), "HDF5"), h5py.File(path, "r", locking=False) as handle:
            found = image_datasets(handle)
        return [(name, f"{name}  {shape} {dtype}") for name, shape, dtype in found
                if name.rsplit("/", 1)[-1] != "labels"]
    return []


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


def _kind(source: str) -> str:
    return source if source in DEMO_SOURCES else "file"


def _quiet_load(config: DatasetConfig, seed: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return load_dataset(config, seed)


def _demo_summary(config: DatasetConfig, seed: int) -> DataSummary:
    """The full summary of a demo: generates the whole set (run in the background)."""
    return _quiet_load(config, seed).summary()


class DatasetPanel(QWidget):
    """Choose and inspect the images a campaign trains on.

    Args:
        config: The dataset settings shown first (default: ``DatasetConfig()``, the digits
            demo); the source is opened at once.
        classes: The number of jrVAE classes shown (``JrVAEConfig.classes``).
        seed: Seeds the preview subset (and a demo's images): the campaign seed.
        parent: The parent widget.

    Signals:
        datasetChanged(object): A :class:`~zbo_gui.core.data.DataSummary` of the dataset, when
            a source was opened, and again when a background summary replaces a quick one.
        configChanged(object): The :class:`DatasetConfig` after every accepted change.
        errorOccurred(str): A one-line message: the source or a setting cannot be used.
    """

    datasetChanged = Signal(object)
    configChanged = Signal(object)
    errorOccurred = Signal(str)

    def __init__(
        self,
        config: DatasetConfig | None = None,
        *,
        classes: int = JrVAEConfig().classes,
        seed: int = 0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._seed = int(seed)
        self._config = config or DatasetConfig()
        self._summary: DataSummary | None = None
        self._summary_complete = False
        self._summary_key: tuple[Any, ...] | None = None
        self._preview: np.ndarray | None = None
        self._candidates: list[tuple[str, str]] = []
        self._error = ""
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: tuple[concurrent.futures.Future[DataSummary], tuple[Any, ...]] | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(50)
        self._poll.timeout.connect(self._check_background)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.reload)

        # ---- source
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip(
            "Open an image file: NPY/NPZ, HDF5, TIFF, PNG/JPEG (or drop a file or folder here)")
        self.open_button.clicked.connect(self._open_dialog)
        self.folder_button = QPushButton("Open folder…")
        self.folder_button.setToolTip("Open a folder of images of one shape (sorted by name)")
        self.folder_button.clicked.connect(self._open_folder_dialog)
        self.demo_buttons: dict[str, QPushButton] = {}
        demo_titles = {"demo": ("Digits demo", "Built-in demo: rotated handwritten digits"
                                " (scikit-learn, bundled)"),
                       "particles": ("Particles demo", "Built-in demo: synthetic images of"
                                     " 1 to K particles, labelled by count")}
        for source in DEMO_SOURCES:
            title, tip = demo_titles.get(source, (f"{source} demo", f"Built-in demo {source!r}"))
            button = QPushButton(title)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, s=source: self.use_demo(s))
            self.demo_buttons[source] = button
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setToolTip("The current source")
        self.key_combo = QComboBox()
        self.key_combo.setToolTip(
            "The file holds several image arrays: choose the one to use [dataset.key]")
        self.key_combo.activated.connect(self._on_key_chosen)
        self.key_label = QLabel("array")
        self.key_label.setToolTip(self.key_combo.toolTip())
        self.error_label = QLabel()
        self.error_label.setObjectName("dataset:error")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.setToolTip("Why the source or a setting cannot be used")
        self.error_label.hide()
        source_box = QGroupBox("Source")
        source_box.setToolTip("Where the images come from; drop a file or folder on the panel")
        source_layout = QVBoxLayout(source_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)
        for button in self.demo_buttons.values():
            buttons.addWidget(button)
        buttons.addStretch(1)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_label)
        key_row.addWidget(self.key_combo, 1)
        source_layout.addLayout(buttons)
        source_layout.addWidget(self.source_label)
        source_layout.addLayout(key_row)
        source_layout.addWidget(self.error_label)

        # ---- settings
        self.form = DataclassForm(DatasetConfig, "dataset", exclude=("source", "key"),
                                  choices=_CHOICES, base=self._config)
        self.form.edited.connect(self._on_settings_edited)
        self.classes_form = DataclassForm(
            JrVAEConfig, "jrvae", fields=("classes",), labels={"classes": "classes (jrVAE)"},
            tooltips={"classes": "Number of discrete classes the jrVAE separates"
                      " (jrvae.classes); the labels' class count is a good first choice"},
            base=JrVAEConfig(classes=classes))
        self.classes_form.edited.connect(self._on_classes_edited)
        self.classes_hint = QLabel()
        self.classes_hint.setStyleSheet("color: gray;")
        self.classes_hint.setToolTip("Classes found in the labels stored with the data")
        settings_box = QGroupBox("Preparation")
        settings_box.setToolTip("How the images are prepared for training [dataset]")
        settings_layout = QVBoxLayout(settings_box)
        settings_layout.addWidget(self.form)
        settings_layout.addWidget(self.classes_form)
        settings_layout.addWidget(self.classes_hint)
        settings_layout.addStretch(1)
        settings_scroll = QScrollArea()
        settings_scroll.setWidgetResizable(True)
        settings_scroll.setWidget(settings_box)

        # ---- preview and summary
        self.preview_widget = pg.GraphicsLayoutWidget()
        self.preview_widget.setToolTip(
            f"{PREVIEW_COUNT} images as prepared for training (each scaled to its own range)")
        self.preview_widget.setMinimumSize(200, 200)
        self._view = self.preview_widget.addViewBox(lockAspect=True, invertY=True)
        self._view.setMouseEnabled(x=False, y=False)
        self.preview_item = pg.ImageItem()
        self._view.addItem(self.preview_item)
        summary_box = QGroupBox("Summary")
        summary_box.setToolTip("What the source holds, as stored")
        summary_form = QFormLayout(summary_box)
        self.summary_labels: dict[str, QLabel] = {}
        for name, tip in _SUMMARY_ROWS:
            value = QLabel("—")
            value.setObjectName(f"summary.{name}")
            value.setWordWrap(True)
            value.setToolTip(tip)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            title = QLabel(name)
            title.setToolTip(tip)
            summary_form.addRow(title, value)
            self.summary_labels[name] = value
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.preview_widget)
        right.addWidget(summary_box)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(source_box)
        left_layout.addWidget(settings_scroll, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self._show_candidates([], "")
        self._apply(self._config, keep_on_error=False)

    # ------------------------------------------------------------------ public API

    def dataset_config(self) -> DatasetConfig:
        """The dataset settings: the open source and the preparation fields.

        Raises:
            ConfigError: If a preparation field is invalid (the message names it).
        """
        edited = self.form.value()
        return dataclasses.replace(edited, source=self._config.source, key=self._config.key)

    def set_config(self, config: DatasetConfig) -> None:
        """Show ``config`` and open its source (an unusable source is reported, not raised)."""
        self._apply(config, keep_on_error=False)

    def classes(self) -> int:
        """The number of jrVAE classes chosen (``JrVAEConfig.classes``).

        Raises:
            ConfigError: If the value is invalid.
        """
        return int(self.classes_form.value().classes)

    def set_classes(self, classes: int) -> None:
        """Show a number of jrVAE classes."""
        self.classes_form.set_value(JrVAEConfig(classes=int(classes)))

    def seed(self) -> int:
        """The seed of the preview subset and of the demos."""
        return self._seed

    def set_seed(self, seed: int) -> None:
        """Set the seed and reload the preview."""
        self._seed = int(seed)
        self.reload()

    def summary(self) -> DataSummary | None:
        """The summary shown (None before a source was opened)."""
        return self._summary

    def summary_complete(self) -> bool:
        """Whether the summary covers the whole source (False while a background scan runs)."""
        return self._summary_complete

    def preview_images(self) -> np.ndarray | None:
        """The preview images, ``k x H x W`` float32 as prepared (None when none)."""
        return self._preview

    def candidates(self) -> list[tuple[str, str]]:
        """``(key, description)`` of the arrays the source offers (empty when only one)."""
        return list(self._candidates)

    def error(self) -> str:
        """The message shown for the last failure ("" when the last action worked)."""
        return self._error

    def is_valid(self) -> bool:
        """Whether the settings are valid and the source opened without error."""
        return self.form.is_valid() and self.classes_form.is_valid() and not self._error

    def open_path(self, path: str | Path, key: str = "") -> bool:
        """Open a file or folder; the format is detected and the array chosen when ambiguous.

        Args:
            path: The file or folder.
            key: The NPZ array, HDF5 dataset or TIFF series ("" : ``images``, the only one, or
                the first candidate).

        Returns:
            Whether it opened; on failure the message is shown, ``errorOccurred`` emitted and
            the previous dataset kept.
        """
        try:
            fmt = detect_format(path, "auto")
            candidates = list_candidates(path, fmt)
            keys = [k for k, _ in candidates]
            if key:
                chosen = key
            elif len(candidates) <= 1:
                chosen = ""
            else:
                chosen = next((k for k in keys if k.rsplit("/", 1)[-1] == "images"), keys[0])
            base = self.form.value()
            config = dataclasses.replace(base, source=str(path), key=chosen, format="auto",
                                         labels="")
        except (ZboError, OSError, ValueError) as exc:
            self._fail(exc)
            return False
        if not self._apply(config, keep_on_error=True, candidates=candidates):
            return False
        if len(candidates) > 1:
            self._set_message(f"{len(candidates)} image arrays in the file; showing {chosen!r}."
                              " Choose another in the list.", _WARN_STYLE)
        return True

    def use_demo(self, source: str = "demo") -> bool:
        """Use a built-in demo (``"demo"``: rotated digits; ``"particles"``).

        Returns:
            Whether the demo could be used with the current settings.
        """
        try:
            config = dataclasses.replace(self.form.value(), source=source, key="")
        except ZboError as exc:
            self._fail(exc)
            return False
        return self._apply(config, keep_on_error=True, candidates=[])

    def reload(self) -> bool:
        """Re-read the preview (and the summary when the source's identity changed)."""
        self._debounce.stop()
        try:
            config = self.dataset_config()
        except ZboError as exc:
            self._fail(exc)
            return False
        return self._apply(config, keep_on_error=True, candidates=self._candidates)

    # ------------------------------------------------------------------ loading

    def _apply(
        self,
        config: DatasetConfig,
        keep_on_error: bool,
        candidates: list[tuple[str, str]] | None = None,
    ) -> bool:
        """Load ``config``'s preview and summary; commit them only when both worked."""
        if candidates is None:
            try:
                fmt = "" if config.is_demo else detect_format(config.source, config.format)
                candidates = list_candidates(config.source, fmt) if fmt else []
            except (ZboError, OSError, ValueError):
                candidates = []
        try:
            preview_config = dataclasses.replace(
                config, n_images=min(PREVIEW_COUNT, config.n_images))
            preview = _quiet_load(preview_config, self._seed).images
            summary, complete, job, summary_key = self._summarise(config)
            if summary is not None and summary.problems:
                raise DatasetError(f"{summary.source}: {'; '.join(summary.problems)}")
        except (ZboError, OSError, ValueError) as exc:
            if not keep_on_error:
                self._commit_config(config, candidates)
            self._fail(exc)
            return False
        self._commit_config(config, candidates)
        self._summary_key = summary_key
        self._set_message("", "")
        self._preview = preview
        self.preview_item.setImage(mosaic(preview), levels=(0.0, 1.0))
        self._view.autoRange(padding=0.02)
        if summary is not None:
            self._show_summary(summary, complete)
            self.datasetChanged.emit(summary)
        if job is not None:
            self._start_background(*job)
        self.configChanged.emit(config)
        return True

    def _summarise(self, config: DatasetConfig) -> tuple[
        DataSummary | None, bool, tuple[Callable[[], DataSummary], tuple[Any, ...]] | None,
        tuple[Any, ...],
    ]:
        """``(summary now, complete?, background job, identity)``; None: unchanged source."""
        seed = self._seed
        if config.is_demo:
            key: tuple[Any, ...] = ("demo", dataclasses.astuple(config), seed)
        else:
            key = ("file", config.source, config.format, config.key, config.labels)
        if key == self._summary_key:
            return None, self._summary_complete, None, key
        if config.is_demo:
            size = (config.image_size, config.image_size)
            quick = DataSummary(source=f"demo: {config.source}", format="prepared",
                                count=config.n_images, image_shape=size, dtype="float32",
                                value_range=None, nan_count=0, constant_images=0,
                                fingerprint="")
            return quick, False, (lambda: _demo_summary(config, seed), key), key
        with open_images(config.source, config.format, config.key) as raw:
            stored = raw.count * int(np.prod(raw.layout.image_shape)) * raw.dtype.itemsize
            quick = DataSummary(source=raw.where, format=raw.format, count=raw.count,
                                image_shape=tuple(raw.layout.image_shape), dtype=str(raw.dtype),
                                value_range=None, nan_count=0, constant_images=0,
                                fingerprint="", steps=(raw.describe(),))
        if stored <= SYNC_SCAN_BYTES:
            full = inspect_file(config.source, config.format, config.key, config.labels)
            return full, True, None, key
        path, fmt, k, labels = config.source, config.format, config.key, config.labels
        return quick, False, (lambda: inspect_file(path, fmt, k, labels), key), key

    def _start_background(self, job: Callable[[], DataSummary], key: tuple[Any, ...]) -> None:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="zbo-dataset-summary")
        if self._pending is not None:
            self._pending[0].cancel()
        self._pending = (self._executor.submit(job), key)
        self._poll.start()

    def _check_background(self) -> None:
        if self._pending is None:
            self._poll.stop()
            return
        future, key = self._pending
        if not future.done():
            return
        self._pending = None
        self._poll.stop()
        if future.cancelled() or key != self._summary_key:
            return  # a newer source replaced it
        exc = future.exception()
        if exc is not None:
            if isinstance(exc, ZboError | OSError | ValueError):
                self._fail(exc)
                return
            raise exc
        summary = future.result()
        self._show_summary(summary, True)
        if summary.problems:
            self._fail(DatasetError(f"{summary.source}: {'; '.join(summary.problems)}"))
        self.datasetChanged.emit(summary)

    def wait_for_summary(self, timeout: float = 30.0) -> bool:
        """Block until a background summary is shown (for scripts and tests).

        Returns:
            Whether the summary is complete.
        """
        if self._pending is not None:
            concurrent.futures.wait([self._pending[0]], timeout=timeout)
            self._check_background()
        return self._summary_complete

    def shutdown(self) -> None:
        """Stop polling and drop a running background summary (the thread ends by itself)."""
        self._poll.stop()
        self._debounce.stop()
        if self._pending is not None:
            self._pending[0].cancel()
            self._pending = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def closeEvent(self, event: Any) -> None:
        """Drop background work when the panel closes."""
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ display

    def _commit_config(self, config: DatasetConfig, candidates: list[tuple[str, str]]) -> None:
        self._config = config
        self.form.set_value(config)
        self._show_candidates(candidates, config.key)
        kind = _kind(config.source)
        for name in self.form.field_names:
            allowed = _ONLY_FOR.get(name)
            self.form.editor(name).setEnabled(allowed is None or kind in allowed)
        if config.is_demo:
            title = self.demo_buttons[config.source].text() if (
                config.source in self.demo_buttons) else config.source
            text = f"Built-in {title.lower()}"
        else:
            text = config.source + (f"  [{config.key}]" if config.key else "")
        self.source_label.setText(text)
        self.source_label.setToolTip(f"The current source: {text}")

    def _show_candidates(self, candidates: list[tuple[str, str]], key: str) -> None:
        self._candidates = list(candidates)
        self.key_combo.blockSignals(True)
        self.key_combo.clear()
        for k, text in candidates:
            self.key_combo.addItem(text, k)
        index = self.key_combo.findData(key)
        self.key_combo.setCurrentIndex(max(index, 0))
        self.key_combo.blockSignals(False)
        several = len(candidates) > 1
        self.key_combo.setVisible(several)
        self.key_label.setVisible(several)

    def _show_summary(self, summary: DataSummary, complete: bool) -> None:
        self._summary = summary
        self._summary_complete = complete
        pending = "scanning…" if not complete else "—"
        labels = self.summary_labels
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
            self.classes_hint.setText(f"The labels have {len(summary.labels)} classes.")
        else:
            labels["labels"].setText("none" if complete else pending)
            self.classes_hint.setText("")
        if summary.fingerprint:
            labels["fingerprint"].setText(summary.fingerprint[:16] + "…")
            labels["fingerprint"].setToolTip(f"sha256:{summary.fingerprint}")
        else:
            labels["fingerprint"].setText(pending)
        notes = list(summary.warnings)
        if summary.others:
            notes.append("other arrays: " + ", ".join(summary.others))
        labels["warnings"].setText("\n".join(notes) if notes else "none")
        labels["warnings"].setStyleSheet(_WARN_STYLE if notes else "color: gray;")

    def _set_message(self, text: str, style: str) -> None:
        self._error = text if style == ERROR_STYLE else ""
        self.error_label.setStyleSheet(style)
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _fail(self, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, ZboError) else f"{type(exc).__name__}: {exc}"
        message = " ".join(message.split())
        self._set_message(message, ERROR_STYLE)
        self.errorOccurred.emit(message)

    # ------------------------------------------------------------------ events

    def _on_settings_edited(self) -> None:
        if self.form.is_valid():
            self._debounce.start()
        else:
            self._debounce.stop()

    def _on_classes_edited(self) -> None:
        if self.classes_form.is_valid():
            self.configChanged.emit(self._config)

    def _on_key_chosen(self, index: int) -> None:
        key = self.key_combo.itemData(index)
        if key is None or key == self._config.key:
            return
        try:
            config = dataclasses.replace(self.dataset_config(), key=str(key))
        except ZboError as exc:
            self._fail(exc)
            return
        if not self._apply(config, keep_on_error=True, candidates=self._candidates):
            self._show_candidates(self._candidates, self._config.key)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open images", "", _FILE_FILTER)
        if path:
            self.open_path(path)

    def _open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if path:
            self.open_path(path)

    @staticmethod
    def _dropped_path(event: QDragEnterEvent | QDropEvent) -> str | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept a dragged local file or folder."""
        if self._dropped_path(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the dropped file or folder (the first local one)."""
        path = self._dropped_path(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(path)
