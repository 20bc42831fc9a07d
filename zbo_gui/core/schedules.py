"""Seed-schedule families, the schedule library, and schedule import/validation.

A *schedule* is a float64 vector of N KL weights ``beta(epoch) > 0`` (N = jrVAE epochs). Every
family draws its shape in *unit space* ``u in [0, 1]`` and maps it into the user's bounds with
:meth:`Bounds.from_unit` (log-spaced when ``beta_hi / beta_lo >= 10``), so generated schedules lie
in ``[beta_lo, beta_hi]`` exactly. All randomness goes through a seeded ``np.random.Generator``.
Below, ``x`` is the epoch index ``0..N-1`` and ``t = x / (N - 1)`` the normalised time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zbo_gui.core.errors import ConfigError, ScheduleError

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


@dataclass(frozen=True, eq=False)  # eq=False: field-wise == is ambiguous for arrays
class ScheduleLibrary:
    """A set of seed schedules and the family each came from.

    Attributes:
        schedules: ``S x N`` float64 beta values, finite and > 0 (stored as a read-only copy).
        families: Length-S family name per row, from :data:`FAMILIES` or :data:`EXTRA_FAMILIES`.

    Raises:
        ScheduleError: If ``schedules`` is not ``S x N`` with ``N >= 2``, has non-finite or
            non-positive values, or ``families`` has the wrong length or an unknown name.
    """

    schedules: np.ndarray
    families: tuple[str, ...]

    def __post_init__(self) -> None:
        schedules = np.array(self.schedules, dtype=np.float64)
        if schedules.ndim != 2 or schedules.shape[1] < 2:
            raise ScheduleError(
                f"library: schedules must have shape (S, N) with N >= 2, got {schedules.shape}"
            )
        families = tuple(self.families)
        if len(families) != schedules.shape[0]:
            raise ScheduleError(
                f"library: {schedules.shape[0]} schedules but {len(families)} family names"
            )
        unknown = sorted(set(families) - set(FAMILIES + EXTRA_FAMILIES))
        if unknown:
            raise ScheduleError(
                f"library: unknown family names {unknown}; known: "
                + ", ".join(FAMILIES + EXTRA_FAMILIES)
            )
        bad = ~np.isfinite(schedules) | (schedules <= 0)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ScheduleError(
                f"library: schedule {row}, epoch {col}: beta = {schedules[row, col]} "
                "is not a finite value > 0"
            )
        schedules.flags.writeable = False
        object.__setattr__(self, "schedules", schedules)
        object.__setattr__(self, "families", families)

    def __len__(self) -> int:
        return self.schedules.shape[0]

    @property
    def n_epochs(self) -> int:
        """The schedule length N."""
        return self.schedules.shape[1]

    def concat(self, other: ScheduleLibrary) -> ScheduleLibrary:
        """Returns this library's rows followed by ``other``'s (``(S1 + S2) x N``).

        Raises:
            ScheduleError: If the two libraries have different N.
        """
        if other.n_epochs != self.n_epochs:
            raise ScheduleError(
                f"library: cannot concatenate N = {other.n_epochs} schedules to N = {self.n_epochs}"
            )
        return ScheduleLibrary(
            np.concatenate([self.schedules, other.schedules]), self.families + other.families
        )

    def subset(self, family: str) -> ScheduleLibrary:
        """Returns the rows of one family (possibly none), in library order.

        Raises:
            ConfigError: If ``family`` is not a known family name.
        """
        if family not in FAMILIES + EXTRA_FAMILIES:
            known = ", ".join(FAMILIES + EXTRA_FAMILIES)
            raise ConfigError(f"unknown schedule family {family!r}; known: {known}")
        rows = [i for i, name in enumerate(self.families) if name == family]
        return ScheduleLibrary(self.schedules[rows], tuple(self.families[i] for i in rows))


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


# ------------------------------------------------------------------------ checks


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_int(value: object, name: str, minimum: int) -> None:
    if not _is_int(value):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum:  # type: ignore[operator]
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")


def _check_n(n: object, name: str = "n_epochs") -> None:
    _check_int(n, name, 2)


def _check_count(value: object, name: str) -> None:
    _check_int(value, name, 0)


def _check_family(family: str) -> None:
    if family not in _GENERATORS:
        raise ConfigError(f"unknown schedule family {family!r}; known: " + ", ".join(FAMILIES))


def _as_curve(curve: np.ndarray, where: str, min_len: int = 1) -> np.ndarray:
    values = np.asarray(curve, dtype=np.float64)
    if values.ndim != 1 or values.size < min_len:
        raise ScheduleError(
            f"{where}: curve must be 1-D with >= {min_len} values, got shape {values.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ScheduleError(f"{where}: curve value {bad[0]} is {values[bad[0]]}, not finite")
    return values


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


def generate_library(
    counts: Mapping[str, int], n_epochs: int, bounds: Bounds, seed: int
) -> ScheduleLibrary:
    """Generates a seeded library of schedules, families in the fixed :data:`FAMILIES` order.

    Family i draws from child stream i of ``np.random.SeedSequence(seed)``, so the output is
    bit-identical for the same arguments whatever the mapping's order, and changing one family's
    count leaves the other families' schedules unchanged.

    Args:
        counts: Number of schedules per family name; missing families count 0.
        n_epochs: Schedule length N, >= 2.
        bounds: The beta bounds.
        seed: Non-negative integer seed.

    Returns:
        The library, ``S x N`` with ``S = sum(counts.values())``.

    Raises:
        ConfigError: For an unknown family name, a negative count, a total of 0, ``n_epochs < 2``
            or a bad seed.
    """
    unknown = sorted(str(name) for name in counts if name not in _GENERATORS)
    if unknown:
        raise ConfigError(f"unknown schedule families {unknown}; known: " + ", ".join(FAMILIES))
    for name, count in counts.items():
        _check_count(count, f"count of {name!r}")
    if sum(int(c) for c in counts.values()) == 0:
        raise ConfigError(f"the library needs at least one schedule, got counts {dict(counts)}")
    _check_n(n_epochs)
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    streams = np.random.SeedSequence(int(seed)).spawn(len(FAMILIES))
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for family, stream in zip(FAMILIES, streams, strict=True):
        count = int(counts.get(family, 0))
        if count:
            blocks.append(
                generate_family(family, count, n_epochs, bounds, np.random.default_rng(stream))
            )
            names += [family] * count
    return ScheduleLibrary(np.concatenate(blocks), tuple(names))


def resample(curve: np.ndarray, n: int) -> np.ndarray:
    """Resamples a curve to ``n`` points by linear interpolation over normalised time.

    Args:
        curve: ``M`` finite values, ``M >= 1`` (``M == 1`` gives a constant).
        n: Output length, >= 2.

    Returns:
        ``n`` float64 values; the end points equal the curve's end points.

    Raises:
        ScheduleError: If the curve is not 1-D, is empty, or has non-finite values.
        ConfigError: If ``n < 2``.
    """
    values = _as_curve(curve, "resample")
    _check_n(n, "n")
    if values.size == 1:
        return np.full(n, values[0])
    return np.interp(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, values.size), values)


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


def _split(line: str) -> list[str]:
    raw = line.split(",") if "," in line else line.split()
    cells = [c.strip().strip("\"'").strip() for c in raw]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise ScheduleError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ScheduleError(f"{where}: {cell!r} is not finite")
    if value <= 0:
        raise ScheduleError(f"{where}: beta = {value} is not > 0")
    return value


def load_csv(path: str | os.PathLike, n_epochs: int) -> np.ndarray:
    """Reads schedules from a CSV file and resamples each to ``n_epochs`` values.

    Two layouts: (a) one schedule per row of comma-separated numbers (rows may differ in length),
    with an optional header row of non-numbers; (b) columns under a header that contains
    ``beta_c`` (the app's export, ``epoch,beta_c,beta_d``): the ``beta_c`` column is one schedule.
    Blank lines are skipped; so are lines starting with ``#``, except that a ``#`` line containing
    ``beta_c`` before the data is the header (``np.savetxt(header=...)``). Lines without commas are
    split on whitespace.

    Args:
        path: The CSV file.
        n_epochs: Output length N, >= 2.

    Returns:
        ``k x N`` float64 beta values, one row per schedule in the file.

    Raises:
        ScheduleError: Naming the file (and the line, where there is one) for a missing or
            unreadable file, no data, a non-numeric cell, a schedule of fewer than 2 values, or a
            non-finite or non-positive value.
        ConfigError: If ``n_epochs < 2``.
    """
    _check_n(n_epochs)
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScheduleError(f"{name}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScheduleError(f"{name}: cannot read the file ({exc})") from None

    header: tuple[int, list[str]] | None = None
    rows: list[tuple[int, list[str]]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            cells = _split(stripped.lstrip("#"))
            if header is None and not rows and "beta_c" in (c.lower() for c in cells):
                header = (line_no, cells)
        elif stripped:
            cells = _split(stripped)
            if header is None and not rows and not any(_is_number(c) for c in cells):
                header = (line_no, cells)
            else:
                rows.append((line_no, cells))
    header_line, header_cells = header if header else (0, [])
    if not rows:
        if header:
            raise ScheduleError(f"{name}, line {header_line}: a header but no values after it")
        raise ScheduleError(f"{name}: the file is empty")

    lowered = [c.lower() for c in header_cells]
    curves: list[list[float]] = []
    if "beta_c" in lowered:
        col = lowered.index("beta_c")
        curve = []
        for line_no, cells in rows:
            if len(cells) <= col:
                raise ScheduleError(f"{name}, line {line_no}: no beta_c value (column {col + 1})")
            curve.append(_parse(cells[col], f"{name}, line {line_no}, column {col + 1}"))
        if len(curve) < 2:
            raise ScheduleError(
                f"{name}, line {header_line}: column beta_c has {len(curve)} value, need >= 2"
            )
        curves.append(curve)
    else:
        for line_no, cells in rows:
            if len(cells) < 2:
                raise ScheduleError(
                    f"{name}, line {line_no}: {len(cells)} value, a schedule needs >= 2"
                )
            curves.append(
                [_parse(c, f"{name}, line {line_no}, column {j + 1}") for j, c in enumerate(cells)]
            )
    return np.stack([resample(np.asarray(c), n_epochs) for c in curves])


def validate_schedules(schedules: np.ndarray, bounds: Bounds, tol: float = 1e-6) -> None:
    """Checks that schedules are usable: finite, > 0 and within the bounds up to ``tol``.

    Args:
        schedules: ``S x N`` beta values.
        bounds: The allowed range; values in ``[lo (1 - tol), hi (1 + tol)]`` pass.
        tol: Relative tolerance, >= 0.

    Raises:
        ScheduleError: Naming the first bad schedule and epoch (0-based) and its value.
        ConfigError: If ``tol`` is negative or not finite.
    """
    if not (math.isfinite(tol) and tol >= 0):
        raise ConfigError(f"tol must be finite and >= 0, got {tol}")
    array = np.asarray(schedules)
    if array.ndim != 2:
        raise ScheduleError(f"schedules must be a 2-D (S, N) array, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ScheduleError(f"schedules must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    lo, hi = bounds.lo * (1 - tol), bounds.hi * (1 + tol)
    checks = (
        (~np.isfinite(array), "is not finite"),
        (array <= 0, "is not > 0"),
        ((array < lo) | (array > hi), f"is outside the bounds [{bounds.lo}, {bounds.hi}]"),
    )
    for bad, problem in checks:
        if bad.any():
            row, col = np.argwhere(bad)[0]
            total = int(bad.sum())
            more = f" ({total} such values in {int(bad.any(axis=1).sum())} schedules)"
            raise ScheduleError(
                f"schedule {row}, epoch {col}: beta = {float(array[row, col])} {problem}"
                + (more if total > 1 else "")
            )


def clamp_positive(schedules: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """Raises every value below ``floor`` to ``floor`` (pyro rejects a KL scale of exactly 0).

    Args:
        schedules: Beta values, any shape.
        floor: The smallest value allowed, finite and > 0.

    Returns:
        A new float64 array of the same shape.

    Raises:
        ScheduleError: If a value is NaN.
        ConfigError: If ``floor`` is not finite and > 0.
    """
    if not (math.isfinite(floor) and floor > 0):
        raise ConfigError(f"clamp_positive: floor must be finite and > 0, got {floor}")
    array = np.asarray(schedules, dtype=np.float64)
    nan = np.argwhere(np.isnan(array))
    if nan.size:
        raise ScheduleError(f"clamp_positive: beta at index {tuple(int(i) for i in nan[0])} is nan")
    return np.maximum(array, floor)
