"""Tests of the GP surrogate and the acquisition functions."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import torch
from scipy.stats import norm

from zbo_gui.core.errors import CampaignError, ConfigError
from zbo_gui.core.surrogate import (
    ACQUISITIONS,
    GridPosterior,
    SurrogateFit,
    expected_improvement,
    fit_gp,
    grid_posterior,
    log_expected_improvement,
    predict,
    propose,
    upper_confidence_bound,
)

Z_LO = np.array([-2.0, -1.0])
Z_HI = np.array([2.0, 3.0])
NOISE = 0.05


def _truth(z: np.ndarray) -> np.ndarray:
    """A smooth function of the box, maximal at (0.3, 0.3) in unit-square coordinates."""
    u = (z - Z_LO) / (Z_HI - Z_LO)
    return -((u - 0.3) ** 2).sum(axis=1)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.uniform(Z_LO, Z_HI, size=(n, 2))
    return z, _truth(z) + NOISE * rng.standard_normal(n)


def _ei_reference(mean: np.ndarray, std: np.ndarray, best: float, xi: float) -> np.ndarray:
    u = (mean - best - xi) / std
    return std * (u * norm.cdf(u) + norm.pdf(u))


def _log_ei_mp(u: float, std: float = 1.0) -> float:
    """log EI at standardised improvement u, with 60 significant digits."""
    with mpmath.workdps(60):
        x = mpmath.mpf(u)
        h = x * mpmath.ncdf(x) + mpmath.npdf(x)
        return float(mpmath.log(std * h))


@pytest.fixture(scope="module")
def fitted() -> SurrogateFit:
    z, y = _data(30, seed=1)
    return fit_gp(z, y, Z_LO, Z_HI, seed=0)


@pytest.fixture(scope="module")
def grid() -> np.ndarray:
    a = np.linspace(Z_LO[0], Z_HI[0], 25)
    b = np.linspace(Z_LO[1], Z_HI[1], 25)
    return np.stack(np.meshgrid(a, b), axis=-1).reshape(-1, 2)


# --- acquisition functions -------------------------------------------------------------------


def test_expected_improvement_matches_closed_form() -> None:
    rng = np.random.default_rng(0)
    mean = rng.normal(size=500)
    std = rng.uniform(0.05, 2.0, size=500)
    for best, xi in [(0.0, 0.0), (0.7, 0.1), (-1.3, 0.0)]:
        got = expected_improvement(mean, std, best, xi)
        np.testing.assert_allclose(got, _ei_reference(mean, std, best, xi), rtol=1e-10, atol=1e-300)
        assert np.all(got >= 0.0)


def test_expected_improvement_uses_sigma_not_variance() -> None:
    # With mean == best, EI = std * phi(0); the variance form would give std**2 * phi(0).
    ei = expected_improvement(np.array([1.0]), np.array([0.5]), best=1.0)
    assert ei[0] == pytest.approx(0.5 * norm.pdf(0.0), rel=1e-12)


def test_expected_improvement_with_zero_std() -> None:
    mean = np.array([2.0, 0.5, 1.0])
    std = np.zeros(3)
    np.testing.assert_array_equal(expected_improvement(mean, std, best=1.0), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(expected_improvement(mean, std, best=1.0, xi=0.5), [0.5, 0, 0])
    log_ei = log_expected_improvement(mean, std, best=1.0)
    assert log_ei[0] == pytest.approx(0.0)
    assert np.isneginf(log_ei[1]) and np.isneginf(log_ei[2])


def test_log_expected_improvement_matches_log_of_closed_form() -> None:
    rng = np.random.default_rng(1)
    mean = rng.normal(scale=3.0, size=2000)
    std = rng.uniform(0.1, 2.0, size=2000)
    best, xi = 0.4, 0.05
    ref = _ei_reference(mean, std, best, xi)
    ok = ref > 1e-300
    # Below u ~ -8 the closed form loses digits to cancellation; compare where it is accurate.
    u = (mean - best - xi) / std
    accurate = ok & (u > -8.0)
    assert accurate.sum() > 1500
    got = log_expected_improvement(mean, std, best, xi)
    np.testing.assert_allclose(got[accurate], np.log(ref[accurate]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.exp(got[ok]), ref[ok], rtol=1e-6, atol=0.0)


def test_log_expected_improvement_in_the_deep_tail() -> None:
    u = -np.logspace(np.log10(0.5), 7, 400)[::-1]  # increasing from -1e7 to -0.5
    std = np.full_like(u, 0.3)
    log_ei = log_expected_improvement(u * std, std, best=0.0)
    assert np.all(np.isfinite(log_ei))
    assert np.all(np.diff(log_ei) > 0.0)
    assert expected_improvement(np.array([-40.0]), np.array([1.0]), best=0.0)[0] < 1e-300
    # Accurate across the branches (direct, erfcx-based, asymptotic series).
    for point in (-0.5, -1.0, -1.0001, -8.0, -40.0, -999.0, -1001.0, -1e5):
        got = log_expected_improvement(np.array([point * 0.3]), np.array([0.3]), best=0.0)[0]
        assert got == pytest.approx(_log_ei_mp(point, 0.3), rel=1e-10)


def test_upper_confidence_bound() -> None:
    rng = np.random.default_rng(2)
    mean, std = rng.normal(size=50), rng.uniform(0, 1, size=50)
    np.testing.assert_allclose(upper_confidence_bound(mean, std), mean + 2.0 * std)
    np.testing.assert_allclose(upper_confidence_bound(mean, std, kappa=0.5), mean + 0.5 * std)


# --- fitting and prediction ------------------------------------------------------------------


def test_fit_gp_predicts_held_out_points(fitted: SurrogateFit) -> None:
    z_test, _ = _data(200, seed=7)
    mean, std = predict(fitted, z_test)
    assert mean.shape == std.shape == (200,)
    rmse = float(np.sqrt(np.mean((mean - _truth(z_test)) ** 2)))
    assert rmse < 0.05, rmse  # below the noise level; the range of the truth is ~1
    assert np.all(std > 0.0)
    assert fitted.n_train == 30
    assert fitted.best_y == pytest.approx(float(np.max(_data(30, seed=1)[1])))


def test_fit_gp_fits_the_noise(fitted: SurrogateFit) -> None:
    assert NOISE / 3.0 < fitted.noise_std < NOISE * 3.0, fitted.noise_std


def test_fit_gp_fits_the_lengthscales(fitted: SurrogateFit) -> None:
    # A fresh model of the same class starts from BoTorch's initial hyper-parameters.
    x = torch.linspace(0.0, 1.0, 8, dtype=torch.float64).reshape(4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # InputDataWarning: these outcomes are not standardised
        unfitted = type(fitted.model)(x, x[:, :1], outcome_transform=None)
    initial = next(
        m.lengthscale.detach().numpy().reshape(-1)
        for m in unfitted.covar_module.modules()
        if getattr(m, "has_lengthscale", False)
    )
    assert fitted.lengthscales.shape == (2,)
    assert np.all(np.abs(fitted.lengthscales / initial - 1.0) > 1e-3)


def test_predict_in_chunks_equals_one_chunk(fitted: SurrogateFit, grid: np.ndarray) -> None:
    mean_a, std_a = predict(fitted, grid, chunk=7)
    mean_b, std_b = predict(fitted, grid, chunk=10000)
    np.testing.assert_allclose(mean_a, mean_b, rtol=0.0, atol=1e-8)
    np.testing.assert_allclose(std_a, std_b, rtol=0.0, atol=1e-8)
    empty = predict(fitted, np.zeros((0, 2)))
    assert empty[0].shape == empty[1].shape == (0,)


def test_fit_gp_is_deterministic(grid: np.ndarray) -> None:
    z, y = _data(12, seed=3)
    a = predict(fit_gp(z, y, Z_LO, Z_HI, seed=5), grid)
    b = predict(fit_gp(z, y, Z_LO, Z_HI, seed=5), grid)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_fit_gp_leaves_the_global_rng_alone() -> None:
    z, y = _data(10, seed=4)
    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    fit_gp(z, y, Z_LO, Z_HI, seed=9)
    assert torch.equal(torch.get_rng_state(), before)


def test_fit_gp_with_constant_outcomes(grid: np.ndarray) -> None:
    z, _ = _data(5, seed=5)
    fit = fit_gp(z, np.full(5, 0.25), Z_LO, Z_HI)
    assert fit.y_std == 1.0
    mean, std = predict(fit, grid[:10])
    np.testing.assert_allclose(mean, 0.25, atol=1e-6)
    assert np.all(np.isfinite(std))


def test_fit_gp_rejects_bad_input() -> None:
    z, y = _data(3, seed=6)
    with pytest.raises(CampaignError, match="at least 2"):
        fit_gp(z[:1], y[:1], Z_LO, Z_HI)
    with pytest.raises(CampaignError, match="3 points but y has 2"):
        fit_gp(z, y[:2], Z_LO, Z_HI)
    with pytest.raises(CampaignError, match="finite"):
        fit_gp(z, np.array([1.0, np.nan, 0.0]), Z_LO, Z_HI)
    with pytest.raises(CampaignError, match=r"m x 2"):
        fit_gp(np.zeros((3, 3)), y, Z_LO, Z_HI)
    with pytest.raises(ConfigError, match="z_hi"):
        fit_gp(z, y, Z_HI, Z_LO)


# --- grid posterior and proposal -------------------------------------------------------------


@pytest.mark.parametrize("acquisition", ACQUISITIONS)
def test_grid_posterior_shapes(fitted: SurrogateFit, grid: np.ndarray, acquisition: str) -> None:
    post = grid_posterior(fitted, grid, acquisition, chunk=100)
    assert isinstance(post, GridPosterior)
    assert post.mean.shape == post.std.shape == post.acquisition.shape == (len(grid),)
    assert np.all(np.isfinite(post.acquisition))


def test_grid_posterior_acquisitions_agree(fitted: SurrogateFit, grid: np.ndarray) -> None:
    log_ei = grid_posterior(fitted, grid, "logei", xi=0.01).acquisition
    ei = grid_posterior(fitted, grid, "ei", xi=0.01)
    np.testing.assert_allclose(
        ei.acquisition, expected_improvement(ei.mean, ei.std, fitted.best_y, 0.01)
    )
    big = ei.acquisition > 1e-200
    np.testing.assert_allclose(np.exp(log_ei[big]), ei.acquisition[big], rtol=1e-8)
    ucb = grid_posterior(fitted, grid, "ucb", kappa=1.5).acquisition
    np.testing.assert_allclose(ucb, ei.mean + 1.5 * ei.std)


def test_grid_posterior_rejects_unknown_acquisition(fitted: SurrogateFit) -> None:
    with pytest.raises(ConfigError, match=r"'pi'.*logei"):
        grid_posterior(fitted, np.zeros((3, 2)), "pi")


def test_propose_respects_the_candidate_mask() -> None:
    acq = np.array([5.0, 1.0, 3.0, -np.inf, 3.0, np.nan])
    assert propose(acq, np.ones(6, dtype=bool)) == 0
    mask = np.array([False, True, True, True, True, True])
    assert propose(acq, mask) == 2  # tie between 2 and 4 -> lowest index
    assert propose(acq, np.array([False, False, False, True, False, True])) == 3


def test_propose_raises_when_nothing_is_left() -> None:
    with pytest.raises(CampaignError, match="no feasible, unevaluated grid point is left"):
        propose(np.arange(4.0), np.zeros(4, dtype=bool))
    with pytest.raises(CampaignError, match="4 values"):
        propose(np.arange(4.0), np.ones(3, dtype=bool))
