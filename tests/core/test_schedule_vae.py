"""Tests of the schedule VAE (pyroVED iVAE, trained for real with tiny settings)."""

from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pytest
import torch

from zbo_gui.core.config import ScheduleVAEConfig
from zbo_gui.core.schedule_vae import ScheduleVAE, TrainingCheckpoint, _flatten, _unflatten
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


# --- checkpoint and resume -----------------------------------------------------------------------

CP_N = 8
CP_COUNTS = {"cooldown": 4, "warmup": 4, "constant": 4}  # 12 schedules
# batches of 5: three shuffled batches per epoch, the last one short
CP_CONFIG = ScheduleVAEConfig(epochs=30, lr=1e-2, batch_size=5, hidden=(16, 16))
CP_SEED = 3


@pytest.fixture(scope="module")
def cp_library() -> np.ndarray:
    return np.array(generate_library(CP_COUNTS, CP_N, BOUNDS, seed=0).schedules)


@pytest.fixture(scope="module")
def uninterrupted(cp_library: np.ndarray) -> tuple[ScheduleVAE, torch.Tensor]:
    """A plain training (no checkpoint arguments) and the torch RNG state it leaves."""
    torch.manual_seed(12345)
    vae = ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED)
    return vae, torch.get_rng_state().clone()


@pytest.fixture(scope="module")
def checkpoints(cp_library: np.ndarray) -> dict[int, TrainingCheckpoint]:
    """A checkpoint after every epoch of the same training, by epoch."""
    made: list[TrainingCheckpoint] = []
    ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED, checkpoint=made.append,
                      checkpoint_every=1)
    return {cp.epoch: cp for cp in made}


def _through_file(cp: TrainingCheckpoint) -> TrainingCheckpoint:
    """What a campaign file gives back: plain array copies and meta through JSON text."""
    arrays = {name: np.array(value, copy=True) for name, value in cp.arrays.items()}
    for value in arrays.values():
        value.flags.writeable = False  # h5py-like read-only arrays must do
    return TrainingCheckpoint(cp.epoch, arrays, json.loads(json.dumps(cp.meta, allow_nan=False)))


def _assert_same_weights(a: ScheduleVAE, b: ScheduleVAE) -> None:
    wa, wb = a.state_arrays(), b.state_arrays()
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key])


def test_flatten_round_trips_a_nested_state_through_json() -> None:
    state = {
        "weights": {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)},
        "optim": {0: {"step": torch.tensor(7.0), "exp_avg": torch.ones(3, dtype=torch.float64)},
                  1: {"count": torch.tensor([1, 2], dtype=torch.int64),
                      "mask": torch.tensor([True, False])}},
        "groups": [{"lr": 0.01, "betas": (0.9, 0.999), "amsgrad": False, "foreach": None,
                    "params": [0, 1], "name": "adam"}],
        "rng": torch.get_rng_state(),
        "plain": np.array([[1, 2]], dtype=np.uint16),
        "a/b": torch.zeros(1), "": torch.ones(1), ".": torch.ones(2), "..": [torch.ones(3)],
    }
    skeleton, arrays = _flatten(state)
    for name, value in arrays.items():
        assert isinstance(value, np.ndarray)
        assert name and "/" not in name and name not in (".", "..")
    back = _unflatten(json.loads(json.dumps(skeleton)), arrays)

    assert back.keys() == state.keys()
    assert list(back["optim"]) == [0, 1]  # int keys stay int (torch optimiser state needs it)
    assert back["groups"] == state["groups"]  # scalars, None, bools and the tuple survive
    assert isinstance(back["groups"][0]["betas"], tuple)
    step = back["optim"][0]["step"]
    assert isinstance(step, torch.Tensor) and step.dtype == torch.float32 and step.shape == ()
    assert step.item() == 7.0
    for original, restored in [
        (state["weights"]["layer.weight"], back["weights"]["layer.weight"]),
        (state["optim"][0]["exp_avg"], back["optim"][0]["exp_avg"]),
        (state["optim"][1]["count"], back["optim"][1]["count"]),
        (state["optim"][1]["mask"], back["optim"][1]["mask"]),
        (state["rng"], back["rng"]),
        (state["a/b"], back["a/b"]), (state[""], back[""]), (state["."], back["."]),
        (state[".."][0], back[".."][0]),
    ]:
        assert isinstance(restored, torch.Tensor)
        assert restored.dtype == original.dtype
        assert torch.equal(restored, original)
    assert isinstance(back["plain"], np.ndarray) and back["plain"].dtype == np.uint16
    np.testing.assert_array_equal(back["plain"], state["plain"])

    # the arrays are copies, both ways
    state["weights"]["layer.weight"].add_(1.0)
    assert arrays["weights.layer.weight"][0, 0] == 0.0
    back["optim"][0]["exp_avg"].add_(1.0)
    assert np.all(arrays["optim.0.exp_avg"] == 1.0)


