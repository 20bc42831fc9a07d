"""SettingsDialog and the dataclass forms: binding by name, validation on edit, round trips."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QSpinBox

from zbo_gui.core.config import (
    BOConfig,
    CampaignConfig,
    JrVAEConfig,
    ObjectiveConfig,
    quick_config,
)
from zbo_gui.core.errors import ConfigError
from zbo_gui.gui.forms import DataclassForm, attribute_docs
from zbo_gui.gui.settings_dialog import THREADS_KEY, SettingsDialog


@pytest.fixture
def dialog(qtbot):
    dlg = SettingsDialog(CampaignConfig(), cuda=False)
    qtbot.addWidget(dlg)
    return dlg


def _type(qtbot, line: QLineEdit, text: str) -> None:
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Backspace)
    qtbot.keyClicks(line, text)


def test_invalid_lr_shows_message_next_to_field_and_disables_ok(dialog, qtbot) -> None:
    form = dialog.forms["jrvae"]
    lr = form.editor("lr")
    assert isinstance(lr, QLineEdit) and lr.objectName() == "jrvae.lr"
    assert dialog.ok_button.isEnabled()
    _type(qtbot, lr, "-0.1")
    label = form.error_label("lr")
    assert "jrvae.lr" in label.text() and "-0.1" in label.text()
    assert not label.isHidden()
    assert not dialog.ok_button.isEnabled()
    assert not dialog.is_valid()
    with pytest.raises(ConfigError, match=r"jrvae\.lr"):
        dialog.config()
    _type(qtbot, lr, "0.005")
    assert label.isHidden() and label.text() == ""
    assert dialog.ok_button.isEnabled()
    assert dialog.config().jrvae.lr == 0.005


def test_non_number_and_cross_field_errors_land_on_the_named_field(dialog, qtbot) -> None:
    _type(qtbot, dialog.forms["jrvae"].editor("decoder_hidden"), "32, x")
    assert "jrvae.decoder_hidden" in dialog.forms["jrvae"].error_label("decoder_hidden").text()
    bo = dialog.forms["bo"]
    initial = bo.editor("initial")
    assert isinstance(initial, QSpinBox)
    initial.setValue(99)  # budget 25 < initial 99: the message names bo.budget first
    assert bo.error_field() == "budget"
    assert "bo.budget must be >= bo.initial" in bo.error_label("budget").text()
    assert not dialog.ok_button.isEnabled()
    initial.setValue(5)
    _type(qtbot, dialog.forms["jrvae"].editor("decoder_hidden"), "16,16")
    assert dialog.ok_button.isEnabled()
    assert dialog.config().jrvae.decoder_hidden == (16, 16)
    assert dialog.config().bo.initial == 5


def test_config_round_trips_quick_config_and_defaults_restore(dialog) -> None:
    cfg = quick_config().replace(seed=7)
    dialog.set_config(cfg)
    assert dialog.config() == cfg
    assert dialog.config().to_toml() == cfg.to_toml()
    dialog.forms["objective"].editor("kind").setCurrentText("paper")  # type: ignore[attr-defined]
    assert dialog.config().objective.kind == "paper"
    warp = dialog.forms["bo"].editor("warp")
    assert isinstance(warp, QComboBox)
    assert [warp.itemText(i) for i in range(warp.count())] == ["rank", "log", "none"]
    warp.setCurrentText("none")
    assert dialog.config().bo.warp == "none"
    dialog.restore_defaults()
    restored = dialog.config()
    assert restored.jrvae == JrVAEConfig() and restored.bo == BOConfig()
    assert restored.objective == ObjectiveConfig() and restored.seed == 0
    assert restored.dataset == cfg.dataset and restored.schedules == cfg.schedules  # kept


def test_every_control_has_a_tooltip_and_cuda_is_greyed_out(dialog) -> None:
    for form in dialog.forms.values():
        for name in form.field_names:
            assert form.editor(name).toolTip(), name
    assert "trainings" in dialog.forms["objective"].editor("replicates").toolTip()
    combo = dialog.device_combo
    assert isinstance(combo, QComboBox) and combo.objectName() == "jrvae.device"
    cuda_item = combo.model().item(combo.findText("cuda"))
    assert not cuda_item.isEnabled() and "NVIDIA" in cuda_item.toolTip()
    controls = [c for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)
                for c in dialog.findChildren(kind)
                if not c.objectName().startswith(("qt_", "ScrollLeft", "ScrollRight"))]
    assert len(controls) > 30
    assert [c.objectName() or type(c).__name__ for c in controls if not c.toolTip()] == []


def test_threads_are_a_ui_preference(qtbot, tmp_path) -> None:
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    dlg = SettingsDialog(quick_config(), settings=settings, cuda=True)
    qtbot.addWidget(dlg)
    dlg.set_threads(1)
    dlg.accept()
    assert int(settings.value(THREADS_KEY)) == 1
    assert dlg.config().execution == quick_config().execution  # not in the configuration
    assert dlg.device_combo.model().item(dlg.device_combo.findText("cuda")).isEnabled()


def test_form_is_generic_over_dataclass_fields(qtbot) -> None:
    @dataclasses.dataclass(frozen=True)
    class Extra:
        """A section.

        Attributes:
            flag: a switch.
            size: an int >= 1.
        """

        flag: bool = False
        size: int = 3
        name: str = "x"
        widths: tuple[int, ...] = (1, 2)

        def __post_init__(self) -> None:
            if self.size < 1:
                raise ConfigError(f"extra.size must be >= 1, got {self.size}")

    assert attribute_docs(Extra) == {"flag": "a switch.", "size": "an int >= 1."}
    form = DataclassForm(Extra, "extra")
    qtbot.addWidget(form)
    assert form.field_names == ("flag", "size", "name", "widths")
    form.editor("flag").setChecked(True)  # type: ignore[attr-defined]
    form.editor("size").setValue(0)  # type: ignore[attr-defined]
    assert not form.is_valid() and "extra.size" in form.error_label("size").text()
    form.editor("size").setValue(4)  # type: ignore[attr-defined]
    assert form.value() == Extra(flag=True, size=4)
