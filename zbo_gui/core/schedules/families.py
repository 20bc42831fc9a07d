"""Seed-schedule families: the beta bounds and unit space, the family generators, jitter.

Every family draws its shape in *unit space* ``u in [0, 1]`` and maps it into the user's bounds
with :meth:`Bounds.from_unit` (log-spaced when ``beta_hi / beta_lo >= 10``), so generated schedules
lie in ``[beta_lo, beta_hi]`` exactly. All randomness goes through a seeded
``np.random.Generator``. Below, ``x`` is the epoch index ``0..N-1`` and ``t = x / (N - 1)`` the
normalised time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zbo_gui.core.errors import ConfigError
from zbo_gui.core.schedules._checks import _as_curve, _check_count, _check_n

FAMILIES: tuple[str, ...] = (
    "cooldown",
    "segmented",
    "periodic",
    "cyclical",
    "warmup",
    "exponential",
    "constant",
)
#: Family names a library row may carry besides the generated :data:`FAMILIES`.
EXTRA_FAMILIES: tuple[str, ...] = ("sketch", "csv")
#: ``hi / lo`` ratio from which :class:`Bounds` maps in log space.
LOG_SCALE_RATIO: float = 10.0

# Smooth noise: a cosine series with terms cos(pi * j * t + phase), j = 0..5, weighted as below.
_NOISE_WEIGHTS = np.array([0.5, 1.0, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5])


@dataclass(frozen=True)
class Bounds:
    """Bounds ``[lo, hi]`` of beta, and the map between beta and unit space.

    Attributes:
        lo: Lower bound beta_lo, finite and > 0.
        hi: Upper bound beta_hi, finite and > lo.

    Raises:
        ConfigError: If a bound is not a finite number, ``lo <= 0`` or ``hi <= lo``.
    """

    lo: float
    hi: float

    def __post_init__(self) -> None:
        for field, label in (("lo", "beta_lo"), ("hi", "beta_hi")):
            value = getattr(self, field)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"bounds: {label} must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise ConfigError(f"bounds: {label} must be finite, got {number}")
            object.__setattr__(self, field, number)
        if self.lo <= 0:
            raise ConfigError(f"bounds: beta_lo must be > 0, got {self.lo}")
        if self.hi <= self.lo:
            raise ConfigError(f"bounds: beta_hi must be > beta_lo = {self.lo}, got {self.hi}")

    @property
    def log_scale(self) -> bool:
        """Whether unit space is logarithmic in beta (``hi / lo >= 10``)."""
        return self.hi / self.lo >= LOG_SCALE_RATIO

    def _ends(self) -> tuple[float, float]:
        if self.log_scale:
            return math.log(self.lo), math.log(self.hi)
        return self.lo, self.hi

    def to_unit(self, beta: np.ndarray) -> np.ndarray:
        """Maps beta values to unit space (``lo -> 0``, ``hi -> 1``).

        Args:
            beta: Beta values, any shape. Values outside the bounds map outside ``[0, 1]``; in log
                scale, values ``<= 0`` map to ``-inf``/``nan``.

        Returns:
            Unit-space values, float64, same shape as ``beta``.
        """
        values = np.asarray(beta, dtype=np.float64)
        a, b = self._ends()
        if self.log_scale:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.log(values)
        return (values - a) / (b - a)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Maps unit-space values back to beta (inverse of :meth:`to_unit`).

        Args:
            u: Unit-space values, any shape. Values in ``[0, 1]`` give beta in ``[lo, hi]`` exactly.

        Returns:
            Beta values, float64, same shape as ``u``.
        """
        unit = np.asarray(u, dtype=np.float64)
        a, b = self._ends()
        values = a + unit * (b - a)
        if self.log_scale:
            values = np.exp(values)
        inside = (unit >= 0.0) & (unit <= 1.0)
        values = np.where(inside, np.clip(values, self.lo, self.hi), values)
        return np.where(unit == 0.0, self.lo, np.where(unit == 1.0, self.hi, values))  # exact ends


