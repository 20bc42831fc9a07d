"""The parts of the main window that are not views: run controls and menus, the status bar,
the dock layout (fitted to the screen, remembered) with recent files, and the inputs dock.

Each part takes the :class:`~zbo_gui.gui.main_window.MainWindow` and reads the campaign model
through it; none keeps campaign data.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QButtonGroup,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.gui.workers_view import WorkersButton
from zbo_gui.model.campaign import CampaignModel
from zbo_gui.model.messages import RunProgress, RunState

if TYPE_CHECKING:
    from zbo_gui.gui.dataset_panel import DatasetPanel
    from zbo_gui.gui.main_window import MainWindow
    from zbo_gui.gui.seed_panel import SeedPanel

MAX_RECENT = 8
FILE_FILTER = "zBO campaigns (*.h5 *.hdf5);;All files (*)"
#: The window's size on first start, when the screen has room for it.
PREFERRED_SIZE = QSize(1500, 950)
_STATE_TEXT = {
    RunState.EMPTY: "No campaign open — build one on the left, then New campaign",
    RunState.IDLE: "Ready — Start runs the campaign",
    RunState.PREPARING: "Preparing…", RunState.RUNNING: "Running",
    RunState.PAUSING: "Pausing after this evaluation…",
    RunState.PAUSED: "Paused — Start continues the campaign",
    RunState.STOPPING: "Stopping…", RunState.FINISHED: "Finished",
    RunState.TRAINING_FINAL: "Training the final model…",
}


def format_seconds(seconds: float) -> str:
    """``h:mm:ss`` (``–`` when not finite)."""
    if not math.isfinite(seconds):
        return "–"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# ---------------------------------------------------------------------------- inputs dock
#: Below this width the inputs dock stacks each panel's settings above its plots.
NARROW_WIDTH = 600


class WheelScrolls(QObject):
    """Over a spin box or combo box that has no keyboard focus, the mouse wheel scrolls the
    panel instead of changing the value (scrolling down a panel must not edit it on the way).

    Args:
        scroll: the scroll area the panel sits in.
    """

    def __init__(self, scroll: QScrollArea) -> None:
        super().__init__(scroll)
        self._scroll = scroll
        panel = scroll.widget()
        for field in [*panel.findChildren(QAbstractSpinBox), *panel.findChildren(QComboBox)]:
            field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel does not focus it
            field.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Pass a wheel turn over an unfocused field on to the scroll bar."""
        if event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            QApplication.sendEvent(self._scroll.verticalScrollBar(), event)
            return True
        return super().eventFilter(watched, event)


