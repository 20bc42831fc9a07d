"""The runner: stages stored once, replicates, pluggable objectives, resume through the API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zbo_gui.core.config import config_from_dict
from zbo_gui.core.types import Controls, EvaluationStatus, ObjectiveResult
from zbo_gui.runner import CampaignRunner, replicate_seed
from zbo_gui.storage.campaign_file import CampaignStore
from zbo_gui.storage.summary import summarize

from .cli_helpers import TINY_CONFIG


class TargetObjective:
    """A real, cheap objective: closeness (in log β) to a hidden target schedule, plus noise.

    It implements the ``Objective`` protocol, as a scientist's own objective would.
    """

    def __init__(self, target: np.ndarray, noise: float = 0.01) -> None:
        self.target = np.log(target)
        self.noise = noise
        self.seeds: list[int] = []

    def __call__(self, schedule: np.ndarray, seed: int, controls: Controls) -> ObjectiveResult:
        self.seeds.append(seed)
        controls.check()
        error = np.sqrt(np.mean((np.log(schedule) - self.target) ** 2))
        noise = np.random.default_rng(seed).normal(0.0, self.noise)
        return ObjectiveResult(value=float(-error + noise), seed=seed)


def _config(**bo: object):
    data = {**TINY_CONFIG, "bo": {**TINY_CONFIG["bo"], **bo}}
    data["objective"] = {**TINY_CONFIG["objective"], "replicates": 2}
    return config_from_dict(data)


def test_replicates_are_seeded_separately_and_averaged(tmp_path: Path) -> None:
    config = _config(budget=4, initial=3)
    objective = TargetObjective(np.full(config.schedules.n_epochs, 1.0))
    with CampaignRunner.create(tmp_path / "c.h5", config, objective=objective) as runner:
        end = runner.run()
    assert end.reason is not None and end.reason.value == "budget" and not end.paused
    with CampaignStore.open(tmp_path / "c.h5") as store:
        evaluations = store.read_evaluations()
    assert len(evaluations) == 4
    for e in evaluations:
        assert e.status is EvaluationStatus.SUCCEEDED and len(e.replicates) == 2
        seeds = [r.seed for r in e.replicates]
        assert seeds == [replicate_seed(config.seed, e.index, r) for r in range(2)]
        assert seeds[0] != seeds[1]
        assert e.objective == pytest.approx(np.mean([r.value for r in e.replicates]))
    assert len(set(objective.seeds)) == 8  # every training had its own seed


def test_bo_approaches_a_hidden_target_and_resume_continues(tmp_path: Path) -> None:
    path = tmp_path / "c.h5"
    config = _config(budget=8, initial=4)
    n = config.schedules.n_epochs
    target = np.geomspace(3.0, 0.3, n)  # a cool-down; representable, not one of the seeds
    with CampaignRunner.create(path, config, objective=TargetObjective(target)) as runner:
        campaign = runner.prepare()
        for _ in range(5):
            runner.evaluate(campaign.ask())
        stored_vae = runner.vae.state_arrays()
    # resume: the stages are read back (not recomputed) and the campaign goes on to the budget
    with CampaignRunner.open(path, objective=TargetObjective(target)) as runner:
        campaign = runner.prepare()
        assert len(campaign.evaluations) == 5
        for name, array in runner.vae.state_arrays().items():
            np.testing.assert_array_equal(array, stored_vae[name])
        runner.run()
        best = campaign.best_evaluated()
        initial_best = max(e.objective for e in campaign.evaluations[:4])
    info = summarize(CampaignStore.open(path))
    assert info["evaluations"] == 8 and info["succeeded"] == 8
    assert best.objective >= initial_best


def test_a_failed_training_is_recorded_and_the_campaign_goes_on(tmp_path: Path) -> None:
    class Diverging(TargetObjective):
        def __call__(self, schedule, seed, controls):
            if len(self.seeds) == 2:  # the second evaluation's first replicate
                self.seeds.append(seed)
                raise FloatingPointError("loss is nan")
            return super().__call__(schedule, seed, controls)

    config = _config(budget=4, initial=3)
    objective = Diverging(np.ones(config.schedules.n_epochs))
    with CampaignRunner.create(tmp_path / "c.h5", config, objective=objective) as runner:
        runner.run()
        statuses = [e.status for e in runner.campaign.evaluations]
        failed = runner.campaign.evaluations[1]
    assert statuses.count(EvaluationStatus.FAILED) == 1 and len(statuses) == 4
    assert failed.status is EvaluationStatus.FAILED and "loss is nan" in failed.message
    assert np.isnan(failed.objective)


def test_cancel_records_nothing(tmp_path: Path) -> None:
    config = _config(budget=4, initial=3)
    controls = Controls()
    with CampaignRunner.create(tmp_path / "c.h5", config,
                               objective=TargetObjective(np.ones(6))) as runner:
        campaign = runner.prepare(controls)
        controls.cancel.set()
        with pytest.raises(Exception, match="cancelled"):
            runner.evaluate(campaign.ask(), controls)
        assert campaign.evaluations == []
    with CampaignStore.open(tmp_path / "c.h5") as store:
        assert store.read_evaluations() == []


def test_the_run_loop_takes_queued_points_first_and_stops_on_pause(tmp_path: Path) -> None:
    import threading

    from zbo_gui.core.types import ProposalSource, UserPoints

    config = _config(budget=6, initial=3)
    objective = TargetObjective(np.ones(config.schedules.n_epochs))
    with CampaignRunner.create(tmp_path / "c.h5", config, objective=objective) as runner:
        grid = runner.prepare().grid
        feasible = np.flatnonzero(grid.feasible)
        points, pause, refused, seen = UserPoints(), threading.Event(), [], []
        infeasible = np.flatnonzero(~grid.feasible)
        assert infeasible.size, "the tiny grid has an infeasible margin"
        points.push(grid.points[feasible[0]])
        points.push(grid.points[feasible[0]])  # the same point again: refused
        points.push(grid.points[infeasible[0]])  # outside the feasible region: refused
        end = runner.run(points=points, until_done=False, on_refused=refused.append,
                         on_evaluation=seen.append)
        assert not end.paused and end.reason is None
        assert [e.proposal.source for e in seen] == [ProposalSource.USER]
        assert len(refused) == 2 and len(points) == 0
        assert "already evaluated" in refused[0] and "outside the feasible" in refused[1]
        pause.set()  # a pause asked before the campaign's own next proposal
        assert runner.run(pause=pause, on_evaluation=seen.append).paused
        assert len(seen) == 1
        pause.clear()
        end = runner.run(on_evaluation=seen.append)
        assert end.reason is not None and end.reason.value == "budget" and len(seen) == 6


def test_a_training_stopped_as_collapsed_is_stored_scored_zero_and_taught(tmp_path: Path) -> None:
    """Real jiVAE trainings with the collapse watch on. With 2 classes one class always holds at
    least half of the probe, so a share of 0.5 stops every training at its first check (epoch
    5 of 6): the rule's plumbing, end to end."""
    data = {**TINY_CONFIG, "bo": {**TINY_CONFIG["bo"], "budget": 3, "initial": 2},
            "objective": {**TINY_CONFIG["objective"], "collapse_share": 0.5,
                          "collapse_after": 2}}
    config = config_from_dict(data)
    path = tmp_path / "c.h5"
    with CampaignRunner.create(path, config) as runner:
        runner.run()
        evaluations = runner.campaign.evaluations
        assert [e.status for e in evaluations] == [EvaluationStatus.COLLAPSED] * 3
        first = evaluations[0]
        assert first.objective == 0.0 and first.observed and not first.succeeded
        assert first.message.startswith("collapsed at epoch 5: one class held")
        assert "of 120 probe images" in first.message
        assert runner.campaign.surrogate() is not None  # the GP learnt the zeros
    with CampaignStore.open(path) as store:
        info = summarize(store)
        stored = store.read_evaluations()
    assert (info["collapsed"], info["failed"], info["succeeded"]) == (3, 0, 0)
    assert [e.status for e in stored] == [EvaluationStatus.COLLAPSED] * 3
    assert stored[0].message == first.message and stored[0].objective == 0.0