@dataclass(frozen=True)
class PairBounds:
    """Bounds of a schedule pair, β_c inside ``c`` and β_d inside ``d``, and the map between
    pairs and unit space: the two curves side by side, each normalised on its own scale
    (``(..., 2, N)`` ↔ ``(..., 2N)``).

    Attributes:
        c: the bounds of β_c.
        d: the bounds of β_d.
    """

    c: Bounds
    d: Bounds

    @property
    def lo(self) -> float:
        """β_c's lower bound."""
        return self.c.lo

    @property
    def hi(self) -> float:
        """β_c's upper bound."""
        return self.c.hi

    def to_unit(self, pairs: np.ndarray) -> np.ndarray:
        """``(..., 2, N)`` β_c and β_d per epoch → ``(..., 2N)`` unit values.

        Raises:
            ValueError: the last two axes are not ``(2, N)``.
        """
        pairs = np.asarray(pairs, dtype=np.float64)
        if pairs.ndim < 2 or pairs.shape[-2] != 2:
            raise ValueError(f"schedule pairs are (..., 2, N), got shape {pairs.shape}")
        return np.concatenate([self.c.to_unit(pairs[..., 0, :]),
                               self.d.to_unit(pairs[..., 1, :])], axis=-1)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """``(..., 2N)`` unit values → ``(..., 2, N)`` β_c and β_d (inverse of
        :meth:`to_unit`)."""
        unit = np.asarray(unit, dtype=np.float64)
        n = unit.shape[-1] // 2
        return np.stack([self.c.from_unit(unit[..., :n]), self.d.from_unit(unit[..., n:])],
                        axis=-2)


# ------------------------------------------------------------------------ families (unit space)


def _time(n: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n)


