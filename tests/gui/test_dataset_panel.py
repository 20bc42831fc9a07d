"""DatasetPanel: open files and folders, drop them, choose arrays, preview, summary, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
)

from zbo_gui.core.config import CampaignConfig, DatasetConfig, JrVAEConfig
from zbo_gui.gui.dataset_panel import DatasetPanel
from zbo_gui.gui.dataset_summary import mosaic
from zbo_gui.model.draft import DraftModel
from zbo_gui.workers.dataset_preview import PREVIEW_COUNT, DatasetLoader

START = DatasetConfig(n_images=40, image_size=12)


@pytest.fixture
def panel(qtbot):
    draft = DraftModel(CampaignConfig(seed=1, dataset=START, jrvae=JrVAEConfig(classes=3)))
    loader = DatasetLoader(draft)
    widget = DatasetPanel(draft, loader)
    qtbot.addWidget(widget)
    yield widget
    loader.shutdown()


def _stack(n: int = 30, h: int = 10, w: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, h, w)).astype(np.float32)


def _write_npy(tmp_path: Path, name: str = "stack.npy", **kwargs) -> Path:
    path = tmp_path / name
    np.save(path, _stack(**kwargs))
    return path


def test_open_npy_shows_summary_and_preview(panel, qtbot, tmp_path) -> None:
    path = _write_npy(tmp_path)
    assert panel.open_path(path)
    summary = panel.summary()
    assert summary is panel.draft.preview.summary and panel.summary_complete()
    assert summary.count == 30 and summary.image_shape == (10, 12)
    labels = panel.summary_labels
    assert labels["count"].text() == "30"
    assert labels["shape"].text() == "10×12" and labels["dtype"].text() == "float32"
    assert labels["nan"].text() == "0" and "…" in labels["fingerprint"].text()
    assert summary.fingerprint in labels["fingerprint"].toolTip()
    preview = panel.preview_images()
    assert preview is not None and preview.shape == (PREVIEW_COUNT, 12, 12)  # image_size 12
    assert panel.preview_item.image.shape == mosaic(preview).shape
    config = panel.dataset_config()
    assert config.source == str(path) and config.key == "" and config.n_images == 40
    assert panel.error() == "" and panel.error_label.isHidden()
    assert not panel.key_combo.isVisibleTo(panel)


def test_corrupt_file_shows_error_emits_and_keeps_previous_dataset(panel, qtbot, tmp_path):
    good = _write_npy(tmp_path)
    assert panel.open_path(good)
    before = panel.summary()
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"\x93NUMPY garbage that is not a header")
    with qtbot.waitSignal(panel.errorOccurred) as blocker:
        assert not panel.open_path(bad)
    message = blocker.args[0]
    assert "broken.npy" in message and "\n" not in message
    assert panel.error_label.text() == message and not panel.error_label.isHidden()
    assert panel.summary() is before and panel.dataset_config().source == str(good)
    assert panel.summary_labels["count"].text() == "30"

    nan = _stack()
    nan[3, 2, 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert not panel.open_path(tmp_path / "nan.npy")
    assert "NaN" in panel.error() and panel.dataset_config().source == str(good)
    assert not panel.open_path(tmp_path / "missing.npy")
    assert "not found" in panel.error()
    assert panel.open_path(good) and panel.error() == ""


def test_drop_a_file_and_a_folder(panel, qtbot, tmp_path) -> None:
    path = _write_npy(tmp_path, "dropped.npy", n=20)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(panel.rect().center(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(panel.rect().center()), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, drop)
    assert drop.isAccepted()
    assert panel.dataset_config().source == str(path) and panel.summary().count == 20

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(_stack(6, 9, 9, seed=5)):
        tifffile.imwrite(folder / f"frame{i}.tif", image)
    folder_mime = QMimeData()
    folder_mime.setUrls([QUrl.fromLocalFile(str(folder))])
    enter = QDragEnterEvent(panel.rect().center(), Qt.DropAction.CopyAction, folder_mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    drop = QDropEvent(QPointF(panel.rect().center()), Qt.DropAction.CopyAction, folder_mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, drop)
    assert panel.dataset_config().source == str(folder) and panel.summary().count == 6
    assert panel.summary().format == "folder"

    text = QMimeData()
    text.setText("not a file")
    refused = QDragEnterEvent(panel.rect().center(), Qt.DropAction.CopyAction, text,
                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, refused)
    assert not refused.isAccepted()


def test_npz_with_several_arrays_lists_them_in_the_combo(panel, qtbot, tmp_path) -> None:
    path = tmp_path / "several.npz"
    np.savez(path, raw=_stack(12, 8, 8, seed=1), filtered=_stack(15, 8, 8, seed=2),
             exposure=np.arange(12.0))
    assert panel.open_path(path)
    assert [k for k, _ in panel.candidates()] == ["raw", "filtered"]
    combo = panel.key_combo
    assert combo.isVisibleTo(panel) and combo.count() == 2
    assert panel.dataset_config().key == "raw" and panel.summary().count == 12
    assert "2 image arrays" in panel.error_label.text() and panel.error() == ""
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # the user picks the next array
    assert panel.dataset_config().key == "filtered" and panel.summary().count == 15


def test_hdf5_with_several_datasets_lists_them(panel, tmp_path) -> None:
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as handle:
        handle["entry/frames"] = _stack(9, 8, 8)
        handle["entry/processed/images"] = _stack(11, 8, 8, seed=4)
        handle["entry/exposure"] = np.arange(9.0)
    assert panel.open_path(path)
    assert [k for k, _ in panel.candidates()] == ["/entry/frames", "/entry/processed/images"]
    assert panel.key_combo.count() == 2
    assert panel.dataset_config().key == "/entry/processed/images"  # named "images": preferred
    assert panel.summary().count == 11


def test_settings_are_bound_to_the_dataset_config(panel, qtbot, tmp_path) -> None:
    path = _write_npy(tmp_path)
    panel.open_path(path)
    panel.form.editor("image_size").setValue(8)  # type: ignore[attr-defined]
    panel.form.editor("normalize").setCurrentText("per_image")  # type: ignore[attr-defined]
    assert panel.reload()
    config = panel.dataset_config()
    assert config.image_size == 8 and config.normalize == "per_image"
    assert panel.preview_images().shape[1:] == (8, 8)
    panel.form.editor("image_size").setValue(2)  # type: ignore[attr-defined]
    assert "dataset.image_size" in panel.form.error_label("image_size").text()
    assert not panel.is_valid()
    panel.classes_form.editor("classes").setValue(5)  # type: ignore[attr-defined]
    assert panel.classes() == 5 == panel.draft.config.jrvae.classes
    assert panel.form.editor("crop").isEnabled()  # a file: file settings apply
    assert not panel.form.editor("digits").isEnabled()
    panel.draft.set_dataset(START)  # the draft changed elsewhere: the panel follows
    assert panel.form.value().source == "demo" and panel.dataset_config() == START


def test_builtin_demos_preview_and_summary(panel, qtbot) -> None:
    assert panel.dataset_config().source == "demo"
    assert panel.preview_images().shape == (PREVIEW_COUNT, 12, 12)
    assert panel.wait_for_summary()
    summary = panel.summary()
    assert summary.count == 40 and summary.labels is not None and len(summary.labels) == 4
    assert "4 classes" in panel.classes_hint.text()
    if "particles" in panel.demo_buttons:
        panel.form.editor("image_size").setValue(16)  # type: ignore[attr-defined]
        qtbot.mouseClick(panel.demo_buttons["particles"], Qt.MouseButton.LeftButton)
        assert panel.dataset_config().source == "particles"
        assert not panel.form.editor("crop").isEnabled()
        assert panel.wait_for_summary() and panel.summary().count == 40
    assert dataclasses.replace(panel.dataset_config(), source="demo").source == "demo"


def test_every_control_has_a_tooltip(panel) -> None:
    controls = [c for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)
                for c in panel.findChildren(kind) if not c.objectName().startswith("qt_")]
    assert len(controls) > 15
    assert [c.objectName() or type(c).__name__ for c in controls if not c.toolTip()] == []
    assert panel.preview_widget.toolTip()


def test_an_open_campaign_is_shown_read_only(qtbot) -> None:
    from tests.gui.conftest import opened_model
    from zbo_gui.model.messages import DatasetSnapshot

    campaign = opened_model(CampaignConfig(dataset=DatasetConfig(n_images=99, image_size=10)))
    draft = DraftModel(CampaignConfig(dataset=START))
    loader = DatasetLoader(draft)
    widget = DatasetPanel(draft, loader, campaign)
    qtbot.addWidget(widget)
    widget.show_campaign(True)
    assert widget.campaign_view and not widget.open_button.isEnabled()
    assert not widget.form.isEnabled() and widget.banner.isVisibleTo(widget)
    assert widget.form.value().n_images == 99  # the campaign's, not the draft's
    assert widget.summary_labels["count"].text() == "—"  # its images are not there yet
    # the campaign's images arrive while it is shown: the panel shows them
    images = np.random.default_rng(0).random((20, 10, 10)).astype(np.float32)
    campaign.apply(DatasetSnapshot(images, None, 99, "demo: digits", "ab" * 32))
    assert widget.summary_labels["count"].text().startswith("99")
    assert draft.config.dataset == START
    widget.show_campaign(False)
    assert widget.form.value().n_images == START.n_images and widget.open_button.isEnabled()
    loader.shutdown()
