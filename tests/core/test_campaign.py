"""Tests of the ask/tell campaign over a synthetic latent grid (real BoTorch GP fits)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.special import ndtri

from zbo_gui.core.campaign import (
    LOG_FLOOR,
    Campaign,
    StopReason,
    space_filling,
    warp_outcomes,
)
from zbo_gui.core.config import BOConfig
from zbo_gui.core.errors import CampaignError
from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.core.surrogate import predict
from zbo_gui.core.types import (
    Evaluation,
    EvaluationStatus,
    ObjectiveResult,
    Proposal,
    ProposalSource,
)

G = 20
N = 5
HOLE = np.array([0.9, -0.9])  # centre of the infeasible disc of the default grid
HOLE_RADIUS = 0.6
PEAK = np.array([-0.6, 0.6])  # maximum of the bump objective
NOISE = 0.01

Objective = Callable[[np.ndarray, int], float]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _grid(size: int = G, hole: np.ndarray = HOLE, radius: float = HOLE_RADIUS) -> LatentGrid:
    """A ``size x size`` grid on [-2, 2]^2, infeasible inside a disc; schedule k is k+1, k+2..."""
    axis = np.linspace(-2.0, 2.0, size)
    xx, yy = np.meshgrid(axis, axis)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    feasible = np.linalg.norm(points - hole, axis=1) > radius
    decoded = (np.arange(size * size)[:, None] + 1.0 + np.arange(N)[None, :]).astype(np.float32)
    return LatentGrid(axis, axis.copy(), points, decoded, feasible, np.zeros((4, 2)))


def bump(z: np.ndarray, index: int, peak: np.ndarray = PEAK) -> float:
    """A smooth bump of height 1 at ``peak`` plus seeded noise (noise depends on the index)."""
    noise = NOISE * np.random.default_rng(1000 + index).standard_normal()
    return float(np.exp(-np.sum((z - peak) ** 2) / (2 * 0.6**2)) + noise)


def flat(z: np.ndarray, index: int) -> float:
    return 1.0 + 1e-3 * np.random.default_rng(1000 + index).standard_normal()


def _succeeded(index: int, proposal: Proposal, value: float) -> Evaluation:
    result = ObjectiveResult(value=value, seed=index)
    return Evaluation(index, proposal, EvaluationStatus.SUCCEEDED, value, (result,))


def _failed(index: int, proposal: Proposal) -> Evaluation:
    return Evaluation(index, proposal, EvaluationStatus.FAILED, float("nan"),
                      message="training diverged")


def _run(campaign: Campaign, objective: Objective,
         fails: Callable[[np.ndarray], bool] = lambda z: False) -> list[Proposal]:
    """Drive ask/tell until the campaign stops; returns the proposals in order."""
    proposals: list[Proposal] = []
    while (proposal := campaign.ask()) is not None:
        index = len(campaign.evaluations)
        if fails(proposal.z):
            campaign.tell(_failed(index, proposal))
        else:
            campaign.tell(_succeeded(index, proposal, objective(proposal.z, index)))
        proposals.append(proposal)
        assert len(proposals) <= campaign.config.budget, "the campaign ran past its budget"
    return proposals


BUMP_CONFIG = BOConfig(initial=6, budget=20, stop_patience=0)


@pytest.fixture(scope="module")
def bump_run() -> tuple[Campaign, list[Proposal]]:
    campaign = Campaign(_grid(), BUMP_CONFIG, seed=0)
    return campaign, _run(campaign, bump)


def _min_pairwise(points: np.ndarray) -> float:
    diff = points[:, None, :] - points[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    return float(dist[np.triu_indices(len(points), 1)].min())


# ----------------------------------------------------------------------------- initial design


def test_initial_design_is_feasible_distinct_and_spread(bump_run) -> None:
    campaign, proposals = bump_run
    initial = proposals[: BUMP_CONFIG.initial]
    assert [p.source for p in initial] == [ProposalSource.INITIAL] * BUMP_CONFIG.initial
    assert all(p.source is ProposalSource.ACQUISITION for p in proposals[BUMP_CONFIG.initial:])
    indices = [p.grid_index for p in initial]
    assert len(set(indices)) == len(indices)
    assert campaign.grid.feasible[indices].all()
    assert all(np.isnan(p.acquisition) and np.isnan(p.max_ei) for p in initial)

    rng = np.random.default_rng(0)
    feasible = np.flatnonzero(campaign.grid.feasible)
    random_spread = [
        _min_pairwise(campaign.grid.points[rng.choice(feasible, len(indices), replace=False)])
        for _ in range(500)
    ]
    assert _min_pairwise(campaign.grid.points[indices]) > np.percentile(random_spread, 90)


def test_space_filling_respects_the_candidate_mask() -> None:
    grid = _grid()
    allowed = grid.feasible & (grid.points[:, 0] > 0)
    chosen = space_filling(grid.points, allowed, 12, seed=3)
    assert chosen.shape == (12,)
    assert len(set(chosen.tolist())) == 12
    assert allowed[chosen].all()
    assert space_filling(grid.points, np.zeros(G * G, bool), 5, seed=0).shape == (0,)
    # more points asked than candidates: all candidates, once each
    few = np.zeros(G * G, bool)
    few[[3, 50, 77]] = True
    assert sorted(space_filling(grid.points, few, 10, seed=0).tolist()) == [3, 50, 77]


def test_initial_design_depends_on_the_seed() -> None:
    grid = _grid()
    first = [Campaign(grid, BUMP_CONFIG, seed=s).ask().grid_index for s in (0, 0, 1, 2)]
    assert first[0] == first[1]
    assert len(set(first[1:])) == 3


# ----------------------------------------------------------------------------------- the loop


def test_campaign_runs_to_the_budget_without_repeats_or_infeasible_points(bump_run) -> None:
    campaign, proposals = bump_run
    assert len(proposals) == BUMP_CONFIG.budget
    assert len(campaign.evaluations) == BUMP_CONFIG.budget
    assert campaign.stop_reason is StopReason.BUDGET
    indices = [p.grid_index for p in proposals]
    assert len(set(indices)) == len(indices)
    assert campaign.grid.feasible[indices].all()
    assert campaign.evaluated.sum() == BUMP_CONFIG.budget
    for p in proposals:
        np.testing.assert_array_equal(p.z, campaign.grid.points[p.grid_index])
        np.testing.assert_array_equal(p.schedule, campaign.grid.decoded[p.grid_index])
        assert p.schedule.dtype == np.float64
    # asking again keeps saying no
    assert campaign.ask() is None
    assert campaign.stop_reason is StopReason.BUDGET


def test_acquisition_proposals_record_acquisition_and_ei(bump_run) -> None:
    _, proposals = bump_run
    bo = proposals[BUMP_CONFIG.initial:]
    assert all(np.isfinite(p.acquisition) for p in bo)
    assert all(np.isfinite(p.max_ei) and p.max_ei >= 0 for p in bo)


def test_bo_improves_on_the_initial_design(bump_run) -> None:
    campaign, _ = bump_run
    values = np.array([e.objective for e in campaign.evaluations])
    initial_best = values[: BUMP_CONFIG.initial].max()
    assert values.max() > initial_best + 0.1
    assert values.max() > 0.85
    best = campaign.best_evaluated()
    assert np.linalg.norm(best.proposal.z - PEAK) < 0.5


def test_campaign_is_deterministic(bump_run) -> None:
    _, proposals = bump_run
    again = _run(Campaign(_grid(), BUMP_CONFIG, seed=0), bump)
    assert [p.grid_index for p in again] == [p.grid_index for p in proposals]
    assert [p.source for p in again] == [p.source for p in proposals]
    np.testing.assert_allclose([p.acquisition for p in again],
                               [p.acquisition for p in proposals], rtol=1e-9)


@pytest.mark.parametrize("k", [3, 11, 17])
def test_rebuilt_campaign_proposes_what_the_live_one_did(bump_run, k: int) -> None:
    campaign, proposals = bump_run
    resumed = Campaign(_grid(), BUMP_CONFIG, seed=0, evaluations=campaign.evaluations[:k])
    assert len(resumed.evaluations) == k
    proposal = resumed.ask()
    assert proposal.grid_index == proposals[k].grid_index
    assert proposal.source is proposals[k].source
    np.testing.assert_allclose(proposal.acquisition, proposals[k].acquisition, rtol=1e-9)
    np.testing.assert_allclose(proposal.max_ei, proposals[k].max_ei, rtol=1e-9)
    if proposal.source is ProposalSource.ACQUISITION:
        # the proposal maximises the acquisition over feasible, not yet evaluated points
        acquisition = resumed.posterior().acquisition
        candidates = resumed.grid.feasible & ~resumed.evaluated
        masked = np.where(candidates, acquisition, -np.inf)
        assert proposal.grid_index == int(np.argmax(masked))
        assert proposal.acquisition == pytest.approx(acquisition[proposal.grid_index])


def test_failed_evaluations_leave_the_gp_but_are_never_reproposed() -> None:
    config = BOConfig(initial=4, budget=14, stop_patience=0)
    campaign = Campaign(_grid(), config, seed=0)

    def fails(z: np.ndarray) -> bool:  # the best region always diverges: BO keeps wanting it
        return bool(np.linalg.norm(z - PEAK) < 0.7)

    proposals = _run(campaign, bump, fails)
    assert campaign.stop_reason is StopReason.BUDGET
    assert len(campaign.evaluations) == config.budget
    failed = [e for e in campaign.evaluations if not e.succeeded]
    assert len(failed) >= 2
    indices = [p.grid_index for p in proposals]
    assert len(set(indices)) == len(indices)
    fit = campaign.surrogate()
    assert fit.n_train == config.budget - len(failed)
    assert np.isfinite(fit.best_y)
    best = campaign.best_evaluated()
    assert best.succeeded
    assert best.objective == max(e.objective for e in campaign.evaluations if e.succeeded)


def test_user_point_is_evaluated_and_excluded_afterwards() -> None:
    grid = _grid()
    campaign = Campaign(grid, BOConfig(initial=3, budget=6, stop_patience=0), seed=0)
    user = campaign.propose_point(np.array([-0.01, 0.02]))
    assert user.source is ProposalSource.USER
    campaign.tell(_succeeded(0, user, 0.5))
    later = _run(campaign, bump)
    # a user's point does not count towards the initial design
    assert [p.source for p in later[:3]] == [ProposalSource.INITIAL] * 3
    assert user.grid_index not in [p.grid_index for p in later]
    assert len(campaign.evaluations) == 6


# ------------------------------------------------------------------------------ stop rules


def test_convergence_rule_fires_on_a_flat_objective() -> None:
    config = BOConfig(initial=4, budget=15, stop_tol=1.0, stop_patience=2)
    campaign = Campaign(_grid(), config, seed=0)
    proposals = _run(campaign, flat)
    assert campaign.stop_reason is StopReason.CONVERGED
    assert len(proposals) == config.initial + config.stop_patience < config.budget
    assert all(p.max_ei < config.stop_tol for p in proposals[-config.stop_patience:])
    assert campaign.ask() is None
    assert campaign.stop_reason is StopReason.CONVERGED


def test_convergence_rule_disabled_with_zero_patience() -> None:
    config = BOConfig(initial=4, budget=8, stop_tol=1e9, stop_patience=0)
    campaign = Campaign(_grid(), config, seed=0)
    proposals = _run(campaign, flat)
    assert len(proposals) == config.budget
    assert campaign.stop_reason is StopReason.BUDGET


def test_campaign_stops_when_no_feasible_point_is_left() -> None:
    grid = _grid(size=6, hole=np.array([0.0, 0.0]), radius=2.6)  # only the 4 corners remain
    assert grid.feasible.sum() == 4
    campaign = Campaign(grid, BOConfig(initial=2, budget=10, stop_patience=0), seed=0)
    proposals = _run(campaign, bump)
    assert len(proposals) == 4
    assert campaign.stop_reason is StopReason.EXHAUSTED


def test_grid_without_feasible_point_is_refused() -> None:
    grid = _grid(size=4, radius=100.0)
    with pytest.raises(CampaignError, match="no feasible point"):
        Campaign(grid, BUMP_CONFIG, seed=0)


def test_tell_requires_the_next_index() -> None:
    campaign = Campaign(_grid(), BUMP_CONFIG, seed=0)
    proposal = campaign.ask()
    with pytest.raises(CampaignError, match="index 1"):
        campaign.tell(_succeeded(1, proposal, 0.3))
    campaign.tell(_succeeded(0, proposal, 0.3))
    assert len(campaign.evaluations) == 1


# ------------------------------------------------------------------------------ user points


def test_propose_point_snaps_to_the_nearest_grid_point() -> None:
    campaign = Campaign(_grid(), BUMP_CONFIG, seed=0)
    step = 4.0 / (G - 1)
    target = np.array([-2.0 + 3 * step + 0.3 * step, -2.0 + 15 * step - 0.4 * step])
    proposal = campaign.propose_point(target)
    assert proposal.grid_index == 15 * G + 3
    np.testing.assert_allclose(proposal.z, [-2.0 + 3 * step, -2.0 + 15 * step])
    assert proposal.source is ProposalSource.USER
    np.testing.assert_array_equal(proposal.schedule, campaign.grid.decoded[15 * G + 3])
    # a point outside the grid snaps to the border
    assert campaign.propose_point(np.array([-9.0, -9.0])).grid_index == 0


def test_propose_point_refuses_infeasible_and_evaluated_points() -> None:
    campaign = Campaign(_grid(), BUMP_CONFIG, seed=0)
    with pytest.raises(CampaignError, match="outside the feasible region"):
        campaign.propose_point(HOLE + 0.05)
    proposal = campaign.propose_point(np.array([1.0, 1.0]))
    campaign.tell(_failed(0, proposal))
    with pytest.raises(CampaignError, match="already evaluated"):
        campaign.propose_point(np.array([1.02, 0.99]))


# --------------------------------------------------------------------------------- results


def test_best_evaluated_picks_the_highest_success_first_on_ties() -> None:
    campaign = Campaign(_grid(), BUMP_CONFIG, seed=0)
    assert campaign.best_evaluated() is None
    assert campaign.best_predicted() is None
    assert campaign.posterior() is None
    outcomes = [0.1, 0.5, None, 0.5, 0.2]  # None: a failed evaluation
    zs = [(-1.5, -1.5), (-1.5, 1.5), (0.0, 0.0), (1.5, 1.5), (0.0, 1.5)]
    for index, (value, z) in enumerate(zip(outcomes, zs, strict=True)):
        proposal = campaign.propose_point(np.array(z))
        if value is None:
            campaign.tell(_failed(index, proposal))
        else:
            campaign.tell(_succeeded(index, proposal, value))
    assert campaign.best_evaluated().index == 1
    # only failures: no best
    lone = Campaign(_grid(), BUMP_CONFIG, seed=0)
    lone.tell(_failed(0, lone.ask()))
    assert lone.best_evaluated() is None
    assert lone.best_predicted() is None  # no GP on failures


def test_best_predicted_is_the_feasible_argmax_of_the_posterior_mean(bump_run) -> None:
    campaign, _ = bump_run
    posterior = campaign.posterior()
    assert posterior.mean.shape == (G * G,)
    prediction = campaign.best_predicted()
    expected = int(np.argmax(np.where(campaign.grid.feasible, posterior.mean, -np.inf)))
    assert prediction.grid_index == expected
    assert prediction.mean == pytest.approx(posterior.mean[expected])
    assert prediction.std == pytest.approx(posterior.std[expected])
    np.testing.assert_array_equal(prediction.z, campaign.grid.points[expected])
    np.testing.assert_array_equal(prediction.schedule, campaign.grid.decoded[expected])
    assert np.linalg.norm(prediction.z - PEAK) < 0.5


def test_peak_inside_the_hole_is_never_proposed_nor_predicted() -> None:
    hole = np.array([-0.5, 0.5])
    grid = _grid(hole=hole, radius=0.5)
    config = BOConfig(initial=5, budget=14, stop_patience=0)
    campaign = Campaign(grid, config, seed=0)
    proposals = _run(campaign, lambda z, i: bump(z, i, peak=hole))
    indices = [p.grid_index for p in proposals]
    assert grid.feasible[indices].all()
    assert len(set(indices)) == len(indices)
    # BO was drawn to the rim of the hole: some evaluations are close to it
    distances = [np.linalg.norm(p.z - hole) for p in proposals[config.initial:]]
    assert min(distances) < 0.8
    posterior = campaign.posterior()
    assert not grid.feasible[int(np.argmax(posterior.mean))]  # the GP's maximum is in the hole
    prediction = campaign.best_predicted()
    assert grid.feasible[prediction.grid_index]
    assert prediction.mean == pytest.approx(posterior.mean[grid.feasible].max())


# ----------------------------------------------------------------------------- outcome warp
def spike(z: np.ndarray, index: int) -> float:
    """Zero (a collapsed training) except a narrow peak of height 0.3 at PEAK."""
    return float(0.3 * np.exp(-np.sum((z - PEAK) ** 2) / (2 * 0.35**2)))


@pytest.mark.parametrize("warp", ["rank", "log", "none"])
def test_the_posterior_is_reported_in_objective_units(warp: str) -> None:
    campaign = Campaign(_grid(), BOConfig(initial=6, budget=14, warp=warp), seed=0)
    _run(campaign, spike)
    modelled, _ = predict(campaign.surrogate(), campaign.grid.points)
    posterior = campaign.posterior()
    observed = np.array([e.objective for e in campaign.evaluations])
    index = [e.proposal.grid_index for e in campaign.evaluations]
    # the mean at the evaluated points is near what they scored, whatever the warp
    assert np.abs(posterior.mean[index] - observed).max() < 0.1
    # mapped back monotonically: the same ranking of the grid as the GP's own mean
    order = np.argsort(modelled, kind="stable")
    assert np.all(np.diff(posterior.mean[order]) >= -1e-12)
    assert np.all(posterior.std >= 0)
    if warp == "log":
        np.testing.assert_allclose(posterior.mean, np.exp(modelled) - LOG_FLOOR, atol=1e-9)
    if warp == "rank":  # through the observed objectives: inside their range
        assert observed.min() - 1e-12 <= posterior.mean.min()
        assert posterior.mean.max() <= observed.max() + 1e-12
    if warp == "none":
        np.testing.assert_allclose(posterior.mean, modelled, atol=1e-12)
    prediction = campaign.best_predicted()
    assert prediction.mean == pytest.approx(posterior.mean[campaign.grid.feasible].max())


def test_rank_warp_gives_normal_scores_with_shared_ties() -> None:
    y = np.array([0.0, 0.2, 0.0, 0.1])
    scores = warp_outcomes(y, "rank")  # ranks 1.5, 4, 1.5, 3 of 4
    np.testing.assert_allclose(scores, ndtri((np.array([1.5, 4, 1.5, 3]) - 0.5) / 4))
    assert scores[0] == scores[2] < scores[3] < scores[1]
    np.testing.assert_allclose(warp_outcomes(np.array([3.0, 1.0, 2.0]), "rank"),
                               [ndtri(5 / 6), ndtri(1 / 6), 0.0], atol=1e-12)


@pytest.mark.parametrize("warp", ["rank", "log"])
def test_a_warp_changes_what_bo_proposes_on_a_zero_floor(warp: str) -> None:
    """On a floor of zeros with one narrow peak, the GPs disagree after the design: a warped
    scale sees the floor's tiny differences (the tail of the peak)."""
    runs = {}
    for kind in (warp, "none"):
        campaign = Campaign(_grid(), BOConfig(initial=6, budget=12, warp=kind), seed=3)
        runs[kind] = [p.grid_index for p in _run(campaign, spike)]
    assert runs[warp][:6] == runs["none"][:6]  # the same initial design
    assert runs[warp][6:] != runs["none"][6:]


