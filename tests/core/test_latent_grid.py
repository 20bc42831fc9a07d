"""Tests of the feasible latent grid (feasibility rule; a grid over a real tiny schedule VAE)."""

from __future__ import annotations

import numpy as np
import pytest

from zbo_gui.core.config import ScheduleVAEConfig
from zbo_gui.core.latent_grid import LatentGrid, build_grid, feasibility, grid_axes
from zbo_gui.core.schedule_vae import ScheduleVAE
from zbo_gui.core.schedules import Bounds, generate_library

BOUNDS = Bounds(0.1, 10.0)
N = 10
G = 15
MARGIN = 0.6
TOL = 0.02


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def library() -> np.ndarray:
    counts = {"cooldown": 10, "warmup": 5, "constant": 5, "exponential": 5, "cyclical": 5}
    return np.array(generate_library(counts, N, BOUNDS, seed=1).schedules)


@pytest.fixture(scope="module")
def vae(library: np.ndarray) -> ScheduleVAE:
    config = ScheduleVAEConfig(epochs=150, lr=1e-2, batch_size=32, hidden=(32, 32))
    return ScheduleVAE.train(library, BOUNDS, config, seed=0)


@pytest.fixture(scope="module")
def grid(vae: ScheduleVAE, library: np.ndarray) -> LatentGrid:
    return build_grid(vae, library, size=G, margin=MARGIN, tolerance=TOL)


# ------------------------------------------------------------------------------- feasibility


def test_feasibility_rule_on_hand_built_schedules() -> None:
    unit = np.array([
        [0.0, 0.5, 1.0],  # inside
        [0.2, np.nan, 0.3],  # NaN
        [0.2, np.inf, 0.3],  # infinite
        [-0.01, 0.5, 1.015],  # slightly outside, within the tolerance
        [-0.03, 0.5, 0.5],  # below, outside the tolerance
        [0.5, 0.5, 1.025],  # above, outside the tolerance
        [-0.02, 1.02, 0.4],  # exactly at the tolerance
    ])
    np.testing.assert_array_equal(
        feasibility(unit, 0.02), [True, False, False, True, False, False, True]
    )
    # with no tolerance only the first row is inside
    np.testing.assert_array_equal(
        feasibility(unit, 0.0), [True, False, False, False, False, False, False]
    )
    assert feasibility(unit, 0.02).dtype == bool
    assert feasibility(np.zeros((0, 3)), 0.02).shape == (0,)


def test_grid_axes_cover_cloud_with_margin() -> None:
    seed_z = np.array([[0.0, 1.0], [2.0, 1.5], [1.0, 3.0]])
    x, y = grid_axes(seed_z, 11, 0.25)
    np.testing.assert_allclose([x[0], x[-1]], [-0.5, 2.5])
    np.testing.assert_allclose([y[0], y[-1]], [0.5, 3.5])
    # a degenerate axis still gets a margin of 0.1 latent units
    x, y = grid_axes(np.array([[1.0, 0.0], [1.0, 1.0]]), 5, 0.1)
    np.testing.assert_allclose([x[0], x[-1]], [0.9, 1.1])


# ------------------------------------------------------------------------------ built grid


def test_grid_shapes_and_layout(grid: LatentGrid, library: np.ndarray) -> None:
    assert grid.size == G
    assert grid.x.shape == (G,) and grid.y.shape == (G,)
    assert grid.points.shape == (G * G, 2)
    assert grid.decoded.shape == (G * G, N)
    assert grid.feasible.shape == (G * G,) and grid.feasible.dtype == bool
    assert grid.seed_z.shape == (library.shape[0], 2)
    assert np.all(np.diff(grid.x) > 0) and np.all(np.diff(grid.y) > 0)
    # point k is at row k // G (y) and column k % G (x)
    for k in (0, 1, G, G * G - 1, 37):
        np.testing.assert_array_equal(grid.points[k], [grid.x[k % G], grid.y[k // G]])


def test_grid_covers_the_seed_cloud_with_margin(grid: LatentGrid, vae: ScheduleVAE,
                                                library: np.ndarray) -> None:
    np.testing.assert_allclose(grid.seed_z, vae.encode(library), atol=1e-6)
    lo, hi = grid.seed_z.min(axis=0), grid.seed_z.max(axis=0)
    pad = np.maximum(MARGIN * (hi - lo), 0.1)
    np.testing.assert_allclose([grid.x[0], grid.y[0]], lo - pad, rtol=1e-9)
    np.testing.assert_allclose([grid.x[-1], grid.y[-1]], hi + pad, rtol=1e-9)
    assert grid.x[0] < lo[0] and grid.x[-1] > hi[0]
    assert grid.y[0] < lo[1] and grid.y[-1] > hi[1]


def test_feasibility_mask_matches_schedules_decoded_one_by_one(grid: LatentGrid,
                                                               vae: ScheduleVAE) -> None:
    expected = np.empty(G * G, dtype=bool)
    for k, point in enumerate(grid.points):
        schedule = vae.decode_unit(point[None, :])[0]
        expected[k] = bool(np.all(np.isfinite(schedule))
                           and schedule.min() >= -TOL and schedule.max() <= 1.0 + TOL)
    np.testing.assert_array_equal(grid.feasible, expected)
    # the margin reaches beyond the decoder's range: both kinds of point are on the grid
    assert 0 < grid.feasible.sum() < G * G


def test_feasible_decoded_schedules_are_in_bounds(grid: LatentGrid, vae: ScheduleVAE) -> None:
    feasible = grid.decoded[grid.feasible].astype(np.float64)
    assert np.all(np.isfinite(feasible))
    assert np.all(feasible > 0)
    assert feasible.min() >= BOUNDS.lo * (1 - 1e-6)
    assert feasible.max() <= BOUNDS.hi * (1 + 1e-6)
    # decoded holds the schedules the VAE gives for these points, clipped into the bounds
    np.testing.assert_allclose(grid.decoded, vae.decode(grid.points), rtol=1e-5)


def test_feasible_region_contains_the_seed_cloud(grid: LatentGrid) -> None:
    # grid points nearest to the encoded seeds decode to their (feasible) neighbourhood
    nearest = np.argmin(((grid.points[None, :, :] - grid.seed_z[:, None, :]) ** 2).sum(-1), 1)
    assert grid.feasible[nearest].mean() > 0.7


def test_grid_is_decoded_in_one_batch(grid: LatentGrid, vae: ScheduleVAE,
                                     library: np.ndarray) -> None:
    batch = vae.decode_unit(grid.points)
    assert batch.shape == (G * G, N)
    one_by_one = np.vstack([vae.decode_unit(p[None, :]) for p in grid.points])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)

    # build_grid asks the decoder once, for all G*G points (a spy that calls the real decoder)
    calls: list[int] = []
    original = vae.decode_unit

    def counting(z: np.ndarray) -> np.ndarray:
        calls.append(np.asarray(z).reshape(-1, 2).shape[0])
        return original(z)

    vae.decode_unit = counting  # type: ignore[method-assign]
    try:
        again = build_grid(vae, library, size=G, margin=MARGIN, tolerance=TOL)
    finally:
        del vae.decode_unit
    assert calls == [G * G]
    np.testing.assert_array_equal(again.feasible, grid.feasible)
    np.testing.assert_allclose(again.decoded, grid.decoded, rtol=1e-6)
