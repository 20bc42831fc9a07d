"""The GUI-facing controller: owns the compute thread and turns requests into jobs.

:class:`CampaignController` lives in the GUI thread. Its methods return at once: each queues
one job on the compute thread (a :class:`~zbo_gui.workers.worker.ComputeWorker` in a
``QThread``), which drives the campaign through a
:class:`~zbo_gui.workers.session.CampaignSession`; every engine call (the runner, its HDF5
file, pyro) happens on that thread. Results come back as queued signals, each carrying one
frozen message (``workers.messages``) or a core ``Evaluation``/``Proposal``.

Only one job runs at a time. While one runs, :meth:`~CampaignController.pause`,
:meth:`~CampaignController.stop` and :meth:`~CampaignController.evaluate_point` talk to it through
thread-safe flags (a pause ``Event``, the job's cancel ``Event``, a queue of user points);
other requests are refused with a ``failed`` message. Errors never escape: a bad file, a bad
config or a failed training becomes a ``failed`` signal and a log record, and the controller
returns to a resting state (``EMPTY``, ``IDLE`` or ``FINISHED``) ready for the next request.

The engine (torch, pyro) is imported by the first job, on the compute thread, so creating the
controller does not block the window.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.types import Controls, Evaluation, Progress, Proposal
from zbo_gui.workers.jobs import CampaignClosed, Notice, Outcome, UserPoints
from zbo_gui.workers.messages import (
    CampaignOpened,
    DatasetSnapshot,
    FinalModel,
    GridSnapshot,
    PosteriorSnapshot,
    RunProgress,
    RunState,
)
from zbo_gui.workers.worker import ComputeWorker, Job

if TYPE_CHECKING:
    from zbo_gui.workers.session import CampaignSession

log = logging.getLogger(__name__)

_QUEUED = Qt.ConnectionType.QueuedConnection
_RESTING = (RunState.EMPTY, RunState.IDLE, RunState.FINISHED)
#: Minimum seconds between two progress reports of a preparation stage (the schedule VAE's
#: epochs last milliseconds); evaluations and the final model report every epoch.
STAGE_REPORT_INTERVAL = 0.05
#: Compute threads that did not stop within a shutdown's timeout, kept alive (never destroyed
#: while running, which would abort the process); they end at their next cancellation check.
_ORPHANS: list[tuple[QThread, ComputeWorker]] = []


class CampaignController(QObject):
    """Drives one campaign at a time on a compute thread; see the module docstring.

    Signals (each carries one message object):
        stateChanged(RunState): the run state changed.
        campaignOpened(CampaignOpened): a campaign was created or opened.
        datasetReady(DatasetSnapshot): the evaluation images (preview).
        gridReady(GridSnapshot): the feasible latent grid and the seed library.
        posteriorReady(PosteriorSnapshot): the GP over the grid, after each evaluation once
            two have succeeded (and once when a campaign is opened).
        proposalReady(Proposal): the next point, before it is evaluated.
        evaluationFinished(Evaluation): an evaluation ended and is saved in the file; also
            every stored one, in order, when a campaign is opened.
        progress(RunProgress): one per epoch of a training (with an ETA) or per stage.
        finalModelReady(FinalModel): the final model was trained and saved (or was read back).
        finished(str): a run ended by itself: ``"budget"``, ``"converged"`` or ``"exhausted"``.
        failed(str): a one-line message: a request failed or was refused.
        logMessage(str): a line of information for the log panel.

    States: ``EMPTY`` (no campaign) → ``PREPARING`` (creating, opening, or computing the
    dataset, seeds, schedule VAE and grid) → ``IDLE``; ``RUNNING`` ↔ ``PAUSING``/``STOPPING``
    → ``IDLE`` or ``FINISHED``; ``TRAINING_FINAL`` → back to ``IDLE``/``FINISHED``.
    """

    stateChanged = Signal(object)
    campaignOpened = Signal(object)
    datasetReady = Signal(object)
    gridReady = Signal(object)
    posteriorReady = Signal(object)
    proposalReady = Signal(object)
    evaluationFinished = Signal(object)
    progress = Signal(object)
    finalModelReady = Signal(object)
    finished = Signal(str)
    failed = Signal(str)
    logMessage = Signal(str)

    _submit = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = RunState.EMPTY
        self._job: Job | None = None
        self._resting = RunState.EMPTY  # the state the running job started from
        self._changed = False  # the running job opened a campaign or stored an evaluation
        self._has_campaign = False
        self._closed = False
        self._reported = RunState.RUNNING  # the last busy state the running job reported
        self._start_pending = False  # start() arrived during a user point's evaluation
        self._last_stage, self._last_report = "", 0.0
        self._pause = threading.Event()
        self._session: CampaignSession | None = None  # built on the compute thread
        self._threads: int | None = None  # torch CPU threads (a UI preference)
        self._points = UserPoints()
        self._thread = QThread()
        self._thread.setObjectName("zbo-compute")
        self._worker = ComputeWorker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run_job, _QUEUED)
        self._worker.message.connect(self._on_message, _QUEUED)
        self._worker.jobFinished.connect(self._on_job_finished, _QUEUED)
        self._worker.jobCancelled.connect(self._on_job_cancelled, _QUEUED)
        self._worker.jobFailed.connect(self._on_job_failed, _QUEUED)
        app = QCoreApplication.instance()
        if app is not None:  # a window that forgot shutdown() must not abort the process
            app.aboutToQuit.connect(self.shutdown)
        self._thread.start()

    # ------------------------------------------------------------------ queries
    @property
    def state(self) -> RunState:
        """The current run state."""
        return self._state

    def is_busy(self) -> bool:
        """Whether a job is running on the compute thread."""
        return self._job is not None

    # ------------------------------------------------------------------ requests
    def new_campaign(self, path: str | os.PathLike[str], config: CampaignConfig,
                     overwrite: bool = False) -> None:
        """Create a campaign file at ``path`` with ``config`` and load its dataset.

        Emits ``campaignOpened`` and ``datasetReady``; the new campaign replaces the open one.
        A file that exists is refused unless ``overwrite``.
        """
        if self._may_launch("create a campaign"):
            self._launch("new", "create", path=os.fspath(path), config=config,
                         overwrite=overwrite)

    def open_campaign(self, path: str | os.PathLike[str]) -> None:
        """Open a campaign file and re-emit everything stored in it (trains nothing).

        Emits ``campaignOpened``, then ``datasetReady``, ``gridReady``, one
        ``evaluationFinished`` per stored evaluation, ``posteriorReady`` and
        ``finalModelReady`` for what the file holds. On failure the open campaign stays open.
        """
        if self._may_launch("open a campaign"):
            self._launch("open", "open", path=os.fspath(path))

    def start(self) -> None:
        """Prepare what is missing, then evaluate until the budget or convergence.

        Each evaluation is saved in the file as it ends. While pausing, cancels the pause.
        """
        if self._closed:
            return
        job = self._job
        if job is not None and job.name == "run" and not job.cancel.is_set():
            if self._pause.is_set():
                self._pause.clear()
                self._set_state(self._reported)
            return
        if job is not None and job.name == "points" and not job.cancel.is_set():
            self._start_pending = True
            self._note("the campaign continues after the chosen point")
            return
        if self._may_launch("start", needs_campaign=True):
            self._launch_run()

    def pause(self) -> None:
        """Finish the evaluation in flight, then stop (``IDLE``); :meth:`start` continues."""
        job = self._job
        if job is None or job.name != "run" or job.cancel.is_set():
            return
        self._pause.set()
        self._set_state(RunState.PAUSING)
        self._note("pausing after the evaluation in flight")

    def stop(self) -> None:
        """Cancel the running job within one epoch.

        The evaluation in flight is discarded; everything finished is kept in the file.
        """
        job = self._job
        if job is None or job.cancel.is_set():
            return
        job.cancel.set()
        self._points.clear()
        self._pause.clear()
        self._start_pending = False
        self._set_state(RunState.STOPPING)
        self._note("stopping after the current epoch")

    def evaluate_point(self, z: np.ndarray | tuple[float, float]) -> None:
        """Evaluate the feasible grid point nearest ``z`` (x, y) next, chosen by a person.

        Idle: evaluates just that point. Running: it is the next evaluation. A point outside
        the feasible region (or already evaluated) gives a ``failed`` message naming it.
        """
        point = np.array(z, dtype=np.float64).reshape(2)
        if self._closed:
            return
        if not self._has_campaign:
            self._fail("no campaign is open: create or open one first")
            return
        job = self._job
        if job is not None:
            if job.name in ("run", "points") and not job.cancel.is_set():
                self._points.push(point)
                self._note(f"latent point ({point[0]:.3g}, {point[1]:.3g}) queued next")
            else:
                self._fail(f"cannot evaluate a point while {self._state.value}")
            return
        self._points.push(point)
        self._launch_points()

    def train_final(self, which: str = "evaluated", full_dataset: bool = True) -> None:
        """Train a jiVAE with the best schedule and the campaign's jrVAE settings.

        Args:
            which: ``"evaluated"`` (the best evaluated schedule) or ``"predicted"`` (the
                maximum of the GP's posterior mean over the feasible grid).
            full_dataset: train on the whole dataset rather than the evaluation subset.

        The model's manifolds are saved in the file as ``final_model`` and emitted with
        ``finalModelReady``.

        Raises:
            ValueError: ``which`` is not one of the two choices.
        """
        if which not in ("evaluated", "predicted"):
            raise ValueError(f"which must be 'evaluated' or 'predicted', got {which!r}")
        if self._may_launch("train the final model", needs_campaign=True):
            self._launch("final", "train_final", which=which, full_dataset=full_dataset)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel any job, stop the compute thread and wait for it (closeEvent, teardown).

        Returns:
            Whether the thread stopped within ``timeout_ms``; the campaign file is then
            closed. The controller accepts no request afterwards.
        """
        if self._closed:
            return self._thread.isFinished()
        self._closed = True
        if self._job is not None:
            self._job.cancel.set()
        self._points.clear()
        self._thread.quit()
        stopped = bool(self._thread.wait(int(timeout_ms)))
        if stopped:
            self._job = None
            if self._session is not None:
                self._session.close()
        else:
            log.error("the compute thread did not stop within %d ms", timeout_ms)
            _ORPHANS.append((self._thread, self._worker))
        return stopped

    # ------------------------------------------------------------------ jobs
    def _may_launch(self, what: str, needs_campaign: bool = False) -> bool:
        if self._closed:
            log.warning("request to %s after shutdown ignored", what)
            return False
        if self._job is not None:
            self._fail(f"cannot {what} while {self._state.value}; stop the run first")
            return False
        if needs_campaign and not self._has_campaign:
            self._fail("no campaign is open: create or open one first")
            return False
        return True

    def _launch(self, name: str, method: str, **kwargs: Any) -> None:
        """Queue ``session.<method>(controls, **kwargs)`` as the job ``name``."""
        job = Job(name, functools.partial(self._call_session, method, kwargs))
        self._job = job
        self._resting = self._state
        self._reported = RunState.RUNNING
        self._changed = False
        self._submit.emit(job)

    def _launch_run(self) -> None:
        self._launch("run", "run", pause=self._pause, points=self._points, until_done=True)

    def _launch_points(self) -> None:
        self._launch("points", "run", pause=threading.Event(), points=self._points,
                     until_done=False)

    def set_threads(self, threads: int | None) -> None:
        """CPU threads for torch in the next jobs (None: torch's default)."""
        self._threads = threads

    def _call_session(self, method: str, kwargs: dict[str, Any], controls: Controls) -> object:
        """The body of every job (compute thread): builds the session on first use."""
        if self._session is None:
            from zbo_gui.workers.session import CampaignSession

            self._session = CampaignSession(self._worker.post)
        if self._threads:
            import torch

            torch.set_num_threads(self._threads)
        fn: Callable[..., object] = getattr(self._session, method)
        return fn(controls, **kwargs)

    def _end_job(self) -> bool:
        """Forget the finished job; returns whether a run should start now."""
        start, self._start_pending = self._start_pending, False
        self._job = None
        self._pause.clear()
        return start

    def _rest_after_abort(self) -> RunState:
        if not self._has_campaign:
            return RunState.EMPTY
        if self._resting in _RESTING and self._resting is not RunState.EMPTY \
                and not self._changed:
            return self._resting
        return RunState.IDLE

    @Slot(str, object)
    def _on_job_finished(self, name: str, outcome: object) -> None:
        paused_wanted = self._pause.is_set()
        start = self._end_job()
        state = outcome.state if isinstance(outcome, Outcome) else RunState.IDLE
        if self._closed:
            return
        self._set_state(state)
        if start and state in _RESTING and self._has_campaign:
            self._launch_run()
            return
        if isinstance(outcome, Outcome):
            if outcome.reason:
                self._note(f"campaign finished ({outcome.reason})")
                self.finished.emit(outcome.reason)
            elif outcome.paused:
                if not paused_wanted:  # start() arrived after the run had decided to pause
                    self._launch_run()
                    return
                self._note("paused; start continues the campaign")
        if len(self._points) and state in _RESTING:  # points queued as the job was ending
            self._launch_points()

    @Slot(str)
    def _on_job_cancelled(self, name: str) -> None:
        self._end_job()
        self._points.clear()
        if self._closed:
            return
        self._set_state(self._rest_after_abort())
        self._note("stopped; every finished evaluation is saved")

    @Slot(str, str)
    def _on_job_failed(self, name: str, message: str) -> None:
        self._end_job()
        self._points.clear()
        if self._closed:
            return
        self._set_state(self._rest_after_abort())
        self.failed.emit(message)

    # ------------------------------------------------------------------ messages
    @Slot(object)
    def _on_message(self, message: object) -> None:
        if self._closed:
            return
        if isinstance(message, RunState):
            self._job_state(message)
        elif isinstance(message, Progress):
            self._stage_progress(message)
        elif isinstance(message, RunProgress):
            self.progress.emit(message)
        elif isinstance(message, Evaluation):
            self._changed = True
            self.evaluationFinished.emit(message)
        elif isinstance(message, Proposal):
            self.proposalReady.emit(message)
        elif isinstance(message, PosteriorSnapshot):
            self.posteriorReady.emit(message)
        elif isinstance(message, GridSnapshot):
            self.gridReady.emit(message)
        elif isinstance(message, DatasetSnapshot):
            self.datasetReady.emit(message)
        elif isinstance(message, CampaignOpened):
            self._has_campaign = self._changed = True
            self._note(f"campaign {message.path}: {message.n_evaluations} evaluations stored")
            self.campaignOpened.emit(message)
        elif isinstance(message, FinalModel):
            self.finalModelReady.emit(message)
        elif isinstance(message, Notice):
            if message.problem:
                self.failed.emit(message.text)
            else:
                self._note(message.text)
        elif isinstance(message, CampaignClosed):
            self._has_campaign = False
            self._changed = True
        else:
            log.warning("unknown message from the compute thread: %r", message)

    def _stage_progress(self, report: Progress) -> None:
        """A preparation stage's report, at most every :data:`STAGE_REPORT_INTERVAL` s."""
        now = time.monotonic()
        if (report.step >= report.total or report.stage != self._last_stage
                or now - self._last_report >= STAGE_REPORT_INTERVAL):
            self._last_stage, self._last_report = report.stage, now
            self.progress.emit(RunProgress(report.stage, report.step, report.total,
                                           loss=report.loss, message=report.message))

    def _job_state(self, state: RunState) -> None:
        """A state the job entered; a pending pause or stop request keeps showing."""
        job = self._job
        if state in (RunState.PREPARING, RunState.RUNNING):
            self._reported = state
        if job is not None and state not in _RESTING:
            if job.cancel.is_set():
                state = RunState.STOPPING
            elif self._pause.is_set() and state in (RunState.PREPARING, RunState.RUNNING):
                state = RunState.PAUSING
        self._set_state(state)

    def _set_state(self, state: RunState) -> None:
        if state is not self._state:
            self._state = state
            self.stateChanged.emit(state)

    def _fail(self, message: str) -> None:
        log.warning("%s", message)
        self.failed.emit(message)

    def _note(self, text: str) -> None:
        log.info("%s", text)
        self.logMessage.emit(text)
