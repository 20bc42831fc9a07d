"""Outcomes that cross module (and thread) boundaries: enums and frozen dataclasses.

Only these, plain numbers and numpy arrays travel from the engine to a caller (the CLI, the GUI
worker). Arrays inside them are never written to after the object is built.
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class EvaluationStatus(enum.Enum):
    """How an evaluation ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COLLAPSED = "collapsed"  # stopped early: one class took (nearly) every image


class ProposalSource(enum.Enum):
    """Who chose an evaluated point."""

    INITIAL = "initial"  # the space-filling initial design
    ACQUISITION = "acquisition"  # the maximiser of the acquisition function
    USER = "user"  # a person ("evaluate this point next")


class EvaluationCancelled(Exception):
    """Raised inside a training when its cancel event is set; nothing is recorded."""


class TrainingDiverged(Exception):
    """Raised when a training's loss becomes NaN or infinite; becomes a FAILED evaluation."""


class TrainingCollapsed(Exception):
    """Raised when a training is stopped early because it collapsed; becomes a COLLAPSED
    evaluation (scored 0).

    Attributes:
        epoch: the epoch it stopped at.
        usage: ``(K,)`` the probe images each class held then.
    """

    def __init__(self, epoch: int, usage: np.ndarray) -> None:
        self.epoch = int(epoch)
        self.usage = np.asarray(usage, dtype=np.int64)
        super().__init__(f"collapsed at epoch {self.epoch}: one class held"
                         f" {int(self.usage.max())} of {int(self.usage.sum())} probe images")


@dataclass(frozen=True)
class Progress:
    """One progress report of a long step (one per epoch of a training).

    Attributes:
        stage: what is running (``"schedule_vae"``, ``"evaluation"``, ...).
        step: steps done (e.g. epochs finished).
        total: steps in all.
        loss: the latest loss, when there is one.
        message: a short human-readable line.
    """

    stage: str
    step: int
    total: int
    loss: float = float("nan")
    message: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class Controls:
    """What a long computation gets from its caller: a progress sink and a cancel flag.

    Cancellation is cooperative: code checks :meth:`check` between epochs.
    """

    progress: ProgressCallback | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def report(self, report: Progress) -> None:
        """Send a progress report to the sink, if any."""
        if self.progress is not None:
            self.progress(report)

    def check(self) -> None:
        """Raise :class:`EvaluationCancelled` when cancellation was requested."""
        if self.cancel.is_set():
            raise EvaluationCancelled("cancelled")


@dataclass(frozen=True)
class ObjectiveResult:
    """The score of one training (one replicate) and its diagnostics.

    Attributes:
        value: the objective (maximised).
        seed: the seed of the training.
        l1: between-class dissimilarity term (NaN when not applicable).
        l2: within-class dissimilarity term (NaN when not applicable).
        loss_curve: ``(N,)`` training loss per epoch.
        class_usage: ``(K,)`` number of evaluation images the encoder assigns to each class.
        class_intensity: ``(K,)`` mean intensity of each class's learned manifold.
        accuracy: accuracy of the discrete latent against the labels after Hungarian matching
            (NaN when the dataset has no labels). A diagnostic, never the objective.
        nmi: normalised mutual information of the discrete latent and the labels (or NaN).
        manifolds: ``(K, d*d, H, W)`` uint8 thumbnails of the class manifolds (0..255).
        train_seconds: wall time of the training.
        score_seconds: wall time of the scoring (manifolds, SSIM, usage).
    """

    value: float
    seed: int
    l1: float = float("nan")
    l2: float = float("nan")
    loss_curve: np.ndarray = field(default_factory=lambda: np.zeros(0))
    class_usage: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    class_intensity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accuracy: float = float("nan")
    nmi: float = float("nan")
    manifolds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 0), np.uint8))
    train_seconds: float = 0.0
    score_seconds: float = 0.0


@dataclass(frozen=True)
class Proposal:
    """The next point to evaluate.

    Attributes:
        grid_index: flat index into the latent grid's points.
        z: ``(2,)`` latent coordinates.
        schedule: ``(N,)`` decoded β_c schedule.
        source: who chose it.
        acquisition: the acquisition value at the point (NaN for the initial design).
        max_ei: the maximum expected improvement over the candidates (NaN for the initial
            design); the convergence rule reads it.
    """

    grid_index: int
    z: np.ndarray
    schedule: np.ndarray
    source: ProposalSource
    acquisition: float = float("nan")
    max_ei: float = float("nan")


@dataclass(frozen=True)
class Evaluation:
    """One evaluated schedule: a proposal, its replicates and the outcome.

    Attributes:
        index: 0-based position in the campaign.
        proposal: the evaluated point.
        status: SUCCEEDED, FAILED or COLLAPSED.
        objective: mean of the replicates' values (NaN when FAILED, 0 when COLLAPSED).
        replicates: the per-seed results (empty when FAILED or COLLAPSED before any finished).
        message: the failure message, or when and how it collapsed (empty on success).
        started: UNIX time the evaluation started.
        seconds: wall time of the whole evaluation.
        worker: the worker process that ran it (``"name@host"``; empty: the driver's own).
    """

    index: int
    proposal: Proposal
    status: EvaluationStatus
    objective: float
    replicates: tuple[ObjectiveResult, ...] = ()
    message: str = ""
    started: float = 0.0
    seconds: float = 0.0
    worker: str = ""

    @property
    def succeeded(self) -> bool:
        """True when the evaluation produced an objective value."""
        return self.status is EvaluationStatus.SUCCEEDED

    @property
    def observed(self) -> bool:
        """True when the surrogate learns from it: a success, or a collapse (scored 0)."""
        return self.status is not EvaluationStatus.FAILED


@dataclass(frozen=True)
class Pending:
    """An evaluation in flight: submitted to a worker, not finished yet.

    Attributes:
        ticket: its number in submission order (its training seeds derive from it).
        proposal: the point being evaluated.
        started: UNIX time it was submitted.
        worker: the worker training it, once known (empty before).
    """

    ticket: int
    proposal: Proposal
    started: float
    worker: str = ""


class UserPoints:
    """Thread-safe FIFO of latent points a person asked to evaluate next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._points: deque[np.ndarray] = deque()

    def push(self, z: np.ndarray | tuple[float, float]) -> None:
        """Queue ``z`` ``(2,)``."""
        with self._lock:
            self._points.append(np.array(z, dtype=np.float64).reshape(2))

    def pop(self) -> np.ndarray | None:
        """The oldest queued point, or None."""
        with self._lock:
            return self._points.popleft() if self._points else None

    def clear(self) -> None:
        """Forget every queued point."""
        with self._lock:
            self._points.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._points)