# ----------------------------------------------------------------------------- points in flight
def _run_in_flight(campaign: Campaign, objective: Objective, q: int) -> list[Proposal]:
    """Keep ``q`` proposals in flight; the oldest finishes first (its tell), then a new ask."""
    flight: list[Proposal] = []
    order: list[Proposal] = []
    while True:
        while len(flight) < q and (proposal := campaign.ask(flight)) is not None:
            flight.append(proposal)
            order.append(proposal)
        if not flight:
            return order
        done = flight.pop(0)
        index = len(campaign.evaluations)
        campaign.tell(_succeeded(index, done, objective(done.z, index)))


def test_points_in_flight_are_never_proposed_again_and_count_against_the_budget() -> None:
    config = BOConfig(initial=4, budget=12)
    campaign = Campaign(_grid(), config, seed=0)
    first = [campaign.ask()]
    for _ in range(3):
        first.append(campaign.ask(first))
    # in flight during the design: the next design points, in the sequential order
    sequential = Campaign(_grid(), config, seed=0)
    assert [p.grid_index for p in first] == [
        p.grid_index for p in _run(sequential, bump)[:4]]
    order = _run_in_flight(Campaign(_grid(), config, seed=0), bump, q=4)
    indices = [p.grid_index for p in order]
    assert len(order) == config.budget and len(set(indices)) == len(indices)
    # the 5th is asked after one tell: one observation fits no GP, so the design goes on
    assert all(p.source is ProposalSource.INITIAL for p in order[:5])
    assert all(p.source is ProposalSource.ACQUISITION for p in order[5:])
    full = Campaign(_grid(), BOConfig(initial=2, budget=2), seed=0)
    in_flight = [full.ask(), None]
    in_flight[1] = full.ask(in_flight[:1])
    assert full.ask(in_flight) is None and full.stop_reason is StopReason.BUDGET


