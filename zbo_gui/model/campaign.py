"""The open campaign as the window shows it: one Qt-free model, the single source of truth.

The controller applies every message the compute thread posts (``model.messages``) with
:meth:`CampaignModel.apply`, in one place; the views subscribe to the model's :attr:`events` and
read what they show from it, keeping no copies. Derived facts (the best evaluation, the grid
point under a latent position, what the run controls allow) are computed here once.

Events (each called with the value noted):

==============  ====================================================================
``opened``      a campaign was opened or created (its path), or closed (None); its
                configuration and seed library are there at once
``dataset``     the evaluation images' preview (:class:`DatasetSnapshot`)
``grid``        the feasible latent grid and the seed library (:class:`GridSnapshot`)
``posterior``   the GP over the grid (:class:`PosteriorSnapshot`)
``proposal``    the points in flight changed (the newest :class:`Proposal`, or None)
``evaluations`` an evaluation was added (the :class:`Evaluation`)
``final``       the final model (:class:`FinalModel`)
``state``       the run state changed (:class:`RunState`)
``progress``    a progress report (:class:`RunProgress`, or None when a job ended)
``selection``   what a person selected changed (:class:`Selection`, or None)
``workers``     what a worker does changed (its :class:`WorkerActivity`), or where the
                trainings run (:class:`ExecutionInfo`)
``notice``      a line of information (str)
``error``       a request failed (the one-line message)
``finished``    a run ended by itself (``"budget"``, ``"converged"``, ``"exhausted"``)
==============  ====================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.schedules import ScheduleLibrary
from zbo_gui.core.types import Evaluation, Proposal
from zbo_gui.model.events import Events
from zbo_gui.model.messages import (
    CampaignClosed,
    CampaignOpened,
    DatasetSnapshot,
    ExecutionInfo,
    FinalModel,
    GridSnapshot,
    Notice,
    PosteriorSnapshot,
    RunProgress,
    RunState,
    WorkerActivity,
)

#: States in which a job runs on the compute thread.
BUSY = frozenset({RunState.PREPARING, RunState.RUNNING, RunState.PAUSING, RunState.STOPPING,
                  RunState.TRAINING_FINAL})


@dataclass(frozen=True)
class Selection:
    """What a person selected: a latent point (a click on the map) or an evaluation (a row).

    Attributes:
        z: the latent point ``(x, y)``.
        evaluation: the evaluation's index, when one was selected (its point is ``z``).
    """

    z: tuple[float, float]
    evaluation: int | None = None


class CampaignModel:
    """Everything the window shows about the open campaign (see the module docstring)."""

    def __init__(self) -> None:
        self.events = Events("opened", "dataset", "grid", "posterior", "proposal",
                             "evaluations", "final", "state", "progress", "selection", "notice",
                             "error", "finished", "workers")
        self.state = RunState.EMPTY
        self.error = ""
        self._clear()
        self._handlers: dict[type, Callable[[Any], None]] = {
            CampaignOpened: self._opened, CampaignClosed: self._closed,
            DatasetSnapshot: self._dataset, GridSnapshot: self._grid,
            PosteriorSnapshot: self._posterior, Proposal: self._proposal,
            Evaluation: self._evaluation, FinalModel: self._final, RunProgress: self._progress,
            Notice: self._notice, WorkerActivity: self._worker, ExecutionInfo: self._execution,
        }
        self.workers: dict[str, WorkerActivity] = {}
        self.execution = ExecutionInfo(0)

    def _clear(self) -> None:
        self.path: str | None = None
        self.config: CampaignConfig | None = None
        self.n_stored = 0
        self.stages: tuple[str, ...] = ()
        self.seeds: ScheduleLibrary | None = None
        self.dataset: DatasetSnapshot | None = None
        self.grid: GridSnapshot | None = None
        self.posterior: PosteriorSnapshot | None = None
        self.pending: tuple[Proposal, ...] = ()
        self.evaluations: tuple[Evaluation, ...] = ()
        self.final: FinalModel | None = None
        self.progress: RunProgress | None = None
        self.selection: Selection | None = None
        self._best: Evaluation | None = None

    # ------------------------------------------------------------------ applying messages
    def apply(self, message: object) -> None:
        """Apply one message posted by the compute thread (the controller's one entry point).

        Raises:
            TypeError: a message of a kind the model does not know.
        """
        handler = self._handlers.get(type(message))
        if handler is None:
            raise TypeError(f"the campaign model cannot apply {type(message).__name__}")
        handler(message)

    def _opened(self, message: CampaignOpened) -> None:
        self._clear()
        self.path, self.config, self.n_stored = message.path, message.config, message.n_evaluations
        self.stages, self.seeds = message.stages, message.seeds
        self.events.opened(message.path)

    def _closed(self, message: CampaignClosed) -> None:
        self._clear()
        self.events.opened(None)

    def _dataset(self, message: DatasetSnapshot) -> None:
        self.dataset = message
        self.events.dataset(message)

    def _grid(self, message: GridSnapshot) -> None:
        self.grid = message
        self.events.grid(message)

    def _posterior(self, message: PosteriorSnapshot) -> None:
        self.posterior = message
        self.events.posterior(message)

    def _proposal(self, message: Proposal) -> None:
        self.pending = (*self.pending, message)
        self.events.proposal(message)

    def _evaluation(self, evaluation: Evaluation) -> None:
        if evaluation.index != len(self.evaluations):
            raise ValueError(f"evaluation {evaluation.index} arrived after"
                             f" {len(self.evaluations)} evaluations")
        self.evaluations = (*self.evaluations, evaluation)
        if evaluation.succeeded and (self._best is None
                                     or evaluation.objective > self._best.objective):
            self._best = evaluation
        done = evaluation.proposal.grid_index
        if any(p.grid_index == done for p in self.pending):
            self.pending = tuple(p for p in self.pending if p.grid_index != done)
            self.events.proposal(self.proposal)
        self.events.evaluations(evaluation)

    def _final(self, message: FinalModel) -> None:
        self.final = message
        self.events.final(message)

    def _progress(self, message: RunProgress) -> None:
        self.progress = message
        self.events.progress(message)

    def _notice(self, message: Notice) -> None:
        if message.problem:
            self.report_error(message.text)
        else:
            self.note(message.text)

    # ------------------------------------------------------------------ what the controller sets
    def set_state(self, state: RunState) -> None:
        """The run state (the controller decides it); a resting state clears the progress."""
        if state not in BUSY and self.progress is not None:
            self.progress = None
            self.events.progress(None)
        if state is not self.state:
            self.state = state
            if state is RunState.PREPARING or state is RunState.RUNNING:
                self.error = ""  # a new job: the last error is history
            self.events.state(state)

    def _worker(self, message: WorkerActivity) -> None:
        self.workers = {**self.workers, message.worker: message}
        self.events.workers(message)

    def _execution(self, message: ExecutionInfo) -> None:
        self.execution = message
        if message.workers == 0:
            self.workers = {}
        self.events.workers(message)

    def clear_proposal(self) -> None:
        """The evaluations in flight were dropped (stopped): nothing is shown as next."""
        if self.pending:
            self.pending = ()
            self.events.proposal(None)
        if any(w.training for w in self.workers.values()):
            self.workers = {name: WorkerActivity(name, False, device=w.device)
                            for name, w in self.workers.items()}
            self.events.workers(None)

    def report_error(self, message: str) -> None:
        """A request failed or was refused (one line)."""
        self.error = message
        self.events.error(message)

    def note(self, text: str) -> None:
        """A line of information for the person."""
        self.events.notice(text)

    def finish(self, reason: str) -> None:
        """A run ended by itself (budget, convergence, exhausted grid)."""
        self.events.finished(reason)

    # ------------------------------------------------------------------ selection
    def select_point(self, x: float, y: float) -> None:
        """A person selected the latent point ``(x, y)`` (a click on the map)."""
        self.selection = Selection((float(x), float(y)))
        self.events.selection(self.selection)

    def select_evaluation(self, index: int) -> None:
        """A person selected evaluation ``index`` (a row of the table)."""
        z = self.evaluations[index].proposal.z
        self.selection = Selection((float(z[0]), float(z[1])), index)
        self.events.selection(self.selection)

    def clear_selection(self) -> None:
        """Nothing is selected."""
        self.selection = None
        self.events.selection(None)

    # ------------------------------------------------------------------ derived facts
    @property
    def proposal(self) -> Proposal | None:
        """The newest point in flight (None when nothing trains)."""
        return self.pending[-1] if self.pending else None

    @property
    def is_open(self) -> bool:
        """Whether a campaign is open."""
        return self.path is not None

    @property
    def busy(self) -> bool:
        """Whether a job runs on the compute thread."""
        return self.state in BUSY

    def best_evaluated(self) -> Evaluation | None:
        """The successful evaluation with the highest objective (the first of equals)."""
        return self._best

    @property
    def initial_count(self) -> int:
        """Evaluations of the initial design (``bo.initial`` of the campaign)."""
        return self.config.bo.initial if self.config is not None else 0

    @property
    def budget(self) -> int:
        """Evaluations in all (``bo.budget``)."""
        return self.config.bo.budget if self.config is not None else 0

    def grid_index(self, x: float, y: float) -> int | None:
        """The flat index of the grid point nearest ``(x, y)``, or None without a grid or
        outside it (more than half a cell beyond its edge)."""
        grid = self.grid
        if grid is None:
            return None
        dx = float(grid.x[1] - grid.x[0]) if grid.x.size > 1 else 1.0
        dy = float(grid.y[1] - grid.y[0]) if grid.y.size > 1 else 1.0
        if not (grid.x[0] - dx / 2 <= x <= grid.x[-1] + dx / 2
                and grid.y[0] - dy / 2 <= y <= grid.y[-1] + dy / 2):
            return None
        return grid.index_of((x, y))

    def decoded(self, index: int) -> np.ndarray:
        """The β schedule decoded at grid point ``index``: ``(N,)``, or a pair ``(2, N)``."""
        assert self.grid is not None
        return self.grid.decoded[index]

    def feasible(self, index: int) -> bool:
        """Whether grid point ``index`` is feasible."""
        assert self.grid is not None
        return bool(self.grid.feasible.ravel()[index])

    def predicted(self, index: int) -> tuple[float, float] | None:
        """The GP's mean and σ at grid point ``index`` (None before the GP)."""
        if self.posterior is None:
            return None
        return (float(self.posterior.mean.ravel()[index]),
                float(self.posterior.std.ravel()[index]))
