"""One evaluation as a unit of work: what goes to a worker, what comes back, and the code that
runs there.

Only small frozen objects travel per evaluation: a :class:`Request` (ticket, schedule, seeds)
out, :class:`TaskResult` (status, per-seed results) back, and :class:`WorkerProgress` reports
while it trains. The objective (with the dataset inside it) reaches each worker once, before
the first request (``pool.DaskExecutor``). Qt-free; imports no Dask at module level, so the
in-process executor runs the same :func:`evaluate` without it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass

import numpy as np

from zbo_gui.core.objective import Objective
from zbo_gui.core.types import (
    Controls,
    EvaluationCancelled,
    EvaluationStatus,
    ObjectiveResult,
    Progress,
    TrainingCollapsed,
    TrainingDiverged,
)

log = logging.getLogger(__name__)

#: Failures of one training that become a FAILED evaluation (the campaign goes on).
TRAINING_FAILURES = (TrainingDiverged, FloatingPointError, RuntimeError, ValueError)


@dataclass(frozen=True)
class Request:
    """One evaluation to run.

    Attributes:
        ticket: the evaluation's number in submission order (its seeds derive from it).
        schedule: ``(N,)`` the β_c schedule.
        seeds: one training seed per replicate.
    """

    ticket: int
    schedule: np.ndarray
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class TaskResult:
    """How an evaluation ended where it ran.

    Attributes:
        ticket: the request's ticket.
        status: SUCCEEDED, FAILED or COLLAPSED.
        objective: mean of the replicates' values (NaN when FAILED, 0 when COLLAPSED).
        replicates: the per-seed results.
        message: the failure message, or when it collapsed.
        started: UNIX time the training started.
        seconds: wall time of the evaluation.
        worker: who ran it (``"name@host"``; ``""`` in the calling process).
    """

    ticket: int
    status: EvaluationStatus
    objective: float
    replicates: tuple[ObjectiveResult, ...] = ()
    message: str = ""
    started: float = 0.0
    seconds: float = 0.0
    worker: str = ""


@dataclass(frozen=True)
class WorkerProgress:
    """One epoch report of a training in flight.

    Attributes:
        worker: the worker's name (``"name@host"``; ``""`` in the calling process).
        ticket: the evaluation's ticket.
        step: epochs done, counted over all replicates.
        total: epochs in all (replicates × N).
        loss: the latest loss.
        device: the torch device.
        pid: the worker's process id.
    """

    worker: str
    ticket: int
    step: int
    total: int
    loss: float
    device: str
    pid: int


def evaluate(objective: Objective, request: Request, controls: Controls,
             worker: str = "") -> TaskResult:
    """Train and score ``request``'s schedule once per seed; classify how it ended.

    A diverged training (or another numerical failure) gives FAILED with its message; a
    training stopped as collapsed gives COLLAPSED, scored 0; cancellation raises
    ``EvaluationCancelled``.
    """
    started, t0 = time.time(), time.perf_counter()
    results: list[ObjectiveResult] = []
    status, message = EvaluationStatus.SUCCEEDED, ""
    n = len(request.seeds)
    offset = 0

    def shifted(report: Progress) -> None:  # epochs counted over the replicates
        controls.report(Progress(report.stage, offset + report.step, n * report.total,
                                 report.loss, report.message))

    inner = Controls(progress=shifted, cancel=controls.cancel)
    try:
        for seed in request.seeds:
            result = objective(request.schedule, seed, inner)
            results.append(result)
            offset += int(result.loss_curve.shape[0])
    except TrainingCollapsed as exc:  # stopped early: scored 0, and the GP learns it
        status, message = EvaluationStatus.COLLAPSED, str(exc)
        log.info("evaluation %d %s", request.ticket, message)
    except TRAINING_FAILURES as exc:
        status, message = EvaluationStatus.FAILED, f"{type(exc).__name__}: {exc}"
        # a divergence is an expected outcome; other failures keep their traceback
        log.warning("evaluation %d failed: %s", request.ticket, message,
                    exc_info=not isinstance(exc, TrainingDiverged))
    if status is EvaluationStatus.SUCCEEDED:
        value = float(np.mean([r.value for r in results]))
    else:
        value = 0.0 if status is EvaluationStatus.COLLAPSED else float("nan")
    return TaskResult(request.ticket, status, value, tuple(results), message, started,
                   time.perf_counter() - t0, worker)


# ---------------------------------------------------------------------- on a Dask worker
#: The topic of the workers' progress events.
PROGRESS_TOPIC = "zbo-progress"
#: Seconds between two looks at the remote cancel flag (one scheduler round trip each).
CANCEL_POLL = 0.25
#: Where :class:`ObjectivePlugin` leaves each run's objective on a worker, by run id.
_OBJECTIVES: dict[str, tuple[Objective, int]] = {}


class RemoteCancel:
    """A cancel flag a worker shares with the driver (a Dask ``Event``), looked at no more than
    every :data:`CANCEL_POLL` seconds; duck-types ``threading.Event`` for :class:`Controls`."""

    def __init__(self, name: str) -> None:
        from distributed import Event

        self._event = Event(name)
        self._next = 0.0
        self._set = False

    def is_set(self) -> bool:
        """Whether the driver asked to stop (sticky once seen)."""
        now = time.monotonic()
        if not self._set and now >= self._next:
            self._next = now + CANCEL_POLL
            self._set = bool(self._event.is_set())
        return self._set


def device_of_worker(configured: str, ordinal: int) -> str:
    """The torch device a worker trains on: with several GPUs visible, worker ``ordinal`` takes
    GPU ``ordinal mod count`` (one GPU per worker); otherwise what ``configured`` resolves to."""
    import torch

    from zbo_gui.core.jrvae import resolve_device

    device = resolve_device(configured)
    if device == "cuda" and torch.cuda.device_count() > 1:
        index = ordinal % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return f"cuda:{index}"
    return device


def worker_ordinal(name: object) -> int:
    """A worker's number from its Dask name (``0``, ``"SLURMCluster-3"``); 0 when it has none."""
    digits = "".join(c for c in str(name).rsplit("-", 1)[-1] if c.isdigit())
    return int(digits) if digits else 0


