"""The schedule library: :class:`ScheduleLibrary`, its seeded generation, and schedule checks.

A *schedule* is a float64 vector of N KL weights ``beta(epoch) > 0`` (N = jrVAE epochs); a library
is ``S x N`` of them with the family each came from. Also here: :func:`resample` (a curve to N
points) and the checks of finished schedule arrays, :func:`validate_schedules` and
:func:`clamp_positive`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from zbo_gui.core.errors import ConfigError, ScheduleError
from zbo_gui.core.schedules._checks import _as_curve, _check_count, _check_n, _is_int
from zbo_gui.core.schedules.families import (
    _GENERATORS,
    EXTRA_FAMILIES,
    FAMILIES,
    Bounds,
    generate_family,
)


@dataclass(frozen=True, eq=False)  # eq=False: field-wise == is ambiguous for arrays
class ScheduleLibrary:
    """A set of seed schedules and the family each came from.

    Attributes:
        schedules: ``S x N`` float64 beta values, finite and > 0 (stored as a read-only copy);
            ``S x 2 x N`` for schedule pairs (β_c and β_d per epoch).
        families: Length-S family name per row (of β_c for pairs), from :data:`FAMILIES` or
            :data:`EXTRA_FAMILIES`.

    Raises:
        ScheduleError: If ``schedules`` is not ``S x N`` (or ``S x 2 x N``) with ``N >= 2``, has
            non-finite or non-positive values, or ``families`` has the wrong length or an
            unknown name.
    """

    schedules: np.ndarray
    families: tuple[str, ...]

    def __post_init__(self) -> None:
        schedules = np.array(self.schedules, dtype=np.float64)
        pairs = schedules.ndim == 3 and schedules.shape[1] == 2
        if not (schedules.ndim == 2 or pairs) or schedules.shape[-1] < 2:
            raise ScheduleError(
                "library: schedules must have shape (S, N) or, for pairs, (S, 2, N), with"
                f" N >= 2, got {schedules.shape}"
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
            where = tuple(np.argwhere(bad)[0])
            curve = ("β_c, ", "β_d, ")[where[1]] if pairs else ""
            raise ScheduleError(
                f"library: schedule {where[0]}, {curve}epoch {where[-1]}: beta ="
                f" {schedules[where]} is not a finite value > 0"
            )
        schedules.flags.writeable = False
        object.__setattr__(self, "schedules", schedules)
        object.__setattr__(self, "families", families)

    def __len__(self) -> int:
        return self.schedules.shape[0]

    @property
    def n_epochs(self) -> int:
        """The schedule length N."""
        return self.schedules.shape[-1]

    @property
    def pairs(self) -> bool:
        """Whether the rows are schedule pairs ``(2, N)`` (β_c, β_d)."""
        return self.schedules.ndim == 3

    @property
    def beta_c(self) -> np.ndarray:
        """``S x N`` the β_c curves."""
        return self.schedules[:, 0] if self.pairs else self.schedules

    def concat(self, other: ScheduleLibrary) -> ScheduleLibrary:
        """Returns this library's rows followed by ``other``'s (``(S1 + S2) x N``).

        Raises:
            ScheduleError: If the two libraries have different N, or one holds pairs and the
                other does not.
        """
        if other.n_epochs != self.n_epochs:
            raise ScheduleError(
                f"library: cannot concatenate N = {other.n_epochs} schedules to N = {self.n_epochs}"
            )
        if other.pairs != self.pairs:
            raise ScheduleError("library: cannot concatenate schedule pairs (β_c, β_d) and"
                                " β_c schedules")
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


def share_counts(shares: Mapping[str, int], total: int) -> dict[str, int]:
    """``total`` rows split among families in proportion to ``shares`` (largest remainders,
    ties in :data:`FAMILIES` order).

    Raises:
        ConfigError: an unknown family, a negative share, or all shares 0.
    """
    unknown = sorted(str(name) for name in shares if name not in _GENERATORS)
    if unknown:
        raise ConfigError(f"unknown schedule families {unknown}; known: " + ", ".join(FAMILIES))
    for name, share in shares.items():
        _check_count(share, f"share of {name!r}")
    weight = sum(int(v) for v in shares.values())
    if weight == 0:
        raise ConfigError(f"the β_d families need a share > 0, got {dict(shares)}")
    names = [f for f in FAMILIES if int(shares.get(f, 0)) > 0]
    exact = {f: total * int(shares[f]) / weight for f in names}
    counts = {f: math.floor(exact[f]) for f in names}
    rest = sorted(names, key=lambda f: (-(exact[f] - counts[f]), FAMILIES.index(f)))
    for f in rest[: total - sum(counts.values())]:
        counts[f] += 1
    return counts


def pair_curves(beta_c: np.ndarray, beta_d_bounds: Bounds, shares: Mapping[str, int],
                rng: np.random.Generator) -> np.ndarray:
    """Pairs β_c curves with β_d curves drawn from the β_d families.

    The ``k`` β_d curves are drawn family by family in proportion to ``shares``
    (:func:`share_counts`) inside ``beta_d_bounds``, then shuffled, so which β_c curve gets
    which β_d shape is random.

    Args:
        beta_c: ``k x N`` β_c curves.
        beta_d_bounds: the bounds of β_d.
        shares: relative share of each β_d family.
        rng: the random generator (advanced by the draw).

    Returns:
        ``k x 2 x N`` float64 schedule pairs.
    """
    beta_c = np.asarray(beta_c, dtype=np.float64)
    k, n = beta_c.shape
    blocks = [generate_family(f, c, n, beta_d_bounds, rng)
              for f, c in share_counts(shares, k).items() if c]
    beta_d = np.concatenate(blocks)[rng.permutation(k)] if blocks else np.empty((0, n))
    return np.stack([beta_c, beta_d], axis=1)


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
