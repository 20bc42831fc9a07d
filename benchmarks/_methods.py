"""Schedule optimisers compared by ``sample_efficiency.py``: zBO and the baselines.

Every method spends exactly ``budget`` calls of ``evaluate(schedule (N,)) -> observed value`` on
one problem instance and returns nothing; the caller records what was evaluated. The latent-space
methods share one :class:`Space` per repetition (seed library, schedule VAE, feasible grid), built
by the engine's own functions, so they differ only in how they choose points.

* ``zbo``            the engine's :class:`~zbo_gui.core.campaign.Campaign` (maximin initial design,
  GP with fitted noise by L-BFGS, LogEI over feasible, unevaluated grid points);
* ``zbo-reference``  the authors' public scripts' choices (DESIGN.md §1): a gpytorch GP on raw
  latent coordinates and raw outcomes fitted by Adam at lr 1e-4 for 150 steps, EI computed with
  the variance where σ belongs, already evaluated points not excluded, ties broken at random;
  same initial design as ``zbo``, so the difference is what the fixes are worth;
* ``zbo-seed-design`` the engine's campaign with its initial design spread (maximin) over the grid
  points nearest the encoded seeds instead of over the whole feasible region;
* ``random-latent``  feasible grid points uniformly at random, without replacement;
* ``seed-library``   the seed schedules themselves, in random order;
* ``nd-bo``          BoTorch ``SingleTaskGP`` + LogEI directly on the box [0, 1]^N of unit-space
  schedules (log-scaled β), Sobol initial design, ``optimize_acqf`` with restarts;
* ``nd-bo-seeds``    the same, but its initial design is seed schedules drawn at random: N-dim
  BO given the prior knowledge zBO gets, without the latent space;
* ``constant-grid``  constant schedules on a log grid over [β_lo, β_hi], visited coarse to fine
  (van der Corput order) with a random shift per repetition;
* ``zbo-Q-in-flight``, ``zbo-Q-liar`` (:data:`ASYNC`): ``zbo`` with Q = 2, 4, 8 evaluations
  running at once, the points in flight believed at the GP mean, resp. at the lowest value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from zbo_gui.core.campaign import Campaign, space_filling
from zbo_gui.core.config import BOConfig, GridConfig, ScheduleVAEConfig
from zbo_gui.core.latent_grid import LatentGrid, build_grid
from zbo_gui.core.schedule_vae import ScheduleVAE
from zbo_gui.core.schedules import Bounds, ScheduleLibrary, generate_library
from zbo_gui.core.surrogate import expected_improvement
from zbo_gui.core.types import Evaluation, EvaluationStatus, Proposal, ProposalSource

Evaluate = Callable[[np.ndarray], float]


@dataclass
class Space:
    """What the latent-space methods share in one repetition.

    Attributes:
        bounds: the β bounds.
        library: the seed schedules ``(S, N)``.
        vae: the schedule VAE trained on them.
        grid: the ``G x G`` latent grid with decoded schedules ``(G*G, N)`` and feasibility.
        initial: size of the initial design of the BO methods.
    """

    bounds: Bounds
    library: ScheduleLibrary
    vae: ScheduleVAE
    grid: LatentGrid
    initial: int


def build_space(counts: dict[str, int], n_epochs: int, bounds: Bounds, initial: int,
                seed: int, grid_size: int = 100,
                vae_config: ScheduleVAEConfig | None = None) -> Space:
    """Seed library, schedule VAE and feasible grid of one repetition (engine defaults)."""
    library = generate_library(counts, n_epochs, bounds, seed)
    vae = ScheduleVAE.train(library.schedules, bounds, vae_config or ScheduleVAEConfig(), seed)
    grid_cfg = GridConfig(size=grid_size)
    grid = build_grid(vae, library.schedules, grid_cfg.size, grid_cfg.margin, grid_cfg.tolerance)
    return Space(bounds, library, vae, grid, initial)


# ------------------------------------------------------------------------- latent methods
def zbo(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """The engine's campaign, exactly as ``zbo run`` drives it (stop rule off: fixed budget)."""
    config = BOConfig(initial=space.initial, budget=budget, stop_patience=0)
    _run_campaign(Campaign(space.grid, config, seed), evaluate, budget)


def run_in_flight(campaign: Campaign, evaluate: Evaluate, in_flight: int) -> None:
    """Drive ``campaign`` to its end with ``in_flight`` evaluations running at once
    (asynchronous workers): the oldest finishes first, then a new point is asked given the
    others still running."""
    flight: list[Proposal] = []
    while True:
        while len(flight) < in_flight and (proposal := campaign.ask(flight)) is not None:
            flight.append(proposal)
        if not flight:
            return
        done = flight.pop(0)
        campaign.tell(Evaluation(len(campaign.evaluations), done, EvaluationStatus.SUCCEEDED,
                                 evaluate(done.schedule)))


