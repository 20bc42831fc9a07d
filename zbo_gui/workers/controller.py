"""The GUI-facing controller: owns the compute thread, turns requests into jobs, and applies
what the jobs post to the window's :class:`~zbo_gui.model.campaign.CampaignModel`.

:class:`CampaignController` lives in the GUI thread. Its request methods return at once: each
queues one job — a typed callable on the :class:`~zbo_gui.workers.session.CampaignSession` — on
the compute thread (a :class:`~zbo_gui.workers.worker.ComputeWorker` in a ``QThread``); every
engine call (the runner, its HDF5 file, pyro) happens on that thread. What a job posts comes
back as queued signals and is applied to the model in one place (:meth:`_apply`); the
views show the model. The run state is decided here and set on the model.

Only one job runs at a time. While one runs, :meth:`~CampaignController.pause`,
:meth:`~CampaignController.stop` and :meth:`~CampaignController.evaluate_point` talk to it through
thread-safe flags (a pause ``Event``, the job's cancel ``Event``, a queue of user points);
other requests are refused with an error on the model. Errors never escape: a bad file, a bad
config or a failed training becomes a model error and a log record, and the controller returns
to a resting state (``EMPTY``, ``IDLE`` or ``FINISHED``) ready for the next request.

The engine (torch, pyro) is imported by the first job, on the compute thread, so creating the
controller does not block the window.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot

from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.errors import ZboError
from zbo_gui.core.schedules import ScheduleLibrary
from zbo_gui.core.types import Controls, Evaluation, Progress, UserPoints
from zbo_gui.model.campaign import CampaignModel
from zbo_gui.model.messages import CampaignClosed, CampaignOpened, RunState
from zbo_gui.workers import exporting
from zbo_gui.workers.jobs import Outcome, StageProgress
from zbo_gui.workers.worker import WARM_UP, ComputeWorker, Job, default_threads, import_engine

if TYPE_CHECKING:
    from zbo_gui.workers.session import CampaignSession

log = logging.getLogger(__name__)

_QUEUED = Qt.ConnectionType.QueuedConnection
#: Seconds a thread may hold the GIL while another waits (Python's default: 0.005).
SWITCH_INTERVAL = 0.001
_RESTING = (RunState.EMPTY, RunState.IDLE, RunState.PAUSED, RunState.FINISHED)
#: Compute threads that did not stop within a shutdown's timeout, kept alive (never destroyed
#: while running, which would abort the process); they end at their next cancellation check.
_ORPHANS: list[tuple[QThread, ComputeWorker]] = []

#: The body of a job: a session method bound to its arguments.
SessionCall = Callable[["CampaignSession", Controls], object]


class CampaignController(QObject):
    """Drives one campaign at a time on a compute thread; see the module docstring.

    Args:
        model: the campaign model the window shows (default: a new one).

    Signals:
        jobEnded(): a job ended (the model's state is final for it); ``shutdown`` waits for
            the thread, this tells a closing window it may go.

    States: ``EMPTY`` (no campaign) → ``PREPARING`` (creating, opening, or computing the
    dataset, seeds, schedule VAE and grid) → ``IDLE``; ``RUNNING`` ↔ ``PAUSING`` → ``PAUSED``,
    ``STOPPING`` → ``IDLE``, or ``FINISHED``; ``TRAINING_FINAL`` → ``IDLE`` or ``FINISHED``
    (where the campaign stands). A chosen point evaluated while resting returns to that state.
    """

    jobEnded = Signal()
    _submit = Signal(object)

    def __init__(self, model: CampaignModel | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The compute thread and Dask's client thread share the GIL with the window: hand it
        # over every millisecond, not every 5 (Python's default), so that no Python-heavy step
        # of theirs (a GP fit, a result arriving) stalls the window for tens of milliseconds.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.model = model or CampaignModel()
        self._job: Job | None = None
        self._resting = RunState.EMPTY  # the state the running job started from
        self._changed = False  # the running job opened a campaign or stored an evaluation
        self._closed = False
        self._reported = RunState.RUNNING  # the last busy state the running job reported
        self._start_pending = False  # start() arrived during a user point's evaluation
        self._stages = StageProgress()
        self._pause = threading.Event()
        self._session: CampaignSession | None = None  # built on the compute thread
        self._threads = default_threads()  # torch CPU threads (a UI preference)
        self._points = UserPoints()
        self._thread = QThread()
        self._thread.setObjectName("zbo-compute")
        self._worker = ComputeWorker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run_job, _QUEUED)
        self._inbox: deque[Callable[[], None]] = deque()
        self._drain = QTimer(self)
        self._drain.setSingleShot(True)
        self._drain.setInterval(0)
        self._drain.timeout.connect(self._apply_next)
        self._worker.message.connect(self._on_message, _QUEUED)
        self._worker.jobFinished.connect(self._job_finished_signal, _QUEUED)
        self._worker.jobCancelled.connect(self._job_cancelled_signal, _QUEUED)
        self._worker.jobFailed.connect(self._job_failed_signal, _QUEUED)
        app = QCoreApplication.instance()
        if app is not None:  # a window that forgot shutdown() must not abort the process
            app.aboutToQuit.connect(self.shutdown)
        self._thread.start()

    # ------------------------------------------------------------------ queries
    @property
    def state(self) -> RunState:
        """The current run state (the model's)."""
        return self.model.state

    def is_busy(self) -> bool:
        """Whether a job is running on the compute thread."""
        return self._job is not None

    @property
    def job_name(self) -> str:
        """What the running job does (``"run"``, ``"points"``, ``"final"``, ``"new"``,
        ``"open"``, ``"save_as"``), or "" when none runs."""
        return self._job.name if self._job is not None else ""

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` was called."""
        return self._closed

    # ------------------------------------------------------------------ requests
    def new_campaign(self, path: str | os.PathLike[str], config: CampaignConfig,
                     library: ScheduleLibrary | None = None, overwrite: bool = False) -> None:
        """Create a campaign file at ``path`` with ``config`` and ``library`` (the seed library
        as it is; default: built from ``config``), with its dataset and seeds.

        The new campaign replaces the open one. A file that exists is refused unless
        ``overwrite`` (and then only a campaign file, see ``CampaignRunner.draft``).
        """
        path = os.fspath(path)
        if self._may_launch("create a campaign"):
            self._launch("new", lambda s, c: s.create(c, path, config, library, overwrite))

    def open_campaign(self, path: str | os.PathLike[str]) -> None:
        """Open a campaign file and apply everything stored in it to the model (trains
        nothing). On failure the open campaign stays open."""
        path = os.fspath(path)
        if self._may_launch("open a campaign"):
            self._launch("open", lambda s, c: s.open(c, path))

    def save_as(self, path: str | os.PathLike[str]) -> None:
        """Copy the open campaign to ``path`` and continue there (the copy is opened)."""
        path = os.fspath(path)
        if self._may_launch("save the campaign", needs_campaign=True):
            self._launch("save_as", lambda s, c: s.save_as(c, path))

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
        """Finish the evaluation in flight, then rest (``PAUSED``); :meth:`start` continues."""
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
        the feasible region (or already evaluated) gives an error naming it.
        """
        point = np.array(z, dtype=np.float64).reshape(2)
        if self._closed:
            return
        if not self.model.is_open:
            self._fail("no campaign is open: create or open one first")
            return
        job = self._job
        if job is not None:
            if job.name in ("run", "points") and not job.cancel.is_set():
                self._points.push(point)
                self._note(f"latent point ({point[0]:.3g}, {point[1]:.3g}) queued next")
            else:
                self._fail(f"cannot evaluate a point while {self.state.value}")
            return
        self._points.push(point)
        self._launch_points()

    def train_final(self, which: str = "evaluated", full_dataset: bool = True) -> None:
        """Train a jiVAE with the best schedule and the campaign's jrVAE settings.

        Args:
            which: ``"evaluated"`` (the best evaluated schedule) or ``"predicted"`` (the
                maximum of the GP's posterior mean over the feasible grid).
            full_dataset: train on the whole dataset rather than the evaluation subset.

        The model's manifolds are saved in the file as ``final_model`` and applied to the
        model.

        Raises:
            ValueError: ``which`` is not one of the two choices.
        """
        if which not in ("evaluated", "predicted"):
            raise ValueError(f"which must be 'evaluated' or 'predicted', got {which!r}")
        if self._may_launch("train the final model", needs_campaign=True):
            self._launch("final", lambda s, c: s.train_final(c, which, full_dataset))

    def export_schedule(self, path: str | os.PathLike[str], fmt: str,
                        which: str = "evaluated") -> bool:
        """Write the open campaign's best schedule (CSV, JSON or NPY) with *its* configuration
        (:func:`~zbo_gui.workers.exporting.export_schedule`).

        Runs here, at once (a small file), also while a training runs.

        Returns:
            Whether the file was written; a refusal or failure is an error on the model.
        """
        try:
            written = exporting.export_schedule(self.model, path, fmt, which)
        except ZboError as exc:
            self._fail(f"export failed: {exc}")
            return False
        self._note("wrote " + ", ".join(str(p) for p in written))
        return True

    def may_write(self, path: str | os.PathLike[str]) -> bool:
        """Whether an export (a table, a picture) may write ``path``: never the campaign, its
        inputs or any HDF5 file, never into a missing folder. A refusal is an error on the
        model."""
        try:
            exporting.check_target(self.model, path)
        except ZboError as exc:
            self._fail(f"export failed: {exc}")
            return False
        return True

    def set_threads(self, threads: int | None) -> None:
        """CPU threads for torch in the next jobs (None: :func:`default_threads`)."""
        self._threads = threads or default_threads()

    def warm_up(self) -> None:
        """Import the engine (torch, pyro, gpytorch, the objective's metrics) on the compute
        thread now, while the person looks at the new window, rather than at the first New or
        Open and in the middle of the first evaluation. Not a job: a request made meanwhile
        waits behind it on the compute thread."""
        if not self._closed:
            self._submit.emit(Job(WARM_UP, lambda controls: import_engine()))

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
            self._fail(f"cannot {what} while {self.state.value}; stop the run first")
            return False
        if needs_campaign and not self.model.is_open:
            self._fail("no campaign is open: create or open one first")
            return False
        return True

    def _launch(self, name: str, call: SessionCall) -> None:
        """Queue ``call(session, controls)`` as the job ``name``."""
        job = Job(name, lambda controls: call(self._compute_session(), controls))
        self._job = job
        self._resting = self.state
        self._reported = RunState.RUNNING
        self._changed = False
        self._stages.restart()  # the job's first stage report starts its ETA afresh
        self._submit.emit(job)

    def _launch_run(self) -> None:
        pause, points = self._pause, self._points
        self._launch("run", lambda s, c: s.run(c, pause, points, True))

    def _launch_points(self) -> None:
        points = self._points
        self._launch("points", lambda s, c: s.run(c, threading.Event(), points, False))

    def _compute_session(self) -> CampaignSession:
        """The session (built on the compute thread by the first job), torch threads set."""
        if self._session is None:
            from zbo_gui.workers.session import CampaignSession

            self._session = CampaignSession(self._worker.post)
        if self._threads:
            import torch

            torch.set_num_threads(self._threads)
        return self._session

    def _end_job(self) -> bool:
        """Forget the finished job; returns whether a run should start now."""
        start, self._start_pending = self._start_pending, False
        self._job = None
        self._pause.clear()
        return start

    def _rest_after_abort(self) -> RunState:
        if not self.model.is_open:
            return RunState.EMPTY
        if self._resting in _RESTING and self._resting is not RunState.EMPTY \
                and not self._changed:
            return self._resting
        return RunState.IDLE

    def _on_job_finished(self, name: str, outcome: object) -> None:
        job = self._job
        stopped = job is not None and job.cancel.is_set()  # stop() came as the job ended
        paused_wanted = self._pause.is_set()
        start = self._end_job()
        if self._closed:
            self.jobEnded.emit()
            return
        ended = outcome if isinstance(outcome, Outcome) else Outcome(RunState.IDLE)
        state = ended.state
        if name == "points" and state is RunState.IDLE and self._resting is RunState.PAUSED:
            state = RunState.PAUSED  # a chosen point evaluated while paused: still paused
        if not stopped and state in _RESTING and self.model.is_open:
            # start() came during a chosen point, or after the run had decided to pause:
            # go on without showing a resting state in between
            if start or (ended.paused and not paused_wanted):
                self._launch_run()
                self._resting = state
                return
            if len(self._points) and not ended.paused:  # points queued as the job ended
                self._launch_points()
                self._resting = state
                return
        if ended.paused and not stopped:
            state = RunState.PAUSED
        self._set_state(state)
        if stopped:
            self._note("stopped; every finished evaluation is saved")
        elif ended.reason:
            self._note(f"campaign finished ({ended.reason})")
            self.model.finish(ended.reason)
        elif ended.paused:
            self._note("paused; start continues the campaign")
        self.jobEnded.emit()

    def _on_job_cancelled(self, name: str) -> None:
        self._end_job()
        self._points.clear()
        if not self._closed:
            self.model.clear_proposal()  # the evaluation of it was discarded
            self._set_state(self._rest_after_abort())
            self._note("stopped; every finished evaluation is saved")
        self.jobEnded.emit()

    def _on_job_failed(self, name: str, message: str) -> None:
        self._end_job()
        self._points.clear()
        if not self._closed:
            self._set_state(self._rest_after_abort())
            self._fail(message)
        self.jobEnded.emit()

    # ------------------------------------------------------------------ messages
    def _later(self, call: Callable[[], None]) -> None:
        """Queue what the compute thread sent, to be handled one item per event-loop turn.

        An evaluation, the GP and the next proposal arrive together; applied one at a time,
        the window repaints and reads input between them instead of stalling for all three.
        """
        self._inbox.append(call)
        if not self._drain.isActive():
            self._drain.start()

    def _apply_next(self) -> None:
        try:
            if self._inbox:
                self._inbox.popleft()()
        finally:  # a view that raised must not stall what follows
            if self._inbox:
                self._drain.start()

    # the worker's signals arrive here, on the GUI thread (slots of this object: a lambda
    # connected across threads would run on the worker's thread), and wait their turn
    @Slot(object)
    def _on_message(self, message: object) -> None:
        self._later(lambda: self._apply(message))

    @Slot(str, object)
    def _job_finished_signal(self, name: str, outcome: object) -> None:
        if name != WARM_UP:
            self._later(lambda: self._on_job_finished(name, outcome))

    @Slot(str)
    def _job_cancelled_signal(self, name: str) -> None:
        self._later(lambda: self._on_job_cancelled(name))

    @Slot(str, str)
    def _job_failed_signal(self, name: str, message: str) -> None:
        if name == WARM_UP:  # the first real job will report the same problem
            log.warning("loading the engine failed: %s", message)
            return
        self._later(lambda: self._on_job_failed(name, message))

    def _apply(self, message: object) -> None:
        """Apply one message of the compute thread: the one place the model changes."""
        if self._closed:
            return
        if isinstance(message, RunState):
            self._job_state(message)
        elif isinstance(message, Progress):
            self._stage_progress(message)
        else:
            if isinstance(message, Evaluation | CampaignOpened | CampaignClosed):
                self._changed = True
            self.model.apply(message)
            if isinstance(message, CampaignOpened):
                log.info("campaign %s: %d evaluations stored", message.path,
                         message.n_evaluations)

    def _stage_progress(self, report: Progress) -> None:
        progress = self._stages(report)
        if progress is not None:
            self.model.apply(progress)

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
        self.model.set_state(state)

    def _fail(self, message: str) -> None:
        log.warning("%s", message)
        self.model.report_error(message)

    def _note(self, text: str) -> None:
        log.info("%s", text)
        self.model.note(text)
