"""The zBO workstation window: latent map in the centre, panels and views in docks.

The window never computes and holds no campaign data: it shows the controller's
:class:`~zbo_gui.model.CampaignModel` (the open campaign) through views that subscribe to it,
edits a :class:`~zbo_gui.model.DraftModel` (the next campaign) through the dataset and seed
panels and the Settings dialog, and sends requests to the controller (``workers.controller``,
injected by ``zbo_gui.app``). It imports no torch and no storage, so it opens fast and stays
responsive while the worker trains. Layout, run controls and files are in
``gui.window_parts``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from zbo_gui.core.errors import ZboError
from zbo_gui.gui.convergence import ConvergencePlot
from zbo_gui.gui.dataset_panel import DatasetPanel
from zbo_gui.gui.evaluations_table import EvaluationsTable
from zbo_gui.gui.latent_map import LatentMapView
from zbo_gui.gui.log_panel import LogPanel
from zbo_gui.gui.manifold_view import ManifoldView
from zbo_gui.gui.schedule_view import ScheduleView
from zbo_gui.gui.seed_panel import SeedPanel
from zbo_gui.gui.settings_dialog import THREADS_KEY, SettingsDialog
from zbo_gui.gui.window_parts import (
    FILE_FILTER,
    InputsPanel,
    WindowActions,
    WindowLayout,
    WindowStatus,
)
from zbo_gui.gui.workers_view import WorkersView
from zbo_gui.model.campaign import CampaignModel
from zbo_gui.model.draft import DraftModel
from zbo_gui.model.messages import RunState

log = logging.getLogger("zbo_gui.gui")


class MainWindow(QMainWindow):
    """The main window.

    Args:
        controller: a ``CampaignController``: its ``model`` is what the window shows.
        settings: where window layout, recent files and the last folder are remembered.
        draft: the next campaign's draft (default: the demo preset).
        loader: the draft's dataset loader (default: one made here).
    """

    def __init__(self, controller, settings: QSettings | None = None,
                 draft: DraftModel | None = None, loader=None) -> None:
        super().__init__()
        self.controller = controller
        self.model: CampaignModel = controller.model
        self.draft = draft or DraftModel()
        if loader is None:
            from zbo_gui.workers.dataset_preview import DatasetLoader

            loader = DatasetLoader(self.draft, self)
        self.loader = loader
        self.settings = settings or QSettings("zbo-gui", "zbo-gui")
        self.confirm_close = True  # tests switch the question off
        self.last_error = ""
        self._closing = False
        self._training = False
        self.setWindowTitle("zBO workstation")
        self._build_views()
        self.actions_ = WindowActions(self)
        self.status = WindowStatus(self)
        self.layout_ = WindowLayout(self)
        self._connect()
        self.layout_.restore()
        self._on_state(self.model.state)
        threads = self.settings.value(THREADS_KEY)
        if threads:
            self.controller.set_threads(int(threads))

    # ------------------------------------------------------------------ building
    def _build_views(self) -> None:
        m = self.model
        self.latent_map = LatentMapView(m)
        self.setCentralWidget(self.latent_map)
        self.dataset_panel = DatasetPanel(self.draft, self.loader, m)
        self.seed_panel = SeedPanel(self.draft, m)
        self.inputs = InputsPanel(self.dataset_panel, self.seed_panel, m)
        self.schedule_view = ScheduleView(m)
        self.manifold_view = ManifoldView(m)
        self.convergence = ConvergencePlot(m)
        self.table = EvaluationsTable(m)
        self.workers_view = WorkersView(m)
        self.log_panel = LogPanel()
        self.log_panel.attach(logging.getLogger("zbo_gui"))

    def _connect(self) -> None:
        events = self.model.events
        events.state.connect(self._on_state)
        events.opened.connect(self._on_opened)
        events.evaluations.connect(lambda _: self.actions_.update(self.model.state))
        events.error.connect(self.on_failed)
        events.notice.connect(lambda text: self._show_message(text, 8000))
        events.finished.connect(lambda reason: self._show_message(
            f"Campaign finished ({reason})", 10000))
        self.latent_map.evaluateRequested.connect(self.evaluate_point)
        self.dataset_panel.errorOccurred.connect(self.on_failed)
        self.inputs.editAsNew.connect(self.edit_as_new)

    # ------------------------------------------------------------------ state
    @Slot(object)
    def _on_state(self, state: RunState) -> None:
        self.actions_.update(state)
        self.status.show_state(state)
        # a training folds the inputs away (not a quick open or create: no flicker), once:
        # the person may show them again meanwhile
        training = self.controller.job_name in ("run", "points", "final")
        if training != self._training:
            self._training = training
            self.layout_.fold_inputs(training)

    def _on_opened(self, path: str | None) -> None:
        self.last_error = ""
        self.statusBar().clearMessage()
        self.inputs.show_campaign(path is not None)
        if path is not None:
            self.layout_.remember(path)
            self.setWindowTitle(f"zBO workstation — {Path(path).name}")
        else:
            self.setWindowTitle("zBO workstation")
        self.actions_.update(self.model.state)
        self.status.show_state(self.model.state)

    def _show_message(self, text: str, ms: int) -> None:
        """A passing status-bar message; none while closing (it would hide "Stopping…")."""
        if not self._closing:
            self.statusBar().showMessage(text, ms)

    @Slot(str)
    def on_failed(self, message: str) -> None:
        """Show an error: log record, status bar and a (non-blocking) message box."""
        log.error("%s", message)
        self.last_error = message
        self.statusBar().showMessage(message, 15000)
        if self.isVisible():
            box = QMessageBox(QMessageBox.Icon.Warning, "zBO", message,
                              QMessageBox.StandardButton.Ok, self)
            box.setWindowModality(Qt.WindowModality.NonModal)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.show()

    # ------------------------------------------------------------------ files
    def new_campaign(self, path: str | None = None) -> None:
        """Start a new campaign from the draft (asks for the file name).

        The campaign gets exactly the draft's configuration and seed library.
        """
        problem = self._draft_problem()
        if problem:
            self.on_failed(f"New campaign: {problem}")
            return
        if path is None:
            path = self.layout_.ask_new_path()
            if not path:
                return
        self.controller.new_campaign(path, self.draft.config, self.draft.library,
                                     overwrite=True)

    def _draft_problem(self) -> str:
        """Why the draft may not become a campaign now ("" when it may)."""
        panel = self.dataset_panel
        if not panel.campaign_view:
            panel.commit_pending()  # an edit still waiting for its pause
            if not panel.is_valid():
                return ("the dataset cannot be used: "
                        + (panel.error() or "fix the settings marked in the dataset panel"))
        elif self.draft.preview.error:
            return f"the dataset cannot be used: {self.draft.preview.error}"
        if self.draft.stale:
            return (f"the seed library was drawn with other settings"
                    f" ({self.draft.stale_reason()}): press Generate in the seed panel, or"
                    " Undo")
        return ""

    def open_dialog(self) -> None:
        """Ask for a campaign file and open it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open campaign", self.layout_.last_folder(),
                                              FILE_FILTER)
        if path:
            self.open_campaign(path)

    def open_campaign(self, path: str) -> None:
        """Open a campaign file (the views fill in from what it holds)."""
        self.controller.open_campaign(path)

    def save_as(self) -> None:
        """Copy the campaign file to a new name and continue there."""
        self.layout_.save_as()

    def edit_as_new(self) -> None:
        """Start the draft from the open campaign's configuration and seed library."""
        config = self.model.config
        if config is None:
            return
        try:  # without the campaign's seeds stored, its CSV files are read again
            self.draft.load(config, self.model.seeds)
        except ZboError as exc:
            self.on_failed(f"Edit as new campaign: {exc}")
            return
        self.loader.reload()
        self.inputs.show_campaign(False)
        self.statusBar().showMessage("The draft now copies the open campaign: edit it, then"
                                     " New campaign.", 10000)

    # ------------------------------------------------------------------ interaction
    @Slot(float, float)
    def evaluate_point(self, x: float, y: float) -> None:
        """Human in the loop: evaluate the clicked latent point next."""
        log.info("user asked to evaluate z = (%.3f, %.3f) next", x, y)
        self.controller.evaluate_point(np.array([x, y]))

    def show_dock(self, name: str) -> None:
        """Show the dock ``name`` (``"workers"``, ``"log"``, ...) in front of its tab group."""
        dock = self.docks[name]
        dock.show()
        dock.raise_()

    def edit_settings(self) -> None:
        """Edit the settings of the next campaign (the draft; never the open campaign)."""
        dialog = SettingsDialog(self.draft.config, settings=self.settings, parent=self)
        try:
            if dialog.exec():
                preset = dialog.preset()
                if preset is not None:
                    self.draft.load(preset)
                    self.loader.reload()
                self.draft.set_settings(dialog.config())
                self.controller.set_threads(dialog.threads())
        finally:
            dialog.deleteLater()

    def train_final(self) -> None:
        """Train the final model with the best evaluated schedule."""
        self.controller.train_final("evaluated")

    # ------------------------------------------------------------------ exports
    def export_schedule(self, fmt: str, path: str | None = None) -> bool:
        """Export the open campaign's best schedule (CSV/JSON/NPY) with its configuration;
        True when a file was written."""
        if self.model.best_evaluated() is None:
            self.on_failed("no successful evaluation to export yet")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export schedule",
                str(Path(self.layout_.last_folder()) / f"best_schedule.{fmt}"),
                f"{fmt.upper()} (*.{fmt})")
            if not path:
                return False
        return self.controller.export_schedule(path, fmt)

    def export_png(self, view: QWidget, name: str) -> None:
        """Export one view as a PNG picture."""
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {name}", str(Path(self.layout_.last_folder()) / f"{name.lower()}.png"),
            "PNG (*.png)")
        if path and self.controller.may_write(path):
            view.export_png(path)
            self.statusBar().showMessage(f"wrote {path}", 8000)

    def export_table(self) -> None:
        """Export the evaluations table as CSV."""
        path, _ = QFileDialog.getSaveFileName(self, "Export table", self.layout_.last_folder(),
                                              "CSV (*.csv)")
        if path and self.controller.may_write(path):
            self.table.export_csv(path)
            self.statusBar().showMessage(f"wrote {path}", 8000)

    # ------------------------------------------------------------------ closing
    @property
    def closing(self) -> bool:
        """Whether the window is waiting for the running job to stop before it closes."""
        return self._closing

    def closeEvent(self, event: QCloseEvent) -> None:
        """Close; during a run, first stop the training (the window stays responsive and says
        so until the worker has finished its epoch), then close by itself."""
        if self.controller.is_busy():
            event.ignore()
            if self._closing:
                return
            if self.confirm_close:
                answer = QMessageBox.question(
                    self, "Stop the campaign?",
                    "A training is running. Stop it and close? Finished evaluations are saved.")
                if answer != QMessageBox.StandardButton.Yes:
                    return
                if not self.controller.is_busy():  # it ended while the question was open
                    self.close()
                    return
            self._closing = True
            self.controller.jobEnded.connect(self._close_when_stopped)
            self.controller.stop()
            self.status.show_closing()
            return
        self.layout_.save()
        self.hide()  # gone at once, even if the compute thread takes a moment to end
        self.log_panel.detach()
        self.loader.shutdown()
        if not self.controller.shutdown(30000):
            log.warning("the worker did not stop within 30 s; it ends after its current epoch")
        event.accept()

    def _close_when_stopped(self) -> None:
        if not self.controller.is_busy():
            QTimer.singleShot(0, self.close)