def zbo_in_flight(in_flight: int, pending: str = "believer") -> Callable:
    """``zbo`` with ``in_flight`` evaluations at once, the points in flight treated as
    ``bo.pending`` says (Kriging believer or constant liar)."""
    def method(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
        config = BOConfig(initial=space.initial, budget=budget, stop_patience=0,
                          pending=pending)
        run_in_flight(Campaign(space.grid, config, seed), evaluate, in_flight)
    return method


def _run_campaign(campaign: Campaign, evaluate: Evaluate, budget: int) -> None:
    """Ask, evaluate and tell until ``budget`` evaluations are told."""
    for index in range(len(campaign.evaluations), budget):
        proposal = campaign.ask()
        if proposal is None:  # grid exhausted: cannot happen for budgets << feasible points
            raise RuntimeError(f"zBO stopped early: {campaign.stop_reason}")
        value = evaluate(proposal.schedule)
        campaign.tell(Evaluation(index, proposal, EvaluationStatus.SUCCEEDED, value))


def seed_design(grid: LatentGrid, count: int, seed: int) -> np.ndarray:
    """Maximin design restricted to the grid points nearest the encoded seeds: ``(count,)``."""
    nearest = np.argmin(((grid.points[None, :, :] - grid.seed_z[:, None, :]) ** 2).sum(-1), axis=1)
    mask = np.zeros(len(grid.points), dtype=bool)
    mask[nearest] = True
    return space_filling(grid.points, mask & grid.feasible, count, seed)


def zbo_seed_design(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """The engine's campaign, but its initial design spread over the encoded seeds only."""
    grid = space.grid
    campaign = Campaign(grid, BOConfig(initial=space.initial, budget=budget, stop_patience=0),
                        seed)
    for index, point in enumerate(seed_design(grid, space.initial, seed)):
        proposal = Proposal(int(point), grid.points[point].copy(),
                            grid.decoded[point].astype(np.float64), ProposalSource.INITIAL)
        campaign.tell(Evaluation(index, proposal, EvaluationStatus.SUCCEEDED,
                                 evaluate(proposal.schedule)))
    _run_campaign(campaign, evaluate, budget)


def _reference_gp(z: np.ndarray, y: np.ndarray, steps: int = 150, lr: float = 1e-4):
    """gpytorch ExactGP (constant mean, scaled Matérn-5/2 ARD) on raw data, Adam-fitted."""
    import gpytorch

    class _GP(gpytorch.models.ExactGP):
        def __init__(self, x: torch.Tensor, t: torch.Tensor) -> None:
            super().__init__(x, t, gpytorch.likelihoods.GaussianLikelihood())
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(
                gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=x.shape[-1]))

        def forward(self, x: torch.Tensor):
            return gpytorch.distributions.MultivariateNormal(self.mean_module(x),
                                                             self.covar_module(x))

    x = torch.as_tensor(z, dtype=torch.float64)
    t = torch.as_tensor(y, dtype=torch.float64)
    model = _GP(x, t).double()
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = -mll(model(x), t)
        loss.backward()
        optimiser.step()
    model.eval()
    return model


def reference_posterior(model, points: np.ndarray,
                        chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance ``(m,)`` of the latent function (noise excluded, as the
    scripts' ``posterior`` call) of a :func:`_reference_gp` model at ``(m, 2)`` points."""
    import gpytorch

    means, variances = [], []
    with torch.no_grad(), gpytorch.settings.fast_pred_var():
        for start in range(0, len(points), chunk):
            x = torch.as_tensor(points[start:start + chunk], dtype=torch.float64)
            post = model(x)
            means.append(post.mean.numpy())
            variances.append(post.variance.numpy())
    return np.concatenate(means), np.concatenate(variances)


def zbo_reference(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """zBO with the reference scripts' surrogate and acquisition (see the module docstring)."""
    grid = space.grid
    design = space_filling(grid.points, grid.feasible, space.initial, seed)  # Campaign's prefix
    rng = np.random.default_rng(seed)
    z: list[np.ndarray] = []
    y: list[float] = []
    feasible = np.flatnonzero(grid.feasible)
    for index in range(budget):
        if index < space.initial:
            point = int(design[index])
        else:
            model = _reference_gp(np.array(z), np.array(y))
            mean, var = reference_posterior(model, grid.points[feasible])
            ei = expected_improvement(mean, var, max(y), xi=0.01)  # the variance, as published
            ties = np.flatnonzero(ei == ei.max())
            point = int(feasible[rng.choice(ties)])  # evaluated points are not excluded
        z.append(grid.points[point])
        y.append(evaluate(grid.decoded[point].astype(np.float64)))


def random_latent(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """Feasible grid points uniformly at random, without replacement."""
    rng = np.random.default_rng(seed)
    for point in rng.choice(np.flatnonzero(space.grid.feasible), size=budget, replace=False):
        evaluate(space.grid.decoded[point].astype(np.float64))


def seed_library(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """The seed schedules in random order."""
    order = np.random.default_rng(seed).permutation(len(space.library))
    for row in order[:budget]:
        evaluate(np.asarray(space.library.schedules[row], dtype=np.float64))


# ----------------------------------------------------------------- schedule-space methods
def _nd_bo(space: Space, evaluate: Evaluate, budget: int, seed: int, x: torch.Tensor) -> None:
    """BoTorch GP + LogEI on unit-space schedules in [0, 1]^N from initial points ``x (I, N)``."""
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    n = x.shape[1]
    box = torch.stack([torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)])
    ys = [evaluate(space.bounds.from_unit(row.numpy())) for row in x]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        while len(ys) < budget:
            t = torch.tensor(ys, dtype=torch.float64).unsqueeze(-1)
            model = SingleTaskGP(x, t, outcome_transform=Standardize(m=1))
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acq = LogExpectedImprovement(model, best_f=t.max())
            cand, _ = optimize_acqf(acq, bounds=box, q=1, num_restarts=4, raw_samples=256)
            x = torch.cat([x, cand.detach()])
            ys.append(evaluate(space.bounds.from_unit(cand[0].detach().numpy())))


def nd_bo(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """N-dimensional BO from a scrambled Sobol initial design."""
    sobol = torch.quasirandom.SobolEngine(space.library.n_epochs, scramble=True, seed=seed)
    _nd_bo(space, evaluate, budget, seed, sobol.draw(space.initial, dtype=torch.float64))


def nd_bo_seeds(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """N-dimensional BO whose initial design is seed schedules drawn at random (zBO's prior)."""
    rows = np.random.default_rng(seed).permutation(len(space.library))[:space.initial]
    unit = np.clip(space.bounds.to_unit(space.library.schedules[rows]), 0.0, 1.0)
    _nd_bo(space, evaluate, budget, seed, torch.as_tensor(unit, dtype=torch.float64))


def van_der_corput(count: int) -> np.ndarray:
    """The first ``count`` points ``(count,)`` of the base-2 van der Corput sequence, from 1/2."""
    out = np.empty(count)
    for k in range(count):
        i, denom, value = k + 1, 1.0, 0.0
        while i:
            denom *= 2.0
            value += (i & 1) / denom
            i >>= 1
        out[k] = value
    return out


def constant_grid(space: Space, evaluate: Evaluate, budget: int, seed: int) -> None:
    """Constant schedules over a log grid of β, coarse to fine, randomly shifted."""
    shift = np.random.default_rng(seed).uniform()
    for u in np.mod(van_der_corput(budget) + shift, 1.0):
        evaluate(np.full(space.library.n_epochs, float(space.bounds.from_unit(u))))


METHODS: dict[str, Callable[[Space, Evaluate, int, int], None]] = {
    "zbo": zbo,
    "zbo-reference": zbo_reference,
    "zbo-seed-design": zbo_seed_design,
    "random-latent": random_latent,
    "seed-library": seed_library,
    "nd-bo": nd_bo,
    "nd-bo-seeds": nd_bo_seeds,
    "constant-grid": constant_grid,
}

#: zBO with several evaluations in flight (issue 13): ``zbo-Q-in-flight`` (Kriging believer,
#: the engine's default) and ``zbo-Q-liar`` (constant liar at the lowest objective seen).
ASYNC: dict[str, Callable[[Space, Evaluate, int, int], None]] = {
    f"zbo-{q}-{name}": zbo_in_flight(q, pending)
    for q in (2, 4, 8) for name, pending in (("in-flight", "believer"), ("liar", "liar"))
}


def unit_rms(bounds: Bounds, a: np.ndarray, b: np.ndarray) -> float:
    """RMS difference of two schedules ``(N,)`` in unit (normalised, log-scaled) space."""
    return math.sqrt(float(np.mean((bounds.to_unit(a) - bounds.to_unit(b)) ** 2)))