def _smooth_noise(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random curves, ``count x n``, each with RMS exactly 1 (a random cosine series)."""
    j = np.arange(_NOISE_WEIGHTS.size)
    amp = rng.standard_normal((count, j.size)) * _NOISE_WEIGHTS
    phase = rng.uniform(0.0, 2.0 * np.pi, (count, j.size))
    waves = np.cos(np.pi * j[None, :, None] * _time(n) + phase[:, :, None])
    noise = np.einsum("kj,kjn->kn", amp, waves)
    rms = np.sqrt(np.mean(noise**2, axis=1, keepdims=True))
    return np.divide(noise, rms, out=np.zeros_like(noise), where=rms > 0)


def _cooldown(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Linear cool-down (paper): hold ``u_start``, ramp linearly down to ``u_stop``, hold.

    Drawn per curve, each from its own draw (not one shared index): ``u_start ~ U(0.2, 1)``,
    ``u_stop ~ U(0, u_start - 0.1)``, hold ``t_hold ~ U(0, 0.6)`` and ramp ``t_ramp ~ U(0.05,
    1 - t_hold)`` as fractions of the run. Non-increasing.
    """
    t = _time(n)
    u_start = rng.uniform(0.2, 1.0, count)
    u_stop = rng.uniform(0.0, u_start - 0.1)
    t_hold = rng.uniform(0.0, 0.6, count)
    t_ramp = rng.uniform(0.05, 1.0 - t_hold)
    progress = np.clip((t - t_hold[:, None]) / t_ramp[:, None], 0.0, 1.0)
    return u_start[:, None] + (u_stop - u_start)[:, None] * progress


def _segmented(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random piecewise-linear curve (paper), optionally with smooth noise.

    Per curve: 2-6 knots (ends at t = 0 and t = 1, the others ~ U(0, 1)), knot values ~ U(0, 1);
    half the curves (each with probability 0.5) get smooth noise of RMS ~ U(0.01, 0.05); clipped
    to [0, 1].
    """
    t = _time(n)
    out = np.empty((count, n))
    n_knots = rng.integers(2, 7, count)
    for i, k in enumerate(n_knots):
        knots = np.concatenate(([0.0], np.sort(rng.uniform(0.0, 1.0, k - 2)), [1.0]))
        out[i] = np.interp(t, knots, rng.uniform(0.0, 1.0, k))
    amplitude = rng.uniform(0.01, 0.05, count) * (rng.random(count) < 0.5)
    return np.clip(out + amplitude[:, None] * _smooth_noise(count, n, rng), 0.0, 1.0)


def _periodic(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Damped/growing oscillation (paper): ``A e^(alpha x) cos(omega x) + B x`` on ``x in [0, 2]``.

    Per curve: ``|A| ~ U(0.5, 2)`` with a random sign, ``alpha ~ U(-1.5, 1.5)``, ``omega ~ U(1,
    12)`` rad per unit x, ``B ~ U(-2, 2)``; min-max normalised into ``[c, c + w]`` with width
    ``w ~ U(0.2, 1)`` and offset ``c ~ U(0, 1 - w)``.
    """
    x = np.linspace(0.0, 2.0, n)
    a = rng.uniform(0.5, 2.0, count) * rng.choice([-1.0, 1.0], count)
    alpha = rng.uniform(-1.5, 1.5, count)
    omega = rng.uniform(1.0, 12.0, count)
    b = rng.uniform(-2.0, 2.0, count)
    f = a[:, None] * np.exp(alpha[:, None] * x) * np.cos(omega[:, None] * x) + b[:, None] * x
    low = f.min(axis=1, keepdims=True)
    span = f.max(axis=1, keepdims=True) - low
    shape = np.divide(f - low, span, out=np.full_like(f, 0.5), where=span > 1e-12)
    width = rng.uniform(0.2, 1.0, count)
    offset = rng.uniform(0.0, 1.0 - width)
    return offset[:, None] + width[:, None] * shape


def _cyclical(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Cyclical annealing (Fu et al. 2019): M cycles, each rising linearly then holding.

    Per curve: ``M`` ~ integers 1-6, ramp fraction ``R ~ U(0.3, 0.8)`` of each cycle,
    ``u_lo ~ U(0, 0.5)``, ``u_hi ~ U(u_lo + 0.2, 1)``. Cycle phase is ``(x M / N) mod 1``.
    """
    x = np.arange(n)
    cycles = rng.integers(1, 7, count)
    ramp = rng.uniform(0.3, 0.8, count)
    u_lo = rng.uniform(0.0, 0.5, count)
    u_hi = rng.uniform(u_lo + 0.2, 1.0)
    phase = np.mod(x * cycles[:, None] / n, 1.0)
    progress = np.minimum(phase / ramp[:, None], 1.0)
    return u_lo[:, None] + (u_hi - u_lo)[:, None] * progress


def _warmup(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Monotone warm-up from ``u_lo`` to ``u_hi`` over the first fraction ``f`` of the run; hold.

    Per curve: shape linear, sigmoid (logistic, steepness 10, rescaled to hit both ends) or cosine,
    each with probability 1/3; ``u_lo ~ U(0, 0.5)``, ``u_hi ~ U(u_lo + 0.2, 1)``,
    ``f ~ U(0.1, 0.9)``. Non-decreasing.
    """
    t = _time(n)
    kind = rng.integers(0, 3, count)
    u_lo = rng.uniform(0.0, 0.5, count)
    u_hi = rng.uniform(u_lo + 0.2, 1.0)
    fraction = rng.uniform(0.1, 0.9, count)
    p = np.clip(t / fraction[:, None], 0.0, 1.0)
    sigmoid = 0.5 + 0.5 * np.tanh(5.0 * (p - 0.5)) / np.tanh(2.5)  # rescaled logistic(10 p - 5)
    shapes = np.stack([p, sigmoid, 0.5 * (1.0 - np.cos(np.pi * p))])
    progress = np.clip(shapes[kind, np.arange(count)], 0.0, 1.0)
    return u_lo[:, None] + (u_hi - u_lo)[:, None] * progress


def _exponential(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exponential decay from ``u_start`` (t = 0) to ``u_stop`` (t = 1) at rate ``k``.

    ``u(t) = u_stop + (u_start - u_stop) (e^(-k t) - e^(-k)) / (1 - e^(-k))``. Per curve:
    ``u_start ~ U(0.2, 1)``, ``u_stop ~ U(0, u_start - 0.1)``, ``k ~ U(1, 10)``. Non-increasing.
    """
    t = _time(n)
    u_start = rng.uniform(0.2, 1.0, count)
    u_stop = rng.uniform(0.0, u_start - 0.1)
    k = rng.uniform(1.0, 10.0, count)[:, None]
    decay = (np.exp(-k * t) - np.exp(-k)) / (1.0 - np.exp(-k))
    return u_stop[:, None] + (u_start - u_stop)[:, None] * decay


def _constant(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Constant schedule; its value ``u ~ U(0, 1)`` per curve."""
    return np.repeat(rng.uniform(0.0, 1.0, count)[:, None], n, axis=1)


_GENERATORS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "cooldown": _cooldown,
    "segmented": _segmented,
    "periodic": _periodic,
    "cyclical": _cyclical,
    "warmup": _warmup,
    "exponential": _exponential,
    "constant": _constant,
}


def _check_family(family: str) -> None:
    if family not in _GENERATORS:
        raise ConfigError(f"unknown schedule family {family!r}; known: " + ", ".join(FAMILIES))


# ------------------------------------------------------------------------ public functions


def generate_family(
    family: str, count: int, n_epochs: int, bounds: Bounds, rng: np.random.Generator
) -> np.ndarray:
    """Draws ``count`` schedules of one family, each with its own independent parameters.

    The families and the ranges of their parameters (in unit space) are documented in
    ``_cooldown``, ``_segmented``, ``_periodic``, ``_cyclical``, ``_warmup``, ``_exponential``
    and ``_constant`` of this module.

    Args:
        family: One of :data:`FAMILIES`.
        count: Number of schedules, >= 0.
        n_epochs: Schedule length N, >= 2.
        bounds: The beta bounds; shapes are mapped with :meth:`Bounds.from_unit`.
        rng: The random generator (advanced by the draw).

    Returns:
        ``count x N`` float64 beta values inside ``[bounds.lo, bounds.hi]``.

    Raises:
        ConfigError: For an unknown family, a negative count or ``n_epochs < 2``.
    """
    _check_family(family)
    _check_count(count, f"count of {family!r}")
    _check_n(n_epochs)
    unit = _GENERATORS[family](int(count), int(n_epochs), rng)
    return bounds.from_unit(np.clip(unit, 0.0, 1.0))


def jitter(
    curve: np.ndarray, k: int, bounds: Bounds, rng: np.random.Generator, scale: float = 0.05
) -> np.ndarray:
    """Draws ``k`` smooth random variants of a curve (for "sketch + K jittered variants").

    The curve is mapped to unit space (clipped to ``[0, 1]``), a smooth random perturbation with
    RMS exactly ``scale`` is added to each variant, and the result is clipped back into ``[0, 1]``
    (which only shrinks the perturbation) and mapped to beta.

    Args:
        curve: ``N`` finite beta values, ``N >= 2``.
        k: Number of variants, >= 0.
        bounds: The beta bounds; the variants lie inside them.
        rng: The random generator (advanced by the draw).
        scale: RMS of each perturbation in unit space, >= 0.

    Returns:
        ``k x N`` float64 beta values.

    Raises:
        ScheduleError: If the curve is not 1-D with >= 2 finite values.
        ConfigError: If ``k < 0`` or ``scale`` is negative or not finite.
    """
    values = _as_curve(curve, "jitter", min_len=2)
    _check_count(k, "jitter: k")
    if not (math.isfinite(scale) and scale >= 0):
        raise ConfigError(f"jitter: scale must be finite and >= 0, got {scale}")
    base = np.clip(bounds.to_unit(values), 0.0, 1.0)
    unit = np.clip(base + scale * _smooth_noise(int(k), values.size, rng), 0.0, 1.0)
    return bounds.from_unit(unit)