def schedule_screenshot(window: MainWindow, path: str, wait_for_load: bool,
                        delay_ms: int = 800, timeout_ms: int = 120000) -> None:
    """Save a PNG of the window once loaded (the best evaluation selected), then quit the
    application.

    Args:
        window: the main window.
        path: the PNG to write.
        wait_for_load: wait until the controller has opened or created the campaign (state
            IDLE or FINISHED) before shooting; else shoot after ``delay_ms``.
        delay_ms: settling time before the picture (layout, plots).
        timeout_ms: shoot anyway after this long.
    """
    from PySide6.QtWidgets import QApplication

    done = False

    def shoot() -> None:
        nonlocal done
        if done:
            return
        done = True
        window.grab().save(path)
        log.info("screenshot saved to %s", path)
        window.confirm_close = False
        window.close()
        QApplication.instance().quit()

    def on_state(state: RunState) -> None:
        if state in (RunState.IDLE, RunState.FINISHED, RunState.PAUSED):
            best = window.model.best_evaluated()
            if best is not None and window.model.selection is None:
                window.model.select_evaluation(best.index)  # as a click on its row would
            QTimer.singleShot(delay_ms, shoot)

    if wait_for_load:
        window.model.events.state.connect(on_state)
        QTimer.singleShot(timeout_ms, shoot)
    else:
        QTimer.singleShot(delay_ms, shoot)
