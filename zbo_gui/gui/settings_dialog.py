"""The settings dialog of the next campaign: jrVAE, objective, BO, schedule VAE + grid, compute
(device, where the evaluations train).

It edits the window's draft, never an open campaign (whose settings are in its file). A preset
(the demo preset "D", the quick smoke preset or the tiny set-up check) replaces the whole draft
when OK is pressed: its dataset and seed settings too.

Every field is a :class:`~zbo_gui.gui.forms.DataclassForm` editor bound to its config field by
name, validated on every edit by constructing the dataclass; the :class:`ConfigError` message shows
in red under the field it names and OK is disabled while any section is invalid. The dataset and
schedule sections (edited by their panels) pass through :meth:`SettingsDialog.config` unchanged.

The number of CPU threads is a UI preference (kept in ``QSettings`` when one is given), not part
of the campaign configuration. CUDA is detected without importing torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.core.config import (
    ACQUISITION_KINDS,
    CLUSTERS,
    DEVICES,
    INVARIANCES,
    OBJECTIVE_KINDS,
    PENDING_KINDS,
    SAMPLERS,
    WARP_KINDS,
    BOConfig,
    CampaignConfig,
    ExecutionConfig,
    GridConfig,
    JrVAEConfig,
    ObjectiveConfig,
    ScheduleVAEConfig,
    demo_config,
    quick_config,
    tiny_config,
)
from zbo_gui.core.errors import ConfigError
from zbo_gui.gui.forms import ERROR_STYLE, DataclassForm

#: QSettings key of the thread-count preference.
THREADS_KEY = "compute/threads"
#: Presets: name → (description, configuration).
PRESETS: dict[str, tuple[str, CampaignConfig]] = {
    "demo": ("Demo, preset D: digits 0/1/4/7, 800 images 16×16, 50 epochs; learns on a CPU"
             " (≈1 min per training)", demo_config()),
    "quick": ("Quick smoke test: 300 images 12×12, 12 epochs, 8 trainings; a minute, does not"
              " learn", quick_config()),
    "tiny": ("Tiny set-up check: 120 images 8×8, 6 epochs, 6 trainings; seconds each, learns"
             " nothing", tiny_config()),
}

_CHOICES = {
    "jrvae": {"sampler": SAMPLERS, "invariances": INVARIANCES},
    "objective": {"kind": OBJECTIVE_KINDS},
    "bo": {"acquisition": ACQUISITION_KINDS, "warp": WARP_KINDS, "pending": PENDING_KINDS},
}

# Descriptions of fields whose dataclass docstring has no ``Attributes:`` entry.
_TOOLTIPS = {
    "jrvae": {
        "classes": "Number of discrete classes of the jrVAE (the discrete latent's size).",
        "latent_dim": "Number of continuous latent dimensions of the jrVAE.",
        "invariances": "Invariances of the decoder: r = rotation, t = translation, s = scale.",
        "encoder_hidden": "Hidden layer widths of the encoder MLP, e.g. 128, 128.",
        "decoder_hidden": "Hidden layer widths of the (spatial) decoder; cost grows with width².",
        "sampler": "Likelihood of the decoded pixels.",
        "lr": "Learning rate of the jrVAE's optimiser (DESIGN preset: 0.01).",
        "batch_size": "Images per optimisation step.",
        "beta_d": "KL weight of the discrete latent, when it is not optimised (the seed panel's"
                  " β_d box); 1 learns at the demo scale.",
    },
    "schedule_vae": {
        "epochs": "Training epochs of the 2-D schedule VAE.",
        "lr": "Learning rate of the schedule VAE.",
        "batch_size": "Seed schedules per optimisation step.",
        "hidden": "Hidden layer widths of the schedule VAE, e.g. 128, 128.",
        "decoder_sig": "Decoder noise σ of the schedule VAE (in normalised units).",
    },
    "grid": {
        "size": "The latent grid has size × size points (decoded in one batch).",
        "margin": "Margin added around the encoded seed cloud, as a fraction of its extent.",
        "tolerance": "Relative tolerance of the bounds when deciding feasibility.",
    },
}


def cuda_available() -> bool:
    """Whether an NVIDIA driver is present (checked without importing torch)."""
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia").exists()


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(widget)
    return area


class SettingsDialog(QDialog):
    """Edits the engine settings of a campaign configuration.

    Args:
        config: The configuration to edit (default: the default configuration).
        settings: Where the thread-count preference is read and, on OK, written (None: not kept).
        cuda: Whether CUDA is available (None: detect with :func:`cuda_available`).
        parent: The parent widget.

    Signals:
        validityChanged(bool): When the dialog's settings become valid or invalid.
    """

    validityChanged = Signal(bool)

    def __init__(
        self,
        config: CampaignConfig | None = None,
        *,
        settings: QSettings | None = None,
        cuda: bool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings of the next campaign")
        self._config = config or CampaignConfig()
        self._settings = settings
        self._cuda = cuda_available() if cuda is None else cuda
        self._valid = True
        self._preset: CampaignConfig | None = None
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("preset")
        self.preset_combo.addItem("(keep the current settings)", "")
        for name, (text, _) in PRESETS.items():
            self.preset_combo.addItem(text, name)
        self.preset_combo.setToolTip("Start from a preset: it replaces every setting of the"
                                     " next campaign, its dataset and seeds included")
        self.preset_combo.activated.connect(self._on_preset)

        self.forms: dict[str, DataclassForm] = {
            "jrvae": DataclassForm(
                JrVAEConfig, "jrvae", exclude=("device",), choices=_CHOICES["jrvae"],
                tooltips=_TOOLTIPS["jrvae"]),
            "objective": DataclassForm(ObjectiveConfig, "objective",
                                       choices=_CHOICES["objective"]),
            "bo": DataclassForm(BOConfig, "bo", choices=_CHOICES["bo"]),
            "schedule_vae": DataclassForm(ScheduleVAEConfig, "schedule_vae",
                                          tooltips=_TOOLTIPS["schedule_vae"]),
            "grid": DataclassForm(GridConfig, "grid", tooltips=_TOOLTIPS["grid"]),
            "execution": DataclassForm(ExecutionConfig, "execution",
                                       choices={"cluster": CLUSTERS}),
        }
        for form in self.forms.values():
            form.edited.connect(self._update_validity)

        self.tabs = QTabWidget()
        self.tabs.setToolTip("Settings of the engine, by section")
        self.tabs.addTab(_scrolled(self.forms["jrvae"]), "jrVAE")
        self.tabs.addTab(_scrolled(self.forms["objective"]), "Objective")
        self.tabs.addTab(_scrolled(self.forms["bo"]), "BO")
        svae = QWidget()
        svae_layout = QVBoxLayout(svae)
        for key, title in (("schedule_vae", "Schedule VAE"), ("grid", "Latent grid")):
            box = QGroupBox(title)
            box.setToolTip(f"[{key}] settings")
            QVBoxLayout(box).addWidget(self.forms[key])
            svae_layout.addWidget(box)
        svae_layout.addStretch(1)
        self.tabs.addTab(_scrolled(svae), "Schedule VAE && grid")
        self.tabs.addTab(_scrolled(self._compute_tab()), "Compute")

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setToolTip("Use these settings (disabled while a value is invalid)")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip(
            "Close without changing the settings")
        self.defaults_button: QPushButton = self.buttons.button(
            QDialogButtonBox.StandardButton.RestoreDefaults)
        self.defaults_button.setToolTip(
            "Put every field of these tabs back to its default value (dataset and schedules"
            " are not changed)")
        self.defaults_button.clicked.connect(self.restore_defaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        note = QLabel("These settings apply to the next New campaign; an open campaign keeps"
                      " the settings stored in its file.")
        note.setWordWrap(True)
        note.setStyleSheet("color: gray;")
        preset_row = QFormLayout()
        preset_row.addRow("preset", self.preset_combo)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(preset_row)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)
        self.set_config(self._config)
        self.resize(520, 560)

    # ------------------------------------------------------------------ compute tab

    def _compute_tab(self) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("jrvae.device")
        self.device_combo.addItems(list(DEVICES))
        self.device_combo.setToolTip(
            "Where the jrVAE trainings run: auto uses CUDA when present, else the CPU."
            "\n[jrvae.device]")
        model = self.device_combo.model()
        if "cuda" in DEVICES and not self._cuda:
            item = model.item(DEVICES.index("cuda"))  # type: ignore[attr-defined]
            item.setEnabled(False)
            item.setToolTip("No NVIDIA GPU driver was found on this machine")
        self.device_combo.currentIndexChanged.connect(self._update_validity)
        self.device_note = QLabel("" if self._cuda else "CUDA: no NVIDIA driver found")
        self.device_note.setToolTip("Whether a CUDA device can be used on this machine")
        self.device_note.setStyleSheet("color: gray;")
        form.addRow("device", self.device_combo)
        form.addRow("", self.device_note)

        self.threads_spin = QSpinBox()
        self.threads_spin.setObjectName("threads")
        self.threads_spin.setRange(1, max(1, os.cpu_count() or 1))
        self.threads_spin.setToolTip(
            "CPU threads of the window's own trainings: the schedule VAE, the final model, and"
            " evaluations with execution.workers = 0 (a preference of this computer, not"
            " stored in the campaign)")
        threads = max(1, self.threads_spin.maximum() - 1)  # one core for the window
        if self._settings is not None:
            stored = self._settings.value(THREADS_KEY, threads)
            with contextlib.suppress(TypeError, ValueError):
                threads = int(stored)  # type: ignore[arg-type]
        self.threads_spin.setValue(threads)
        form.addRow("threads", self.threads_spin)

        box = QGroupBox("Where the evaluations train")
        box.setToolTip("[execution] settings: worker processes, a Dask scheduler, SLURM jobs")
        QVBoxLayout(box).addWidget(self.forms["execution"])
        form.addRow(box)

        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seed")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Seed of every random draw of the campaign\n[seed]")
        form.addRow("seed", self.seed_spin)

        self.general_error = QLabel()
        self.general_error.setStyleSheet(ERROR_STYLE)
        self.general_error.setWordWrap(True)
        self.general_error.setToolTip("Why these settings are not accepted")
        self.general_error.hide()
        form.addRow(self.general_error)
        return tab

    # ------------------------------------------------------------------ state

    def set_config(self, config: CampaignConfig) -> None:
        """Show ``config`` in every tab (dataset and schedules are kept for :meth:`config`)."""
        self._config = config
        for key, form in self.forms.items():
            form.set_value(getattr(config, key))
        index = self.device_combo.findText(config.jrvae.device)
        self.device_combo.setCurrentIndex(max(index, 0))
        self.seed_spin.setValue(config.seed)
        self._update_validity()

    def preset(self) -> CampaignConfig | None:
        """The preset chosen (the whole configuration it replaces the draft with), or None."""
        return self._preset

    def _on_preset(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if not name:
            self._preset = None
            return
        self._preset = PRESETS[name][1]
        self.set_config(self._preset)

    def restore_defaults(self) -> None:
        """Put the fields of every tab back to the defaults (dataset and schedules unchanged)."""
        defaults = CampaignConfig()
        self.set_config(self._config.replace(
            seed=defaults.seed,
            **{key: getattr(defaults, key) for key in self.forms}))

    def is_valid(self) -> bool:
        """Whether every field holds a valid value."""
        return all(form.is_valid() for form in self.forms.values())

    def errors(self) -> dict[str, str]:
        """Section -> its current validation message, for the invalid sections."""
        return {k: f.error() or "" for k, f in self.forms.items() if not f.is_valid()}

    def config(self) -> CampaignConfig:
        """The edited configuration.

        Raises:
            ConfigError: If a field is invalid (the message names it).
        """
        sections = {key: form.value() for key, form in self.forms.items()}
        sections["jrvae"] = dataclasses.replace(
            sections["jrvae"], device=self.device_combo.currentText())
        return self._config.replace(seed=self.seed_spin.value(), **sections)

    def threads(self) -> int:
        """The number of CPU threads chosen (a UI preference)."""
        return self.threads_spin.value()

    def set_threads(self, threads: int) -> None:
        """Set the thread-count preference shown (clamped to 1..CPU count)."""
        self.threads_spin.setValue(int(threads))

    def cuda(self) -> bool:
        """Whether CUDA was found on this machine."""
        return self._cuda

    def _update_validity(self, *_: object) -> None:
        valid = self.is_valid()
        message = ""
        if valid:
            try:
                self.config()
            except ConfigError as exc:
                valid, message = False, str(exc)
        self.general_error.setText(message)
        self.general_error.setVisible(bool(message))
        self.ok_button.setEnabled(valid)
        for index in range(self.tabs.count()):
            self.tabs.tabBar().setTabTextColor(index, QColor())  # the style's colour
        for key, form in self.forms.items():
            if not form.is_valid():
                tab = {"jrvae": 0, "objective": 1, "bo": 2, "execution": 4}.get(key, 3)
                self.tabs.tabBar().setTabTextColor(tab, Qt.GlobalColor.red)
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)

    def accept(self) -> None:
        """Close with OK (only while valid); store the thread preference."""
        if not self.is_valid():
            return
        if self._settings is not None:
            self._settings.setValue(THREADS_KEY, self.threads())
        super().accept()
