"""Gaussian-process surrogate and acquisition functions for BO in the 2-D latent space.

The surrogate is a BoTorch ``SingleTaskGP`` on inputs normalised to the unit square and outcomes
standardised to zero mean and unit variance. Its observation noise is a fitted hyper-parameter
(evaluations of a VAE training are noisy), and every hyper-parameter is fitted by L-BFGS through
``botorch.fit.fit_gpytorch_mll``. The posterior over a latent grid is evaluated in chunks, so that
the ``m x m`` predictive covariance of a large grid is never built.

Acquisition functions work on plain numpy arrays of posterior means and standard deviations and
assume maximisation:

* ``ei``: expected improvement, ``std * (u * Phi(u) + phi(u))``, ``u = (mean - best - xi) / std``;
* ``logei``: its logarithm, computed stably far into the tail where EI itself underflows to 0;
* ``ucb``: upper confidence bound, ``mean + kappa * std``.

Everything runs on the CPU in float64 and is deterministic given the seed passed to :func:`fit_gp`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import erfcx, ndtr

from zbo_gui.core.errors import CampaignError, ConfigError

with warnings.catch_warnings():
    # gpytorch decorates helpers with torch.jit.script, deprecated in recent torch releases.
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", FutureWarning)
    import gpytorch
    from botorch.exceptions import InputDataWarning, ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

__all__ = [
    "ACQUISITIONS",
    "GridPosterior",
    "SurrogateFit",
    "expected_improvement",
    "fit_gp",
    "grid_posterior",
    "log_expected_improvement",
    "predict",
    "propose",
    "upper_confidence_bound",
]

ACQUISITIONS = ("logei", "ei", "ucb")

_DTYPE = torch.float64
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_PI_OVER_2 = 0.5 * math.log(math.pi / 2.0)
# Below this u, log h(u) uses its asymptotic series (relative error of the truncation ~1e-16).
_U_ASYMPTOTIC = -1.0e3


@dataclass(frozen=True)
class SurrogateFit:
    """A fitted GP surrogate together with the normalisation of its training data.

    Attributes:
        model: The fitted BoTorch ``SingleTaskGP`` (in eval mode), on normalised inputs and
            standardised outcomes.
        z_lo: ``(2,)`` lower corner of the box mapped to the unit square.
        z_hi: ``(2,)`` upper corner of the box mapped to the unit square.
        y_mean: Mean subtracted from the outcomes.
        y_std: Scale the outcomes were divided by (1 when they were all equal).
        best_y: Best (largest) observed outcome, in original units.
        noise_std: Fitted observation-noise standard deviation, in original units.
        lengthscales: ``(2,)`` fitted kernel lengthscales, in normalised (unit-square) units.
        n_train: Number of training points.
    """

    model: Any
    z_lo: np.ndarray
    z_hi: np.ndarray
    y_mean: float
    y_std: float
    best_y: float
    noise_std: float
    lengthscales: np.ndarray
    n_train: int


@dataclass(frozen=True)
class GridPosterior:
    """The GP posterior and an acquisition function evaluated on a set of points.

    Attributes:
        mean: ``(m,)`` posterior mean, in original units.
        std: ``(m,)`` posterior standard deviation of the latent function (noise excluded), in
            original units.
        acquisition: ``(m,)`` acquisition values (the log of EI for ``"logei"``).
    """

    mean: np.ndarray
    std: np.ndarray
    acquisition: np.ndarray


def _as_points(points: np.ndarray, name: str) -> np.ndarray:
    """Returns ``points`` as a float64 ``m x 2`` array, or raises naming the bad shape."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise CampaignError(f"{name} must be an m x 2 array, got shape {arr.shape}")
    return arr


