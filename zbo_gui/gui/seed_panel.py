"""The seed schedules of the next campaign: bounds, N, family counts, generate, import, sketch.

A widget only. The library it shows and edits is the draft's
(:class:`~zbo_gui.model.draft.DraftModel`): generate, CSV import, an added sketch, removed rows
and undo are the draft's operations, so what the panel shows is exactly what New campaign hands
to the runner. The plot overlays the library coloured by family (the colours of the family
names in the counts list, which is the legend). Bound to a campaign model too, it can show an
open campaign's seed library instead, read-only (:meth:`SeedPanel.show_campaign`).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.core import schedules as schedules_module
from zbo_gui.core.config import ScheduleConfig
from zbo_gui.core.errors import ZboError
from zbo_gui.core.schedules import FAMILIES, Bounds, ScheduleLibrary
from zbo_gui.gui.forms import ERROR_STYLE, WARN_STYLE, DataclassForm, set_narrow
from zbo_gui.gui.library_plot import LibraryPlot, family_colour
from zbo_gui.gui.sketch_canvas import SketchCanvas
from zbo_gui.model.campaign import CampaignModel
from zbo_gui.model.draft import DraftModel

_OK_STYLE = "color: #2e7d32;"
#: The panel's height when its plots go under its settings (a narrow dock; it scrolls).
NARROW_HEIGHT = 980
#: Height kept for the library plot and the sketch canvas under the settings (narrow layout).
PLOTS_HEIGHT = 420


def family_description(family: str) -> str:
    """The documented shape and parameter ranges of a seed family (from ``core.schedules``)."""
    generator = getattr(schedules_module, f"_{family}", None)
    doc = inspect.getdoc(generator) if generator is not None else None
    return doc.replace("``", "") if doc else f"{family}: no description"


class SeedPanel(QWidget):
    """Build the seed schedule library of the next campaign (the draft's).

    Args:
        draft: the draft whose library and schedule settings it edits.
        campaign: the open campaign (for :meth:`show_campaign`).
        parent: the parent widget.
    """

    def __init__(self, draft: DraftModel, campaign: CampaignModel | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.draft = draft
        self.campaign = campaign
        self._campaign_view = False
        self._narrow = False
        config = draft.config.schedules

        # ---- bounds, N and seed
        self.form = DataclassForm(
            ScheduleConfig, "schedules", fields=("beta_lo", "beta_hi", "n_epochs"),
            labels={"beta_lo": "β lo", "beta_hi": "β hi", "n_epochs": "N (epochs)"},
            tooltips={
                "beta_lo": "Lower bound β_lo of the KL weight β_c (> 0)",
                "beta_hi": "Upper bound β_hi of β_c (> β_lo); a log scale when β_hi/β_lo ≥ 10",
                "n_epochs": "N: the number of jrVAE epochs, one β value per epoch",
            },
            base=config)
        self.form.edited.connect(self._on_settings_edited)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(int(draft.config.seed))
        self.seed_spin.setToolTip("Seed of the campaign: of the generated schedules, the sketch"
                                  " variants and the trainings (press Generate to redraw)")
        self.seed_spin.valueChanged.connect(self._on_seed)
        seed_row = QHBoxLayout()
        seed_label = QLabel("seed")
        seed_label.setToolTip(self.seed_spin.toolTip())
        seed_row.addWidget(seed_label)
        seed_row.addWidget(self.seed_spin, 1)

        # ---- families
        families = QGroupBox("Families")
        families.setToolTip("How many schedules to draw from each family")
        grid = QGridLayout(families)
        self.count_spins: dict[str, QSpinBox] = {}
        self.family_docs: dict[str, QLabel] = {}
        for row, family in enumerate(FAMILIES):
            toggle = QToolButton()
            toggle.setArrowType(Qt.ArrowType.RightArrow)
            toggle.setCheckable(True)
            toggle.setAutoRaise(True)
            toggle.setToolTip(f"Show the parameter ranges of the {family} family")
            name = QLabel(family)
            name.setStyleSheet(f"color: {family_colour(family)}; font-weight: bold;")
            doc = family_description(family)
            name.setToolTip(doc)
            spin = QSpinBox()
            spin.setRange(0, 10_000)
            spin.setObjectName(f"schedules.counts.{family}")
            spin.setToolTip(f"Number of {family} schedules in the library")
            spin.valueChanged.connect(self._on_settings_edited)
            text = QLabel(doc)
            text.setWordWrap(True)
            text.setStyleSheet("color: gray;")
            text.setToolTip(f"Parameters of the {family} family (in unit space [0, 1])")
            text.hide()
            toggle.toggled.connect(lambda on, t=text, b=toggle: self._toggle_doc(on, t, b))
            grid.addWidget(toggle, 2 * row, 0)
            grid.addWidget(name, 2 * row, 1)
            grid.addWidget(spin, 2 * row, 2)
            grid.addWidget(text, 2 * row + 1, 0, 1, 3)
            self.count_spins[family] = spin
            self.family_docs[family] = text

        # ---- β_d: a constant, or a curve optimised with β_c
        beta_d = self._beta_d_box(config)

        # ---- actions
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip(
            "Draw the library from the families (seeded); CSV rows and sketches are kept")
        self.generate_button.clicked.connect(self.generate)
        self.import_button = QPushButton("Import CSV…")
        self.import_button.setToolTip(
            "Add schedules from a CSV file: one schedule per row, or a beta_c column")
        self.import_button.clicked.connect(self._import_dialog)
        self.remove_button = QPushButton("Remove selected")
        self.remove_button.setToolTip("Remove the schedule selected in the plot (click a curve)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Undo the last change to the library (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo)
        self._undo_shortcut = QShortcut(QKeySequence.StandardKey.Undo, self)
        self._undo_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._undo_shortcut.activated.connect(self.undo)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setToolTip("The result of the last action")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setToolTip("The library's size by family")
        actions = QGridLayout()
        actions.addWidget(self.generate_button, 0, 0)
        actions.addWidget(self.import_button, 0, 1)
        actions.addWidget(self.remove_button, 1, 0)
        actions.addWidget(self.undo_button, 1, 1)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("color: gray;")
        self.banner.setToolTip("Which library the panel shows")
        self.banner.hide()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.banner)
        left_layout.addWidget(self.form)
        left_layout.addLayout(seed_row)
        left_layout.addWidget(families)
        left_layout.addWidget(beta_d)
        left_layout.addLayout(actions)
        left_layout.addWidget(self.message)
        left_layout.addWidget(self.summary)
        left_layout.addStretch(1)

        # ---- plot and sketch
        self.library_plot = LibraryPlot()
        self.library_plot.rowClicked.connect(
            lambda row: self.select(None if row == self.selected() else row))
        self.plot = self.library_plot.plot
        self.sketch = SketchCanvas(config.n_epochs, Bounds(config.beta_lo, config.beta_hi),
                                   seed=int(draft.config.seed))
        self.sketch.sketchAdded.connect(self.add_sketch)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.library_plot)
        right.addWidget(self.sketch)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)

        layout = QHBoxLayout(self)
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter)

        draft.events.library.connect(lambda _: self._show_library())
        if campaign is not None:  # a campaign replaced while shown: show the new one's seeds
            campaign.events.opened.connect(
                lambda _: self.show_campaign(True) if self._campaign_view else None)
        draft.events.config.connect(lambda _: self._show_draft_settings())
        self._show_draft_settings()
        self._show_library()

    def _beta_d_box(self, config: ScheduleConfig) -> QGroupBox:
        """The β_d group: optimise β_d(epoch) too (its bounds and seed families), or not."""
        box = QGroupBox("β_d (discrete KL weight)")
        box.setToolTip("β_d weighs the KL term of the discrete (class) latent. Off: the"
                       " constant jrvae.beta_d of Settings. On: every seed is a pair (β_c, β_d)"
                       " and the search optimises both curves in one latent space.")
        layout = QGridLayout(box)
        self._beta_d_rows: list[QWidget] = []  # shown only while β_d is optimised
        self.beta_d_check = QCheckBox("Optimise β_d(epoch) too")
        self.beta_d_check.setObjectName("schedules.beta_d")
        self.beta_d_check.setToolTip(box.toolTip())
        self.beta_d_check.toggled.connect(self._on_beta_d_toggled)
        layout.addWidget(self.beta_d_check, 0, 0, 1, 4)
        self.beta_d_spins: dict[str, QDoubleSpinBox] = {}
        for col, (key, label, tip) in enumerate((
                ("beta_d_lo", "lo", "Lower bound of β_d (> 0)"),
                ("beta_d_hi", "hi", "Upper bound of β_d (> β_d lo); a log scale when"
                                    " hi/lo ≥ 10"))):
            spin = QDoubleSpinBox()
            spin.setDecimals(3)
            spin.setRange(1e-3, 1e3)
            spin.setMinimumWidth(60)
            spin.setMaximumWidth(84)
            spin.setObjectName(f"schedules.{key}")
            spin.setToolTip(tip)
            spin.valueChanged.connect(self._on_settings_edited)
            name = QLabel(f"β_d {label}" if col == 0 else label)
            name.setToolTip(tip)
            layout.addWidget(name, 1, 2 * col)
            layout.addWidget(spin, 1, 2 * col + 1)
            self.beta_d_spins[key] = spin
            self._beta_d_rows += [name, spin]
        toggle = QToolButton()
        toggle.setArrowType(Qt.ArrowType.RightArrow)
        toggle.setCheckable(True)
        toggle.setAutoRaise(True)
        toggle.setText("β_d families (shares)")
        toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toggle.setToolTip("Relative shares of the families the seeds' β_d curves are drawn"
                          " from; each seed's β_c curve gets one at random")
        self.beta_d_families_toggle = toggle
        layout.addWidget(toggle, 2, 0, 1, 4)
        self._beta_d_rows.append(toggle)
        shares = QWidget()
        shares.setToolTip(toggle.toolTip())
        grid = QGridLayout(shares)
        grid.setContentsMargins(12, 0, 0, 0)
        self.beta_d_share_spins: dict[str, QSpinBox] = {}
        for row, family in enumerate(FAMILIES):
            name = QLabel(family)
            name.setStyleSheet(f"color: {family_colour(family)};")
            spin = QSpinBox()
            spin.setRange(0, 1000)
            spin.setObjectName(f"schedules.beta_d_families.{family}")
            spin.setToolTip(f"Share of {family} β_d curves")
            spin.valueChanged.connect(self._on_settings_edited)
            grid.addWidget(name, row, 0)
            grid.addWidget(spin, row, 1)
            self.beta_d_share_spins[family] = spin
        self._beta_d_shares = shares
        layout.addWidget(shares, 3, 0, 1, 4)
        toggle.toggled.connect(lambda on: (self._toggle_doc(on, shares, toggle),
                                           self._enable_beta_d()))
        self._show_beta_d(config)
        return box

    def _show_beta_d(self, config: ScheduleConfig) -> None:
        """The β_d widgets as ``config`` says (signals blocked)."""
        widgets = (self.beta_d_check, *self.beta_d_spins.values(),
                   *self.beta_d_share_spins.values())
        for widget in widgets:
            widget.blockSignals(True)
        self.beta_d_check.setChecked(config.joint)
        self.beta_d_spins["beta_d_lo"].setValue(config.beta_d_lo if config.joint else 0.1)
        self.beta_d_spins["beta_d_hi"].setValue(config.beta_d_hi if config.joint else 10.0)
        for family, spin in self.beta_d_share_spins.items():
            spin.setValue(int(config.beta_d_families.get(family, 0)))
        for widget in widgets:
            widget.blockSignals(False)
        self._enable_beta_d()

    def _enable_beta_d(self) -> None:
        """The bounds and shares: shown while β_d is optimised, editable in the draft."""
        on = self.beta_d_check.isChecked()
        for widget in self._beta_d_rows:
            widget.setVisible(on)
            widget.setEnabled(self.beta_d_check.isEnabled())
        self._beta_d_shares.setVisible(on and self.beta_d_families_toggle.isChecked())
        self._beta_d_shares.setEnabled(self.beta_d_check.isEnabled())
        if self._narrow:  # room for the rows shown or hidden
            self.set_narrow(True)

    def _on_beta_d_toggled(self, _on: bool) -> None:
        self._enable_beta_d()
        self._on_settings_edited()

    # ------------------------------------------------------------------ reading

    def set_narrow(self, narrow: bool) -> None:
        """Settings beside the plots (a wide dock), or above them (``narrow``: the panel is
        then taller, and its tab scrolls down to the library and the sketch canvas)."""
        self._narrow = narrow
        settings = self.splitter.widget(0).sizeHint().height()  # taller with the β_d rows
        height = max(NARROW_HEIGHT, settings + PLOTS_HEIGHT)
        set_narrow(self, self.splitter, narrow, height)
        if narrow:  # the settings at their full height, the plots below them
            self.splitter.setSizes([settings, height - settings])

    @staticmethod
    def _toggle_doc(on: bool, text: QLabel, button: QToolButton) -> None:
        text.setVisible(on)
        button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def counts(self) -> dict[str, int]:
        """Schedules per family, as set in the count spin boxes."""
        return {family: spin.value() for family, spin in self.count_spins.items()}

    def seed(self) -> int:
        """The seed shown."""
        return self.seed_spin.value()

    def library(self) -> ScheduleLibrary | None:
        """The library shown: the draft's, or the open campaign's in :meth:`show_campaign`
        (None while that campaign has no seed library stored yet)."""
        if self._campaign_view and self.campaign is not None:
            return self.campaign.seeds
        return self.draft.library

    def schedule_config(self) -> ScheduleConfig:
        """N, the bounds and the counts as edited (the CSV files are the draft's).

        Raises:
            ConfigError: a field is invalid (the message names it).
        """
        base = self.form.value()
        joint = self.beta_d_check.isChecked()
        return dataclasses.replace(
            base, counts=self.counts(), csv_files=self.draft.config.schedules.csv_files,
            beta_d_lo=self.beta_d_spins["beta_d_lo"].value() if joint else None,
            beta_d_hi=self.beta_d_spins["beta_d_hi"].value() if joint else None,
            beta_d_families={f: s.value() for f, s in self.beta_d_share_spins.items()
                             if s.value()})

    # ------------------------------------------------------------------ the draft's operations

    def generate(self) -> bool:
        """Draw the generated families anew (the draft's seed); keep CSV rows and sketches.

        Returns:
            Whether the library changed (errors are shown in the message label).
        """
        try:
            self.draft.set_schedules(self.schedule_config())
            library = self.draft.generate()
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        self._show_ok(f"Generated {len(library)} schedules (seed {self.draft.config.seed}).")
        return True

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import schedules", "", "CSV files (*.csv *.txt);;All files (*)")
        if path:
            self.import_csv(path)

    def import_csv(self, path: str | Path) -> bool:
        """Add the schedules of a CSV file (resampled to N) as family ``csv``.

        Returns:
            Whether the file was imported; a bad file leaves the library unchanged and shows
            the error in the message label.
        """
        try:
            added = self.draft.import_csv(path)
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        outside = self.draft.outside_bounds(self.draft.library.schedules[-added:])
        note = f"; {outside} outside the bounds" if outside else ""
        self._show_ok(f"Imported {added} schedules from {Path(path).name}{note}.")
        return True

    def add_sketch(self, rows: np.ndarray) -> bool:
        """Add a sketched curve and its variants (``(K + 1) x N``) as family ``sketch``."""
        try:
            self.draft.add_sketch(rows)
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        self._show_ok(f"Added a sketch and {len(rows) - 1} variants.")
        return True

    def remove(self, rows: Sequence[int]) -> bool:
        """Remove library rows by index; whether any was removed."""
        try:
            removed = self.draft.remove(rows)
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        if removed:
            self._show_ok(f"Removed {removed} schedule{'s' if removed > 1 else ''}.")
        return bool(removed)

    def remove_selected(self) -> bool:
        """Remove the schedule selected in the plot (see :meth:`select`)."""
        row = self.selected()
        if row is None:
            self._show_error("Click a curve in the plot to select it first.")
            return False
        self.select(None)
        return self.remove([row])

    def select(self, row: int | None) -> None:
        """Select (highlight) a library row, or none."""
        self.library_plot.select(row)
        self.remove_button.setEnabled(not self._campaign_view and row is not None)

    def selected(self) -> int | None:
        """The selected library row, or None."""
        return self.library_plot.selected

    def can_undo(self) -> bool:
        """Whether there is a change to undo."""
        return self.draft.can_undo

    def undo(self) -> bool:
        """Restore the library before its last change; whether there was one."""
        if self._campaign_view:
            return False
        if not self.draft.undo():
            self._show_error("Nothing to undo.")
            return False
        self._show_ok("Undone.")
        return True

    # ------------------------------------------------------------------ campaign view

    def show_campaign(self, on: bool) -> None:
        """Show the open campaign's seed library, read-only (``on``), or the draft's."""
        self._campaign_view = bool(on) and self.campaign is not None and self.campaign.is_open
        editable = not self._campaign_view
        for widget in (self.form, self.seed_spin, *self.count_spins.values(),
                       self.generate_button, self.import_button, self.remove_button,
                       self.undo_button, self.sketch, self.beta_d_check):
            widget.setEnabled(editable)
        self._enable_beta_d()
        if self._campaign_view:
            assert self.campaign is not None and self.campaign.config is not None
            self.banner.setText(f"The seed library of the open campaign ({self.campaign.path});"
                                " read-only. New campaign uses the draft: “Edit as new"
                                " campaign”.")
            self.banner.show()
            self._show_settings(self.campaign.config.schedules, self.campaign.config.seed)
        else:
            self.banner.hide()
            self._show_draft_settings()
        self.library_plot.select(None)
        self._show_library()

    @property
    def campaign_view(self) -> bool:
        """Whether the panel shows the open campaign's library (read-only)."""
        return self._campaign_view

    # ------------------------------------------------------------------ display

    def _show_draft_settings(self) -> None:
        if not self._campaign_view:
            self._show_settings(self.draft.config.schedules, self.draft.config.seed)
            self._show_staleness()

    def _show_staleness(self) -> None:
        """Say so when the library no longer is what the settings describe (New refuses it)."""
        reason = self.draft.stale_reason()
        if reason:
            self._show_warning(f"The library was drawn with other settings ({reason}): press"
                               " Generate to redraw it, or Undo.")
        elif self.message.styleSheet() == WARN_STYLE:
            self._show_ok("")

    def _show_settings(self, config: ScheduleConfig, seed: int) -> None:
        self.form.blockSignals(True)
        self.form.set_value(config)
        self.form.blockSignals(False)
        for family, spin in self.count_spins.items():
            spin.blockSignals(True)
            spin.setValue(int(config.counts.get(family, 0)))
            spin.blockSignals(False)
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(int(seed))
        self.seed_spin.blockSignals(False)
        self._show_beta_d(config)
        self.sketch.set_seed(int(seed))
        self.sketch.set_range(config.n_epochs, Bounds(config.beta_lo, config.beta_hi))

    def _on_settings_edited(self, *_: object) -> None:
        try:
            config = self.schedule_config()
        except ZboError as exc:
            self._show_error(str(exc))
            self.generate_button.setEnabled(False)
            return
        self.generate_button.setEnabled(True)
        self.draft.set_schedules(config)
        self._show_staleness()

    def _on_seed(self, seed: int) -> None:
        self.draft.set_seed(seed)
        self._show_staleness()

    def _show_library(self) -> None:
        library = self.library()
        self.library_plot.show_library(library, self._shown_bounds())
        self.select(self.selected())
        self.undo_button.setEnabled(not self._campaign_view and self.draft.can_undo)
        if library is None:
            self.summary.setText("No seed library stored in this campaign yet.")
            return
        counts: dict[str, int] = {}
        for family in library.families:
            counts[family] = counts.get(family, 0) + 1
        parts = ", ".join(f"<span style='color:{family_colour(f)}'>{n} {f}</span>"
                          for f, n in counts.items())
        pairs = (" (pairs: β_c shown; each has a β_d curve from the β_d families)"
                 if library.pairs else "")
        self.summary.setText(f"{len(library)} schedules × {library.n_epochs} epochs{pairs}:"
                             f" {parts}")

    def curve_items(self) -> dict[str, pg.PlotDataItem]:
        """The plot item of each family in the library (its rows joined, separated by NaN)."""
        return self.library_plot.curve_items()

    def plotted_counts(self) -> dict[str, int]:
        """Rows drawn per family (equals the library's family counts)."""
        return self.library_plot.plotted_counts()

    def row_at(self, family: str, epoch: float, y_view: float) -> int | None:
        """The library row of ``family`` nearest to a point of the plot (view coordinates)."""
        return self.library_plot.row_at(family, epoch, y_view)

    def _shown_bounds(self) -> Bounds:
        if self._campaign_view and self.campaign is not None and self.campaign.config:
            sc = self.campaign.config.schedules
        else:
            sc = self.draft.config.schedules
        return Bounds(sc.beta_lo, sc.beta_hi)

    def _show_error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(text)

    def _show_warning(self, text: str) -> None:
        self.message.setStyleSheet(WARN_STYLE)
        self.message.setText(text)

    def _show_ok(self, text: str) -> None:
        self.message.setStyleSheet(_OK_STYLE)
        self.message.setText(text)
