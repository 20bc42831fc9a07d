"""Tests of the schedule VAE (pyroVED iVAE, trained for real with tiny settings)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from zbo_gui.core.config import ScheduleVAEConfig
from zbo_gui.core.schedule_vae import ScheduleVAE
from zbo_gui.core.schedules import Bounds, generate_library
from zbo_gui.core.types import Controls, EvaluationCancelled, Progress

BOUNDS = Bounds(0.1, 10.0)  # log-scaled (ratio 100)
N = 10
COUNTS = {"cooldown": 10, "warmup": 5, "constant": 5, "exponential": 5, "cyclical": 5}
TINY = ScheduleVAEConfig(epochs=150, lr=1e-2, batch_size=32, hidden=(32, 32))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def library() -> np.ndarray:
    return np.array(generate_library(COUNTS, N, BOUNDS, seed=0).schedules)


@pytest.fixture(scope="module")
def trained(library: np.ndarray) -> ScheduleVAE:
    return ScheduleVAE.train(library, BOUNDS, TINY, seed=0)


def test_training_reduces_reconstruction_error(library: np.ndarray,
                                               trained: ScheduleVAE) -> None:
    untrained = ScheduleVAE.train(library, BOUNDS, ScheduleVAEConfig(
        epochs=1, lr=1e-2, batch_size=32, hidden=(32, 32)), seed=0)
    error = trained.reconstruction_error(library)
    baseline = untrained.reconstruction_error(library)
    assert error < 0.2
    assert error < 0.5 * baseline
    assert len(trained.losses) == TINY.epochs
    assert np.all(np.isfinite(trained.losses))
    assert np.mean(trained.losses[-10:]) < np.mean(trained.losses[:10])
    assert trained.seconds > 0
    assert trained.n_epochs == N


def test_reconstruction_error_is_in_unit_space(library: np.ndarray,
                                               trained: ScheduleVAE) -> None:
    unit = BOUNDS.to_unit(library)
    recon = trained.decode_unit(trained.encode(library))
    expected = float(np.sqrt(np.mean((recon - unit) ** 2)))
    assert trained.reconstruction_error(library) == pytest.approx(expected, rel=1e-9)


def test_encode_and_decode_shapes_and_bounds(library: np.ndarray, trained: ScheduleVAE) -> None:
    z = trained.encode(library)
    assert z.shape == (library.shape[0], 2)
    assert z.dtype == np.float64
    assert np.all(np.isfinite(z))
    assert np.ptp(z, axis=0).min() > 0.05  # the seeds are spread in both latent directions

    far = np.array([[0.0, 0.0], [8.0, -8.0], [-15.0, 3.0], [30.0, 30.0], [0.5, -0.2]])
    decoded = trained.decode(far)
    assert decoded.shape == (5, N)
    assert np.all(decoded >= BOUNDS.lo) and np.all(decoded <= BOUNDS.hi)
    unit = trained.decode_unit(far)
    assert unit.shape == (5, N)
    # decode is decode_unit clipped into [0, 1] and mapped back to β
    np.testing.assert_allclose(decoded, BOUNDS.from_unit(np.clip(unit, 0.0, 1.0)), rtol=1e-12)
    # a single point may be given as a flat (2,) array
    np.testing.assert_allclose(trained.decode_unit(far[1]), unit[1:2], atol=1e-6)


def test_seed_schedules_decode_back_close_to_themselves(library: np.ndarray,
                                                        trained: ScheduleVAE) -> None:
    decoded = trained.decode(trained.encode(library))
    unit_error = np.abs(BOUNDS.to_unit(decoded) - BOUNDS.to_unit(library)).mean(axis=1)
    assert np.median(unit_error) < 0.15


def test_state_round_trip_decodes_identically(library: np.ndarray,
                                              trained: ScheduleVAE) -> None:
    weights = trained.state_arrays()
    meta = trained.meta()
    assert weights and all(isinstance(v, np.ndarray) for v in weights.values())
    rebuilt = ScheduleVAE.from_state(weights, meta)
    z = np.random.default_rng(0).normal(size=(40, 2)) * 2.0
    np.testing.assert_allclose(rebuilt.decode_unit(z), trained.decode_unit(z), atol=1e-6)
    np.testing.assert_allclose(rebuilt.encode(library), trained.encode(library), atol=1e-6)
    assert rebuilt.bounds == trained.bounds
    assert rebuilt.config == trained.config
    assert rebuilt.losses == trained.losses
    assert rebuilt.n_epochs == N
    # the exported arrays are copies: writing to them does not change the model
    for value in weights.values():
        value[...] = 0.0
    np.testing.assert_allclose(rebuilt.decode_unit(z), trained.decode_unit(z), atol=1e-6)


def test_training_is_deterministic_given_the_seed(library: np.ndarray) -> None:
    config = ScheduleVAEConfig(epochs=15, lr=1e-2, batch_size=8, hidden=(16,))
    first = ScheduleVAE.train(library, BOUNDS, config, seed=5)
    second = ScheduleVAE.train(library, BOUNDS, config, seed=5)
    other = ScheduleVAE.train(library, BOUNDS, config, seed=6)
    a, b, c = first.state_arrays(), second.state_arrays(), other.state_arrays()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert first.losses == second.losses
    assert any(not np.array_equal(a[key], c[key]) for key in a)


def test_progress_is_reported_once_per_epoch(library: np.ndarray) -> None:
    reports: list[Progress] = []
    config = ScheduleVAEConfig(epochs=6, lr=1e-2, batch_size=32, hidden=(16,))
    vae = ScheduleVAE.train(library, BOUNDS, config, seed=0,
                            controls=Controls(progress=reports.append))
    assert [r.step for r in reports] == [1, 2, 3, 4, 5, 6]
    assert {r.stage for r in reports} == {"schedule_vae"}
    assert {r.total for r in reports} == {6}
    assert [r.loss for r in reports] == vae.losses


def test_cancel_stops_at_the_next_epoch(library: np.ndarray) -> None:
    cancel = threading.Event()
    reports: list[Progress] = []

    def progress(report: Progress) -> None:
        reports.append(report)
        if report.step == 3:
            cancel.set()

    config = ScheduleVAEConfig(epochs=500, lr=1e-2, batch_size=32, hidden=(16,))
    with pytest.raises(EvaluationCancelled):
        ScheduleVAE.train(library, BOUNDS, config, seed=0,
                          controls=Controls(progress=progress, cancel=cancel))
    assert [r.step for r in reports] == [1, 2, 3]


def test_cancel_before_start_trains_nothing(library: np.ndarray) -> None:
    cancel = threading.Event()
    cancel.set()
    reports: list[Progress] = []
    with pytest.raises(EvaluationCancelled):
        ScheduleVAE.train(library, BOUNDS, TINY, seed=0,
                          controls=Controls(progress=reports.append, cancel=cancel))
    assert reports == []
