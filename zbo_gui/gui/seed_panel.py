"""The seed schedules of a campaign: bounds, N, family counts, generate, import, sketch, undo.

The panel holds a :class:`~zbo_gui.core.schedules.ScheduleLibrary` (numpy only) and shows it as
an overlay plot coloured by family. Every change to the library (generate, CSV import, an added
sketch, removed rows) first pushes the previous state on a small undo stack (Ctrl+Z).

Generating keeps the rows imported from CSV files and the sketches (resampled to the new N), and
replaces the generated families. The library is what :meth:`SeedPanel.library` returns; the
campaign config (:meth:`SeedPanel.schedule_config`) can describe generated and CSV rows but not
sketches, so a campaign that should use the sketches needs the library itself.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
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
from zbo_gui.core.schedules import (
    EXTRA_FAMILIES,
    FAMILIES,
    Bounds,
    ScheduleLibrary,
    generate_library,
    load_csv,
)
from zbo_gui.gui.forms import ERROR_STYLE, DataclassForm
from zbo_gui.gui.sketch_canvas import SketchCanvas

pg.setConfigOptions(imageAxisOrder="row-major")

#: Colour per family (Okabe-Ito, then two greys), used by the overlay plot and its legend.
FAMILY_COLOURS: dict[str, tuple[int, int, int]] = dict(
    zip(
        FAMILIES + EXTRA_FAMILIES,
        [(0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233),
         (240, 228, 66), (120, 120, 120), (213, 94, 0), (0, 0, 0)],
        strict=False,
    )
)
#: How many previous libraries "Undo" can restore.
UNDO_DEPTH = 20
_OK_STYLE = "color: #2e7d32;"


def family_description(family: str) -> str:
    """The documented shape and parameter ranges of a seed family (from ``core.schedules``)."""
    generator = getattr(schedules_module, f"_{family}", None)
    doc = inspect.getdoc(generator) if generator is not None else None
    return doc.replace("``", "") if doc else f"{family}: no description"


@dataclasses.dataclass(frozen=True)
class _State:
    library: ScheduleLibrary
    csv_files: tuple[str, ...]


class SeedPanel(QWidget):
    """Build the seed schedule library of a campaign.

    Args:
        config: The schedule settings shown first (default: ``ScheduleConfig()``); the library
            is generated from them.
        seed: The seed of the generated library (the campaign seed).
        parent: The parent widget.

    Signals:
        libraryChanged(object): The library changed (a :class:`ScheduleLibrary`).
    """

    libraryChanged = Signal(object)

    def __init__(
        self, config: ScheduleConfig | None = None, seed: int = 0, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        config = config or ScheduleConfig()
        self._csv_files: tuple[str, ...] = ()
        self._library: ScheduleLibrary | None = None
        self._undo: list[_State] = []
        self._selected: int | None = None
        self._generated_from: tuple[int, float, float] | None = None

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
        self.seed_spin.setValue(int(seed))
        self.seed_spin.setToolTip("Seed of the generated schedules and of the sketch variants")
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
            colour = "#{:02x}{:02x}{:02x}".format(*FAMILY_COLOURS[family])
            name.setStyleSheet(f"color: {colour}; font-weight: bold;")
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

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.form)
        left_layout.addLayout(seed_row)
        left_layout.addWidget(families)
        left_layout.addLayout(actions)
        left_layout.addWidget(self.message)
        left_layout.addWidget(self.summary)
        left_layout.addStretch(1)

        # ---- plot and sketch
        self.plot = pg.PlotWidget()
        self.plot.setToolTip("The seed library, coloured by family; click a curve to select it")
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "β")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self._make_plot_items()
        self.sketch = SketchCanvas(config.n_epochs, Bounds(config.beta_lo, config.beta_hi),
                                   seed=int(seed))
        self.sketch.sketchAdded.connect(self.add_sketch)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plot)
        right.addWidget(self.sketch)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)

        layout = QHBoxLayout(self)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter)

        self.set_config(config)

    # ------------------------------------------------------------------ settings

    @staticmethod
    def _toggle_doc(on: bool, text: QLabel, button: QToolButton) -> None:
        text.setVisible(on)
        button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def counts(self) -> dict[str, int]:
        """Schedules per family, as set in the count spin boxes."""
        return {family: spin.value() for family, spin in self.count_spins.items()}

    def seed(self) -> int:
        """The seed of the generated library."""
        return self.seed_spin.value()

    def set_seed(self, seed: int) -> None:
        """Set the seed (does not regenerate)."""
        self.seed_spin.setValue(int(seed))

    def _on_seed(self, seed: int) -> None:
        self.sketch.set_seed(seed)

    def schedule_config(self) -> ScheduleConfig:
        """The schedule settings: N, bounds, counts and the imported CSV files.

        Raises:
            ConfigError: If a field is invalid (the message names it).
        """
        base = self.form.value()
        return dataclasses.replace(base, counts=self.counts(), csv_files=self._csv_files)

    def set_config(self, config: ScheduleConfig, seed: int | None = None) -> None:
        """Show ``config`` and rebuild the library from it (generated families + its CSV files).

        The rebuilt library equals the one a campaign builds from the same config and seed.
        A CSV file that cannot be read is reported in the message label and left out.

        Args:
            config: The schedule settings.
            seed: The campaign seed (None: keep the panel's seed).
        """
        if seed is not None:
            self.seed_spin.setValue(int(seed))
        self.form.set_value(config)
        for family, spin in self.count_spins.items():
            spin.blockSignals(True)
            spin.setValue(int(config.counts.get(family, 0)))
            spin.blockSignals(False)
        self._csv_files = tuple(config.csv_files)
        self.sketch.set_range(config.n_epochs, Bounds(config.beta_lo, config.beta_hi))
        self.generate_button.setEnabled(True)
        library, problems = self._build(config, keep_extras=False)
        if library is None:
            self._show_error(problems[0] if problems else "no schedules")
            return
        self._set_library(library, self._csv_files, undoable=self._library is not None)
        self._generated_from = (config.n_epochs, config.beta_lo, config.beta_hi)
        if problems:
            self._show_error("; ".join(problems))
        else:
            self._show_ok(f"Generated {len(library)} schedules.")

    def _on_settings_edited(self, *_: object) -> None:
        try:
            config = self.schedule_config()
        except ZboError as exc:
            self._show_error(str(exc))
            self.generate_button.setEnabled(False)
            return
        self.generate_button.setEnabled(True)
        self.sketch.set_range(config.n_epochs, Bounds(config.beta_lo, config.beta_hi))
        stale = self._generated_from != (config.n_epochs, config.beta_lo, config.beta_hi)
        self._show_ok("Settings changed: press Generate to redraw the library." if stale else "")

    # ------------------------------------------------------------------ library changes

    def library(self) -> ScheduleLibrary:
        """The current seed library (``S x N``)."""
        assert self._library is not None
        return self._library

    def _build(
        self, config: ScheduleConfig, keep_extras: bool
    ) -> tuple[ScheduleLibrary | None, list[str]]:
        """The library ``config`` describes; with ``keep_extras``, plus today's CSV/sketch rows."""
        bounds = Bounds(config.beta_lo, config.beta_hi)
        problems: list[str] = []
        parts: list[ScheduleLibrary] = []
        if sum(config.counts.values()) > 0:
            parts.append(generate_library(config.counts, config.n_epochs, bounds, self.seed()))
        if keep_extras and self._library is not None:
            rows = [i for i, f in enumerate(self._library.families) if f in EXTRA_FAMILIES]
            if rows:
                old = self._library.schedules[rows]
                x_old = np.linspace(0.0, 1.0, old.shape[1])
                x_new = np.linspace(0.0, 1.0, config.n_epochs)
                resampled = np.stack([np.interp(x_new, x_old, r) for r in old])
                parts.append(ScheduleLibrary(
                    resampled, tuple(self._library.families[i] for i in rows)))
        else:
            for path in config.csv_files:
                try:
                    curves = load_csv(path, config.n_epochs)
                except ZboError as exc:
                    problems.append(str(exc))
                    continue
                parts.append(ScheduleLibrary(curves, ("csv",) * len(curves)))
        if not parts:
            return None, problems or ["the library would be empty: set a count above 0"]
        library = parts[0]
        for part in parts[1:]:
            library = library.concat(part)
        return library, problems

    def generate(self) -> bool:
        """Draw the generated families anew (seeded); keep CSV rows and sketches.

        Returns:
            Whether the library changed (errors are shown in the message label).
        """
        try:
            config = self.schedule_config()
            library, _ = self._build(config, keep_extras=True)
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        if library is None:
            self._show_error("the library would be empty: set a count above 0")
            return False
        self._set_library(library, self._csv_files)
        self._generated_from = (config.n_epochs, config.beta_lo, config.beta_hi)
        self._show_ok(f"Generated {len(library)} schedules (seed {self.seed()}).")
        return True

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import schedules", "", "CSV files (*.csv *.txt);;All files (*)")
        if path:
            self.import_csv(path)

    def import_csv(self, path: str | Path) -> bool:
        """Add the schedules of a CSV file (resampled to N) as family ``csv``.

        Returns:
            Whether the file was imported; a bad file leaves the library unchanged and shows the
            error in the message label.
        """
        try:
            n = self.form.value().n_epochs
            curves = load_csv(path, n)
            rows = ScheduleLibrary(curves, ("csv",) * len(curves))
            library = rows if self._library is None else self._library.concat(rows)
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        name = str(path)
        files = self._csv_files if name in self._csv_files else (*self._csv_files, name)
        self._set_library(library, files)
        outside = self._outside_bounds(curves)
        note = f"; {outside} outside the bounds" if outside else ""
        self._show_ok(f"Imported {len(curves)} schedules from {Path(path).name}{note}.")
        return True

    def _outside_bounds(self, curves: np.ndarray) -> int:
        try:
            config = self.form.value()
        except ZboError:
            return 0
        bad = (curves < config.beta_lo) | (curves > config.beta_hi)
        return int(bad.any(axis=1).sum())

    def add_sketch(self, rows: np.ndarray) -> bool:
        """Add a sketched curve and its variants (``(K + 1) x N``) as family ``sketch``.

        Returns:
            Whether they were added (rows of another length are refused with a message).
        """
        try:
            part = ScheduleLibrary(np.asarray(rows, dtype=np.float64), ("sketch",) * len(rows))
            library = part if self._library is None else self._library.concat(part)
        except ZboError as exc:
            self._show_error(str(exc))
            return False
        self._set_library(library, self._csv_files)
        self._show_ok(f"Added a sketch and {len(part) - 1} variants.")
        return True

    def remove(self, rows: Sequence[int]) -> bool:
        """Remove library rows by index.

        Returns:
            Whether rows were removed (the library must keep at least one schedule).
        """
        assert self._library is not None
        drop = {int(r) for r in rows if 0 <= int(r) < len(self._library)}
        keep = [i for i in range(len(self._library)) if i not in drop]
        if not drop:
            return False
        if not keep:
            self._show_error("the library needs at least one schedule")
            return False
        library = ScheduleLibrary(self._library.schedules[keep],
                                  tuple(self._library.families[i] for i in keep))
        self._set_library(library, self._csv_files)
        self._show_ok(f"Removed {len(drop)} schedule{'s' if len(drop) > 1 else ''}.")
        return True

    def remove_selected(self) -> bool:
        """Remove the schedule selected in the plot (see :meth:`select`)."""
        if self._selected is None:
            self._show_error("Click a curve in the plot to select it first.")
            return False
        return self.remove([self._selected])

    def select(self, row: int | None) -> None:
        """Select (highlight) a library row, or none."""
        self._selected = row
        self._style_curves()

    def selected(self) -> int | None:
        """The selected library row, or None."""
        return self._selected

    def can_undo(self) -> bool:
        """Whether there is a change to undo."""
        return bool(self._undo)

    def undo(self) -> bool:
        """Restore the library (and CSV file list) before the last change.

        Returns:
            Whether there was a change to undo.
        """
        if not self._undo:
            self._show_error("Nothing to undo.")
            return False
        state = self._undo.pop()
        self._set_library(state.library, state.csv_files, undoable=False)
        self._show_ok("Undone.")
        return True

    def _set_library(
        self, library: ScheduleLibrary, csv_files: tuple[str, ...], undoable: bool = True
    ) -> None:
        if undoable and self._library is not None:
            self._undo.append(_State(self._library, self._csv_files))
            del self._undo[:-UNDO_DEPTH]
        self._library = library
        self._csv_files = csv_files
        self._selected = None
        self._update_plot()
        self.undo_button.setEnabled(bool(self._undo))
        counts: dict[str, int] = {}
        for family in library.families:
            counts[family] = counts.get(family, 0) + 1
        parts = ", ".join(f"{n} {f}" for f, n in counts.items())
        self.summary.setText(f"{len(library)} schedules × {library.n_epochs} epochs: {parts}")
        self.libraryChanged.emit(library)

    # ------------------------------------------------------------------ display

    def curve_items(self) -> dict[str, pg.PlotDataItem]:
        """The plot item of each family in the library (its rows joined, separated by NaN)."""
        return {f: item for f, item in self._family_items.items() if self._plotted.get(f)}

    def plotted_counts(self) -> dict[str, int]:
        """Rows drawn per family (equals the library's family counts)."""
        return {f: n for f, n in self._plotted.items() if n}

    def _make_plot_items(self) -> None:
        """Create the plot items once: one per family and one for the selected row."""
        self._family_items: dict[str, pg.PlotDataItem] = {}
        self._plotted: dict[str, int] = {}
        for family in FAMILIES + EXTRA_FAMILIES:
            colour = FAMILY_COLOURS.get(family, (0, 0, 0))
            item = self.plot.plot(pen=pg.mkPen((*colour, 170), width=1.5), connect="finite")
            item.setCurveClickable(True, width=6)
            item.sigClicked.connect(self._on_curve_clicked)
            self._family_items[family] = item
        self._highlight = self.plot.plot(connect="finite")
        self._highlight.setZValue(10)
        self.legend.clear()

    def _update_plot(self) -> None:
        library = self.library()
        try:
            log = Bounds(*self._bounds_now()).log_scale
        except ZboError:
            log = False
        self.plot.setLogMode(x=False, y=log)
        n = library.n_epochs
        epochs = np.append(np.arange(n, dtype=np.float64), np.nan)
        families = np.array(library.families)
        self.legend.clear()
        self._plotted = {}
        for family, item in self._family_items.items():
            rows = library.schedules[families == family]
            self._plotted[family] = len(rows)
            if len(rows) == 0:
                item.setData([], [])
                item.hide()
                continue
            x = np.tile(epochs, len(rows))
            y = np.concatenate([rows, np.full((len(rows), 1), np.nan)], axis=1).reshape(-1)
            item.setData(x, y, connect="finite")
            item.show()
            self.legend.addItem(item, family)
        self._style_curves()
        self.plot.enableAutoRange()

    def _bounds_now(self) -> tuple[float, float]:
        config = self.form.value()
        return config.beta_lo, config.beta_hi

    def _style_curves(self) -> None:
        if self._library is None or self._selected is None:
            self._highlight.setData([], [])
            self._highlight.hide()
        else:
            family = self._library.families[self._selected]
            colour = FAMILY_COLOURS.get(family, (0, 0, 0))
            self._highlight.setPen(pg.mkPen(colour, width=4))
            self._highlight.setData(np.arange(self._library.n_epochs),
                                    self._library.schedules[self._selected])
            self._highlight.show()
        self.remove_button.setEnabled(self._selected is not None)

    def row_at(self, family: str, epoch: float, y_view: float) -> int | None:
        """The library row of ``family`` nearest to a point of the plot (view coordinates).

        Args:
            family: The family whose rows are searched.
            epoch: x of the point.
            y_view: y of the point in view coordinates (log10 β on a log axis).

        Returns:
            The row index in the library, or None when the family has no rows.
        """
        if self._library is None:
            return None
        rows = [i for i, f in enumerate(self._library.families) if f == family]
        if not rows:
            return None
        values = self._library.schedules[rows]
        if self.plot.getPlotItem().getAxis("left").logMode:
            values = np.log10(values)
        at = np.array([np.interp(epoch, np.arange(values.shape[1]), v) for v in values])
        return rows[int(np.argmin(np.abs(at - y_view)))]

    def _on_curve_clicked(self, item: pg.GraphicsObject, event: object = None) -> None:
        family = next((f for f, it in self._family_items.items()
                       if item is it or item is it.curve), None)  # 0.14 emits the curve
        pos = getattr(event, "pos", None)
        if family is None or pos is None:
            return
        point = pos()
        row = self.row_at(family, point.x(), point.y())
        if row is not None:
            self.select(None if row == self._selected else row)

    def _show_error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(text)

    def _show_ok(self, text: str) -> None:
        self.message.setStyleSheet(_OK_STYLE)
        self.message.setText(text)
