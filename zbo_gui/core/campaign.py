"""The zBO campaign as an ask/tell state machine over the feasible latent grid.

``ask()`` returns the next point to evaluate (the space-filling initial design first, then the
maximiser of the acquisition over feasible, not-yet-evaluated grid points) or None when the
campaign is over; ``tell()`` records the outcome. The campaign trains nothing itself and holds
no Qt or threads: the runner (CLI or GUI worker) evaluates proposals and stores them.

Everything is a function of the grid, the BO settings, the seed and the evaluations told so far,
so a campaign rebuilt from its file continues exactly where it stopped.

Outcome warp (``bo.warp``): most schedules score ≈ 0 (a collapsed or dead-class training) and a
few peak, so a GP of the raw objective sees a flat floor with rare spikes. ``"rank"`` (the
default) models the normal scores of the objectives' ranks (ties share their mean rank);
``"log"`` models log(objective + 0.01). The acquisition works on the warped scale;
:meth:`Campaign.posterior` reports mean and σ back in objective units, so the map and the
predictions read as objectives: the rank warp maps back through the observed objectives (a
monotone, piecewise-linear map, flat beyond the lowest and highest observed; σ is half the
width of the mapped ±1σ interval); the log warp exactly for the mean (a median) and by the
delta method for σ.

Convergence: each BO proposal records the largest expected improvement over the candidates,
in units of the standard deviation of the observed objectives. The campaign stops when the last
``stop_patience`` BO proposals all had ``max EI < stop_tol`` (nothing left worth a training).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from zbo_gui.core.config import BOConfig
from zbo_gui.core.errors import CampaignError
from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.core.surrogate import (
    GridPosterior,
    SurrogateFit,
    expected_improvement,
    fit_gp,
    grid_posterior,
    propose,
)
from zbo_gui.core.types import Evaluation, Proposal, ProposalSource

#: Floor of the log warp: objectives are >= 0 and a collapsed training scores ≈ 0.
LOG_FLOOR = 0.01


def warp_outcomes(y: np.ndarray, kind: str) -> np.ndarray:
    """The observed objectives ``(n,)`` as the GP models them (``bo.warp``): ``(n,)``."""
    if kind == "log":
        return np.log(np.maximum(y, 0.0) + LOG_FLOOR)
    if kind == "rank":
        ranks = rankdata(y)  # 1..n, ties share their mean rank
        return ndtri((ranks - 0.5) / len(y))
    return y


def unwarp_posterior(posterior: GridPosterior, y: np.ndarray, kind: str) -> GridPosterior:
    """A posterior on the warped scale of the objectives ``y (n,)`` back in objective units
    (arrays ``(m,)``); the acquisition is kept as computed."""
    if kind == "log":
        scale = np.exp(posterior.mean)
        return GridPosterior(mean=scale - LOG_FLOOR, std=scale * posterior.std,
                             acquisition=posterior.acquisition)
    if kind == "rank":
        # distinct objectives and their scores, both ascending (equal objectives, equal score)
        values, scores = np.unique(y), np.unique(warp_outcomes(y, "rank"))

        def back(u: np.ndarray) -> np.ndarray:
            return np.interp(u, scores, values)

        low, high = back(posterior.mean - posterior.std), back(posterior.mean + posterior.std)
        return GridPosterior(mean=back(posterior.mean), std=(high - low) / 2.0,
                             acquisition=posterior.acquisition)
    return posterior


class StopReason(enum.Enum):
    """Why :meth:`Campaign.ask` returned None."""

    BUDGET = "budget"  # bo.budget evaluations done
    CONVERGED = "converged"  # the acquisition rule fired
    EXHAUSTED = "exhausted"  # no feasible, unevaluated grid point is left


def space_filling(points: np.ndarray, candidates: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Greedy farthest-point (maximin) design over the candidate grid points.

    The first point is drawn at random (seeded); each next one is the candidate farthest from
    all chosen so far.

    Args:
        points: ``(m, 2)`` grid coordinates.
        candidates: ``(m,)`` bool, the allowed points.
        count: how many to choose (at most the number of candidates).
        seed: seeds the first choice.

    Returns:
        ``(count,)`` flat grid indices, in the order chosen.
    """
    allowed = np.flatnonzero(candidates)
    count = min(count, allowed.size)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    span = np.ptp(points[allowed], axis=0)
    scaled = points[allowed] / np.where(span > 0, span, 1.0)
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(allowed.size))]
    dist = np.linalg.norm(scaled - scaled[chosen[0]], axis=1)
    for _ in range(count - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(scaled - scaled[nxt], axis=1))
    return allowed[np.asarray(chosen)]


