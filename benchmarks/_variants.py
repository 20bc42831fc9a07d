"""Variants of zBO tried on the tabular benchmark (``tabular.py``), one lever at a time.

Each is the engine's loop (initial design, then the GP of ``core.surrogate`` fitted by L-BFGS
with fitted noise, LogEI over the candidate grid points not yet visited) with one thing changed:

* the initial design: ``seeds`` (maximin over the candidates nearest the encoded seeds),
  ``sobol`` (the candidates nearest a scrambled Sobol sequence over the grid's box);
* the outcome: ``log`` (the GP models log(y + 0.01)), ``rank`` (normal scores of the ranks);
* collapse as its own outcome (``healthy``): the GP models only the trainings that did not
  collapse (one class holding < 90 % of the images); a second GP on the healthy / collapsed
  indicator gives P(healthy | z), and the acquisition is LogEI + log P(healthy) (constrained
  LogEI, the indicator GP's mean clipped to [0.02, 1]);
* ``hurdle``: the same with "healthy" meaning an objective of at least 0.01 (on the table, half
  of the trainings with balanced classes still score ≈ 0: the continuous latent carries the
  digit and the classes decode alike, so usage alone misses most failures).

A method sees what a campaign sees: the observed value, and, for ``healthy``, whether the
training collapsed (its class usage).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from _methods import Space
from tabular_build import collapsed

from zbo_gui.core.campaign import space_filling, warp_outcomes
from zbo_gui.core.errors import CampaignError
from zbo_gui.core.surrogate import fit_gp, log_expected_improvement, predict

#: A training "clears the hurdle" with at least this objective.
HURDLE = 0.01


def design_maximin(space: Space, count: int, seed: int) -> np.ndarray:
    """The engine's initial design: maximin over every candidate."""
    return space_filling(space.grid.points, space.grid.feasible, count, seed)


def design_seeds(space: Space, count: int, seed: int) -> np.ndarray:
    """Maximin over the candidates nearest the encoded seeds (fewer seeds: topped up by the
    engine's design)."""
    grid = space.grid
    allowed = np.flatnonzero(grid.feasible)
    d = ((grid.points[allowed][None, :, :] - grid.seed_z[:, None, :]) ** 2).sum(-1)
    mask = np.zeros(len(grid.points), dtype=bool)
    mask[allowed[np.argmin(d, axis=1)]] = True
    chosen = list(space_filling(grid.points, mask, count, seed))
    for extra in design_maximin(space, 2 * count, seed):
        if len(chosen) >= count:
            break
        if extra not in chosen:
            chosen.append(int(extra))
    return np.array(chosen[:count], dtype=np.int64)


def design_sobol(space: Space, count: int, seed: int) -> np.ndarray:
    """The candidates nearest a scrambled Sobol sequence over the grid's box (distinct)."""
    grid = space.grid
    allowed = np.flatnonzero(grid.feasible)
    lo, hi = grid.points.min(axis=0), grid.points.max(axis=0)
    sobol = torch.quasirandom.SobolEngine(2, scramble=True, seed=seed)
    chosen: list[int] = []
    while len(chosen) < count:
        z = lo + sobol.draw(1, dtype=torch.float64).numpy()[0] * (hi - lo)
        near = allowed[np.argsort(((grid.points[allowed] - z) ** 2).sum(-1))]
        chosen.append(int(next(i for i in near if i not in chosen)))
    return np.array(chosen, dtype=np.int64)


def warp_none(y: np.ndarray) -> np.ndarray:
    return y


def warp_log(y: np.ndarray) -> np.ndarray:
    return warp_outcomes(y, "log")