def run_on_worker(run_id: str, request: Request, cancel_name: str) -> TaskResult | None:
    """The Dask task: evaluate ``request`` with the run's objective on this worker, sending an
    event per epoch; None when it stopped at the driver's cancel flag (not an error: Dask would
    log a cancelled training as a failed task)."""
    import torch
    from distributed import get_worker

    objective, threads = _OBJECTIVES[run_id]
    worker = get_worker()
    torch.set_num_threads(threads)
    name = f"{worker.name}@{socket.gethostname()}"
    configured = getattr(getattr(objective, "jrvae", None), "device", "cpu")
    device = device_of_worker(configured, worker_ordinal(worker.name))
    pid = os.getpid()

    def report(p: Progress) -> None:
        worker.log_event(PROGRESS_TOPIC, {
            "run": run_id, "name": name, "ticket": request.ticket, "step": p.step,
            "total": p.total, "loss": p.loss, "device": device, "pid": pid})

    report(Progress("evaluation", 0, 0))
    try:
        return evaluate(objective, request, Controls(progress=report, cancel=RemoteCancel(
            cancel_name)), worker=name)
    except EvaluationCancelled:
        return None


def install(run_id: str, objective: Objective, threads: int) -> None:
    """Keep ``objective`` (and ``threads`` torch threads) for the tasks of run ``run_id`` on
    this worker (a worker plugin's ``setup``)."""
    _OBJECTIVES[run_id] = (objective, threads)
    import pyroved.models  # noqa: F401  (imported here, not in the middle of the first task)


def uninstall(run_id: str) -> None:
    """Forget run ``run_id``'s objective on this worker."""
    _OBJECTIVES.pop(run_id, None)

