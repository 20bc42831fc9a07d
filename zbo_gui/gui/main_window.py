"""The zBO workstation window: latent map in the centre, panels and views in docks.

The window never computes: it sends requests to a controller (``workers.controller``, injected
by ``zbo_gui.app``) and shows the messages the controller emits (``workers.messages``). It
imports no torch, so it opens fast and stays responsive while the worker trains.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QWidget,
)

from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.errors import ZboError
from zbo_gui.core.types import Evaluation, Proposal
from zbo_gui.gui.convergence import ConvergencePlot
from zbo_gui.gui.dataset_panel import DatasetPanel
from zbo_gui.gui.evaluations_table import EvaluationsTable
from zbo_gui.gui.latent_map import LatentMapView
from zbo_gui.gui.log_panel import LogPanel
from zbo_gui.gui.manifold_view import ManifoldView
from zbo_gui.gui.schedule_view import ScheduleView
from zbo_gui.gui.seed_panel import SeedPanel
from zbo_gui.gui.settings_dialog import THREADS_KEY, SettingsDialog
from zbo_gui.workers.messages import (
    CampaignOpened,
    DatasetSnapshot,
    FinalModel,
    GridSnapshot,
    PosteriorSnapshot,
    RunProgress,
    RunState,
)

log = logging.getLogger("zbo_gui.gui")
MAX_RECENT = 8
FILE_FILTER = "zBO campaigns (*.h5 *.hdf5);;All files (*)"


def _fmt_seconds(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "–"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class MainWindow(QMainWindow):
    """The main window.

    Args:
        controller: a ``CampaignController`` (or anything with its signals and methods).
        settings: where window layout, recent files and the last folder are remembered.
    """

    def __init__(self, controller, settings: QSettings | None = None) -> None:
        super().__init__()
        self.controller = controller
        self.settings = settings or QSettings("zbo-gui", "zbo-gui")
        self.config: CampaignConfig | None = None
        self.path: str | None = None
        self.grid: GridSnapshot | None = None
        self.posterior: PosteriorSnapshot | None = None
        self.evaluations: list[Evaluation] = []
        self.state = RunState.EMPTY
        self.confirm_close = True  # tests switch the question off
        self.last_error = ""
        self.setWindowTitle("zBO workstation")
        self._build_views()
        self._build_actions()
        self._build_status()
        self._connect()
        self._restore_layout()
        self._set_state(RunState.EMPTY)
        threads = self.settings.value(THREADS_KEY)
        if threads:
            self.controller.set_threads(int(threads))

    # ------------------------------------------------------------------ building
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_views(self) -> None:
        self.latent_map = LatentMapView()
        self.setCentralWidget(self.latent_map)
        self.dataset_panel = DatasetPanel()
        self.seed_panel = SeedPanel()
        inputs = QTabWidget()
        inputs.addTab(self.dataset_panel, "Dataset")
        inputs.addTab(self.seed_panel, "Seed schedules")
        self.inputs = inputs
        self.schedule_view = ScheduleView()
        self.manifold_view = ManifoldView()
        self.convergence = ConvergencePlot()
        self.table = EvaluationsTable()
        self.log_panel = LogPanel()
        self.log_panel.attach(logging.getLogger("zbo_gui"))
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = {
            "inputs": self._dock("Dataset and seeds", inputs, left, "dock_inputs"),
            "schedule": self._dock("Schedule", self.schedule_view, right, "dock_schedule"),
            "manifolds": self._dock("Manifolds", self.manifold_view, right, "dock_manifolds"),
            "convergence": self._dock("Convergence", self.convergence, bottom, "dock_conv"),
            "table": self._dock("Evaluations", self.table, bottom, "dock_table"),
            "log": self._dock("Log", self.log_panel, bottom, "dock_log"),
        }
        self.tabifyDockWidget(self.docks["table"], self.docks["log"])
        self.docks["table"].raise_()

    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text.replace("&", "").rstrip("…"))
        action.setStatusTip(action.toolTip())
        # not connect(slot): `triggered` sends `checked` (False), which a slot with optional
        # arguments (new_campaign(path=None)) would take as its first argument
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_new = a("&New campaign…", self.new_campaign, QKeySequence.StandardKey.New,
                         "Start a new campaign from the dataset, seeds and settings")
        self.act_open = a("&Open campaign…", self.open_dialog, QKeySequence.StandardKey.Open,
                          "Open a campaign file (also one begun with `zbo run`)")
        self.act_save_as = a("Save campaign &as…", self.save_as, QKeySequence.StandardKey.SaveAs,
                             "Copy the campaign file elsewhere and continue there")
        self.act_start = a("&Start", self.controller.start, "F5", "Run the campaign (F5)")
        self.act_pause = a("&Pause", self.controller.pause, "F6",
                           "Pause after the evaluation in flight (F6)")
        self.act_stop = a("S&top", self.controller.stop, "Shift+F5",
                          "Stop within one epoch; finished evaluations are kept (Shift+F5)")
        self.act_final = a("Train &final model", self.train_final, "Ctrl+T",
                           "Train the jrVAE on the full dataset with the best schedule")
        self.act_settings = a("Se&ttings…", self.edit_settings, "Ctrl+,",
                              "jrVAE, objective, BO and compute settings")
        self.act_export_csv = a("Export best schedule as &CSV…",
                                lambda: self.export_schedule("csv"), "Ctrl+E")
        self.act_export_json = a("Export best schedule as &JSON…",
                                 lambda: self.export_schedule("json"))
        self.act_export_npy = a("Export best schedule as &NPY…",
                                lambda: self.export_schedule("npy"))
        self.act_quit = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        menu = self.menuBar().addMenu("&File")
        for act in (self.act_new, self.act_open):
            menu.addAction(act)
        self.recent_menu = menu.addMenu("Open &recent")
        menu.addAction(self.act_save_as)
        menu.addSeparator()
        for act in (self.act_export_csv, self.act_export_json, self.act_export_npy):
            menu.addAction(act)
        plots = menu.addMenu("Export &picture (PNG)")
        for name, view in (("Latent map", self.latent_map), ("Schedule", self.schedule_view),
                           ("Convergence", self.convergence), ("Manifolds", self.manifold_view)):
            plots.addAction(self._action(f"{name}…", lambda _=False, v=view, n=name:
                                         self.export_png(v, n)))
        menu.addAction(self._action("Export evaluations table (CSV)…", self.export_table))
        menu.addSeparator()
        menu.addAction(self.act_quit)
        run = self.menuBar().addMenu("&Run")
        for act in (self.act_start, self.act_pause, self.act_stop, self.act_final):
            run.addAction(act)
        run.addSeparator()
        run.addAction(self.act_settings)
        view = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        bar = self.addToolBar("Run")
        bar.setObjectName("toolbar_run")
        for act in (self.act_new, self.act_open, None, self.act_start, self.act_pause,
                    self.act_stop, None, self.act_final, self.act_settings):
            if act is None:
                bar.addSeparator()
            else:
                bar.addAction(act)
        self._refresh_recent()

    def _build_status(self) -> None:
        self.status_label = QLabel("No campaign open")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setToolTip("Epochs of the step that is running")
        self.eta_label = QLabel("")
        self.eta_label.setToolTip("Evaluation i/M · epoch e/N · estimated time left")
        status = self.statusBar()
        status.addWidget(self.status_label, 1)
        status.addPermanentWidget(self.eta_label)
        status.addPermanentWidget(self.progress_bar)

    def _connect(self) -> None:
        c = self.controller
        c.stateChanged.connect(self._set_state)
        c.campaignOpened.connect(self.on_campaign_opened)
        c.datasetReady.connect(self.on_dataset)
        c.gridReady.connect(self.on_grid)
        c.posteriorReady.connect(self.on_posterior)
        c.proposalReady.connect(self.on_proposal)
        c.evaluationFinished.connect(self.on_evaluation)
        c.progress.connect(self.on_progress)
        c.finalModelReady.connect(self.on_final_model)
        c.finished.connect(self.on_finished)
        c.failed.connect(self.on_failed)
        self.latent_map.pointClicked.connect(self.select_point)
        self.latent_map.evaluateRequested.connect(self.evaluate_point)
        self.table.evaluationSelected.connect(self.select_evaluation)
        self.dataset_panel.errorOccurred.connect(self.on_failed)

    # ------------------------------------------------------------------ layout
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        else:  # first start: give the latent map the room (after the window is laid out)
            QTimer.singleShot(0, self._default_dock_sizes)

    def _default_dock_sizes(self) -> None:
        d = self.docks
        self.resizeDocks([d["inputs"], d["schedule"]], [400, 420], Qt.Orientation.Horizontal)
        self.resizeDocks([d["convergence"]], [250], Qt.Orientation.Vertical)

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())

    def _last_folder(self) -> str:
        return str(self.settings.value("files/last_folder", str(Path.home())))

    def _remember(self, path: str) -> None:
        self.settings.setValue("files/last_folder", str(Path(path).parent))
        recent = [p for p in self.recent_files() if p != path]
        self.settings.setValue("files/recent", [path, *recent][:MAX_RECENT])
        self._refresh_recent()

    def recent_files(self) -> list[str]:
        """Recently opened campaign files, newest first."""
        value = self.settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self.recent_menu.addAction(self._action(path, lambda _=False, p=path:
                                                    self.open_campaign(p)))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    # ------------------------------------------------------------------ state
    @Slot(object)
    def _set_state(self, state: RunState) -> None:
        self.state = state
        busy = state in (RunState.PREPARING, RunState.RUNNING, RunState.PAUSING,
                         RunState.STOPPING, RunState.TRAINING_FINAL)
        has = state is not RunState.EMPTY
        self.act_start.setEnabled(has and not busy and state is not RunState.FINISHED)
        self.act_pause.setEnabled(state is RunState.RUNNING)
        self.act_stop.setEnabled(busy and state is not RunState.STOPPING)
        self.act_final.setEnabled(has and not busy and any(e.succeeded for e in self.evaluations))
        self.act_new.setEnabled(not busy)
        self.act_open.setEnabled(not busy)
        self.act_save_as.setEnabled(has and not busy)
        self.inputs.setEnabled(not busy)
        self.act_settings.setEnabled(not busy)
        if not busy:
            self.progress_bar.setValue(0)
            self.eta_label.setText("")
        names = {RunState.EMPTY: "No campaign open", RunState.IDLE: "Ready",
                 RunState.PREPARING: "Preparing…", RunState.RUNNING: "Running",
                 RunState.PAUSING: "Pausing after this evaluation…",
                 RunState.STOPPING: "Stopping…", RunState.FINISHED: "Finished",
                 RunState.TRAINING_FINAL: "Training the final model…"}
        where = f" — {self.path}" if self.path else ""
        self.status_label.setText(names[state] + where)

    # ------------------------------------------------------------------ files
    def new_campaign(self, path: str | None = None, config: CampaignConfig | None = None) -> None:
        """Start a new campaign from the panels and settings (asks for the file name)."""
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path, _ = QFileDialog.getSaveFileName(
                self, "New campaign file", str(Path(self._last_folder()) / f"zbo-{stamp}.h5"),
                FILE_FILTER)
            if not path:
                return
        try:
            config = config or self.current_config(path)
        except (ZboError, OSError) as exc:
            self.on_failed(str(exc))
            return
        self.controller.new_campaign(path, config, overwrite=True)
        self._remember(path)

    def current_config(self, campaign_path: str | None = None) -> CampaignConfig:
        """The campaign configuration from the dataset panel, seed panel and settings.

        Sketched seed schedules are written to ``<campaign>.sketches.csv`` beside the campaign
        file and listed in ``schedules.csv_files`` (the campaign file keeps them all anyway).
        """
        base = self.config or CampaignConfig()
        schedules = self.seed_panel.schedule_config()
        library = self.seed_panel.library()
        sketches = library.schedules[[f == "sketch" for f in library.families]]
        if len(sketches) and campaign_path is not None:
            csv = Path(campaign_path).with_suffix(".sketches.csv")
            np.savetxt(csv, sketches, delimiter=",", fmt="%.9g")
            schedules = dataclasses.replace(
                schedules, csv_files=(*schedules.csv_files, str(csv)))
        jrvae = dataclasses.replace(base.jrvae, classes=self.dataset_panel.classes())
        return base.replace(dataset=self.dataset_panel.dataset_config(), schedules=schedules,
                            jrvae=jrvae)

    def open_dialog(self) -> None:
        """Ask for a campaign file and open it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open campaign", self._last_folder(),
                                              FILE_FILTER)
        if path:
            self.open_campaign(path)

    def open_campaign(self, path: str) -> None:
        """Open a campaign file (its views fill in from what it holds)."""
        self.controller.open_campaign(path)
        self._remember(path)

    def save_as(self) -> None:
        """Copy the campaign file to a new name and continue there."""
        if self.path is None:
            return
        target, _ = QFileDialog.getSaveFileName(self, "Save campaign as", self._last_folder(),
                                                FILE_FILTER)
        if not target or Path(target) == Path(self.path):
            return
        try:  # every evaluation is flushed when it ends, so an idle campaign copies whole
            shutil.copyfile(self.path, target)
        except OSError as exc:
            self.on_failed(f"cannot copy the campaign to {target}: {exc}")
            return
        self.open_campaign(target)

    def _reset_views(self) -> None:
        self.grid = self.posterior = None
        self.evaluations = []
        self.latent_map.clear()
        self.table.set_evaluations([])
        self.convergence.set_evaluations([])

    # ------------------------------------------------------------------ messages
    @Slot(object)
    def on_campaign_opened(self, message: CampaignOpened) -> None:
        self._reset_views()  # here, not on asking: a refused file leaves the open one shown
        self.path = message.path
        self.config = message.config
        self.seed_panel.set_config(message.config.schedules, seed=message.config.seed)
        self.dataset_panel.set_config(message.config.dataset)
        self.dataset_panel.set_classes(message.config.jrvae.classes)
        self.setWindowTitle(f"zBO workstation — {Path(message.path).name}")
        log.info("campaign %s: %d evaluations stored", message.path, message.n_evaluations)
        self._set_state(self.state)

    @Slot(object)
    def on_dataset(self, message: DatasetSnapshot) -> None:
        log.info("dataset: %d images from %s (fingerprint %s…)", message.count, message.source,
                 message.fingerprint[:12])

    @Slot(object)
    def on_grid(self, grid: GridSnapshot) -> None:
        self.grid = grid
        self.latent_map.set_grid(grid)
        self.schedule_view.set_bounds(grid.beta_lo, grid.beta_hi)
        log.info("latent grid %d×%d: %.0f %% feasible; schedule VAE reconstruction RMS %.3f",
                 grid.x.size, grid.y.size, 100 * grid.feasible.mean(), grid.reconstruction_rms)

    @Slot(object)
    def on_posterior(self, posterior: PosteriorSnapshot) -> None:
        self.posterior = posterior
        self.latent_map.set_posterior(posterior)

    @Slot(object)
    def on_proposal(self, proposal: Proposal) -> None:
        self.latent_map.set_proposal(proposal)

    @Slot(object)
    def on_evaluation(self, evaluation: Evaluation) -> None:
        self.evaluations.append(evaluation)
        self.latent_map.add_evaluation(evaluation)
        self.table.add_evaluation(evaluation)
        self.convergence.add_evaluation(evaluation)
        best = max((e for e in self.evaluations if e.succeeded), key=lambda e: e.objective,
                   default=None)
        if best is not None:
            self.schedule_view.show_best(best.proposal.schedule,
                                         f"best evaluated (#{best.index + 1})")
        if evaluation.replicates and evaluation.replicates[0].manifolds.size:
            r = evaluation.replicates[0]  # the latest learned manifolds, live
            self.manifold_view.show(r.manifolds, f"evaluation #{evaluation.index + 1}",
                                    r.class_usage)
        self._set_state(self.state)

    @Slot(object)
    def on_progress(self, report: RunProgress) -> None:
        self.progress_bar.setMaximum(max(report.total, 1))
        self.progress_bar.setValue(report.step)
        parts = []
        if report.evaluation:
            parts.append(f"evaluation {report.evaluation}/{report.budget}")
        if report.total > 1:
            parts.append(f"epoch {report.step}/{report.total}")
        if np.isfinite(report.eta_seconds):
            parts.append(f"ETA {_fmt_seconds(report.eta_seconds)}")
        self.eta_label.setText(" · ".join(parts) or report.message)

    @Slot(object)
    def on_final_model(self, final: FinalModel) -> None:
        self.manifold_view.show(final.manifolds, f"final model ({final.which} schedule)",
                                final.class_usage)
        self.docks["manifolds"].raise_()

    @Slot(str)
    def on_finished(self, reason: str) -> None:
        self.statusBar().showMessage(f"Campaign finished ({reason})", 10000)

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

    # ------------------------------------------------------------------ interaction
    @Slot(float, float)
    def select_point(self, x: float, y: float) -> None:
        """Show the schedule decoded at a clicked latent point, with the predicted objective."""
        if self.grid is None:
            return
        index = self.grid.index_of((x, y))
        mean = std = None
        if self.posterior is not None:
            mean = float(self.posterior.mean.ravel()[index])
            std = float(self.posterior.std.ravel()[index])
        feasible = bool(self.grid.feasible.ravel()[index])
        label = f"z = ({x:.2f}, {y:.2f})" + ("" if feasible else " — infeasible")
        self.schedule_view.show_selected(self.grid.decoded[index], label, mean, std)

    @Slot(float, float)
    def evaluate_point(self, x: float, y: float) -> None:
        """Human in the loop: evaluate the clicked latent point next."""
        log.info("user asked to evaluate z = (%.3f, %.3f) next", x, y)
        self.controller.evaluate_point(np.array([x, y]))

    @Slot(int)
    def select_evaluation(self, index: int) -> None:
        """Show an evaluation's schedule and learned manifolds."""
        if not 0 <= index < len(self.evaluations):
            return
        e = self.evaluations[index]
        z = e.proposal.z
        self.schedule_view.show_selected(e.proposal.schedule,
                                         f"evaluation #{index + 1} at ({z[0]:.2f}, {z[1]:.2f})",
                                         e.objective if e.succeeded else None, None)
        if e.replicates and e.replicates[0].manifolds.size:
            r = e.replicates[0]
            self.manifold_view.show(r.manifolds, f"evaluation #{index + 1}", r.class_usage)

    def edit_settings(self) -> None:
        """Edit the jrVAE/objective/BO settings of the next campaign."""
        dialog = SettingsDialog(self, settings=self.settings)
        dialog.set_config(self.config or self.current_config())
        if dialog.exec():
            self.config = dialog.config()
            self.controller.set_threads(dialog.threads())

    def train_final(self) -> None:
        """Train the final model with the best evaluated schedule."""
        self.controller.train_final("evaluated")

    # ------------------------------------------------------------------ exports
    def best_evaluation(self) -> Evaluation | None:
        """The successful evaluation with the highest objective."""
        ok = [e for e in self.evaluations if e.succeeded]
        return max(ok, key=lambda e: e.objective) if ok else None

    def export_schedule(self, fmt: str, path: str | None = None) -> bool:
        """Export the best evaluated schedule (CSV/JSON/NPY); True when a file was written."""
        from zbo_gui.storage.export import write_export

        best = self.best_evaluation()
        if best is None or self.config is None:
            self.on_failed("no successful evaluation to export yet")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export schedule", str(Path(self._last_folder()) / f"best_schedule.{fmt}"),
                f"{fmt.upper()} (*.{fmt})")
            if not path:
                return False
        try:
            write_export(path, fmt, best.proposal.schedule, self.config.jrvae.beta_d,
                         objective=best.objective, z=best.proposal.z, which="evaluated",
                         config=self.config.to_dict(), extra={"evaluation": best.index},
                         protected=[*([self.path] if self.path else []),
                                    *self.config.input_files()])
        except (ZboError, OSError) as exc:
            self.on_failed(f"export failed: {exc}")
            return False
        self.statusBar().showMessage(f"Wrote {path}", 8000)
        return True

    def export_png(self, view: QWidget, name: str) -> None:
        """Export one view as a PNG picture."""
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {name}", str(Path(self._last_folder()) / f"{name.lower()}.png"),
            "PNG (*.png)")
        if path:
            view.export_png(path)

    def export_table(self) -> None:
        """Export the evaluations table as CSV."""
        path, _ = QFileDialog.getSaveFileName(self, "Export table", self._last_folder(),
                                              "CSV (*.csv)")
        if path:
            self.table.export_csv(path)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        busy = self.controller.is_busy()
        if busy and self.confirm_close:
            answer = QMessageBox.question(
                self, "Stop the campaign?",
                "A training is running. Stop it and close? Finished evaluations are saved.")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self._save_layout()
        self.log_panel.detach()
        self.dataset_panel.shutdown()
        if not self.controller.shutdown(30000):
            log.warning("the worker did not stop within 30 s; it ends after its current epoch")
        event.accept()


def schedule_screenshot(window: MainWindow, path: str, wait_for_load: bool,
                        delay_ms: int = 800, timeout_ms: int = 120000) -> None:
    """Save a PNG of the window once loaded, then quit the application.

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
        if state in (RunState.IDLE, RunState.FINISHED):
            QTimer.singleShot(delay_ms, shoot)

    if wait_for_load:
        window.controller.stateChanged.connect(on_state)
        QTimer.singleShot(timeout_ms, shoot)
    else:
        QTimer.singleShot(delay_ms, shoot)
