"""The dataset of the next campaign: open a file or folder (or drop it here), or a demo.

A widget only. It edits the draft's ``dataset`` section through the dataset loader
(``workers.dataset_preview.DatasetLoader``, which reads the files) and shows the draft's
:class:`~zbo_gui.model.draft.DatasetPreview`: a few prepared images and the source's summary.
Bound to a campaign model too, it can show an open campaign's dataset instead, read-only
(:meth:`DatasetPanel.show_campaign`).

A source that cannot be used shows its one-line error in the panel and emits
``errorOccurred``; the dataset chosen before is kept. Nothing raises.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.core.config import DEMO_SOURCES, DatasetConfig, JrVAEConfig
from zbo_gui.core.data.base import CROP_MODES, FORMATS, NORMALIZE_MODES, PATCH_MODES
from zbo_gui.core.errors import ZboError
from zbo_gui.gui.dataset_summary import DatasetSummaryView
from zbo_gui.gui.forms import ERROR_STYLE, WARN_STYLE, DataclassForm, set_narrow
from zbo_gui.model.campaign import CampaignModel
from zbo_gui.model.draft import DraftModel

if TYPE_CHECKING:
    from zbo_gui.core.data import DataSummary
    from zbo_gui.workers.dataset_preview import DatasetLoader


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
_OK_STYLE = "color: #2e7d32;"
#: The panel's height when its preview goes under its settings (a narrow dock; it scrolls).
NARROW_HEIGHT = 720


def _kind(source: str) -> str:
    return source if source in DEMO_SOURCES else "file"


class DatasetPanel(QWidget):
    """Choose and inspect the images the next campaign trains on (the draft's dataset).

    Args:
        draft: the draft it edits and shows.
        loader: reads the sources into the draft.
        campaign: the open campaign (for :meth:`show_campaign`).
        parent: the parent widget.

    Signals:
        errorOccurred(str): a one-line message: the source or a setting cannot be used.
    """

    errorOccurred = Signal(str)

    def __init__(self, draft: DraftModel, loader: DatasetLoader,
                 campaign: CampaignModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.draft = draft
        self.loader = loader
        self.campaign = campaign
        self._campaign_view = False
        self._seed = draft.config.seed
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.reload)
        config = draft.config.dataset

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
        buttons = QGridLayout()  # two rows: files, then the demos (fits a narrow dock)
        buttons.addWidget(self.open_button, 0, 0)
        buttons.addWidget(self.folder_button, 0, 1)
        for column, button in enumerate(self.demo_buttons.values()):
            buttons.addWidget(button, 1, column)
        buttons.setColumnStretch(2, 1)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_label)
        key_row.addWidget(self.key_combo, 1)
        source_layout.addLayout(buttons)
        source_layout.addWidget(self.source_label)
        source_layout.addLayout(key_row)
        source_layout.addWidget(self.error_label)

        # ---- settings
        self.form = DataclassForm(DatasetConfig, "dataset", exclude=("source", "key"),
                                  choices=_CHOICES, base=config)
        self.form.edited.connect(self._on_settings_edited)
        self.classes_form = DataclassForm(
            JrVAEConfig, "jrvae", fields=("classes",), labels={"classes": "classes (jrVAE)"},
            tooltips={"classes": "Number of discrete classes the jrVAE separates"
                      " (jrvae.classes); the labels' class count is a good first choice"},
            base=JrVAEConfig(classes=draft.config.jrvae.classes))
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
        self.summary_view = DatasetSummaryView()
        self.preview_widget = self.summary_view.preview_widget
        self.preview_item = self.summary_view.preview_item
        self.summary_labels = self.summary_view.labels
        right = self.summary_view

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(source_box)
        left_layout.addWidget(settings_scroll, 1)
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("color: gray;")
        self.banner.setToolTip("Which configuration the panel shows")
        self.banner.hide()
        layout.insertWidget(0, self.banner)

        draft.events.preview.connect(lambda _: self._show_draft_preview())
        draft.events.config.connect(self._on_draft_config)
        if campaign is not None:  # the shown campaign replaced, or its preview arrived
            campaign.events.opened.connect(lambda _: self._refresh_campaign_view())
            campaign.events.dataset.connect(lambda _: self._refresh_campaign_view())
        self._show_draft_config()
        if draft.preview.images is None and not draft.preview.error:
            loader.reload()
        else:
            self._show_draft_preview()

    # ------------------------------------------------------------------ public API

    def dataset_config(self) -> DatasetConfig:
        """The draft's dataset settings."""
        return self.draft.config.dataset

    def classes(self) -> int:
        """The draft's number of jrVAE classes (``jrvae.classes``)."""
        return self.draft.config.jrvae.classes

    def summary(self) -> DataSummary | None:
        """The summary of the draft's dataset (None before a source was read)."""
        return self.draft.preview.summary

    def summary_complete(self) -> bool:
        """Whether the summary covers the whole source (False while a background scan runs)."""
        return self.draft.preview.complete

    def preview_images(self) -> np.ndarray | None:
        """The preview images, ``k x H x W`` float32 as prepared (None when none)."""
        return self.draft.preview.images

    def candidates(self) -> list[tuple[str, str]]:
        """``(key, description)`` of the arrays the source offers (empty when only one)."""
        return list(self.draft.preview.candidates)

    def error(self) -> str:
        """The message shown for the last failure ("" when the last action worked)."""
        return self.draft.preview.error

    def is_valid(self) -> bool:
        """Whether the settings are valid and the source opened without error."""
        return self.form.is_valid() and self.classes_form.is_valid() and not self.error()

    def open_path(self, path: str, key: str = "") -> bool:
        """Open a file or folder (see ``DatasetLoader.open_path``); whether it opened."""
        return self.loader.open_path(path, key)

    def use_demo(self, source: str = "demo") -> bool:
        """Use a built-in demo with the current settings; whether it could be used."""
        try:
            config = dataclasses.replace(self.form.value(), source=source, key="")
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        return self.loader.apply(config, candidates=[])

    def reload(self) -> bool:
        """Apply the edited preparation settings to the draft's source."""
        self._debounce.stop()
        try:
            edited = self.form.value()
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        current = self.draft.config.dataset
        config = dataclasses.replace(edited, source=current.source, key=current.key)
        return self.loader.apply(config, candidates=list(self.draft.preview.candidates))

    def set_narrow(self, narrow: bool) -> None:
        """Settings beside the preview (a wide dock), or above it (``narrow``: the panel is
        then taller, and its tab scrolls down to the preview)."""
        set_narrow(self, self.splitter, narrow, NARROW_HEIGHT)

    def commit_pending(self) -> None:
        """Apply a settings edit still waiting for the typing pause, now."""
        if self._debounce.isActive():
            self.reload()

    def wait_for_summary(self, timeout: float = 30.0) -> bool:
        """Block until a background summary is shown (for scripts and tests)."""
        return self.loader.wait_for_summary(timeout)

    def show_campaign(self, on: bool) -> None:
        """Show the open campaign's dataset, read-only (``on``), or the draft's, editable."""
        self._campaign_view = bool(on) and self.campaign is not None and self.campaign.is_open
        editable = not self._campaign_view
        for widget in (self.open_button, self.folder_button, *self.demo_buttons.values(),
                       self.key_combo, self.form, self.classes_form):
            widget.setEnabled(editable)
        self.setAcceptDrops(editable)
        if self._campaign_view:
            self._show_campaign_dataset()
        else:
            self.banner.hide()
            self._show_draft_config()
            self._show_draft_preview()

    @property
    def campaign_view(self) -> bool:
        """Whether the panel shows the open campaign's dataset (read-only)."""
        return self._campaign_view

    # ------------------------------------------------------------------ display

    def _on_draft_config(self, _config: object) -> None:
        if self._campaign_view:
            return
        self._show_draft_config()
        if self.draft.config.seed != self._seed:  # the preview subset depends on the seed
            self._seed = self.draft.config.seed
            self._debounce.start()

    def _show_draft_config(self) -> None:
        config = self.draft.config
        self._show_config(config.dataset, config.jrvae.classes)
        self._enable_fields(config.dataset)

    def _show_config(self, config: DatasetConfig, classes: int) -> None:
        self.form.blockSignals(True)
        self.form.set_value(config)
        self.form.blockSignals(False)
        self.classes_form.blockSignals(True)
        self.classes_form.set_value(JrVAEConfig(classes=int(classes)))
        self.classes_form.blockSignals(False)
        if config.is_demo:
            title = self.demo_buttons[config.source].text() if (
                config.source in self.demo_buttons) else config.source
            text = f"Built-in {title.lower()}"
        else:
            text = config.source + (f"  [{config.key}]" if config.key else "")
        self.source_label.setText(text)
        self.source_label.setToolTip(f"The current source: {text}")

    def _enable_fields(self, config: DatasetConfig) -> None:
        kind = _kind(config.source)
        for name in self.form.field_names:
            allowed = _ONLY_FOR.get(name)
            self.form.editor(name).setEnabled(allowed is None or kind in allowed)

    def _show_draft_preview(self) -> None:
        if self._campaign_view:
            return
        preview = self.draft.preview
        self._show_candidates(list(preview.candidates), self.draft.config.dataset.key)
        self.summary_view.show_preview(preview)
        if preview.summary is not None:
            classes = len(preview.summary.labels or {})
            self.classes_hint.setText(f"The labels have {classes} classes." if classes else "")
        if preview.error:
            self._show_error(preview.error)
        elif preview.message:
            self._set_message(preview.message, WARN_STYLE)
        else:
            self._set_message("", "")

    def _refresh_campaign_view(self) -> None:
        if self._campaign_view:
            self.show_campaign(True)

    def _show_campaign_dataset(self) -> None:
        campaign = self.campaign
        assert campaign is not None and campaign.config is not None
        config = campaign.config
        self._show_config(config.dataset, config.jrvae.classes)
        self._show_candidates([], "")
        self.banner.setText(f"The dataset of the open campaign ({campaign.path}); read-only."
                            " New campaign uses the draft: “Edit as new campaign”.")
        self.banner.show()
        self._set_message("", "")
        self.summary_view.show_snapshot(campaign.dataset)

    def _show_candidates(self, candidates: list[tuple[str, str]], key: str) -> None:
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

    def _set_message(self, text: str, style: str) -> None:
        self.error_label.setStyleSheet(style)
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _show_error(self, message: str) -> None:
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
            self.draft.set_classes(int(self.classes_form.value().classes))

    def _on_key_chosen(self, index: int) -> None:
        key = self.key_combo.itemData(index)
        current = self.draft.config.dataset
        if key is None or key == current.key:
            return
        config = dataclasses.replace(current, key=str(key))
        if not self.loader.apply(config, candidates=list(self.draft.preview.candidates)):
            self._show_candidates(list(self.draft.preview.candidates), current.key)

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
        """Accept a dragged local file or folder (not while a campaign is shown)."""
        if not self._campaign_view and self._dropped_path(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the dropped file or folder (the first local one)."""
        path = self._dropped_path(event)
        if path is None or self._campaign_view:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(path)
