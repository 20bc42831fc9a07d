"""What crosses from the compute thread to the window: frozen dataclasses and numpy arrays.

The compute thread posts these; the controller (``workers.controller``) applies each to the
window's :class:`~zbo_gui.model.campaign.CampaignModel`, which the widgets (``gui``) show. Arrays
are never written to after a message is built (pyqtgraph keeps views). This module imports
neither Qt nor torch, so every layer may use it.

Grid images use row-major layout: ``array[iy, ix]`` is the point at ``(x[ix], y[iy])``, the
reshape of the flat grid arrays of ``core.latent_grid.LatentGrid`` to ``(G, G)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.schedules import ScheduleLibrary
from zbo_gui.core.types import Evaluation, Proposal


class RunState(enum.Enum):
    """The controller's state, shown by the run controls."""

    EMPTY = "empty"  # no campaign open
    IDLE = "idle"  # a campaign is open; nothing running
    PREPARING = "preparing"  # dataset, seeds, schedule VAE, grid
    RUNNING = "running"  # evaluating
    PAUSING = "pausing"  # will pause after the evaluation in flight
    PAUSED = "paused"  # a run paused; start continues it
    STOPPING = "stopping"  # stopping within one epoch
    FINISHED = "finished"  # budget reached, converged or exhausted
    TRAINING_FINAL = "training_final"  # training the final model


@dataclass(frozen=True)
class CampaignOpened:
    """A campaign was created or opened.

    Attributes:
        path: the campaign file.
        config: its configuration.
        n_evaluations: evaluations already stored.
        stages: the stages already stored (``dataset``, ``seeds``, ``schedule_vae``, ``grid``).
        seeds: its seed library, row for row (None before the seeds stage is stored).
    """

    path: str
    config: CampaignConfig
    n_evaluations: int
    stages: tuple[str, ...]
    seeds: ScheduleLibrary | None = None


@dataclass(frozen=True)
class DatasetSnapshot:
    """The evaluation images, for the dataset panel's preview.

    Attributes:
        images: ``(k, H, W)`` float32 sample of the images, in [0, 1].
        labels: ``(k,)`` their labels, or None.
        count: number of images in the evaluation subset.
        source: description of where they came from.
        fingerprint: sha256 of the images.
    """

    images: np.ndarray
    labels: np.ndarray | None
    count: int
    source: str
    fingerprint: str


@dataclass(frozen=True)
class GridSnapshot:
    """The feasible latent space and the seed library.

    Attributes:
        x: ``(G,)`` increasing x coordinates.
        y: ``(G,)`` increasing y coordinates.
        feasible: ``(G, G)`` bool, row-major (``[iy, ix]``).
        decoded: ``(G*G, N)`` decoded β schedule of every grid point (flat index ``iy*G + ix``);
            ``(G*G, 2, N)`` schedule pairs (β_c, β_d) when β_d is optimised too.
        seed_z: ``(S, 2)`` encoded seed schedules.
        seed_schedules: ``(S, N)`` the seed library (``(S, 2, N)`` pairs).
        seed_families: ``S`` family names.
        beta_lo: lower bound of β_c.
        beta_hi: upper bound of β_c.
        reconstruction_rms: schedule VAE's reconstruction error (unit space).
        decoder_sigma: the schedule VAE decoder's σ (unit space): how far a schedule decoded
            at a point may lie from the decoded mean.
        beta_d_bounds: ``(lo, hi)`` of β_d for schedule pairs; None when β_d is the constant
            ``jrvae.beta_d``.
    """

    x: np.ndarray
    y: np.ndarray
    feasible: np.ndarray
    decoded: np.ndarray
    seed_z: np.ndarray
    seed_schedules: np.ndarray
    seed_families: tuple[str, ...]
    beta_lo: float
    beta_hi: float
    reconstruction_rms: float = float("nan")
    decoder_sigma: float = float("nan")
    beta_d_bounds: tuple[float, float] | None = None

    def index_of(self, z: tuple[float, float] | np.ndarray) -> int:
        """Flat index of the grid point nearest ``z`` = (x, y)."""
        ix = int(np.argmin(np.abs(self.x - float(z[0]))))
        iy = int(np.argmin(np.abs(self.y - float(z[1]))))
        return iy * self.x.shape[0] + ix