def test_unflatten_refuses_a_missing_or_changed_array() -> None:
    skeleton, arrays = _flatten({"x": torch.zeros(3), "y": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="lacks"):
        _unflatten(skeleton, {k: v for k, v in arrays.items() if k != "x"})
    with pytest.raises(ValueError, match="expected"):
        _unflatten(skeleton, {**arrays, "x": np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match="expected"):
        _unflatten(skeleton, {**arrays, "y": np.float64(1.0) * np.ones(())})
    with pytest.raises(ValueError, match="malformed"):
        _unflatten({"what": 1}, arrays)


def test_flatten_refuses_what_it_cannot_store() -> None:
    with pytest.raises(TypeError, match="object"):
        _flatten({"x": object()})
    with pytest.raises(TypeError, match="key"):
        _flatten({(1, 2): 0})
    with pytest.raises(TypeError, match="bfloat16"):
        _flatten([torch.zeros(2, dtype=torch.bfloat16)])


def test_checkpoints_come_every_k_epochs_and_do_not_change_the_training(
        cp_library: np.ndarray, uninterrupted: tuple[ScheduleVAE, torch.Tensor]) -> None:
    made: list[TrainingCheckpoint] = []
    vae = ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED, checkpoint=made.append,
                            checkpoint_every=10)
    assert [cp.epoch for cp in made] == [10, 20]  # none after the last epoch (30)
    _assert_same_weights(vae, uninterrupted[0])
    assert vae.losses == uninterrupted[0].losses
    for cp in made:
        assert cp.meta["losses"] == vae.losses[:cp.epoch]
        assert cp.meta["seconds"] > 0
        json.dumps(cp.meta, allow_nan=False)
        for name, value in cp.arrays.items():
            assert isinstance(value, np.ndarray)
            assert name and "/" not in name and name not in (".", "..")

    made.clear()
    ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED, checkpoint=made.append,
                      checkpoint_every=7)
    assert [cp.epoch for cp in made] == [7, 14, 21, 28]
    made.clear()
    ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED, checkpoint=made.append)
    assert made == []  # checkpoint_every=0: none
    with pytest.raises(ValueError, match="checkpoint_every"):
        ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED, checkpoint=made.append,
                          checkpoint_every=-1)


def test_checkpoint_holds_weights_adam_state_and_torch_rng(
        checkpoints: dict[int, TrainingCheckpoint]) -> None:
    cp = checkpoints[13]
    names = set(cp.arrays)
    assert "torch_rng" in names and cp.arrays["torch_rng"].dtype == np.uint8
    assert any(n.startswith("model.encoder_z.") for n in names)
    assert any(n.startswith("model.decoder.") for n in names)
    steps = [n for n in names if n.startswith("optim.") and n.endswith(".step")]
    moments = [n for n in names if n.endswith(".exp_avg") or n.endswith(".exp_avg_sq")]
    n_weights = sum(n.startswith("model.") for n in names)
    assert len(steps) == n_weights and len(moments) == 2 * n_weights
    # 12 schedules in batches of 5: three Adam steps per epoch
    assert {float(cp.arrays[n]) for n in steps} == {13 * 3.0}


@pytest.mark.parametrize("k", [1, 13, 29])
def test_resumed_training_equals_the_uninterrupted_one(
        k: int, cp_library: np.ndarray, uninterrupted: tuple[ScheduleVAE, torch.Tensor],
        checkpoints: dict[int, TrainingCheckpoint]) -> None:
    full, rng_after = uninterrupted
    torch.manual_seed(k + 777)  # a resuming process's torch RNG is anything
    resumed = ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED,
                                resume=_through_file(checkpoints[k]))
    _assert_same_weights(resumed, full)
    assert resumed.losses == full.losses
    assert torch.equal(torch.get_rng_state(), rng_after)  # the RNG continues as uninterrupted
    assert resumed.seconds >= checkpoints[k].meta["seconds"]


def test_a_resumed_training_makes_the_same_later_checkpoints(
        cp_library: np.ndarray, checkpoints: dict[int, TrainingCheckpoint]) -> None:
    """A campaign killed twice resumes from a checkpoint written by a resumed training."""
    made: list[TrainingCheckpoint] = []
    ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED,
                      resume=_through_file(checkpoints[8]), checkpoint=made.append,
                      checkpoint_every=5)
    assert [cp.epoch for cp in made] == [10, 15, 20, 25]
    for cp in made:
        original = checkpoints[cp.epoch]
        assert cp.arrays.keys() == original.arrays.keys()
        for name in cp.arrays:
            np.testing.assert_array_equal(cp.arrays[name], original.arrays[name])
        assert cp.meta["losses"] == original.meta["losses"]
        assert cp.meta["state"] == original.meta["state"]


