"""The compute thread's worker: runs one job at a time and reports through queued signals.

A :class:`Job` is a callable taking :class:`~zbo_gui.core.types.Controls` plus the
``threading.Event`` that cancels it. :class:`ComputeWorker` lives in a ``QThread``; its
:meth:`~ComputeWorker.run_job` slot runs a job on that thread, forwards every object the job
posts (progress reports, snapshots, evaluations) with its :attr:`~ComputeWorker.message` signal,
and ends each job with exactly one of ``jobFinished``, ``jobCancelled`` or ``jobFailed``.
Signals emitted here are queued by Qt to the receivers' (GUI) thread, in emission order.

Cancellation is cooperative (DESIGN.md §3): the GUI sets ``job.cancel`` and the engine checks it
between epochs. The worker never calls ``QThread.terminate()`` nor ``processEvents()``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal, Slot

from zbo_gui.core.errors import ZboError
from zbo_gui.core.types import Controls, EvaluationCancelled, TrainingDiverged

log = logging.getLogger(__name__)

#: Longest failure message passed on (a dialog line, not a tensor dump).
MAX_MESSAGE = 400


#: The name of :meth:`CampaignController.warm_up`'s work on the compute thread.
WARM_UP = "warm-up"


def default_threads() -> int:
    """Torch threads of the compute thread: all cores but one, which keeps the window (and the
    rest of the desktop) responsive; one on a 2-core machine."""
    return max(1, (os.cpu_count() or 1) - 1)


#: What starting the first run's Dask cluster imports (measured: ``sys.modules`` before and after
#: a ``LocalCluster`` with its dashboard). Imported later, on the cluster's own thread, they
#: held the GIL (and PySide's import hook reads each module's source) for 60-110 ms.
CLUSTER_MODULES = (
    "distributed.deploy.local", "distributed.dashboard.scheduler",
    "distributed.diagnostics.websocket", "distributed.http.health", "distributed.http.proxy",
    "distributed.http.statics", "distributed.http.prometheus", "distributed.http.scheduler.info",
    "distributed.http.scheduler.json", "distributed.http.scheduler.prometheus",
    "bokeh.application.handlers.document_lifecycle", "multiprocessing.synchronize",
    "tornado.platform.asyncio",
)


def import_engine() -> None:
    """What the first campaign would import: the engine, and what the objective imports at its
    first score."""
    # at import it logs an INFO line on an optional package the dashboard can do without
    logging.getLogger("distributed.http.proxy").setLevel(logging.WARNING)
    for name in CLUSTER_MODULES:
        with contextlib.suppress(ImportError):  # bokeh (the dashboard) is optional
            importlib.import_module(name)
    import scipy.optimize  # noqa: F401
    import skimage.metrics  # noqa: F401
    import sklearn.metrics  # noqa: F401

    import zbo_gui.core.surrogate
    import zbo_gui.workers.session  # noqa: F401  (torch, pyro, pyroved, the runner)

    # The modules are there for good: take their objects out of the garbage collector's view,
    # or every full collection walks them all (≈250 ms holding the GIL, a frozen window).
    gc.collect()
    gc.freeze()



@dataclass(frozen=True)
class Job:
    """One unit of work for the compute thread.

    Attributes:
        name: what the job does (``"run"``, ``"open"``, ...), echoed by the end signals.
        fn: the work; called on the compute thread with the job's :class:`Controls`, whose
            ``progress`` sink posts each report to the GUI thread. Its return value is the
            payload of ``jobFinished``.
        cancel: set (from any thread) to cancel the job at its next check.
    """

    name: str
    fn: Callable[[Controls], object]
    cancel: threading.Event = field(default_factory=threading.Event)


def one_line(text: str) -> str:
    """The first non-empty line of ``text``, shortened to :data:`MAX_MESSAGE` characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= MAX_MESSAGE else first[: MAX_MESSAGE - 1] + "…"


class ComputeWorker(QObject):
    """Runs :class:`Job` objects on the thread it was moved to, one at a time.

    Signals:
        message(object): anything a job posts (a frozen dataclass; arrays are not written to
            after posting).
        jobFinished(str, object): the job's name and return value.
        jobCancelled(str): the job's name; it stopped at a cancellation check.
        jobFailed(str, str): the job's name and a one-line message. A user-caused error
            (:class:`ZboError`) or a diverged training gives its own message; any other
            exception gives ``"unexpected error: ..."`` and its traceback is logged.
    """

    message = Signal(object)
    jobFinished = Signal(str, object)
    jobCancelled = Signal(str)
    jobFailed = Signal(str, str)

    def post(self, message: object) -> None:
        """Send ``message`` to the GUI thread (call it from the compute thread only)."""
        self.message.emit(message)

    @Slot(object)
    def run_job(self, job: Job) -> None:
        """Run ``job`` to its end on this thread; emit exactly one of the end signals."""
        controls = Controls(progress=self.post, cancel=job.cancel)
        try:
            result = job.fn(controls)
        except EvaluationCancelled:
            log.info("job %s cancelled", job.name)
            self.jobCancelled.emit(job.name)
        except (ZboError, TrainingDiverged) as exc:
            log.warning("job %s failed: %s", job.name, exc)
            self.jobFailed.emit(job.name, one_line(str(exc)) or type(exc).__name__)
        except Exception as exc:  # a bug: keep the traceback in the log, tell the person
            log.exception("unexpected error in job %s", job.name)
            detail = one_line(str(exc))
            text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
            self.jobFailed.emit(job.name, f"unexpected error: {text}")
        else:
            self.jobFinished.emit(job.name, result)