@dataclass(frozen=True)
class PosteriorSnapshot:
    """The GP over the grid after ``n_train`` successful evaluations.

    Attributes:
        n_train: evaluations the GP was fitted on.
        mean: ``(G, G)`` posterior mean of the objective.
        std: ``(G, G)`` posterior standard deviation.
        acquisition: ``(G, G)`` acquisition values (log-EI for "logei").
        acquisition_name: ``"logei"``, ``"ei"`` or ``"ucb"``.
        best_index: flat grid index of the best predicted point (max mean over feasible), or -1.
    """

    n_train: int
    mean: np.ndarray
    std: np.ndarray
    acquisition: np.ndarray
    acquisition_name: str
    best_index: int = -1


@dataclass(frozen=True)
class RunProgress:
    """One progress report for the status bar and the progress bar.

    Attributes:
        stage: ``"dataset"``, ``"seeds"``, ``"schedule_vae"``, ``"grid"``, ``"evaluation"``,
            ``"final"``.
        step: epochs (or steps) done in this stage.
        total: epochs (or steps) of this stage.
        evaluation: 1-based number of the evaluation running (0 outside evaluations).
        budget: evaluations in all.
        loss: latest loss (NaN when none).
        eta_seconds: estimated seconds left for the whole run (NaN when unknown).
        message: a human-readable line.
    """

    stage: str
    step: int
    total: int
    evaluation: int = 0
    budget: int = 0
    loss: float = float("nan")
    eta_seconds: float = float("nan")
    message: str = ""


@dataclass(frozen=True)
class FinalModel:
    """A jrVAE trained on the full dataset with the chosen schedule.

    Attributes:
        schedule: ``(N,)`` β_c used (a pair ``(2, N)``: β_c and β_d).
        which: ``"evaluated"``, ``"predicted"`` or ``"selected"``.
        manifolds: ``(K, d*d, H, W)`` uint8 learned manifolds.
        loss_curve: ``(N,)``.
        class_usage: ``(K,)``.
        accuracy: diagnostic (NaN without labels).
        seconds: training time.
    """

    schedule: np.ndarray
    which: str
    manifolds: np.ndarray
    loss_curve: np.ndarray
    class_usage: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    accuracy: float = float("nan")
    seconds: float = 0.0


@dataclass(frozen=True)
class Notice:
    """A line for the person that does not end the job.

    Attributes:
        text: the line.
        problem: True for a refused request (shown like a failure), False for information.
    """

    text: str
    problem: bool = False


@dataclass(frozen=True)
class WorkerActivity:
    """What one worker process does now (a row of the workers view).

    Attributes:
        worker: its name (``"name@host"``; ``"this process"`` with ``execution.workers = 0``).
        training: whether it trains an evaluation now.
        evaluation: the 1-based number of that evaluation in submission order (0: none).
        step: epochs done (over the evaluation's replicates).
        total: epochs in all.
        loss: the latest loss.
        device: the torch device it trains on.
    """

    worker: str
    training: bool
    evaluation: int = 0
    step: int = 0
    total: int = 0
    loss: float = float("nan")
    device: str = ""


@dataclass(frozen=True)
class ExecutionInfo:
    """Where a run's trainings go: posted when a run's workers are ready, and with
    ``workers = 0`` when they are released.

    Attributes:
        workers: trainings at once (0: none ready).
        where: ``"this process"``, ``"local cluster"``, ``"SLURM"`` or the scheduler address.
        dashboard: the Dask dashboard's address (empty: none).
    """

    workers: int
    where: str = ""
    dashboard: str = ""


@dataclass(frozen=True)
class CampaignClosed:
    """The open campaign was closed (before opening or re-creating the same file)."""

    path: str


__all__ = [
    "CampaignClosed",
    "CampaignOpened",
    "DatasetSnapshot",
    "Evaluation",
    "ExecutionInfo",
    "FinalModel",
    "GridSnapshot",
    "Notice",
    "PosteriorSnapshot",
    "Proposal",
    "RunProgress",
    "RunState",
    "WorkerActivity",
]
