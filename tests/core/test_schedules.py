"""Tests of zbo_gui.core.schedules: families, library, bounds, resampling, jitter, CSV, checks."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from zbo_gui.core.errors import ConfigError, ScheduleError
from zbo_gui.core.schedules import (
    FAMILIES,
    Bounds,
    ScheduleLibrary,
    clamp_positive,
    generate_family,
    generate_library,
    jitter,
    load_csv,
    resample,
    validate_schedules,
)

LINEAR = Bounds(0.5, 2.0)
LOG = Bounds(0.01, 10.0)
N = 60


def _family(family: str, bounds: Bounds = LOG, count: int = 200, seed: int = 0) -> np.ndarray:
    return generate_family(family, count, N, bounds, np.random.default_rng(seed))


# ----------------------------------------------------------------------------- Bounds


def test_bounds_log_scale_threshold() -> None:
    assert Bounds(1.0, 10.0).log_scale
    assert not Bounds(1.0, 9.9).log_scale
    assert Bounds(1, 2).lo == 1.0 and isinstance(Bounds(1, 2).lo, float)


@pytest.mark.parametrize("bounds", [LINEAR, LOG], ids=["linear", "log"])
def test_bounds_unit_round_trip(bounds: Bounds) -> None:
    beta = np.random.default_rng(1).uniform(bounds.lo, bounds.hi, (3, 4))
    unit = bounds.to_unit(beta)
    assert unit.shape == (3, 4) and unit.min() >= 0 and unit.max() <= 1
    np.testing.assert_allclose(bounds.from_unit(unit), beta, rtol=1e-12)
    np.testing.assert_allclose(bounds.to_unit(np.array([bounds.lo, bounds.hi])), [0.0, 1.0])
    assert bounds.from_unit(np.array([0.0]))[0] == bounds.lo
    assert bounds.from_unit(np.array([1.0]))[0] == bounds.hi


def test_bounds_log_mapping_is_geometric() -> None:
    mid = LOG.from_unit(np.array(0.5))
    assert mid == pytest.approx(np.sqrt(LOG.lo * LOG.hi))
    assert LINEAR.from_unit(np.array(0.5)) == pytest.approx(1.25)


@pytest.mark.parametrize(
    ("lo", "hi", "message"),
    [
        (-1.0, 1.0, r"beta_lo must be > 0, got -1\.0"),
        (0.0, 1.0, r"beta_lo must be > 0, got 0\.0"),
        (2.0, 1.0, r"beta_hi must be > beta_lo = 2\.0, got 1\.0"),
        (1.0, 1.0, r"beta_hi must be > beta_lo = 1\.0, got 1\.0"),
        (float("nan"), 1.0, r"beta_lo must be finite, got nan"),
        (1.0, float("inf"), r"beta_hi must be finite, got inf"),
        ("a", 1.0, r"beta_lo must be a number, got 'a'"),
    ],
)
def test_bounds_errors_name_the_value(lo: object, hi: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Bounds(lo, hi)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- families


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("bounds", [LINEAR, LOG], ids=["linear", "log"])
def test_family_shape_and_bounds(family: str, bounds: Bounds) -> None:
    schedules = _family(family, bounds, count=50)
    assert schedules.shape == (50, N) and schedules.dtype == np.float64
    assert schedules.min() >= bounds.lo and schedules.max() <= bounds.hi
    validate_schedules(schedules, bounds, tol=0.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_seeded(family: str) -> None:
    np.testing.assert_array_equal(_family(family, seed=3), _family(family, seed=3))
    assert not np.array_equal(_family(family, seed=3), _family(family, seed=4))


@pytest.mark.parametrize("family", FAMILIES)
def test_family_spans_unit_range(family: str) -> None:
    unit = LOG.to_unit(_family(family))
    assert unit.min() < 0.15 and unit.max() > 0.85
    # every curve has its own parameters: no two curves are the same
    assert len(np.unique(unit.round(9), axis=0)) == len(unit)


def test_family_zero_count_and_errors() -> None:
    assert _family("warmup", count=0).shape == (0, N)
    with pytest.raises(ConfigError, match=r"'sketch'.*cooldown"):
        _family("sketch")
    with pytest.raises(ConfigError, match="-1"):
        _family("constant", count=-1)
    with pytest.raises(ConfigError, match="n_epochs must be >= 2, got 1"):
        generate_family("constant", 3, 1, LOG, np.random.default_rng(0))


def test_cooldown_is_non_increasing_and_parameters_independent() -> None:
    curves = _family("cooldown")
    assert np.all(np.diff(curves, axis=1) <= 1e-12 * curves[:, 1:])
    assert np.all(curves[:, 0] > curves[:, -1])
    start, stop = LOG.to_unit(curves[:, 0]), LOG.to_unit(curves[:, -1])
    hold = np.argmax(curves != curves[:, :1], axis=1)  # epochs held at the start value
    ramp_end = N - np.argmax((curves != curves[:, -1:])[:, ::-1], axis=1)
    ramp = ramp_end - hold
    features = np.corrcoef([start, stop, hold, ramp])
    assert abs(features[0, 2]) < 0.5  # start value vs hold length
    assert abs(features[1, 2]) < 0.5  # stop value vs hold length
    assert abs(features[0, 3]) < 0.5  # start value vs ramp length
    # a family swept by one shared index would be 1-D: three eigenvalues near 0
    assert np.linalg.eigvalsh(features).min() > 0.2


def test_warmup_is_non_decreasing() -> None:
    curves = _family("warmup")
    assert np.all(np.diff(curves, axis=1) >= -1e-12 * curves[:, 1:])
    assert np.all(curves[:, -1] > curves[:, 0])


def test_exponential_decays() -> None:
    curves = _family("exponential")
    assert np.all(np.diff(curves, axis=1) <= 1e-12 * curves[:, 1:])
    assert np.all(curves[:, 0] > curves[:, -1])


def test_constant_is_constant() -> None:
    curves = _family("constant")
    assert np.all(curves == curves[:, :1])
    assert np.unique(curves[:, 0]).size == len(curves)


def test_cyclical_restarts_at_most_five_times() -> None:
    curves = _family("cyclical")
    drops = (np.diff(curves, axis=1) < 0).sum(axis=1)
    assert drops.min() == 0 and drops.max() == 5  # 1..6 cycles
    np.testing.assert_array_equal(curves[:, 0], curves.min(axis=1))


def test_periodic_is_rescaled_into_a_wide_sub_interval() -> None:
    unit = LOG.to_unit(_family("periodic"))
    assert np.all(unit.max(axis=1) - unit.min(axis=1) >= 0.2 - 1e-9)
    # oscillates: most curves change direction at least once
    turns = (np.diff(np.sign(np.diff(unit, axis=1)), axis=1) != 0).sum(axis=1)
    assert np.mean(turns > 0) > 0.8


# ----------------------------------------------------------------------------- library


def test_library_is_deterministic_and_order_free() -> None:
    a = generate_library({"constant": 2, "cooldown": 3}, N, LOG, seed=7)
    b = generate_library({"cooldown": 3, "constant": 2}, N, LOG, seed=7)
    np.testing.assert_array_equal(a.schedules, b.schedules)
    assert a.families == ("cooldown",) * 3 + ("constant",) * 2
    assert len(a) == 5 and a.n_epochs == N
    c = generate_library({"constant": 2, "cooldown": 3}, N, LOG, seed=8)
    assert not np.array_equal(a.schedules, c.schedules)


def test_library_family_streams_are_independent() -> None:
    a = generate_library({"cooldown": 3, "warmup": 4}, N, LOG, seed=1)
    b = generate_library({"cooldown": 10, "warmup": 4}, N, LOG, seed=1)
    np.testing.assert_array_equal(a.subset("warmup").schedules, b.subset("warmup").schedules)


@pytest.mark.parametrize(
    ("counts", "n_epochs", "message"),
    [
        ({"bogus": 1}, N, r"\['bogus'\].*cooldown, segmented"),
        ({"cooldown": -2}, N, r"'cooldown'.*got -2"),
        ({"cooldown": 0}, N, "at least one schedule"),
        ({}, N, "at least one schedule"),
        ({"cooldown": 1}, 1, "n_epochs must be >= 2, got 1"),
        ({"cooldown": 1.5}, N, "integer, got 1.5"),
    ],
)
def test_library_errors(counts: dict, n_epochs: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_library(counts, n_epochs, LOG, seed=0)


def test_library_helpers() -> None:
    lib = generate_library({"cyclical": 2, "constant": 1}, N, LINEAR, seed=0)
    sketch = ScheduleLibrary(np.ones((1, N)), ("sketch",))
    both = lib.concat(sketch)
    assert len(both) == 4 and both.families[-1] == "sketch"
    np.testing.assert_array_equal(both.subset("cyclical").schedules, lib.schedules[:2])
    assert len(both.subset("warmup")) == 0
    assert not both.schedules.flags.writeable
    with pytest.raises(ScheduleError, match="N = 5"):
        lib.concat(ScheduleLibrary(np.ones((1, 5)), ("csv",)))
    with pytest.raises(ConfigError, match="'nope'"):
        lib.subset("nope")


@pytest.mark.parametrize(
    ("schedules", "families", "message"),
    [
        (np.ones((2, N)), ("constant",), "2 schedules but 1 family"),
        (np.ones((1, N)), ("nope",), r"\['nope'\]"),
        (np.ones(N), (), r"got \(60,\)"),
        (np.zeros((1, N)), ("csv",), "schedule 0, epoch 0: beta = 0.0"),
    ],
)
def test_library_validation(schedules: np.ndarray, families: tuple, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        ScheduleLibrary(schedules, families)


# ----------------------------------------------------------------------------- resample, jitter


def test_resample_interpolates_linearly() -> None:
    np.testing.assert_allclose(resample(np.array([1.0, 3.0]), 5), [1.0, 1.5, 2.0, 2.5, 3.0])
    np.testing.assert_allclose(resample(np.linspace(0, 10, 11), 6), np.linspace(0, 10, 6))
    curve = np.random.default_rng(0).uniform(1, 2, 17)
    np.testing.assert_array_equal(resample(curve, 17), curve)
    out = resample(curve, 100)
    assert out.shape == (100,) and out[0] == curve[0] and out[-1] == curve[-1]
    np.testing.assert_array_equal(resample(np.array([4.0]), 3), [4.0, 4.0, 4.0])


def test_resample_errors() -> None:
    with pytest.raises(ScheduleError, match=r"shape \(2, 2\)"):
        resample(np.ones((2, 2)), 5)
    with pytest.raises(ScheduleError, match=r"shape \(0,\)"):
        resample(np.array([]), 5)
    with pytest.raises(ScheduleError, match="value 1 is nan"):
        resample(np.array([1.0, np.nan]), 5)
    with pytest.raises(ConfigError, match="n must be >= 2, got 1"):
        resample(np.ones(3), 1)


def test_jitter_is_bounded_seeded_and_close() -> None:
    curve = LOG.from_unit(np.linspace(0.2, 0.8, 100))
    variants = jitter(curve, 20, LOG, np.random.default_rng(5), scale=0.05)
    assert variants.shape == (20, 100) and variants.dtype == np.float64
    assert variants.min() >= LOG.lo and variants.max() <= LOG.hi
    np.testing.assert_array_equal(variants, jitter(curve, 20, LOG, np.random.default_rng(5)))
    assert not np.array_equal(variants, jitter(curve, 20, LOG, np.random.default_rng(6)))
    delta = LOG.to_unit(variants) - LOG.to_unit(curve)
    rms = np.sqrt(np.mean(delta**2, axis=1))
    assert np.all(rms <= 0.05 + 1e-9) and np.all(rms > 0.01)
    # smooth: step-to-step changes are far smaller than the perturbation itself (white noise: 1.4x)
    assert np.all(np.std(np.diff(delta, axis=1), axis=1) < 0.3 * np.std(delta, axis=1))
    # perturbations differ between variants
    assert np.corrcoef(delta).min() < 0.5


def test_jitter_edge_cases() -> None:
    curve = np.array([0.001, 1.0, 100.0])  # outside LOG at both ends: clipped into the bounds
    out = jitter(curve, 4, LOG, np.random.default_rng(0), scale=0.0)
    np.testing.assert_allclose(out, np.tile([LOG.lo, 1.0, LOG.hi], (4, 1)), rtol=1e-12)
    assert jitter(curve, 0, LOG, np.random.default_rng(0)).shape == (0, 3)
    with pytest.raises(ConfigError, match="got -1"):
        jitter(curve, -1, LOG, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"got -0\.1"):
        jitter(curve, 2, LOG, np.random.default_rng(0), scale=-0.1)
    with pytest.raises(ScheduleError, match="not finite"):
        jitter(np.array([1.0, np.inf]), 2, LOG, np.random.default_rng(0))


# ----------------------------------------------------------------------------- CSV


def test_load_csv_rows_round_trip(tmp_path: Path) -> None:
    schedules = _family("segmented", count=3)
    path = tmp_path / "rows.csv"
    np.savetxt(path, schedules, delimiter=",")
    np.testing.assert_array_equal(load_csv(path, N), schedules)
    resampled = load_csv(str(path), 2 * N - 1)
    assert resampled.shape == (3, 2 * N - 1)
    np.testing.assert_array_equal(resampled[:, ::2], schedules)  # old epochs kept exactly


def test_load_csv_rows_with_header_and_ragged_rows(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["e0", "e1", "e2", "e3", "e4"])
        writer.writerow([1.0, 2.0, 3.0])
        writer.writerow([])
        writer.writerow([5.0, 4.0, 3.0, 2.0, 1.0])
    out = load_csv(path, 5)
    np.testing.assert_allclose(out, [[1.0, 1.5, 2.0, 2.5, 3.0], [5.0, 4.0, 3.0, 2.0, 1.0]])


def test_load_csv_column_layout(tmp_path: Path) -> None:
    beta_c = _family("cooldown", count=1)[0]
    path = tmp_path / "export.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "beta_c", "beta_d"])
        writer.writerows([e, repr(float(b)), 1.0] for e, b in enumerate(beta_c))
    np.testing.assert_array_equal(load_csv(path, N), beta_c[None, :])
    # the same through np.savetxt, whose header line starts with "# "
    other = tmp_path / "savetxt.csv"
    table = np.column_stack([np.arange(N), beta_c, np.full(N, 3.0)])
    np.savetxt(other, table, delimiter=",", header="epoch,beta_c,beta_d")
    np.testing.assert_array_equal(load_csv(other, N), beta_c[None, :])
    assert load_csv(other, 10).shape == (1, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3\n4,x,6\n", r"bad\.csv, line 2, column 2: 'x' is not a number"),
        ("1,2,3\n5\n", r"bad\.csv, line 2: 1 value"),
        ("1,2\n3,nan\n", r"bad\.csv, line 2, column 2: 'nan' is not finite"),
        ("1,inf\n", r"bad\.csv, line 1, column 2: 'inf' is not finite"),
        ("1,2\n\n0,3\n", r"bad\.csv, line 3, column 1: beta = 0\.0 is not > 0"),
        ("a,b\n1,-2\n", r"bad\.csv, line 2, column 2: beta = -2\.0 is not > 0"),
        ("epoch,beta_c,beta_d\n0,1,1\n1,-2,1\n", r"bad\.csv, line 3, column 2: beta = -2\.0"),
        ("epoch,beta_c\n0,abc\n", r"bad\.csv, line 2, column 2: 'abc' is not a number"),
        ("epoch,beta_c\n0,1\n1\n", r"bad\.csv, line 3: no beta_c value"),
        ("epoch,beta_c\n0,1\n", r"bad\.csv, line 1: column beta_c has 1 value"),
        ("epoch,beta_c\n", r"bad\.csv, line 1: a header but no values"),
        ("", r"bad\.csv: the file is empty"),
        ("\n  \n", r"bad\.csv: the file is empty"),
    ],
)
def test_load_csv_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ScheduleError, match=message):
        load_csv(path, 10)


def test_load_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match=r"missing\.csv: file not found"):
        load_csv(tmp_path / "missing.csv", 10)
    with pytest.raises(ScheduleError, match="cannot read"):
        load_csv(tmp_path, 10)  # a directory


# ----------------------------------------------------------------------------- checks


def test_validate_schedules_accepts_good_schedules_within_tolerance() -> None:
    schedules = np.full((3, 5), 1.0)
    schedules[0, 0] = LINEAR.hi * (1 + 1e-9)
    schedules[1, 1] = LINEAR.lo * (1 - 1e-9)
    validate_schedules(schedules, LINEAR)


@pytest.mark.parametrize(
    ("row", "epoch", "value", "message"),
    [
        (3, 17, -0.2, r"schedule 3, epoch 17: beta = -0\.2 is not > 0"),
        (1, 2, 0.0, r"schedule 1, epoch 2: beta = 0\.0 is not > 0"),
        (0, 4, np.nan, r"schedule 0, epoch 4: beta = nan is not finite"),
        (2, 0, -np.inf, r"schedule 2, epoch 0: beta = -inf is not finite"),
        (4, 19, 2.5, r"schedule 4, epoch 19: beta = 2\.5 is outside the bounds \[0\.5, 2\.0\]"),
        (4, 19, 0.4, r"schedule 4, epoch 19: beta = 0\.4 is outside the bounds"),
    ],
)
def test_validate_schedules_names_the_bad_value(
    row: int, epoch: int, value: float, message: str
) -> None:
    schedules = np.ones((5, 20))
    schedules[row, epoch] = value
    with pytest.raises(ScheduleError, match=message):
        validate_schedules(schedules, LINEAR)


def test_validate_schedules_shape_and_count() -> None:
    with pytest.raises(ScheduleError, match=r"got shape \(4,\)"):
        validate_schedules(np.ones(4), LINEAR)
    schedules = np.ones((3, 4))
    schedules[1:, 2] = 9.0
    with pytest.raises(ScheduleError, match=r"schedule 1, epoch 2.*2 such values in 2 schedules"):
        validate_schedules(schedules, LINEAR)
    with pytest.raises(ConfigError, match="got -1"):
        validate_schedules(np.ones((1, 2)), LINEAR, tol=-1)


def test_clamp_positive() -> None:
    schedules = np.array([[0.0, 1e-9, 0.5], [-1.0, 2.0, 3.0]])
    out = clamp_positive(schedules)
    np.testing.assert_array_equal(out, [[1e-6, 1e-6, 0.5], [1e-6, 2.0, 3.0]])
    assert schedules[0, 0] == 0.0  # input untouched
    assert clamp_positive(np.zeros(3), floor=0.1).tolist() == [0.1, 0.1, 0.1]
    with pytest.raises(ScheduleError, match=r"index \(1, 2\) is nan"):
        clamp_positive(np.array([[1.0, 1.0, 1.0], [1.0, 1.0, np.nan]]))
    with pytest.raises(ConfigError, match="got 0"):
        clamp_positive(schedules, floor=0.0)
