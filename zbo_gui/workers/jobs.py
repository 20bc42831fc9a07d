"""What the controller and the compute thread's jobs exchange besides ``model.messages``.

Light (no Qt, no torch): :class:`Outcome` (how a job ended), :class:`EtaProgress`, which
turns a training's epoch reports into :class:`RunProgress`, and :class:`StageProgress`, which
does the same for a preparation stage's steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from zbo_gui.core.types import Progress
from zbo_gui.model.messages import RunProgress, RunState

Post = Callable[[object], None]

#: Minimum seconds between two progress reports of a preparation stage (the schedule VAE's
#: epochs last milliseconds); evaluations and the final model report every epoch.
STAGE_REPORT_INTERVAL = 0.05
#: What each preparation stage is called in the status bar.
STAGE_NAMES = {"dataset": "loading the dataset", "seeds": "seed schedules",
               "schedule_vae": "training the schedule VAE", "grid": "decoding the latent grid"}


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


class StageProgress:
    """Turns a preparation stage's step reports into :class:`RunProgress`: named, with an ETA
    from the stage's own rate since the first step seen (a resumed stage starts past step 1),
    at most every :data:`STAGE_REPORT_INTERVAL` s (a stage's first and last steps always)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Forget the stage seen last (a new job begins)."""
        self._stage, self._last, self._start, self._first = "", 0.0, 0.0, 0

    def __call__(self, report: Progress, now: float | None = None) -> RunProgress | None:
        """The report to show for ``report`` (None: too soon after the last one).

        Args:
            now: the time of the report (default: ``time.monotonic()``).
        """
        now = time.monotonic() if now is None else now
        new_stage = report.stage != self._stage
        if new_stage or report.step <= 1 or report.step < self._first:
            self._start, self._first = now, report.step
        if not (new_stage or report.step >= report.total
                or now - self._last >= STAGE_REPORT_INTERVAL):
            return None
        self._stage, self._last = report.stage, now
        done, since = report.step, report.step - self._first
        eta = ((now - self._start) / since * (report.total - done)
               if since > 0 and done < report.total else float("nan"))
        name = STAGE_NAMES.get(report.stage, report.stage)
        text = f"{name}: {report.message}" if report.message else name
        return RunProgress(report.stage, report.step, report.total, loss=report.loss,
                           eta_seconds=eta, message=text)