def test_progress_after_a_resume_continues_from_the_checkpoint(
        cp_library: np.ndarray, uninterrupted: tuple[ScheduleVAE, torch.Tensor],
        checkpoints: dict[int, TrainingCheckpoint]) -> None:
    reports: list[Progress] = []
    ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, seed=CP_SEED,
                      controls=Controls(progress=reports.append),
                      resume=_through_file(checkpoints[22]))
    assert [r.step for r in reports] == list(range(23, 31))
    assert {r.total for r in reports} == {30}
    assert [r.loss for r in reports] == uninterrupted[0].losses[22:]
    assert reports[0].message == "schedule VAE epoch 23/30"


@pytest.mark.parametrize("change", [
    "seed", "lr", "epochs", "hidden", "batch_size", "decoder_sig", "schedules", "n_schedules",
    "bounds",
])
def test_a_checkpoint_of_another_training_is_refused(
        change: str, cp_library: np.ndarray,
        checkpoints: dict[int, TrainingCheckpoint]) -> None:
    schedules, bounds, config, seed = cp_library.copy(), BOUNDS, CP_CONFIG, CP_SEED
    if change == "seed":
        seed = CP_SEED + 1
    elif change == "schedules":
        schedules[3, 2] = schedules[3, 2] * 1.01
    elif change == "n_schedules":
        schedules = schedules[:-1]
    elif change == "bounds":
        bounds = Bounds(0.1, 20.0)
    else:
        value = {"lr": 2e-2, "epochs": 31, "hidden": (16, 8), "batch_size": 4,
                 "decoder_sig": 0.2}[change]
        config = dataclasses.replace(CP_CONFIG, **{change: value})
    reports: list[Progress] = []
    with pytest.raises(ValueError, match="another schedule-VAE training"):
        ScheduleVAE.train(schedules, bounds, config, seed,
                          controls=Controls(progress=reports.append),
                          resume=_through_file(checkpoints[10]))
    assert reports == []


def test_a_damaged_checkpoint_is_refused(cp_library: np.ndarray,
                                         checkpoints: dict[int, TrainingCheckpoint]) -> None:
    cp = _through_file(checkpoints[10])

    def refused(damaged: TrainingCheckpoint, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            ScheduleVAE.train(cp_library, BOUNDS, CP_CONFIG, CP_SEED, resume=damaged)

    refused(TrainingCheckpoint(11, cp.arrays, cp.meta), "losses")
    refused(TrainingCheckpoint(30, cp.arrays, {**cp.meta, "losses": [1.0] * 30}), "epoch")
    refused(TrainingCheckpoint(10, cp.arrays, {**cp.meta, "format": 99}), "format")
    refused(TrainingCheckpoint(10, cp.arrays, {}), "format")
    missing = {k: v for k, v in cp.arrays.items() if k != "torch_rng"}
    refused(TrainingCheckpoint(10, missing, cp.meta), "torch_rng")
    no_state = {k: v for k, v in cp.meta.items() if k != "state"}
    refused(TrainingCheckpoint(10, cp.arrays, no_state), "damaged")


def test_a_vae_of_schedule_pairs_encodes_both_curves_and_round_trips(library: np.ndarray) -> None:
    """β_c and β_d curves, each normalised on its own scale, in one 2-D latent space."""
    from zbo_gui.core.schedules import PairBounds

    beta_d = PairBounds(BOUNDS, Bounds(0.1, 3.0))
    d_curves = np.array(generate_library(COUNTS, N, beta_d.d, seed=1).schedules)
    pairs = np.stack([library, d_curves[::-1]], axis=1)  # (S, 2, N)
    unit = beta_d.to_unit(pairs)
    assert unit.shape == (len(library), 2 * N) and unit.min() >= 0 and unit.max() <= 1
    np.testing.assert_allclose(beta_d.from_unit(unit), pairs, rtol=1e-12)
    vae = ScheduleVAE.train(pairs, beta_d, TINY, seed=0)
    assert vae.n_epochs == N
    z = vae.encode(pairs)
    decoded = vae.decode(z)
    assert z.shape == (len(library), 2) and decoded.shape == (len(library), 2, N)
    assert decoded[:, 0].min() >= BOUNDS.lo and decoded[:, 0].max() <= BOUNDS.hi
    assert decoded[:, 1].min() >= 0.1 and decoded[:, 1].max() <= 3.0
    assert vae.reconstruction_error(pairs) < 0.2
    rebuilt = ScheduleVAE.from_state(vae.state_arrays(), json.loads(json.dumps(vae.meta())))
    assert isinstance(rebuilt.bounds, PairBounds) and rebuilt.bounds.d == beta_d.d
    np.testing.assert_array_equal(rebuilt.decode(z), decoded)
    with pytest.raises(ValueError, match="2, N"):
        beta_d.to_unit(library)  # β_c schedules alone are not pairs
