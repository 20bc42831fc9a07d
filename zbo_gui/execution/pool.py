"""Executors: where the run loop's evaluations train.

:class:`DaskExecutor` (the default) trains each evaluation in a Dask worker process, as many at
once as there are workers: on a ``LocalCluster`` it starts and closes itself, on an existing
scheduler, or on SLURM jobs (``clusters``). :class:`InlineExecutor` (``execution.workers = 0``)
trains in the calling thread, one at a time, with the same :func:`~zbo_gui.execution.task.evaluate`.

Both have the same small interface the runner drives: :attr:`capacity` evaluations at once,
:meth:`submit`, :meth:`wait` (finished outcomes, in completion order), :meth:`progress` (the
epoch reports since the last call) and :meth:`cancel`. A worker that dies mid-training
costs that training: Dask runs it once more elsewhere (``allowed-failures = 1``), and a second
death comes back as a FAILED outcome that names it.
"""

from __future__ import annotations

import logging
import os
import queue
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from zbo_gui.core.config import ExecutionConfig
from zbo_gui.core.objective import Objective
from zbo_gui.core.types import Controls, EvaluationStatus, Progress
from zbo_gui.execution import clusters, task
from zbo_gui.execution.task import Request, TaskResult, WorkerProgress

log = logging.getLogger(__name__)

#: Retries of a task whose worker died (Dask's ``distributed.scheduler.allowed-failures``).
RETRIES = 1


class Executor(Protocol):
    """What the run loop needs from where evaluations train."""

    capacity: int
    dashboard: str

    def submit(self, request: Request) -> None:
        """Start ``request`` (at most :attr:`capacity` run at once)."""
        ...

    def wait(self, timeout: float) -> list[TaskResult]:
        """The outcomes finished within ``timeout`` seconds (possibly none)."""
        ...

    def progress(self) -> list[WorkerProgress]:
        """Epoch reports received since the last call, oldest first."""
        ...

    def cancel(self) -> None:
        """Stop every training in flight at its next epoch and forget them."""
        ...

    def close(self) -> None:
        """Release the workers (and the cluster the executor started)."""
        ...


class InlineExecutor:
    """Trains in the calling thread, one evaluation at a time (``execution.workers = 0``).

    Args:
        objective: what scores a schedule.
    """

    capacity = 1
    dashboard = ""

    def __init__(self, objective: Objective) -> None:
        self._objective = objective
        self._controls = Controls()
        self._queued: list[Request] = []
        self._on_report: Callable[[WorkerProgress], None] | None = None

    def submit(self, request: Request) -> None:
        """Queue ``request``; it trains in the next :meth:`wait`."""
        self._queued.append(request)

    def attach(self, controls: Controls, sink: Callable[[WorkerProgress], None] | None) -> None:
        """Train with the run's cancel flag (checked between epochs) and send the epoch reports
        to ``sink`` as they happen (the training blocks :meth:`wait`)."""
        self._controls = controls
        self._on_report = sink

    def wait(self, timeout: float) -> list[TaskResult]:
        """Train the queued evaluation to its end (``timeout`` does not apply)."""
        if not self._queued:
            return []
        request = self._queued.pop(0)
        pid = os.getpid()

        def report(p: Progress) -> None:
            message = WorkerProgress("", request.ticket, p.step, p.total, p.loss, "", pid)
            if self._on_report is not None:
                self._on_report(message)

        return [task.evaluate(self._objective, request,
                              Controls(progress=report, cancel=self._controls.cancel))]

    def progress(self) -> list[WorkerProgress]:
        """None: the reports go to the sink of :meth:`attach` as they happen."""
        return []

    def cancel(self) -> None:
        """Forget the queued evaluation (a training in progress stops at the cancel flag)."""
        self._queued.clear()

    def close(self) -> None:
        """Nothing to release."""