def test_bo_with_points_in_flight_spreads_them_and_still_finds_the_peak() -> None:
    campaign = Campaign(_grid(), BOConfig(initial=6, budget=20), seed=0)
    order = _run_in_flight(campaign, bump, q=4)
    best = campaign.best_evaluated()
    assert np.linalg.norm(best.proposal.z - PEAK) < 0.5 and best.objective > 0.8
    # a BO proposal made with others in flight lies away from them (the believer's effect)
    bo = [p for p in order if p.source is ProposalSource.ACQUISITION]
    gaps = [min(np.linalg.norm(p.z - q.z) for q in bo[max(0, i - 3):i]) for i, p in
            enumerate(bo) if i > 0]
    assert min(gaps) > 0.0 and np.median(gaps) > 0.2


def test_the_liar_and_the_believer_choose_differently_with_points_in_flight() -> None:
    asked = {}
    for pending in ("believer", "liar"):
        campaign = Campaign(_grid(), BOConfig(initial=4, budget=12, pending=pending), seed=0)
        first = _run_in_flight(campaign, bump, q=1)[:6]
        probe = Campaign(_grid(), BOConfig(initial=4, budget=12, pending=pending), seed=0,
                         evaluations=campaign.evaluations[:6])
        flight = [probe.ask()]
        flight.append(probe.ask(flight))
        asked[pending] = (first, flight)
    assert [p.grid_index for p in asked["believer"][0]] == [p.grid_index for p in
                                                             asked["liar"][0]]
    assert asked["believer"][1][0].grid_index == asked["liar"][1][0].grid_index
    assert asked["believer"][1][1].grid_index != asked["liar"][1][1].grid_index
    liar = Campaign(_grid(), BOConfig(initial=6, budget=20, pending="liar"), seed=0)
    order = _run_in_flight(liar, bump, q=4)
    assert len({p.grid_index for p in order}) == 20  # the budget, no point twice