def _as_box(z_lo: np.ndarray, z_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validates the normalisation box and returns it as two float64 ``(2,)`` arrays."""
    lo = np.asarray(z_lo, dtype=np.float64).reshape(-1)
    hi = np.asarray(z_hi, dtype=np.float64).reshape(-1)
    if lo.shape != (2,) or hi.shape != (2,):
        raise ConfigError(
            f"z_lo and z_hi must have 2 values each, got {lo.tolist()} and {hi.tolist()}"
        )
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi > lo)):
        raise ConfigError(f"need finite z_lo < z_hi, got z_lo={lo.tolist()}, z_hi={hi.tolist()}")
    return lo, hi


def _lengthscales(model: Any) -> np.ndarray:
    """Returns the ``(d,)`` lengthscales of the first kernel in ``model`` that has them."""
    for module in model.covar_module.modules():
        if getattr(module, "has_lengthscale", False):
            return module.lengthscale.detach().cpu().numpy().reshape(-1).astype(np.float64)
    raise RuntimeError("the GP kernel has no lengthscale")  # pragma: no cover - botorch internals


def fit_gp(
    z: np.ndarray, y: np.ndarray, z_lo: np.ndarray, z_hi: np.ndarray, seed: int = 0
) -> SurrogateFit:
    """Fits a GP with fitted observation noise to evaluated latent points.

    Inputs are mapped to the unit square through the box ``[z_lo, z_hi]``; outcomes are
    standardised. The model is a BoTorch ``SingleTaskGP`` with BoTorch's default priors, whose
    hyper-parameters (lengthscales, output scale, noise) maximise the marginal likelihood through
    L-BFGS (``fit_gpytorch_mll``). The fit is deterministic given ``seed`` and leaves torch's
    global random state untouched.

    Args:
        z: ``n x 2`` evaluated latent points, ``n >= 2``.
        y: ``(n,)`` finite outcomes (larger is better).
        z_lo: ``(2,)`` lower corner of the normalisation box (e.g. of the latent grid).
        z_hi: ``(2,)`` upper corner of the normalisation box.
        seed: Seed of the torch RNG used while fitting (random restarts, if any).

    Returns:
        The fitted surrogate.

    Raises:
        CampaignError: Fewer than 2 points, mismatched shapes, non-finite values, or a fit that
            failed.
        ConfigError: An invalid box (``z_hi <= z_lo`` or non-finite).
    """
    z_arr = _as_points(z, "z")
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    if z_arr.shape[0] != y_arr.shape[0]:
        raise CampaignError(f"z has {z_arr.shape[0]} points but y has {y_arr.shape[0]} values")
    if z_arr.shape[0] < 2:
        raise CampaignError(f"a GP needs at least 2 evaluated points, got {z_arr.shape[0]}")
    if not (np.all(np.isfinite(z_arr)) and np.all(np.isfinite(y_arr))):
        raise CampaignError(f"z and y must be finite, got y={y_arr.tolist()}")
    lo, hi = _as_box(z_lo, z_hi)

    y_mean = float(np.mean(y_arr))
    y_std = float(np.std(y_arr, ddof=1))
    if not (np.isfinite(y_std) and y_std > 0.0):
        y_std = 1.0
    train_x = torch.as_tensor((z_arr - lo) / (hi - lo), dtype=_DTYPE)
    train_y = torch.as_tensor((y_arr - y_mean) / y_std, dtype=_DTYPE).unsqueeze(-1)

    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # We normalise and standardise ourselves; points outside the box are legitimate.
        warnings.simplefilter("ignore", InputDataWarning)
        torch.manual_seed(seed)
        model = SingleTaskGP(train_x, train_y, outcome_transform=None, input_transform=None)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        try:
            fit_gpytorch_mll(mll)
        except ModelFittingError as err:
            raise CampaignError(f"the GP fit failed on {len(y_arr)} points: {err}") from err
    model.eval()

    noise_var = float(model.likelihood.noise.detach().reshape(-1)[0])
    return SurrogateFit(
        model=model,
        z_lo=lo,
        z_hi=hi,
        y_mean=y_mean,
        y_std=y_std,
        best_y=float(np.max(y_arr)),
        noise_std=math.sqrt(noise_var) * y_std,
        lengthscales=_lengthscales(model),
        n_train=int(z_arr.shape[0]),
    )


def predict(
    fit: SurrogateFit, points: np.ndarray, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluates the posterior mean and standard deviation of the latent function.

    The points are processed ``chunk`` at a time, each chunk as a batch of single-point
    posteriors, so time is ``O(m * n_train)`` and memory ``O(chunk * n_train)``; no ``m x m`` (or
    ``chunk x chunk``) covariance is ever built.

    Args:
        fit: A surrogate returned by :func:`fit_gp`.
        points: ``m x 2`` latent points (original, un-normalised coordinates).
        chunk: Number of points per posterior call (>= 1).

    Returns:
        ``(mean, std)``, two ``(m,)`` arrays in original outcome units; ``std`` excludes the
        observation noise.

    Raises:
        CampaignError: ``points`` is not ``m x 2``.
        ConfigError: ``chunk < 1``.
    """
    pts = _as_points(points, "points")
    if int(chunk) < 1:
        raise ConfigError(f"chunk must be >= 1, got {chunk}")
    x = torch.as_tensor((pts - fit.z_lo) / (fit.z_hi - fit.z_lo), dtype=_DTYPE)
    if len(pts) == 0:
        return np.empty(0), np.empty(0)
    mean = np.empty(len(pts), dtype=np.float64)
    var = np.empty(len(pts), dtype=np.float64)
    with torch.no_grad(), gpytorch.settings.fast_pred_var():
        for start in range(0, len(pts), int(chunk)):
            stop = min(start + int(chunk), len(pts))
            # A batch of single-point posteriors (chunk x 1 x 2): gpytorch then builds only the
            # diagonal of the predictive covariance, not a dense chunk x chunk matrix.
            posterior = fit.model.posterior(x[start:stop].unsqueeze(-2))
            mean[start:stop] = posterior.mean.reshape(-1).cpu().numpy()
            var[start:stop] = posterior.variance.reshape(-1).cpu().numpy()
    std = np.sqrt(np.clip(var, 0.0, None)) * fit.y_std
    return mean * fit.y_std + fit.y_mean, std


def expected_improvement(
    mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0
) -> np.ndarray:
    """Expected improvement over ``best + xi`` (maximisation).

    ``EI = std * (u * Phi(u) + phi(u))`` with ``u = (mean - best - xi) / std``; where ``std == 0``
    it is ``max(mean - best - xi, 0)``.

    Args:
        mean: ``(m,)`` posterior means.
        std: ``(m,)`` posterior standard deviations (>= 0).
        best: Incumbent value (the best observed outcome).
        xi: Exploration margin (>= 0 favours exploration).

    Returns:
        ``(m,)`` non-negative EI values.
    """
    mu = np.asarray(mean, dtype=np.float64)
    sd = np.asarray(std, dtype=np.float64)
    diff = mu - best - xi
    positive = sd > 0
    safe_sd = np.where(positive, sd, 1.0)
    u = diff / safe_sd
    pdf = np.exp(-0.5 * u * u - _LOG_SQRT_2PI)
    ei = safe_sd * (u * ndtr(u) + pdf)
    return np.where(positive, np.maximum(ei, 0.0), np.maximum(diff, 0.0))


def _log_h(u: np.ndarray) -> np.ndarray:
    """Returns ``log(u * Phi(u) + phi(u))`` elementwise, accurate for any finite ``u``."""
    out = np.full_like(u, np.nan)  # NaN stays NaN
    upper = u > -1.0
    mid = (u <= -1.0) & (u >= _U_ASYMPTOTIC)
    low = u < _U_ASYMPTOTIC
    # Away from the tail there is no cancellation: evaluate directly.
    uu = u[upper]
    out[upper] = np.log(uu * ndtr(uu) + np.exp(-0.5 * uu * uu - _LOG_SQRT_2PI))
    # h(u) = phi(u) * (1 - |u| * sqrt(pi/2) * erfcx(-u/sqrt(2))); log1mexp avoids the cancellation.
    um = u[mid]
    w = np.log(-um) + np.log(erfcx(-um / math.sqrt(2.0))) + _LOG_SQRT_PI_OVER_2
    log1mexp = np.where(w > -math.log(2.0), np.log(-np.expm1(w)), np.log1p(-np.exp(w)))
    out[mid] = -0.5 * um * um - _LOG_SQRT_2PI + log1mexp
    # Asymptotic series: h(u) = phi(u) / u^2 * (1 - 3/u^2 + 15/u^4 - ...).
    ul = u[low]
    inv2 = 1.0 / (ul * ul)
    series = np.log1p(-3.0 * inv2 + 15.0 * inv2 * inv2)
    out[low] = -0.5 * ul * ul - _LOG_SQRT_2PI + np.log(inv2) + series
    return out


def log_expected_improvement(
    mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0
) -> np.ndarray:
    """Natural log of the expected improvement, stable where EI underflows.

    ``log EI = log(std) + log(u * Phi(u) + phi(u))``, evaluated with an erfcx-based form and an
    asymptotic series in the tail, so it stays finite and increasing in ``u`` far below the
    incumbent (e.g. ``u = -40`` or ``-1e6``). Where ``std == 0`` it is ``log(max(mean - best - xi,
    0))``, i.e. ``-inf`` when there is no improvement.

    Args:
        mean: ``(m,)`` posterior means.
        std: ``(m,)`` posterior standard deviations (>= 0).
        best: Incumbent value (the best observed outcome).
        xi: Exploration margin.

    Returns:
        ``(m,)`` log-EI values.
    """
    mu = np.asarray(mean, dtype=np.float64)
    sd = np.asarray(std, dtype=np.float64)
    mu, sd = np.broadcast_arrays(mu, sd)
    diff = mu - best - xi
    positive = sd > 0
    safe_sd = np.where(positive, sd, 1.0)
    u = np.atleast_1d(diff / safe_sd)
    log_ei = np.log(np.atleast_1d(safe_sd)) + _log_h(u)
    with np.errstate(divide="ignore"):
        degenerate = np.log(np.atleast_1d(np.maximum(diff, 0.0)))
    return np.where(np.atleast_1d(positive), log_ei, degenerate).reshape(diff.shape)


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, kappa: float = 2.0) -> np.ndarray:
    """Upper confidence bound ``mean + kappa * std`` (maximisation).

    Args:
        mean: ``(m,)`` posterior means.
        std: ``(m,)`` posterior standard deviations.
        kappa: Number of standard deviations to add (>= 0).

    Returns:
        ``(m,)`` UCB values.
    """
    return np.asarray(mean, dtype=np.float64) + kappa * np.asarray(std, dtype=np.float64)


