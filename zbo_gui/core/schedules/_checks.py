"""Argument checks shared by the schedule modules (integers, schedule length, 1-D curves)."""

from __future__ import annotations

import numpy as np

from zbo_gui.core.errors import ConfigError, ScheduleError


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