def warp_rank(y: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks (ties share their mean rank): the engine's ``rank`` warp."""
    return warp_outcomes(y, "rank")


def latent_bo(design: Callable[[Space, int, int], np.ndarray],
              warp: Callable[[np.ndarray], np.ndarray] = warp_none,
              healthy: str = "", initial: int = 10) -> Callable:
    """A zBO loop with the given initial design, outcome warp and collapse handling.

    The returned method takes ``(space, visits, budget, seed)``; ``visits`` is the table's
    objective, whose ``history`` tells whether a training collapsed. ``healthy``: ``""``
    (one GP on every outcome), ``"usage"`` or ``"hurdle"`` (see the module docstring).
    """
    def method(space: Space, visits, budget: int, seed: int) -> None:
        grid = space.grid
        lo, hi = grid.points.min(axis=0), grid.points.max(axis=0)
        visited = np.zeros(len(grid.points), dtype=bool)
        z: list[np.ndarray] = []
        y: list[float] = []
        ok: list[bool] = []
        for point in design(space, initial, seed)[:budget]:
            _visit(visits, space, int(point), visited, z, y, ok, healthy)
        while len(y) < budget:
            candidates = grid.feasible & ~visited
            if not candidates.any():
                return
            point = _next_point(np.array(z), np.array(y), np.array(ok), grid.points, candidates,
                                lo, hi, warp, bool(healthy), seed + len(y))
            _visit(visits, space, point, visited, z, y, ok, healthy)
    return method


def _visit(visits, space: Space, point: int, visited: np.ndarray, z: list, y: list,
           ok: list, healthy: str) -> None:
    y.append(visits(space.grid.decoded[point]))
    z.append(space.grid.points[point])
    visited[point] = True
    _, run = visits.history[-1]
    if healthy == "hurdle":
        ok.append(y[-1] >= HURDLE)
        return
    ok.append(not collapsed(run))


def _next_point(z: np.ndarray, y: np.ndarray, ok: np.ndarray, points: np.ndarray,
                candidates: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                warp: Callable[[np.ndarray], np.ndarray], healthy: bool, seed: int) -> int:
    index = np.flatnonzero(candidates)
    use = ok if healthy and ok.sum() >= 2 else np.ones(len(y), dtype=bool)
    target = warp(y[use])
    try:
        fit = fit_gp(z[use], target, lo, hi, seed=seed)
    except CampaignError:  # e.g. all equal: spread out instead
        return int(index[0])
    mean, std = predict(fit, points[index])
    acq = log_expected_improvement(mean, std, fit.best_y, 0.0)
    if healthy and 0 < ok.sum() < len(ok):
        try:
            feas = fit_gp(z, ok.astype(float), lo, hi, seed=seed)
            p, _ = predict(feas, points[index])
            acq = acq + np.log(np.clip(p, 0.02, 1.0))
        except CampaignError:
            pass
    return int(index[int(np.argmax(acq))])


def seed_schedules_first(initial: int = 6, warp: Callable[[np.ndarray], np.ndarray] = warp_log
                         ) -> Callable:
    """zBO whose initial design is the seed schedules themselves (maximin over their encodings,
    each placed in the GP at its encoded point), then LogEI over the grid points."""
    def method(space: Space, visits, budget: int, seed: int) -> None:
        grid = space.grid
        lo, hi = grid.points.min(axis=0), grid.points.max(axis=0)
        stored = np.array([visits.table.has("seed", i) for i in range(len(grid.seed_z))])
        rows = space_filling(grid.seed_z, stored, initial, seed)
        visited = np.zeros(len(grid.points), dtype=bool)
        z = [grid.seed_z[row] for row in rows]
        y = [visits(np.asarray(space.library.schedules[row], np.float64)) for row in rows]
        while len(y) < budget:
            candidates = grid.feasible & ~visited
            point = _next_point(np.array(z), np.array(y), np.ones(len(y), bool), grid.points,
                                candidates, lo, hi, warp, False, seed + len(y))
            y.append(visits(grid.decoded[point]))
            z.append(grid.points[point])
            visited[point] = True
    return method


VARIANTS: dict[str, Callable] = {
    "zbo-loop": latent_bo(design_maximin),  # the engine's choices, written out: a control
    "zbo-seed-design": latent_bo(design_seeds),
    "zbo-sobol": latent_bo(design_sobol),
    "zbo-log": latent_bo(design_maximin, warp_log),
    "zbo-rank": latent_bo(design_maximin, warp_rank),
    "zbo-healthy": latent_bo(design_maximin, healthy="usage"),
    "zbo-hurdle": latent_bo(design_maximin, healthy="hurdle"),
    "zbo-seeds-hurdle-log": latent_bo(design_seeds, warp_log, healthy="hurdle"),
    "zbo-seeds-rank": latent_bo(design_seeds, warp_rank),
    "zbo-seeds-rank-i6": latent_bo(design_seeds, warp_rank, initial=6),
    "zbo-seeds-i6": latent_bo(design_seeds, initial=6),
    "zbo-rank-i6": latent_bo(design_maximin, warp_rank, initial=6),
    "zbo-seeds-rank-healthy": latent_bo(design_seeds, warp_rank, healthy="usage"),
    "zbo-rank-i4": latent_bo(design_maximin, warp_rank, initial=4),
    "zbo-rank-i8": latent_bo(design_maximin, warp_rank, initial=8),
    "zbo-i6": latent_bo(design_maximin, initial=6),
    "zbo-log-i6": latent_bo(design_maximin, warp_log, initial=6),
    "zbo-rank-healthy-i6": latent_bo(design_maximin, warp_rank, healthy="usage", initial=6),
    "zbo-seed-schedules-i6": seed_schedules_first(6),
    "zbo-seed-schedules-i10": seed_schedules_first(10),
}
