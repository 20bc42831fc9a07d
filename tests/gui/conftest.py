"""Real message objects for the view tests, built with numpy (no engine, no torch)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.types import (
    Evaluation,
    EvaluationStatus,
    ObjectiveResult,
    Proposal,
    ProposalSource,
)
from zbo_gui.model.campaign import CampaignModel
from zbo_gui.model.messages import CampaignOpened, GridSnapshot, PosteriorSnapshot

NX, NY, N_EPOCHS = 30, 20, 12  # a non-square grid: a transpose cannot go unnoticed


def make_grid(nx: int = NX, ny: int = NY, n_epochs: int = N_EPOCHS,
              pairs: bool = False) -> GridSnapshot:
    """A ``ny x nx`` grid over [-2, 3] x [-1, 1.5] whose right-hand strip is infeasible;
    ``pairs``: its schedules are pairs whose β_d falls from 10**(y/2) to 10**(x/4), β_d
    bounds [0.01, 10]."""
    x = np.linspace(-2.0, 3.0, nx)
    y = np.linspace(-1.0, 1.5, ny)
    xx, yy = np.meshgrid(x, y)  # (ny, nx), row-major like the messages
    feasible = (xx < 2.0) & ~((xx < -1.5) & (yy > 1.0))
    epochs = np.linspace(0.0, 1.0, n_epochs)
    # decoded schedule of the point (x, y): a line from 10**(x/3) to 10**(y/3), flat [iy*nx+ix]
    start = 10.0 ** (xx.ravel() / 3.0)
    stop = 10.0 ** (yy.ravel() / 3.0)
    decoded = start[:, None] + (stop - start)[:, None] * epochs[None, :]
    seeds = np.ones((12, n_epochs))
    if pairs:
        d_start, d_stop = 10.0 ** (yy.ravel() / 2.0), 10.0 ** (xx.ravel() / 4.0)
        beta_d = d_start[:, None] + (d_stop - d_start)[:, None] * epochs[None, :]
        decoded = np.stack([decoded, beta_d], axis=1)
        seeds = np.stack([seeds, np.full_like(seeds, 0.5)], axis=1)
    rng = np.random.default_rng(0)
    seed_z = np.column_stack([rng.uniform(-1.5, 1.5, 12), rng.uniform(-0.8, 1.2, 12)])
    families = tuple(["cooldown"] * 4 + ["warmup"] * 4 + ["constant"] * 4)
    return GridSnapshot(x=x, y=y, feasible=feasible, decoded=decoded, seed_z=seed_z,
                        seed_schedules=seeds, seed_families=families,
                        beta_lo=0.1, beta_hi=10.0, reconstruction_rms=0.01,
                        beta_d_bounds=(0.01, 10.0) if pairs else None)


def make_posterior(grid: GridSnapshot, n_train: int = 5) -> PosteriorSnapshot:
    """A posterior whose three layers are distinct, asymmetric functions of (x, y)."""
    xx, yy = np.meshgrid(grid.x, grid.y)
    mean = 0.3 * xx - 0.7 * yy + 0.05 * xx * yy
    std = 0.1 + 0.02 * (xx + 2.0) ** 2 + 0.01 * yy
    acquisition = -((xx - 0.5) ** 2) - 2.0 * (yy - 0.25) ** 2
    acquisition[0, 0] = -np.inf  # log-EI underflows somewhere
    best = int(np.argmax(np.where(grid.feasible, mean, -np.inf)))
    return PosteriorSnapshot(n_train=n_train, mean=mean, std=std, acquisition=acquisition,
                             acquisition_name="logei", best_index=best)


def make_evaluation(index: int, z: tuple[float, float], objective: float | None,
                    source: ProposalSource = ProposalSource.ACQUISITION,
                    n_epochs: int = N_EPOCHS, usage: tuple[int, ...] = (40, 35, 25),
                    seconds: float = 12.5) -> Evaluation:
    """One evaluation at ``z``; ``objective=None`` makes it FAILED."""
    schedule = np.geomspace(5.0, 0.5, n_epochs)
    proposal = Proposal(grid_index=index, z=np.asarray(z, dtype=float), schedule=schedule,
                        source=source, acquisition=float("nan"))
    if objective is None:
        return Evaluation(index=index, proposal=proposal, status=EvaluationStatus.FAILED,
                          objective=float("nan"), message="training diverged: loss is NaN",
                          seconds=seconds)
    result = ObjectiveResult(value=objective, seed=index, l1=objective + 0.1, l2=0.1,
                             class_usage=np.asarray(usage, dtype=np.int64), accuracy=0.8,
                             nmi=0.6, train_seconds=seconds)
    return Evaluation(index=index, proposal=proposal, status=EvaluationStatus.SUCCEEDED,
                      objective=objective, replicates=(result,), seconds=seconds)


def make_evaluations() -> list[Evaluation]:
    """Seven evaluations: two initial, three by acquisition, one by the user, two failed."""
    return [
        make_evaluation(0, (-1.0, 0.0), 0.20, ProposalSource.INITIAL),
        make_evaluation(1, (0.5, 0.5), 0.35, ProposalSource.INITIAL),
        make_evaluation(2, (1.0, -0.5), None),
        make_evaluation(3, (0.0, 1.0), 0.30),
        make_evaluation(4, (1.5, 0.0), 0.55, ProposalSource.USER, usage=(90, 10, 0)),
        make_evaluation(5, (-0.5, -0.5), None, ProposalSource.USER),
        make_evaluation(6, (0.2, 0.2), 0.10),
    ]


@pytest.fixture
def grid() -> GridSnapshot:
    return make_grid()


@pytest.fixture
def posterior(grid: GridSnapshot) -> PosteriorSnapshot:
    return make_posterior(grid)


@pytest.fixture
def evaluations() -> list[Evaluation]:
    return make_evaluations()


def opened_model(config: CampaignConfig | None = None) -> CampaignModel:
    """A campaign model with a campaign ``/tmp/c.h5`` open (nothing applied yet)."""
    model = CampaignModel()
    model.apply(CampaignOpened("/tmp/c.h5", config or CampaignConfig(), 0, ()))
    return model


@pytest.fixture
def model() -> CampaignModel:
    return opened_model()


@pytest.fixture(autouse=True)
def _collect_widgets_between_tests(qapp):
    """Collect the last test's widgets now, not in the middle of the next test's painting.

    pyqtgraph views hold reference cycles; a garbage collection that happens to run while Qt
    paints (any Python allocation can trigger one) would destroy a closed widget's paint
    device under the painter ("Cannot destroy paint device that is being painted").
    """
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    yield
    qapp.processEvents()
    # Qt deletes what was scheduled for deletion (closed windows, their dialogs) first, then
    # Python collects the wrappers: never a wrapper's collection deleting a live C++ tree
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
