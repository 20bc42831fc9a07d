"""Import of schedules from CSV files (:func:`load_csv` and its line and cell parsers), and the
library a configuration describes (:func:`configured_library`)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from zbo_gui.core.errors import ScheduleError
from zbo_gui.core.schedules._checks import _check_n
from zbo_gui.core.schedules.families import Bounds, PairBounds
from zbo_gui.core.schedules.library import (
    ScheduleLibrary,
    generate_library,
    pair_curves,
    resample,
)
from zbo_gui.core.schedules.pairs import open_pairs


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


def load_csv(path: str | os.PathLike, n_epochs: int, pairs: bool = False) -> np.ndarray:
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
        pairs: return schedule pairs: with layout (b), a ``beta_d`` column is the β_d curve;
            without one (and with layout (a)) the β_d curve is NaN, for the caller to fill.

    Returns:
        ``k x N`` float64 beta values, one row per schedule in the file (``k x 2 x N`` with
        ``pairs``).

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
        columns = ["beta_c", "beta_d"] if pairs and "beta_d" in lowered else ["beta_c"]
        for column in columns:
            curves.append(_column(name, rows, lowered.index(column), column, header_line))
        if pairs:
            beta_d = (resample(np.asarray(curves[1]), n_epochs) if len(curves) == 2
                      else np.full(n_epochs, np.nan))
            return np.stack([resample(np.asarray(curves[0]), n_epochs), beta_d])[None]
    else:
        for line_no, cells in rows:
            if len(cells) < 2:
                raise ScheduleError(
                    f"{name}, line {line_no}: {len(cells)} value, a schedule needs >= 2"
                )
            curves.append(
                [_parse(c, f"{name}, line {line_no}, column {j + 1}") for j, c in enumerate(cells)]
            )
    out = np.stack([resample(np.asarray(c), n_epochs) for c in curves])
    return open_pairs(out) if pairs else out


def _column(name: str, rows: list[tuple[int, list[str]]], col: int, column: str,
            header_line: int) -> list[float]:
    """The values of one named column, each checked."""
    curve = []
    for line_no, cells in rows:
        if len(cells) <= col:
            raise ScheduleError(f"{name}, line {line_no}: no {column} value (column {col + 1})")
        curve.append(_parse(cells[col], f"{name}, line {line_no}, column {col + 1}"))
    if len(curve) < 2:
        raise ScheduleError(
            f"{name}, line {header_line}: column {column} has {len(curve)} value, need >= 2"
        )
    return curve


def beta_d_rng(seed: int, salt: int = 0) -> np.random.Generator:
    """The random stream the β_d curves of a library are drawn from (apart from β_c's, so that
    optimising β_d leaves the β_c seeds of the same seed unchanged)."""
    return np.random.default_rng([int(seed), 0xBD, int(salt)])


def fill_beta_d(pairs: np.ndarray, bounds: PairBounds, shares: Mapping[str, int],
                rng: np.random.Generator) -> np.ndarray:
    """``k x 2 x N`` pairs whose NaN β_d curves are replaced by curves drawn from the β_d
    families (:func:`~zbo_gui.core.schedules.library.pair_curves`)."""
    pairs = np.array(pairs, dtype=np.float64)
    missing = np.isnan(pairs[:, 1]).any(axis=1)
    if missing.any():
        pairs[missing] = pair_curves(pairs[missing, 0], bounds.d, shares, rng)
    return pairs


def configured_library(counts: Mapping[str, int], n_epochs: int, bounds: Bounds | PairBounds,
                       seed: int, csv_files: tuple[str, ...] = (),
                       beta_d_families: Mapping[str, int] | None = None) -> ScheduleLibrary:
    """The seed library a configuration describes: its generated families (drawn with
    ``seed``), then every CSV file's curves (family ``csv``) — what ``zbo run`` uses, and the
    window's draft before any edit.

    With :class:`PairBounds` the rows are pairs ``(2, N)``: each β_c curve gets a β_d curve
    drawn from ``beta_d_families`` (a CSV file's own ``beta_d`` column where it has one).

    Raises:
        ScheduleError: a CSV file is missing or holds a bad value (the message names the file,
            the line and the value); nothing at all to draw.
    """
    joint = isinstance(bounds, PairBounds)
    c_bounds = bounds.c if joint else bounds
    parts, families = [], []
    if sum(int(c) for c in counts.values()) > 0:
        generated = generate_library(counts, n_epochs, c_bounds, seed)
        parts.append(open_pairs(generated.schedules) if joint else generated.schedules)
        families += generated.families
    for path in csv_files:
        curves = load_csv(path, n_epochs, pairs=joint)
        parts.append(curves)
        families += ["csv"] * len(curves)
    if not parts:
        raise ScheduleError("the seed library would be empty: set a family count above 0 or"
                            " add a CSV file")
    schedules = np.concatenate(parts)
    if joint:
        schedules = fill_beta_d(schedules, bounds, beta_d_families or {"constant": 1},
                                beta_d_rng(seed))
    return ScheduleLibrary(schedules, tuple(families))