class DaskExecutor:
    """Trains evaluations in Dask worker processes (see the module docstring).

    Args:
        client: a connected ``distributed.Client``.
        objective: what scores a schedule; it goes to each worker once (a worker plugin).
        threads: torch threads per training.
        capacity: evaluations at once (the number of workers).
        owned: the cluster to close with the executor (None: an existing scheduler's, whose
            workers need not offer the one-training-at-a-time resource).
    """

    def __init__(self, client: Any, objective: Objective, threads: int, capacity: int,
                 owned: Any = None) -> None:
        from distributed import Event

        self._client = client
        self._cluster = owned
        self._resources = {clusters.RESOURCE: 1} if owned is not None else None
        self.capacity = capacity
        self.run_id = uuid.uuid4().hex[:12]
        self.dashboard = str(getattr(client, "dashboard_link", "") or "")
        self._cancel = Event(f"zbo-cancel-{self.run_id}", client=client)
        self._reports: queue.SimpleQueue[WorkerProgress] = queue.SimpleQueue()
        self._futures: dict[Any, int] = {}  # future -> ticket
        self._plugin = _plugin(self.run_id, objective, threads)
        client.register_plugin(self._plugin, name=self._plugin.name)
        client.subscribe_topic(task.PROGRESS_TOPIC, self._received)

    def _received(self, event: tuple[float, dict[str, Any]]) -> None:  # Dask's loop thread
        msg = event[1]
        if msg.get("run") == self.run_id:
            self._reports.put(WorkerProgress(
                str(msg["name"]), int(msg["ticket"]), int(msg["step"]), int(msg["total"]),
                float(msg["loss"]), str(msg["device"]), int(msg["pid"])))

    def submit(self, request: Request) -> None:
        """Send ``request`` to a free worker."""
        future = self._client.submit(task.run_on_worker, self.run_id, request,
                                     f"zbo-cancel-{self.run_id}", pure=False,
                                     key=f"zbo-{self.run_id}-{request.ticket}-{uuid.uuid4().hex}",
                                     resources=self._resources)
        self._futures[future] = request.ticket

    def wait(self, timeout: float) -> list[TaskResult]:
        """TaskResults finished within ``timeout`` s; a task whose worker died twice is FAILED."""
        from distributed import wait

        if not self._futures:
            time.sleep(min(timeout, 0.05))
            return []
        try:
            done, _ = wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:  # nothing finished yet
            return []
        return [self._outcome(future, self._futures.pop(future)) for future in done]

    def _outcome(self, future: Any, ticket: int) -> TaskResult:
        from distributed import KilledWorker

        try:
            result = future.result()
            if result is not None:
                return result
            message = "stopped on its worker"  # a cancel flag raised by another driver
        except KilledWorker as exc:
            message = (f"KilledWorker: the worker training it died {RETRIES + 1} times"
                       f" ({exc})")
        except Exception as exc:  # lost worker, a dependency's failure: one evaluation lost
            log.warning("evaluation %d failed on its worker", ticket, exc_info=True)
            message = f"{type(exc).__name__}: {exc}"
        return TaskResult(ticket, EvaluationStatus.FAILED, float("nan"), (),
                       message, time.time(), 0.0)

    def progress(self) -> list[WorkerProgress]:
        """Reports received since the last call, oldest first."""
        out = []
        while True:
            try:
                out.append(self._reports.get_nowait())
            except queue.Empty:
                return out

    def cancel(self) -> None:
        """Raise the run's cancel flag, wait (briefly) for the trainings to stop, forget them;
        the flag is lowered again for the next submissions."""
        from distributed import wait

        if self._futures:
            self._cancel.set()
            wait(list(self._futures), timeout=30)
            self._client.cancel(list(self._futures))
            self._cancel.clear()
        self._futures.clear()

    def close(self) -> None:
        """Stop what is in flight, unregister the plugin, close the client and own cluster."""
        try:
            if self._futures:
                self.cancel()
            self._client.unsubscribe_topic(task.PROGRESS_TOPIC)
            self._client.unregister_worker_plugin(self._plugin.name)
        except Exception:  # a scheduler already gone: nothing left to tidy
            log.debug("closing the executor", exc_info=True)
        finally:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()


def _plugin(run_id: str, objective: Objective, threads: int) -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class ObjectivePlugin(WorkerPlugin):
        """Puts the run's objective (and its dataset) on every worker once, including workers
        that join or restart later."""

        def __init__(self) -> None:
            self.name = f"zbo-objective-{run_id}"

        def setup(self, worker: Any) -> None:
            task.install(run_id, objective, threads)

        def teardown(self, worker: Any) -> None:
            task.uninstall(run_id)

    return ObjectivePlugin()


def start_executor(config: ExecutionConfig, objective: Objective,
                   cores: int | None = None) -> Executor:
    """The executor ``config`` asks for, connected and with its first worker up.

    Raises:
        ConfigError: the scheduler cannot be reached, or SLURM support is not installed.
    """
    if config.workers == 0:
        return InlineExecutor(objective)
    cores = cores or os.cpu_count() or 1
    client, owned = clusters.connect(config, cores)
    try:
        capacity = config.workers
        return DaskExecutor(client, objective, config.threads(cores), capacity, owned)
    except BaseException:
        client.close()
        if owned is not None:
            owned.close()
        raise