class InputsPanel(QWidget):
    """The dataset and seed panels, showing either the open campaign (read-only) or the draft.

    Args:
        dataset: the dataset panel.
        seeds: the seed panel.
        model: the campaign model.

    Signals:
        editAsNew(): "Edit as new campaign" was pressed.
    """

    editAsNew = Signal()

    def __init__(self, dataset: DatasetPanel, seeds: SeedPanel, model: CampaignModel) -> None:
        super().__init__()
        self.model = model
        self.dataset_panel, self.seed_panel = dataset, seeds
        self.campaign_button = QPushButton("Open campaign")
        self.campaign_button.setToolTip("Show the configuration of the open campaign"
                                        " (read-only)")
        self.draft_button = QPushButton("Next campaign")
        self.draft_button.setToolTip("Edit the draft of the next campaign: what New campaign"
                                     " will run")
        group = QButtonGroup(self)
        for button in (self.campaign_button, self.draft_button):
            button.setCheckable(True)
            group.addButton(button)
        self.draft_button.setChecked(True)
        self.campaign_button.toggled.connect(
            lambda on: self.show_campaign(on) if on else None)
        self.draft_button.toggled.connect(lambda on: self.show_campaign(False) if on else None)
        self.edit_button = QPushButton("Edit as new campaign")
        self.edit_button.setToolTip("Start the draft from the open campaign's configuration and"
                                    " seed library")
        self.edit_button.clicked.connect(self.editAsNew)
        header = QHBoxLayout()  # narrow: the dock may be dragged down to the tabs' width
        header.addWidget(QLabel("Show:"))
        header.addWidget(self.campaign_button)
        header.addWidget(self.draft_button)
        header.addStretch(1)
        edit_row = QHBoxLayout()
        edit_row.addStretch(1)
        edit_row.addWidget(self.edit_button)
        self.tabs = QTabWidget()
        for panel, title in ((dataset, "Dataset"), (seeds, "Seed schedules")):
            scroll = QScrollArea()  # the dock may be narrower than the panel likes
            scroll.setWidgetResizable(True)
            scroll.setWidget(panel)
            WheelScrolls(scroll)
            self.tabs.addTab(scroll, title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(header)
        layout.addLayout(edit_row)
        layout.addWidget(self.tabs, 1)
        self.show_campaign(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Below :data:`NARROW_WIDTH` the panels stack their halves (settings, then plots)."""
        super().resizeEvent(event)
        narrow = event.size().width() < NARROW_WIDTH
        self.dataset_panel.set_narrow(narrow)
        self.seed_panel.set_narrow(narrow)

    def show_campaign(self, on: bool) -> None:
        """Show the open campaign's configuration read-only (``on``), or the editable draft."""
        on = bool(on) and self.model.is_open
        for button, checked in ((self.campaign_button, on), (self.draft_button, not on)):
            button.blockSignals(True)
            button.setChecked(checked)
            button.blockSignals(False)
        self.campaign_button.setEnabled(self.model.is_open)
        self.edit_button.setEnabled(self.model.is_open)
        self.dataset_panel.show_campaign(on)
        self.seed_panel.show_campaign(on)

    @property
    def campaign_shown(self) -> bool:
        """Whether the open campaign's configuration is shown (read-only)."""
        return self.campaign_button.isChecked()


# ---------------------------------------------------------------------------- actions
class WindowActions:
    """The window's actions, menus and tool bar, enabled by the run state."""

    def __init__(self, window: MainWindow) -> None:
        self.window = w = window
        a = self._action
        w.act_new = a("&New campaign…", w.new_campaign, QKeySequence.StandardKey.New,
                      "Start a new campaign from the draft: dataset, seeds and settings")
        w.act_open = a("&Open campaign…", w.open_dialog, QKeySequence.StandardKey.Open,
                       "Open a campaign file (also one begun with `zbo run`)")
        w.act_save_as = a("Save campaign &as…", w.save_as, QKeySequence.StandardKey.SaveAs,
                          "Copy the campaign file elsewhere and continue there")
        w.act_edit_as_new = a("&Edit as new campaign", w.edit_as_new, None,
                              "Copy the open campaign's configuration and seeds into the draft")
        c = w.controller
        w.act_start = a("&Start", c.start, "F5", "Run the campaign (F5)")
        w.act_pause = a("&Pause", c.pause, "F6", "Pause after the evaluation in flight (F6)")
        w.act_stop = a("S&top", c.stop, "Shift+F5",
                       "Stop within one epoch; finished evaluations are kept (Shift+F5)")
        w.act_final = a("Train &final model", w.train_final, "Ctrl+T",
                        "Train the jrVAE on the full dataset with the best schedule")
        w.act_settings = a("Se&ttings…", w.edit_settings, "Ctrl+,",
                           "Settings of the next campaign: jrVAE, objective, BO, compute")
        w.act_export_csv = a("Export best schedule as &CSV…",
                             lambda: w.export_schedule("csv"), "Ctrl+E")
        w.act_export_json = a("Export best schedule as &JSON…",
                              lambda: w.export_schedule("json"))
        w.act_export_npy = a("Export best schedule as &NPY…", lambda: w.export_schedule("npy"))
        w.act_export_table = a("Export evaluations table (CSV)…", w.export_table)
        w.act_quit = a("&Quit", w.close, QKeySequence.StandardKey.Quit)
        w.act_export_pictures = {
            name: a(f"{name}…", lambda v=view, n=name: w.export_png(v, n))
            for name, view in (("Latent map", w.latent_map), ("Schedule", w.schedule_view),
                               ("Convergence", w.convergence), ("Manifolds", w.manifold_view))}
        menu = w.menuBar().addMenu("&File")
        for act in (w.act_new, w.act_open):
            menu.addAction(act)
        w.recent_menu = menu.addMenu("Open &recent")
        menu.addAction(w.act_save_as)
        menu.addAction(w.act_edit_as_new)
        menu.addSeparator()
        for act in (w.act_export_csv, w.act_export_json, w.act_export_npy):
            menu.addAction(act)
        pictures = menu.addMenu("Export &picture (PNG)")
        for act in w.act_export_pictures.values():
            pictures.addAction(act)
        menu.addAction(w.act_export_table)
        menu.addSeparator()
        menu.addAction(w.act_quit)
        run = w.menuBar().addMenu("&Run")
        for act in (w.act_start, w.act_pause, w.act_stop, w.act_final):
            run.addAction(act)
        run.addSeparator()
        run.addAction(w.act_settings)
        w.view_menu = w.menuBar().addMenu("&View")
        bar = w.addToolBar("Run")
        bar.setObjectName("toolbar_run")
        for act in (w.act_new, w.act_open, None, w.act_start, w.act_pause, w.act_stop, None,
                    w.act_final, w.act_settings):
            if act is None:
                bar.addSeparator()
            else:
                bar.addAction(act)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text.replace("&", "").rstrip("…"))
        action.setStatusTip(action.toolTip())
        # not connect(slot): `triggered` sends `checked` (False), which a slot with optional
        # arguments (new_campaign(path=None)) would take as its first argument
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def update(self, state: RunState) -> None:
        """Enable what the state allows."""
        w, model = self.window, self.window.model
        busy = model.busy
        has = model.is_open
        ok = model.best_evaluated() is not None
        w.act_start.setEnabled(has and not busy and state is not RunState.FINISHED)
        w.act_pause.setEnabled(state is RunState.RUNNING and w.controller.job_name == "run")
        w.act_stop.setEnabled(busy and state is not RunState.STOPPING)
        w.act_final.setEnabled(has and not busy and ok)
        w.act_new.setEnabled(not busy)
        w.act_open.setEnabled(not busy)
        w.recent_menu.setEnabled(not busy and not w.recent_menu.isEmpty())
        w.act_save_as.setEnabled(has and not busy)
        w.act_edit_as_new.setEnabled(has)
        w.act_settings.setEnabled(not busy)
        for act in (w.act_export_csv, w.act_export_json, w.act_export_npy):
            act.setEnabled(ok)


# ---------------------------------------------------------------------------- status bar
class WindowStatus:
    """The status bar: what the window does, the progress of the step running and its ETA."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.label = QLabel(_STATE_TEXT[RunState.EMPTY])
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(220)
        self.progress_bar.setToolTip("Epochs of the step that is running")
        self.progress_bar.setTextVisible(False)
        self.eta_label = QLabel("")
        self.eta_label.setToolTip("The step running · evaluation i/M · epoch e/N · time left")
        self.eta_label.setMinimumWidth(360)
        self.workers_button = WorkersButton(window.model)
        self.workers_button.clicked.connect(lambda: window.show_dock("workers"))
        status = window.statusBar()
        status.addWidget(self.label, 1)
        status.addPermanentWidget(self.eta_label)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.workers_button)
        window.status_label, window.progress_bar, window.eta_label = (
            self.label, self.progress_bar, self.eta_label)
        window.model.events.progress.connect(self.show_progress)

    def show_state(self, state: RunState) -> None:
        """The state in words, with the open file."""
        model = self.window.model
        if self.window.closing:
            return
        where = f" — {model.path}" if model.path else ""
        self.label.setText(_STATE_TEXT[state] + where)
        if not model.busy:
            self.show_progress(None)

    def show_closing(self) -> None:
        """Say that the window closes once the training stops (over any passing message)."""
        self.window.statusBar().clearMessage()
        progress = self.window.model.progress
        epoch = (f"epoch {progress.step}/{progress.total}" if progress is not None
                 and progress.total > 1 else "the current step")
        self.label.setText(f"Stopping — finishing {epoch}, then closing…")

    def show_progress(self, report: RunProgress | None) -> None:
        """A progress report (None: nothing runs)."""
        if report is None:  # an empty bar, without a "0%" that reads like a stalled step
            self.progress_bar.setValue(0)
            self.progress_bar.setTextVisible(False)
            self.eta_label.setText("")
            return
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setMaximum(max(report.total, 1))
        self.progress_bar.setValue(report.step)
        parts = []
        if report.evaluation:
            parts.append(f"evaluation {report.evaluation}/{report.budget}")
        elif report.message:
            parts.append(report.message.split(":")[0])  # the stage's name
        if report.total > 1:
            parts.append(f"epoch {report.step}/{report.total}")
        if math.isfinite(report.eta_seconds):
            parts.append(f"ETA {format_seconds(report.eta_seconds)}")
        self.eta_label.setText(" · ".join(parts) or report.message)
        if self.window.closing:
            self.show_closing()


# ---------------------------------------------------------------------------- layout
class WindowLayout:
    """Docks, a window that fits the screen, the remembered layout, and recent files."""

    def __init__(self, window: MainWindow) -> None:
        self.window = w = window
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        w.docks = {
            "inputs": self._dock("Dataset and seeds", w.inputs, left, "dock_inputs"),
            "schedule": self._dock("Schedule", w.schedule_view, right, "dock_schedule"),
            "manifolds": self._dock("Manifolds", w.manifold_view, right, "dock_manifolds"),
            "convergence": self._dock("Convergence", w.convergence, bottom, "dock_conv"),
            "table": self._dock("Evaluations", w.table, bottom, "dock_table"),
            "log": self._dock("Log", w.log_panel, bottom, "dock_log"),
            "workers": self._dock("Workers", w.workers_view, bottom, "dock_workers"),
        }
        w.tabifyDockWidget(w.docks["table"], w.docks["log"])
        w.tabifyDockWidget(w.docks["log"], w.docks["workers"])
        w.docks["table"].raise_()
        for dock in w.docks.values():
            w.view_menu.addAction(dock.toggleViewAction())
        self._folded = False
        self.refresh_recent()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea,
              name: str) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        return dock

    # ------------------------------------------------------------------ geometry
    def restore(self) -> None:
        """The remembered geometry and docks, kept inside the screen; a first start gets a
        window that fits the screen, with the latent map given the largest share."""
        w = self.window
        geometry = w.settings.value("window/geometry")
        if geometry is not None:
            w.restoreGeometry(geometry)
        else:
            w.resize(self.fitted_size())
        self.keep_on_screen()
        state = w.settings.value("window/state")
        if state is not None:
            w.restoreState(state)
        else:  # first start: after the window is laid out
            QTimer.singleShot(0, self.default_dock_sizes)

    def available(self) -> QSize:
        """The size of the screen's available area (the window's own screen)."""
        screen = self.window.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry().size() if screen is not None else PREFERRED_SIZE

    def fitted_size(self) -> QSize:
        """:data:`PREFERRED_SIZE`, shrunk to 96 % of the available screen."""
        room = self.available()
        return QSize(min(PREFERRED_SIZE.width(), int(room.width() * 0.96)),
                     min(PREFERRED_SIZE.height(), int(room.height() * 0.92)))

    def keep_on_screen(self) -> None:
        """Shrink and move the window so that it lies inside the available screen."""
        w = self.window
        screen = w.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        frame = w.frameGeometry()
        extra_w, extra_h = frame.width() - w.width(), frame.height() - w.height()
        width = min(w.width(), area.width() - extra_w)
        height = min(w.height(), area.height() - extra_h)
        if (width, height) != (w.width(), w.height()):
            w.resize(width, height)
        x = min(max(frame.x(), area.x()), area.right() - width - extra_w + 1)
        y = min(max(frame.y(), area.y()), area.bottom() - height - extra_h + 1)
        w.move(x, y)

    def default_dock_sizes(self) -> None:
        """Shares of the first start: inputs 27 %, the right column 24 %, the bottom 24 %."""
        w = self.window
        d = w.docks
        width, height = w.width(), w.height()
        w.resizeDocks([d["inputs"], d["schedule"]], [int(0.27 * width), int(0.24 * width)],
                      Qt.Orientation.Horizontal)
        w.resizeDocks([d["schedule"], d["manifolds"]], [int(0.3 * height), int(0.4 * height)],
                      Qt.Orientation.Vertical)
        w.resizeDocks([d["convergence"]], [int(0.24 * height)], Qt.Orientation.Vertical)

    def fold_inputs(self, busy: bool) -> None:
        """Fold the inputs dock away while a job runs (giving the map its room); unfold it
        after, when it was folded here."""
        dock = self.window.docks["inputs"]
        if busy and dock.isVisible() and not dock.isFloating():
            dock.hide()
            self._folded = True
        elif not busy and self._folded:
            dock.show()
            self._folded = False

    def save(self) -> None:
        """Remember the geometry and the docks."""
        w = self.window
        if self._folded:  # remember the inputs as the person left them
            w.docks["inputs"].show()
        w.settings.setValue("window/geometry", w.saveGeometry())
        w.settings.setValue("window/state", w.saveState())

    # ------------------------------------------------------------------ files
    def last_folder(self) -> str:
        """The folder of the last campaign file."""
        return str(self.window.settings.value("files/last_folder", str(Path.home())))

    def remember(self, path: str) -> None:
        """A campaign file opened or created: first in Open recent."""
        settings = self.window.settings
        settings.setValue("files/last_folder", str(Path(path).parent))
        recent = [p for p in self.recent_files() if p != path]
        settings.setValue("files/recent", [path, *recent][:MAX_RECENT])
        self.refresh_recent()

    def recent_files(self) -> list[str]:
        """Recently opened campaign files, newest first."""
        value = self.window.settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def refresh_recent(self) -> None:
        """Rebuild the Open recent menu."""
        menu = self.window.recent_menu
        menu.clear()
        for path in self.recent_files():
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.window.open_campaign(p))
        menu.setEnabled(bool(self.recent_files()) and not self.window.model.busy)

    def ask_new_path(self) -> str:
        """Ask where the new campaign file goes ("" when cancelled)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, _ = QFileDialog.getSaveFileName(
            self.window, "New campaign file", str(Path(self.last_folder()) / f"zbo-{stamp}.h5"),
            FILE_FILTER)
        return path

    def save_as(self) -> None:
        """Ask for a new name and have the campaign copied there (it continues there)."""
        w = self.window
        if w.model.path is None:
            return
        target, _ = QFileDialog.getSaveFileName(w, "Save campaign as", self.last_folder(),
                                                FILE_FILTER)
        if target:
            w.controller.save_as(target)
