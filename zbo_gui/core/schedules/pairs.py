"""A schedule's two curves: β_c and β_d per epoch, whether the schedule is a pair or β_c alone."""

from __future__ import annotations

import numpy as np


def split_pair(schedule: np.ndarray, beta_d: float) -> tuple[np.ndarray, np.ndarray]:
    """The β_c and β_d curves of a schedule.

    Args:
        schedule: ``(N,)`` β_c per epoch, or a pair ``(2, N)`` (β_c, β_d).
        beta_d: the constant β_d of a β_c schedule (``jrvae.beta_d``).

    Returns:
        ``(beta_c, beta_d)``, each ``(N,)`` float64 (β_d constant for a β_c schedule).

    Raises:
        ValueError: the schedule is neither ``(N,)`` nor ``(2, N)``.
    """
    values = np.asarray(schedule, dtype=np.float64)
    if values.ndim == 1:
        return values, np.full_like(values, float(beta_d))
    if values.ndim == 2 and values.shape[0] == 2:
        return values[0], values[1]
    raise ValueError(f"a schedule is (N,) or a pair (2, N), got shape {values.shape}")


def open_pairs(beta_c: np.ndarray) -> np.ndarray:
    """``k x N`` β_c curves as ``k x 2 x N`` pairs whose β_d curves are NaN, still to be drawn
    (:func:`~zbo_gui.core.schedules.fill_beta_d`)."""
    beta_c = np.asarray(beta_c, dtype=np.float64)
    return np.stack([beta_c, np.full_like(beta_c, np.nan)], axis=1)


def first_last(curve: np.ndarray) -> str:
    """A curve's first and last value as text, ``"0.2→0.5"``; one number when they read the
    same (3 significant digits)."""
    first, last = f"{float(curve[0]):.3g}", f"{float(curve[-1]):.3g}"
    return first if first == last else f"{first}→{last}"
