"""Seed-schedule families, the schedule library, and schedule import/validation.

A *schedule* is a float64 vector of N KL weights ``beta(epoch) > 0`` (N = jrVAE epochs). Every
family draws its shape in *unit space* ``u in [0, 1]`` and maps it into the user's bounds with
:meth:`Bounds.from_unit` (log-spaced when ``beta_hi / beta_lo >= 10``), so generated schedules lie
in ``[beta_lo, beta_hi]`` exactly. All randomness goes through a seeded ``np.random.Generator``.

Modules:

- ``families``: :class:`Bounds` (beta <-> unit space), the family generators (:data:`FAMILIES`),
  :func:`generate_family` and :func:`jitter`.
- ``library``: :class:`ScheduleLibrary`, :func:`generate_library`, :func:`resample`,
  :func:`validate_schedules` and :func:`clamp_positive`.
- ``csv``: :func:`load_csv` and :func:`configured_library`.
- ``pairs``: :func:`split_pair` (a schedule's β_c and β_d curves), :func:`open_pairs` and
  :func:`first_last`.
- ``_checks``: argument checks shared by the above.
"""

from zbo_gui.core.schedules.csv import beta_d_rng, configured_library, fill_beta_d, load_csv
from zbo_gui.core.schedules.families import (
    EXTRA_FAMILIES,
    FAMILIES,
    LOG_SCALE_RATIO,
    Bounds,
    PairBounds,
    generate_family,
    jitter,
)

# The family generators, whose docstrings the GUI shows (``gui.seed_panel.family_description``
# looks up ``_<family>`` on this package).
from zbo_gui.core.schedules.families import _constant as _constant
from zbo_gui.core.schedules.families import _cooldown as _cooldown
from zbo_gui.core.schedules.families import _cyclical as _cyclical
from zbo_gui.core.schedules.families import _exponential as _exponential
from zbo_gui.core.schedules.families import _periodic as _periodic
from zbo_gui.core.schedules.families import _segmented as _segmented
from zbo_gui.core.schedules.families import _warmup as _warmup
from zbo_gui.core.schedules.library import (
    ScheduleLibrary,
    clamp_positive,
    generate_library,
    pair_curves,
    resample,
    share_counts,
    validate_schedules,
)
from zbo_gui.core.schedules.pairs import first_last, open_pairs, split_pair

__all__ = [
    "EXTRA_FAMILIES",
    "FAMILIES",
    "LOG_SCALE_RATIO",
    "Bounds",
    "PairBounds",
    "ScheduleLibrary",
    "beta_d_rng",
    "clamp_positive",
    "configured_library",
    "fill_beta_d",
    "first_last",
    "generate_family",
    "generate_library",
    "jitter",
    "load_csv",
    "open_pairs",
    "pair_curves",
    "resample",
    "share_counts",
    "split_pair",
    "validate_schedules",
]
