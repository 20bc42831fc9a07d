"""The benchmark scripts' own logic: methods spend the budget, statistics are right.

The benchmarks are scripts (``python benchmarks/NAME.py``) that import their helpers as siblings,
so the folder is put on ``sys.path`` here. Performance is not asserted (that is what the scripts
report); these tests check that every method is a fair competitor: exactly ``budget`` evaluations
of valid schedules, the shared initial design, and correct best-so-far statistics.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _methods
import _report
import sample_efficiency

from zbo_gui.core.config import ScheduleVAEConfig
from zbo_gui.core.schedules import Bounds

BOUNDS = Bounds(0.1, 10.0)
COUNTS = {"cooldown": 6, "constant": 4, "warmup": 4, "exponential": 4}


@pytest.fixture(scope="module")
def space() -> _methods.Space:
    return _methods.build_space(COUNTS, 8, BOUNDS, initial=3, seed=0, grid_size=20,
                                vae_config=ScheduleVAEConfig(epochs=40))


def _distance_to_ones(schedule: np.ndarray) -> float:
    return -_methods.unit_rms(BOUNDS, schedule, np.ones_like(schedule))


@pytest.mark.parametrize("name", list(_methods.METHODS))
def test_each_method_spends_exactly_the_budget_on_valid_schedules(space, name):
    seen: list[np.ndarray] = []

    def evaluate(schedule: np.ndarray) -> float:
        seen.append(np.asarray(schedule))
        return _distance_to_ones(schedule)

    _methods.METHODS[name](space, evaluate, 7, 3)
    assert len(seen) == 7
    for schedule in seen:
        assert schedule.shape == (8,)
        assert np.all(schedule >= BOUNDS.lo - 1e-6) and np.all(schedule <= BOUNDS.hi + 1e-6)


def test_zbo_and_the_reference_variant_share_the_initial_design(space):
    runs = {}
    for name in ("zbo", "zbo-reference"):
        rec = sample_efficiency.Recorder(lambda s, k: (_distance_to_ones(s),) * 2 + (math.nan,))
        _methods.METHODS[name](space, rec, 6, 5)
        runs[name] = rec.observed
    assert runs["zbo"][:3] == runs["zbo-reference"][:3]


def test_random_latent_never_repeats_a_grid_point(space):
    seen: list[bytes] = []
    _methods.random_latent(space, lambda s: seen.append(s.tobytes()) or 0.0, 30, 1)
    assert len(set(seen)) == len(seen) == 30


def test_van_der_corput_fills_a_dyadic_grid_coarse_to_fine():
    points = _methods.van_der_corput(7)
    np.testing.assert_allclose(points[:3], [0.5, 0.25, 0.75])
    np.testing.assert_allclose(np.sort(points), np.arange(1, 8) / 8)


def test_the_hidden_target_scores_one_and_is_not_a_seed(space):
    score, target = sample_efficiency.target_problem(space, rep=0, budget=5, noise=0.0)
    schedule = np.asarray(target["target"])
    observed, true, _ = score(schedule, 0)
    assert true == pytest.approx(1.0) and observed == pytest.approx(1.0)
    assert target["vae_floor_rms"] <= sample_efficiency.REPRESENTABLE_RMS
    assert not any(np.allclose(schedule, seed) for seed in space.library.schedules)
    assert score(np.full(8, 10.0), 1)[1] < 1.0


def test_best_so_far_and_evaluations_to_reach():
    curve = _report.best_so_far(np.array([0.2, 0.1, 0.5, 0.4, 0.9]))
    np.testing.assert_allclose(curve, [0.2, 0.2, 0.5, 0.5, 0.9])
    assert _report.evaluations_to_reach(curve, 0.5) == 3
    assert _report.evaluations_to_reach(curve, 0.95) is None


def test_summary_thresholds_at_95_percent_of_the_best_of_any_method_per_repetition():
    runs = {
        "a": [{"reported": [0.1, 1.0], "accuracy": [math.nan] * 2, "seconds": 1.0},
              {"reported": [2.0, 2.0], "accuracy": [math.nan] * 2, "seconds": 1.0}],
        "b": [{"reported": [0.96, 0.2], "accuracy": [math.nan] * 2, "seconds": 2.0},
              {"reported": [0.0, 1.0], "accuracy": [math.nan] * 2, "seconds": 2.0}],
    }
    summary = sample_efficiency.summarise(runs, budget=2)
    assert summary["a"]["evals_to_95"] == [2, 1]
    assert summary["b"]["evals_to_95"] == [1, None]
    assert summary["a"]["final_median"] == pytest.approx(1.5)
    assert summary["b"]["evals_to_95_median"] is None  # reached in only 1 of 2 repetitions


def test_the_seed_design_picks_distinct_grid_points_next_to_encoded_seeds(space):
    grid = space.grid
    design = _methods.seed_design(grid, 5, seed=0)
    nearest = {int(np.argmin(((grid.points - z) ** 2).sum(axis=1))) for z in grid.seed_z}
    assert len(set(design.tolist())) == 5
    assert set(design.tolist()) <= nearest
    assert grid.feasible[design].all()


# ---------------------------------------------------------------------------- tabular benchmark
@pytest.fixture(scope="module")
def small_table(space):
    """A table over the tiny space: 12 grid points, the seeds and 4 constants, 2 stored
    trainings each; objective = closeness to β ≡ 1 plus the seed (0 or 0.01), usage balanced
    except at the worst points (collapsed)."""
    import tabular
    from _methods import space_filling

    grid = space.grid
    arrays = {
        "x": grid.x, "y": grid.y, "points": grid.points, "decoded": grid.decoded,
        "feasible": grid.feasible, "seed_z": grid.seed_z,
        "grid_index": space_filling(grid.points, grid.feasible, 12, 0),
        "seeds": space.library.schedules, "seed_families": np.array(space.library.families),
        "constants": np.geomspace(0.1, 10.0, 4),
    }
    runs = {}
    for kind, rows in tabular.schedules(arrays).items():
        for i, row in enumerate(rows):
            value = max(0.0, 1.0 + _distance_to_ones(row))
            usage = [40, 0] if value < 0.3 else [20, 20]
            runs[(kind, i)] = [{"kind": kind, "index": i, "seed": s, "status": "ok",
                                "objective": value + 0.01 * s, "usage": usage,
                                "accuracy": value} for s in (0, 1)]
    return tabular.Table(arrays, runs)


@pytest.mark.parametrize("name", ["zbo", "random-latent", "seed-library", "constant-grid",
                                  "zbo-stop-rule", "zbo-hurdle", "zbo-seeds-hurdle-log",
                                  "zbo-sobol", "zbo-rank", "zbo-before",
                                  "zbo-seed-schedules-i6", "zbo-4-in-flight"])
def test_tabular_methods_visit_only_stored_schedules_within_the_budget(small_table, name):
    import tabular

    result = tabular.replay(small_table, tabular.methods(small_table)[name], reps=2, budget=12)
    for rep in range(2):
        visits = result["visits"][rep]
        assert 1 <= visits <= 12
        # the best observed value is one of the stored ones, and at most the table's best
        best = result["best_after"]["10"][rep]
        assert best <= max(r["objective"] for v in small_table.runs.values() for r in v)
    if name == "constant-grid":
        assert result["visits"] == [4, 4]  # each of the 4 constants once, then it stops
    if name not in ("zbo-stop-rule", "constant-grid"):
        assert result["visits"] == [12, 12]


@pytest.mark.parametrize(("engine", "written_out"), [("zbo", "zbo-rank-i6"),
                                                     ("zbo-before", "zbo-loop")])
def test_the_variants_loop_is_the_engines_campaign(small_table, engine, written_out):
    """The variants change one lever of a loop that must otherwise be the engine's: with the
    same settings both visit the same points and see the same values."""
    import tabular

    named = tabular.methods(small_table)
    first = tabular.replay(small_table, named[engine], reps=2, budget=12)
    second = tabular.replay(small_table, named[written_out], reps=2, budget=12)
    assert first["best_after"] == second["best_after"]
    assert first["incumbent_mean_after"] == second["incumbent_mean_after"]


def test_evals_to_95_median_counts_never_as_beyond_the_budget():
    import tabular

    assert tabular.reach_median([None, 3, 5]) == "5 (2/3)"
    assert tabular.reach_median([None, None, 3]) == "> 30 (1/3)"
    line = tabular.stop_rule_line({"visits": [30, 12, 15], "evals_to_95": [5, None, 10]})
    assert line.startswith("stopped before 30 evaluations in 2/3 repetitions")
    assert "1 of these stops came before 95 %" in line


def test_a_visit_returns_one_of_the_stored_trainings_at_random(small_table):
    import tabular

    visits = tabular.Visits(small_table, np.random.default_rng(0))
    row = tabular.schedules(small_table.space)["grid"][3]
    seen = {visits(row) for _ in range(40)}
    assert seen == {r["objective"] for r in small_table.runs[("grid", 3)]}
    with pytest.raises(KeyError, match="not in the table"):
        visits(np.full(8, 3.3))
    assert tabular.collapsed({"status": "ok", "usage": [40, 0]})
    assert not tabular.collapsed({"status": "ok", "usage": [20, 20]})