@dataclass(frozen=True)
class Prediction:
    """The best schedule the surrogate predicts over the feasible grid.

    Attributes:
        grid_index: flat grid index of the maximiser of the posterior mean.
        z: ``(2,)`` its latent point.
        schedule: ``(N,)`` its decoded schedule (``(2, N)`` for schedule pairs).
        mean: predicted objective there.
        std: posterior standard deviation there.
    """

    grid_index: int
    z: np.ndarray
    schedule: np.ndarray
    mean: float
    std: float


class Campaign:
    """Ask/tell zBO over a :class:`LatentGrid`.

    Args:
        grid: the latent grid with its feasibility mask.
        config: BO settings (initial design, budget, acquisition, stop rule).
        seed: seeds the initial design and the GP fits.
        evaluations: evaluations already made (e.g. read back from a campaign file).
    """

    def __init__(
        self,
        grid: LatentGrid,
        config: BOConfig,
        seed: int,
        evaluations: list[Evaluation] | None = None,
    ) -> None:
        if not grid.feasible.any():
            raise CampaignError("the latent grid has no feasible point; widen the bounds or"
                                " raise grid.tolerance")
        self.grid = grid
        self.config = config
        self.seed = seed
        self.evaluations: list[Evaluation] = []
        self._design = space_filling(grid.points, grid.feasible, config.budget, seed)
        self._fit: SurrogateFit | None = None
        self._posterior: GridPosterior | None = None  # on the warped scale
        self._shown: GridPosterior | None = None  # in objective units
        self._fitted_on = -1
        self.stop_reason: StopReason | None = None
        for evaluation in evaluations or []:
            self.tell(evaluation)

    # ----------------------------------------------------------------- state
    @property
    def evaluated(self) -> np.ndarray:
        """``(G*G,)`` bool: grid points already evaluated (successfully or not)."""
        mask = np.zeros(self.grid.points.shape[0], dtype=bool)
        mask[[e.proposal.grid_index for e in self.evaluations]] = True
        return mask

    def _observations(self) -> tuple[np.ndarray, np.ndarray]:
        ok = [e for e in self.evaluations if e.observed]  # a collapse teaches: it scored 0
        z = np.array([e.proposal.z for e in ok], dtype=np.float64).reshape(-1, 2)
        return z, np.array([e.objective for e in ok], dtype=np.float64)

    def surrogate(self) -> SurrogateFit | None:
        """The GP fitted on the observed evaluations so far, on the warped scale (None with
        fewer than 2)."""
        z, y = self._observations()
        if y.size < 2:
            return None
        if self._fitted_on != len(self.evaluations):
            lo = self.grid.points.min(axis=0)
            hi = self.grid.points.max(axis=0)
            warp = self.config.warp
            self._fit = fit_gp(z, warp_outcomes(y, warp), lo, hi,
                               seed=self.seed + len(self.evaluations))
            self._posterior = grid_posterior(
                self._fit, self.grid.points, self.config.acquisition,
                xi=self.config.xi, kappa=self.config.kappa,
            )
            self._shown = unwarp_posterior(self._posterior, y, warp)
            self._fitted_on = len(self.evaluations)
        return self._fit

    def posterior(self) -> GridPosterior | None:
        """Posterior mean and σ (objective units) and acquisition over the whole grid (arrays
        ``(G*G,)``), or None."""
        return self._shown if self.surrogate() is not None else None

    # --------------------------------------------------------------- ask/tell
    def _converged(self) -> bool:
        patience = self.config.stop_patience
        if patience == 0:
            return False
        recent = [e.proposal.max_ei for e in self.evaluations
                  if e.proposal.source is ProposalSource.ACQUISITION][-patience:]
        return len(recent) == patience and all(v < self.config.stop_tol for v in recent)

    def ask(self, pending: Sequence[Proposal] = ()) -> Proposal | None:
        """The next point to evaluate, or None when the campaign is over (see ``stop_reason``).

        Args:
            pending: proposals handed out and not yet told (evaluations in flight). They are
                never proposed again and count against the budget; a BO proposal treats each
                as if it had scored the GP's mean there (Kriging believer; ``bo.pending =
                "liar"``: the lowest objective seen), so the points in flight spread out
                instead of crowding the same maximum.
        """
        self.stop_reason = None
        if len(self.evaluations) + len(pending) >= self.config.budget:
            self.stop_reason = StopReason.BUDGET
            return None
        if self._converged():
            self.stop_reason = StopReason.CONVERGED
            return None
        candidates = self.grid.feasible & ~self.evaluated
        candidates[[p.grid_index for p in pending]] = False
        if not candidates.any():
            self.stop_reason = StopReason.EXHAUSTED
            return None
        fit = self.surrogate()
        n_initial = sum(e.proposal.source is ProposalSource.INITIAL for e in self.evaluations)
        n_initial += sum(p.source is ProposalSource.INITIAL for p in pending)
        if n_initial < self.config.initial or fit is None:
            index = next(int(i) for i in self._design if candidates[i])
            return self._proposal(index, ProposalSource.INITIAL)
        posterior = self._posterior
        if pending:
            fit, posterior = self._believed(pending)
        assert posterior is not None
        index = propose(posterior.acquisition, candidates)
        ei = expected_improvement(posterior.mean[candidates], posterior.std[candidates],
                                  fit.best_y, self.config.xi)
        max_ei = float(ei.max()) / fit.y_std if fit.y_std > 0 else 0.0
        return self._proposal(index, ProposalSource.ACQUISITION,
                              float(posterior.acquisition[index]), max_ei)

    def _believed(self, pending: Sequence[Proposal]) -> tuple[SurrogateFit, GridPosterior]:
        """The GP refitted with each pending point scored at the current posterior mean there
        (``bo.pending = "believer"``) or at the lowest objective seen (``"liar"``), in
        objective units, and its posterior over the grid on the warped scale."""
        assert self._shown is not None
        z, y = self._observations()
        index = [p.grid_index for p in pending]
        believed = (self._shown.mean[index] if self.config.pending == "believer"
                    else np.full(len(index), y.min()))
        z = np.vstack([z, self.grid.points[index]])
        y = np.concatenate([y, believed])
        fit = fit_gp(z, warp_outcomes(y, self.config.warp), self.grid.points.min(axis=0),
                     self.grid.points.max(axis=0), seed=self.seed + len(self.evaluations))
        return fit, grid_posterior(fit, self.grid.points, self.config.acquisition,
                                   xi=self.config.xi, kappa=self.config.kappa)

    def propose_point(self, z: np.ndarray) -> Proposal:
        """A user's choice ("evaluate this point next"): the feasible grid point nearest ``z``.

        Raises:
            CampaignError: the nearest grid point is infeasible or already evaluated.
        """
        z = np.asarray(z, dtype=np.float64).reshape(2)
        index = int(np.argmin(np.sum((self.grid.points - z) ** 2, axis=1)))
        if not self.grid.feasible[index]:
            raise CampaignError(
                f"latent point ({z[0]:.3g}, {z[1]:.3g}) is outside the feasible region"
            )
        if self.evaluated[index]:
            raise CampaignError(f"latent point ({z[0]:.3g}, {z[1]:.3g}) was already evaluated")
        return self._proposal(index, ProposalSource.USER)

    def _proposal(self, index: int, source: ProposalSource, acquisition: float = float("nan"),
                  max_ei: float = float("nan")) -> Proposal:
        return Proposal(
            grid_index=index,
            z=self.grid.points[index].copy(),
            schedule=self.grid.decoded[index].astype(np.float64),
            source=source,
            acquisition=acquisition,
            max_ei=max_ei,
        )

    def tell(self, evaluation: Evaluation) -> None:
        """Record an evaluation (its index must be the next one)."""
        if evaluation.index != len(self.evaluations):
            raise CampaignError(
                f"evaluation index {evaluation.index} told, expected {len(self.evaluations)}"
            )
        self.evaluations.append(evaluation)

    # ---------------------------------------------------------------- results
    def best_evaluated(self) -> Evaluation | None:
        """The successful evaluation with the highest objective (first on ties), or None."""
        ok = [e for e in self.evaluations if e.succeeded]
        return max(ok, key=lambda e: e.objective) if ok else None

    def best_predicted(self) -> Prediction | None:
        """The feasible grid point with the highest posterior mean, or None before a GP fit."""
        posterior = self.posterior()
        if posterior is None:
            return None
        mean = np.where(self.grid.feasible, posterior.mean, -np.inf)
        index = int(np.argmax(mean))
        return Prediction(index, self.grid.points[index].copy(),
                          self.grid.decoded[index].astype(np.float64),
                          float(posterior.mean[index]), float(posterior.std[index]))