def grid_posterior(
    fit: SurrogateFit,
    points: np.ndarray,
    acquisition: str = "logei",
    *,
    xi: float = 0.0,
    kappa: float = 2.0,
    chunk: int = 2048,
) -> GridPosterior:
    """Evaluates the posterior and an acquisition function on a set of points (e.g. a grid).

    Args:
        fit: A surrogate returned by :func:`fit_gp`.
        points: ``m x 2`` latent points.
        acquisition: One of :data:`ACQUISITIONS`; EI variants improve on ``fit.best_y``.
        xi: Exploration margin of EI and log-EI.
        kappa: Exploration weight of UCB.
        chunk: Number of points per posterior call.

    Returns:
        The posterior mean, std and acquisition values, each ``(m,)``.

    Raises:
        ConfigError: An unknown acquisition name.
    """
    if acquisition not in ACQUISITIONS:
        raise ConfigError(f"unknown acquisition {acquisition!r}; choose one of {ACQUISITIONS}")
    mean, std = predict(fit, points, chunk=chunk)
    if acquisition == "logei":
        acq = log_expected_improvement(mean, std, fit.best_y, xi)
    elif acquisition == "ei":
        acq = expected_improvement(mean, std, fit.best_y, xi)
    else:
        acq = upper_confidence_bound(mean, std, kappa)
    return GridPosterior(mean=mean, std=std, acquisition=acq)


def propose(acquisition: np.ndarray, candidates: np.ndarray) -> int:
    """Picks the candidate with the largest acquisition value.

    Args:
        acquisition: ``(m,)`` acquisition values (``-inf`` allowed; NaN counts as ``-inf``).
        candidates: ``(m,)`` boolean mask of points that may be proposed (feasible and not yet
            evaluated).

    Returns:
        The index (into the ``m`` points) of the best candidate; ties go to the lowest index.

    Raises:
        CampaignError: Mismatched shapes, or no candidate left.
    """
    acq = np.asarray(acquisition, dtype=np.float64).reshape(-1)
    mask = np.asarray(candidates, dtype=bool).reshape(-1)
    if acq.shape != mask.shape:
        raise CampaignError(
            f"acquisition has {acq.size} values but the candidate mask has {mask.size}"
        )
    if not mask.any():
        raise CampaignError("no feasible, unevaluated grid point is left")
    scores = np.where(mask & ~np.isnan(acq), acq, -np.inf)
    index = np.flatnonzero(mask)
    return int(index[np.argmax(scores[index])])
