"""What the controller and the compute thread's jobs exchange besides ``model.messages``.

Light (no Qt, no torch): :class:`Outcome` (how a job ended) and :class:`EtaProgress`, which
turns a training's epoch reports into :class:`RunProgress`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from zbo_gui.core.types import Progress
from zbo_gui.model.messages import RunProgress, RunState

Post = Callable[[object], None]


@dataclass(frozen=True)
class Outcome:
    """How a job ended (the payload of ``jobFinished``).

    Attributes:
        state: the state to rest in (``IDLE``, ``FINISHED`` or ``EMPTY``).
        reason: the campaign's stop reason (``"budget"``, ``"converged"``, ``"exhausted"``)
            when a run ended by itself; empty otherwise.
        paused: the run stopped because a pause was requested.
    """

    state: RunState
    reason: str = ""
    paused: bool = False


class EtaProgress:
    """Turns an evaluation's (or the final training's) epoch reports into :class:`RunProgress`.

    The ETA is the time left in the current training, from its own epoch rate, plus the
    evaluations still to come after it, each at the mean duration of the finished ones (or, with
    none finished yet, at the current epoch rate).

    Args:
        post: where the reports go.
        stage: the ``RunProgress.stage`` (``"evaluation"`` or ``"final"``).
        replicates: trainings in this unit of work (their epochs add up).
        number: 1-based evaluation number (0 for the final model).
        budget: evaluations in all (0 for the final model).
        mean_seconds: mean duration of the finished evaluations (NaN when none).
    """

    def __init__(self, post: Post, stage: str, replicates: int = 1, number: int = 0,
                 budget: int = 0, mean_seconds: float = float("nan")) -> None:
        self._post = post
        self._stage = stage
        self._replicates = replicates
        self._number = number
        self._budget = budget
        self._mean = mean_seconds
        self._start = time.perf_counter()
        self._replicate = 0
        self._last_step = 0

    def __call__(self, report: Progress) -> None:
        if report.step < self._last_step:  # the next replicate's training began
            self._replicate += 1
        self._last_step = report.step
        total = self._replicates * report.total
        done = min(self._replicate * report.total + report.step, total)
        rate = (time.perf_counter() - self._start) / done if done > 0 else float("nan")
        per_unit = self._mean if math.isfinite(self._mean) else rate * total
        after = max(self._budget - self._number, 0)
        eta = rate * (total - done) + after * per_unit
        if self._stage == "final":
            text = f"final model: {report.message}"
        else:
            text = f"evaluation {self._number}/{self._budget}: {report.message}"
        if self._replicates > 1:
            text += f" (replicate {self._replicate + 1}/{self._replicates})"
        self._post(RunProgress(self._stage, done, total, self._number, self._budget,
                               report.loss, eta, text))
