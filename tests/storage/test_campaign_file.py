"""Tests of the campaign file: round trips, append-only semantics, errors, migration."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from tests.fixtures import make_fixtures as fx
from zbo_gui.core.config import stored_config_from_toml
from zbo_gui.core.errors import CampaignFileError
from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.core.types import Evaluation, EvaluationStatus, ObjectiveResult, ProposalSource
from zbo_gui.storage import _evaluations
from zbo_gui.storage.campaign_file import FORMAT_VERSION, MIGRATIONS, STAGES, CampaignStore

CONFIG = fx.CONFIG_TOML


# ---------------------------------------------------------------------------- helpers
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)  # NaNs at the same places compare equal


def assert_same_float(a: float, b: float) -> None:
    assert type(a) is float and type(b) is float
    assert a == b or (np.isnan(a) and np.isnan(b))


def assert_same_replicate(a: ObjectiveResult, b: ObjectiveResult) -> None:
    assert type(a.seed) is int and a.seed == b.seed
    for name in ("value", "l1", "l2", "accuracy", "nmi", "train_seconds", "score_seconds"):
        assert_same_float(getattr(a, name), getattr(b, name))
    for name in ("loss_curve", "class_usage", "class_intensity", "manifolds"):
        assert_same_array(getattr(a, name), getattr(b, name))


def assert_same_evaluation(a: Evaluation, b: Evaluation) -> None:
    assert type(a.index) is int and a.index == b.index
    assert a.status is b.status and a.message == b.message and a.worker == b.worker
    for name in ("objective", "started", "seconds"):
        assert_same_float(getattr(a, name), getattr(b, name))
    pa, pb = a.proposal, b.proposal
    assert type(pa.grid_index) is int and pa.grid_index == pb.grid_index
    assert pa.source is pb.source
    assert_same_array(pa.z, pb.z)
    assert_same_array(pa.schedule, pb.schedule)
    assert_same_float(pa.acquisition, pb.acquisition)
    assert_same_float(pa.max_ei, pb.max_ei)
    assert len(a.replicates) == len(b.replicates)
    for ra, rb in zip(a.replicates, b.replicates, strict=True):
        assert_same_replicate(ra, rb)


def assert_same_evaluations(got: list[Evaluation], expected: list[Evaluation]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert_same_evaluation(a, b)


def assert_same_grid(a: LatentGrid, b: LatentGrid) -> None:
    for name in ("x", "y", "points", "decoded", "feasible", "seed_z"):
        assert_same_array(getattr(a, name), getattr(b, name))


def assert_campaign_contents(store: CampaignStore, contents: dict[str, Any]) -> None:
    images, labels, fingerprint, source = store.read_dataset()
    assert_same_array(images, contents["images"])
    assert_same_array(labels, contents["labels"])
    assert (fingerprint, source) == (contents["fingerprint"], contents["source"])
    schedules, families = store.read_seeds()
    assert_same_array(schedules, contents["schedules"])
    assert families == contents["families"]
    weights, meta = store.read_schedule_vae()
    assert list(weights) == list(contents["weights"])
    for name, array in contents["weights"].items():
        assert_same_array(weights[name], array)
    assert meta == contents["meta"]
    assert_same_grid(store.read_grid(), contents["grid"])
    assert_same_evaluations(store.read_evaluations(), contents["evaluations"])
    name, arrays, final_meta = contents["final"]
    result = store.read_final(name)
    assert result is not None
    assert list(result[0]) == list(arrays)
    for key, array in arrays.items():
        assert_same_array(result[0][key], array)
    assert result[1] == final_meta
    pending = store.read_pending()
    assert [p.ticket for p in pending] == [p.ticket for p in contents.get("pending", [])]
    for got, want in zip(pending, contents.get("pending", []), strict=True):
        assert (got.started, got.worker) == (want.started, want.worker)
        assert_same_evaluation(Evaluation(0, got.proposal, EvaluationStatus.FAILED, 0.0),
                               Evaluation(0, want.proposal, EvaluationStatus.FAILED, 0.0))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "campaign.h5"


@pytest.fixture
def store(path: Path):
    with CampaignStore.create(path, CONFIG, "1.2.3") as s:
        yield s


# ---------------------------------------------------------------------------- create / header
def test_create_writes_header_and_config(path: Path) -> None:
    with CampaignStore.create(path, CONFIG, "1.2.3") as s:
        assert s.path == path and s.writable
    with CampaignStore.open(path) as s:
        assert s.config_toml == CONFIG
        assert s.app_version == "1.2.3"
        assert s.format_version == FORMAT_VERSION and s.migrated_from is None
        created = datetime.fromisoformat(s.created)
        assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
        assert not any(s.has(stage) for stage in STAGES)
        assert s.read_evaluations() == [] and s.n_evaluations == 0
        assert s.read_final("final_model") is None
    with h5py.File(path, "r") as f:
        assert f.attrs["kind"] == "zbo-campaign"
        assert f.attrs["format_version"] == FORMAT_VERSION
        assert f["config"][()].tobytes().decode("utf-8") == CONFIG
        datasets: list[h5py.Dataset] = []
        f.visititems(lambda _, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset)
                     else None)
        assert {d.name for d in datasets if not d.fletcher32} == {"/writer"}


def test_create_refuses_existing_file_and_leaves_it_identical(path: Path) -> None:
    CampaignStore.create(path, CONFIG, "1").close()
    before = sha256(path)
    with pytest.raises(CampaignFileError, match="already exists; use `zbo resume` or --overwrite"):
        CampaignStore.create(path, "other = 1\n", "2")
    assert sha256(path) == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_create_overwrite_replaces_a_campaign_file(path: Path) -> None:
    CampaignStore.create(path, "old = 1\n", "1").close()
    with CampaignStore.create(path, CONFIG, "2", overwrite=True) as s:
        assert s.app_version == "2"
    with CampaignStore.open(path) as s:
        assert s.config_toml == CONFIG
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


@pytest.mark.parametrize("content", [b"not a campaign", None])
def test_overwrite_refuses_what_is_not_a_campaign_file(path: Path, content: bytes | None
                                                       ) -> None:
    if content is None:  # an HDF5 file of somebody's data
        with h5py.File(path, "w") as f:
            f["images"] = np.zeros((3, 4, 4))
    else:
        path.write_bytes(content)
    before = sha256(path)
    with pytest.raises(CampaignFileError, match="not a zbo campaign file; --overwrite"):
        CampaignStore.create(path, CONFIG, "2", overwrite=True)
    assert sha256(path) == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_create_onto_a_folder_is_refused(tmp_path: Path) -> None:
    for overwrite in (False, True):
        with pytest.raises(CampaignFileError, match="is a folder") as info:
            CampaignStore.create(tmp_path, CONFIG, "1", overwrite=overwrite)
        assert str(tmp_path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_create_in_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "c.h5"
    with pytest.raises(CampaignFileError, match="does not exist") as info:
        CampaignStore.create(target, CONFIG, "1")
    assert str(target) in str(info.value)


# ---------------------------------------------------------------------------- stages
@pytest.mark.parametrize("with_labels", [True, False])
def test_dataset_round_trip(store: CampaignStore, rng: np.random.Generator,
                            with_labels: bool) -> None:
    images = rng.random((30, 8, 9)).astype(np.float32)
    labels = rng.integers(0, 4, 30).astype(np.int64) if with_labels else None
    store.write_dataset(images, labels, "sha256:ff", "/data/x.npy")
    assert store.has("dataset")
    got_images, got_labels, fingerprint, source = store.read_dataset()
    assert_same_array(got_images, images)
    if with_labels:
        assert_same_array(got_labels, labels)
    else:
        assert got_labels is None
    assert (fingerprint, source) == ("sha256:ff", "/data/x.npy")
    assert store._h5["dataset/images"].compression == "gzip"


def test_seeds_round_trip(store: CampaignStore, rng: np.random.Generator) -> None:
    schedules = rng.random((4, 20))
    families = ["cooldown", "sketch", "csv:β-file.csv", "constant"]
    store.write_seeds(schedules, families)
    got, got_families = store.read_seeds()
    assert_same_array(got, schedules)
    assert got_families == tuple(families)


def test_schedule_vae_round_trip_keeps_names_order_dtypes(store: CampaignStore,
                                                          rng: np.random.Generator) -> None:
    weights = {
        "encoder_z.fc_layers.0.weight": rng.normal(size=(16, 20)).astype(np.float32),
        "encoder_z.fc_layers.0.bias": rng.normal(size=16).astype(np.float32),
        "decoder_net.fc_layers.1.weight": rng.normal(size=(20, 16)),
        "a.num_batches_tracked": np.array(3, dtype=np.int64),
    }
    meta = {"normaliser": {"kind": "log", "lo": np.float64(0.1), "hi": 10.0},
            "losses": np.array([3.0, 2.0]), "epochs": np.int64(2), "error": float("nan")}
    store.write_schedule_vae(weights, meta)
    got, got_meta = store.read_schedule_vae()
    assert list(got) == list(weights)
    for name, array in weights.items():
        assert_same_array(got[name], array)
    assert got_meta["normaliser"] == {"kind": "log", "lo": 0.1, "hi": 10.0}
    assert got_meta["losses"] == [3.0, 2.0] and got_meta["epochs"] == 2
    assert np.isnan(got_meta["error"])
    group = store._h5["schedule_vae/weights"]  # plain numeric arrays, nothing pickled
    assert all(group[name].dtype.kind in "fi" for name in group)


def test_schedule_vae_meta_must_be_json(store: CampaignStore) -> None:
    with pytest.raises(CampaignFileError, match="not JSON-serialisable"):
        store.write_schedule_vae({"w": np.zeros(2)}, {"bad": object()})
    assert not store.has("schedule_vae")


def test_grid_round_trip(store: CampaignStore, rng: np.random.Generator) -> None:
    grid = fx.make_grid(rng, size=5)
    store.write_grid(grid)
    got = store.read_grid()
    assert_same_grid(got, grid)
    assert got.feasible.dtype == np.bool_ and got.size == 5


def _write_stage(store: CampaignStore, stage: str, rng: np.random.Generator) -> None:
    if stage == "dataset":
        store.write_dataset(rng.random((3, 4, 4)), None, "f", "demo")
    elif stage == "seeds":
        store.write_seeds(rng.random((2, 5)), ["a", "b"])
    elif stage == "schedule_vae":
        store.write_schedule_vae({"w": rng.random(3)}, {"x": 1})
    else:
        store.write_grid(fx.make_grid(rng))


def test_has_tracks_each_stage_across_reopen(path: Path, rng: np.random.Generator) -> None:
    with CampaignStore.create(path, CONFIG, "1") as s:
        for done, stage in enumerate(STAGES):
            _write_stage(s, stage, rng)
            assert [s.has(x) for x in STAGES] == [i <= done for i in range(len(STAGES))]
    with CampaignStore.open(path) as s:
        assert all(s.has(stage) for stage in STAGES)
        with pytest.raises(ValueError, match="unknown stage"):
            s.has("evaluations")


@pytest.mark.parametrize("stage", STAGES)
def test_rewriting_a_stage_raises(store: CampaignStore, rng: np.random.Generator,
                                  stage: str) -> None:
    _write_stage(store, stage, rng)
    with pytest.raises(CampaignFileError, match=f"stage '{stage}' was already written") as info:
        _write_stage(store, stage, rng)
    assert str(store.path) in str(info.value)


def test_reading_an_unwritten_stage_raises(store: CampaignStore) -> None:
    with pytest.raises(CampaignFileError, match="'seeds' has not been written"):
        store.read_seeds()


def test_interrupted_stage_is_not_reported_and_is_rewritten(path: Path,
                                                            rng: np.random.Generator) -> None:
    CampaignStore.create(path, CONFIG, "1").close()
    with h5py.File(path, "r+") as f:  # a crash in the middle of write_seeds
        f.create_group("_partial_seeds").create_dataset("schedules", data=np.zeros((1, 2)))
    with CampaignStore.open(path, writable=True) as s:
        assert not s.has("seeds")
        s.write_seeds(np.ones((2, 3)), ["a", "b"])
        schedules, families = s.read_seeds()
    assert_same_array(schedules, np.ones((2, 3)))
    assert families == ("a", "b")


def test_final_results_round_trip_and_overwrite(store: CampaignStore,
                                                rng: np.random.Generator) -> None:
    first = {"manifolds": rng.integers(0, 256, (3, 4, 5, 5), dtype=np.uint8), "z": np.ones(2)}
    store.write_final("final_model", first, {"objective": 0.25})
    second = {"manifolds": np.zeros((2, 1, 5, 5), np.uint8)}
    store.write_final("final_model", second, {"objective": 0.5})
    arrays, meta = store.read_final("final_model")
    assert list(arrays) == ["manifolds"]
    assert_same_array(arrays["manifolds"], second["manifolds"])
    assert meta == {"objective": 0.5}
    assert store.read_final("other") is None


# ---------------------------------------------------------------------------- evaluations
def mixed_evaluations(rng: np.random.Generator) -> list[Evaluation]:
    """R=2 INITIAL, a FAILED one with 0 replicates (NaN objective), a USER one with NaN
    diagnostics, an ACQUISITION one."""
    return [
        fx.make_evaluation(0, rng, replicates=2, source=ProposalSource.INITIAL),
        fx.make_evaluation(1, rng, replicates=0, status=EvaluationStatus.FAILED,
                           source=ProposalSource.INITIAL),
        fx.make_evaluation(2, rng, replicates=1, source=ProposalSource.USER, nan_labels=True),
        fx.make_evaluation(3, rng, replicates=2, source=ProposalSource.ACQUISITION),
    ]


def test_evaluations_round_trip_exactly(path: Path, rng: np.random.Generator) -> None:
    evaluations = mixed_evaluations(rng)
    with CampaignStore.create(path, CONFIG, "1") as s:
        for e in evaluations:
            s.append_evaluation(e)
            assert s.n_evaluations == e.index + 1
        assert_same_evaluations(s.read_evaluations(), evaluations)
    with CampaignStore.open(path) as s:
        got = s.read_evaluations()
    assert_same_evaluations(got, evaluations)
    assert got[1].replicates == () and np.isnan(got[1].objective) and not got[1].succeeded
    assert "β too high" in got[1].message
    assert got[2].proposal.source is ProposalSource.USER and np.isnan(got[2].replicates[0].nmi)


def test_failed_first_evaluation_then_successes(store: CampaignStore,
                                                rng: np.random.Generator) -> None:
    evaluations = [
        fx.make_evaluation(0, rng, replicates=0, status=EvaluationStatus.FAILED),
        fx.make_evaluation(1, rng, replicates=3),
    ]
    for e in evaluations:
        store.append_evaluation(e)
    assert_same_evaluations(store.read_evaluations(), evaluations)


def test_default_objective_result_round_trips(store: CampaignStore,
                                              rng: np.random.Generator) -> None:
    base = fx.make_evaluation(0, rng, replicates=0, status=EvaluationStatus.FAILED)
    evaluation = Evaluation(
        index=0, proposal=base.proposal, status=EvaluationStatus.SUCCEEDED, objective=0.5,
        replicates=(ObjectiveResult(value=0.5, seed=3),),
    )
    store.append_evaluation(evaluation)
    assert_same_evaluations(store.read_evaluations(), [evaluation])


def test_wrong_evaluation_index_raises(store: CampaignStore, rng: np.random.Generator) -> None:
    store.append_evaluation(fx.make_evaluation(0, rng))
    for index in (0, 2):
        expected = f"index {index} does not follow .*expected index 1"
        with pytest.raises(CampaignFileError, match=expected) as info:
            store.append_evaluation(fx.make_evaluation(index, rng))
        assert str(store.path) in str(info.value)
    assert store.n_evaluations == 1


def test_shape_change_within_a_campaign_raises(store: CampaignStore,
                                               rng: np.random.Generator) -> None:
    store.append_evaluation(fx.make_evaluation(0, rng, replicates=1))
    stored = r"class_usage has shape \(4,\), but this campaign stores \(3,\)"
    with pytest.raises(CampaignFileError, match=stored):
        store.append_evaluation(fx.make_evaluation(1, rng, replicates=1, classes=4))
    with pytest.raises(CampaignFileError, match="schedule has shape"):
        store.append_evaluation(fx.make_evaluation(1, rng, replicates=0,
                                                   status=EvaluationStatus.FAILED,
                                                   n_epochs=fx.N_EPOCHS + 1))
    assert store.n_evaluations == 1
    later = fx.make_evaluation(1, rng, replicates=2)
    store.append_evaluation(later)
    assert_same_evaluation(store.read_evaluations()[1], later)


def test_interrupted_append_is_ignored_and_overwritten(path: Path,
                                                       rng: np.random.Generator) -> None:
    kept = [fx.make_evaluation(0, rng, replicates=2), fx.make_evaluation(1, rng, replicates=1)]
    with CampaignStore.create(path, CONFIG, "1") as s:
        for e in kept:
            s.append_evaluation(e)
        # a complete row 2 (with 3 replicates) whose `count` bump never happened ...
        s.append_evaluation(fx.make_evaluation(2, rng, replicates=3))
    with h5py.File(path, "r+") as f:
        table = f["evaluations"]
        table.attrs["count"] = np.int64(2)
        # ... and ragged garbage from a kill while resizing
        for name in ("rows", "z"):
            table[name].resize(6, axis=0)
        table["z"][3:] = 99.0
        table["replicates/manifolds"].resize(9, axis=0)
        table["replicates/manifolds"][6:] = 7
    with CampaignStore.open(path) as s:
        assert s.n_evaluations == 2
        assert_same_evaluations(s.read_evaluations(), kept)
    replacement = fx.make_evaluation(2, rng, replicates=1, source=ProposalSource.USER)
    following = fx.make_evaluation(3, rng, replicates=2)
    with CampaignStore.open(path, writable=True) as s:
        s.append_evaluation(replacement)
        s.append_evaluation(following)
    with CampaignStore.open(path) as s:
        assert_same_evaluations(s.read_evaluations(), [*kept, replacement, following])


def test_kill_in_the_middle_of_an_append_loses_only_that_evaluation(
    path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fx.make_evaluation(0, rng, replicates=2)
    with CampaignStore.create(path, CONFIG, "1") as s:
        s.append_evaluation(first)
        writes = 0
        real_write_row = _evaluations._write_row

        def dying_write_row(*args: Any) -> None:
            nonlocal writes
            writes += 1
            if writes == 7:  # after the replicate's 5 datasets and the evaluation's `rows`
                raise KeyboardInterrupt
            real_write_row(*args)

        monkeypatch.setattr(_evaluations, "_write_row", dying_write_row)
        with pytest.raises(KeyboardInterrupt):
            s.append_evaluation(fx.make_evaluation(1, rng, replicates=1))
        monkeypatch.undo()
        assert s.n_evaluations == 1
        retry = fx.make_evaluation(1, rng, replicates=2)
        s.append_evaluation(retry)
        assert_same_evaluations(s.read_evaluations(), [first, retry])


def test_each_append_is_on_disk_while_the_file_is_open(path: Path, tmp_path: Path,
                                                       rng: np.random.Generator) -> None:
    evaluations = mixed_evaluations(rng)[:2]
    with CampaignStore.create(path, CONFIG, "1") as s:
        for e in evaluations:
            s.append_evaluation(e)
        copy = tmp_path / "copy.h5"  # what a kill right now would leave on disk
        shutil.copyfile(path, copy)
    with CampaignStore.open(copy) as c:
        assert_same_evaluations(c.read_evaluations(), evaluations)


# ---------------------------------------------------------------------------- errors on open
def _missing(p: Path) -> None:
    pass


def _text_file(p: Path) -> None:
    p.write_text("epoch,beta\n0,1.0\n")


def _truncated(p: Path) -> None:
    fx.write_current(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _no_kind(p: Path) -> None:
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)


def _newer(p: Path) -> None:
    CampaignStore.create(p, CONFIG, "9").close()
    with h5py.File(p, "r+") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_missing, "no such file"),
        (_text_file, "not an HDF5 file"),
        (_truncated, "truncated"),
        (_no_kind, "not a zbo campaign file"),
        (_newer, f"format version {FORMAT_VERSION + 1} is newer"),
    ],
    ids=["missing", "text-file", "truncated", "no-kind", "newer-version"],
)
@pytest.mark.parametrize("writable", [False, True])
def test_open_errors_name_the_path_and_the_problem(path: Path, make, message: str,
                                                   writable: bool) -> None:
    make(path)
    with pytest.raises(CampaignFileError, match=message) as info:
        CampaignStore.open(path, writable=writable)
    text = str(info.value)
    assert str(path) in text and "\n" not in text


def test_read_only_open_leaves_the_file_identical(path: Path) -> None:
    fx.write_current(path)
    before = sha256(path)
    with CampaignStore.open(path) as s:
        assert_campaign_contents(s, fx.campaign_contents(workers=True, pairs=True))
        for write in (lambda: s.write_final("x", {}, {}),
                      lambda: s.append_evaluation(fx.campaign_contents()["evaluations"][0])):
            with pytest.raises(CampaignFileError, match="read-only"):
                write()
    assert sha256(path) == before


def test_closed_store_raises(store: CampaignStore) -> None:
    store.close()
    with pytest.raises(CampaignFileError, match="closed"):
        store.read_evaluations()


def test_file_in_use_by_another_process(path: Path) -> None:
    CampaignStore.create(path, CONFIG, "1").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, h5py
            f = h5py.File({str(path)!r}, "r+")
            print("open", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(CampaignFileError, match="in use by another process") as info:
            CampaignStore.open(path, writable=True)
        assert str(path) in str(info.value)
        with CampaignStore.open(path) as reader:  # readers go on without the lock
            assert reader.read_evaluations() == []
        with pytest.raises(CampaignFileError, match="in use"):
            CampaignStore.create(path, CONFIG, "1", overwrite=True)
    finally:
        holder.communicate("", timeout=10)


# ---------------------------------------------------------------------------- fixtures / format
def _checksummed(path: Path) -> set[str]:
    """Names of the datasets of ``path`` without the Fletcher-32 checksum."""
    datasets: list[h5py.Dataset] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset)
                     else None)
        return {d.name for d in datasets if not d.fletcher32}


def test_v4_fixture_of_schedule_pairs_still_reads_back() -> None:
    assert fx.V4_FILE.stat().st_size < 150_000
    with CampaignStore.open(fx.V4_FILE) as s:
        assert s.format_version == 4 and s.migrated_from is None
        assert s.config_toml == fx.PAIRS_CONFIG_TOML and s.app_version == "0.1.0"
        contents = fx.campaign_contents(workers=True, pairs=True)
        assert contents["schedules"].shape == (5, 2, fx.N_EPOCHS)
        assert_campaign_contents(s, contents)
        assert s.read_evaluations()[0].proposal.schedule.shape == (2, fx.N_EPOCHS)
        assert s.read_pending()[0].proposal.schedule.shape == (2, fx.N_EPOCHS)
        assert stored_config_from_toml(s.config_toml).schedules.joint
        assert s.verify() > 20


def test_v3_fixture_is_migrated_and_keeps_its_beta_c_schedules(tmp_path: Path) -> None:
    assert fx.V3_FILE.stat().st_size < 150_000
    with CampaignStore.open(fx.V3_FILE) as s:
        assert s.format_version == FORMAT_VERSION and s.migrated_from == 3
        assert s.config_toml == CONFIG and s.app_version == "0.1.0"
        assert_campaign_contents(s, fx.campaign_contents(workers=True))
        assert not stored_config_from_toml(s.config_toml).schedules.joint
    path = tmp_path / "v3.h5"
    shutil.copyfile(fx.V3_FILE, path)
    with CampaignStore.open(path, writable=True) as s:
        assert s.migrated_from == 3
    with CampaignStore.open(path) as s:
        assert s.migrated_from is None and s.format_version == 4 and s.verify() > 20
        assert_campaign_contents(s, fx.campaign_contents(workers=True))


def test_v2_fixture_is_migrated_in_memory_then_on_disk(tmp_path: Path) -> None:
    assert fx.V2_FILE.stat().st_size < 150_000
    before = sha256(fx.V2_FILE)
    with CampaignStore.open(fx.V2_FILE) as s:  # read-only: in memory
        assert s.format_version == FORMAT_VERSION and s.migrated_from == 2
        assert_campaign_contents(s, fx.campaign_contents())  # no workers, nothing in flight
    assert sha256(fx.V2_FILE) == before
    path = tmp_path / "v2.h5"
    shutil.copyfile(fx.V2_FILE, path)
    with CampaignStore.open(path, writable=True) as s:
        assert s.migrated_from == 2
        s.write_pending(fx.campaign_contents(workers=True)["pending"])
    with CampaignStore.open(path) as s:
        assert s.migrated_from is None and s.verify() > 20
        assert [p.ticket for p in s.read_pending()] == [3, 4]
        assert_same_evaluations(s.read_evaluations(), fx.campaign_contents()["evaluations"])


def test_v1_fixture_is_migrated_in_memory_when_read_only() -> None:
    assert fx.V1_FILE.stat().st_size < 70_000
    before = sha256(fx.V1_FILE)
    with CampaignStore.open(fx.V1_FILE) as s:
        assert s.format_version == FORMAT_VERSION and s.migrated_from == 1
        assert s.config_toml == CONFIG and s.app_version == "0.1.0"
        assert stored_config_from_toml(s.config_toml).bo.warp == "none"  # as it ran
        assert_campaign_contents(s, fx.campaign_contents())
        assert s.writer() is None
    assert sha256(fx.V1_FILE) == before


def test_v1_fixture_is_migrated_on_disk_with_checksums_and_a_lease(tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    shutil.copyfile(fx.V1_FILE, path)
    assert _checksummed(path) != {"/writer"}  # format 1 has no checksums
    with CampaignStore.open(path, writable=True) as s:
        assert s.migrated_from == 1 and s.format_version == FORMAT_VERSION
        lease = s.writer()
        assert lease is not None and lease.held_here(path)
        assert_campaign_contents(s, fx.campaign_contents())
    assert _checksummed(path) == {"/writer"}
    with CampaignStore.open(path) as s:
        assert s.migrated_from is None
        assert_campaign_contents(s, fx.campaign_contents())
        assert s.writer() is not None and not s.writer().taken  # released on close
    assert path.stat().st_size < 1.5 * fx.V2_FILE.stat().st_size  # repacked
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.h5"]  # no temporary left


def _v0_to_v1(f: h5py.File) -> None:
    """The test's migration: version 0 lacked the ``created`` attribute."""
    f.attrs["created"] = "unknown (migrated from format version 0)"


def test_v0_without_a_migration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    shutil.copyfile(fx.V0_FILE, path)
    before = sha256(path)
    with pytest.raises(CampaignFileError, match="cannot be migrated") as info:
        CampaignStore.open(path)
    assert str(path) in str(info.value)
    assert sha256(path) == before


def test_v0_fixture_is_migrated_in_memory_when_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fx.V0_FILE.stat().st_size < 50_000
    monkeypatch.setitem(MIGRATIONS, 0, _v0_to_v1)
    path = tmp_path / "old.h5"
    shutil.copyfile(fx.V0_FILE, path)
    before = sha256(path)
    with CampaignStore.open(path) as s:
        assert s.format_version == FORMAT_VERSION and s.migrated_from == 0
        assert s.created.startswith("unknown") and s.app_version == "0.0.1"
        assert s.has("seeds") and not s.has("dataset")
        assert_same_array(s.read_seeds()[0], fx.campaign_contents()["schedules"])
    assert sha256(path) == before


def test_v0_fixture_is_migrated_on_disk_when_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    monkeypatch.setitem(MIGRATIONS, 0, _v0_to_v1)
    path = tmp_path / "old.h5"
    shutil.copyfile(fx.V0_FILE, path)
    evaluation = fx.make_evaluation(0, rng)
    with CampaignStore.open(path, writable=True) as s:
        assert s.migrated_from == 0
        s.append_evaluation(evaluation)
    monkeypatch.delitem(MIGRATIONS, 0)  # the file on disk is now current: no migration needed
    with CampaignStore.open(path) as s:
        assert s.migrated_from is None and s.format_version == FORMAT_VERSION
        assert s.created.startswith("unknown")
        assert_same_evaluations(s.read_evaluations(), [evaluation])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.h5"]  # no temporary left


def test_failing_migration_leaves_the_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(f: h5py.File) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(MIGRATIONS, 0, broken)
    path = tmp_path / "old.h5"
    shutil.copyfile(fx.V0_FILE, path)
    before = sha256(path)
    for writable in (False, True):
        with pytest.raises(CampaignFileError, match="migration from format version 0 failed"):
            CampaignStore.open(path, writable=writable)
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.h5"]


def test_storage_imports_no_qt_and_no_torch() -> None:
    code = (
        "import sys, zbo_gui.storage\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'pyro', 'pyroved'})\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


# ---------------------------------------------------------------------------- save as (copy_to)
def test_copy_to_makes_a_writable_copy_while_the_original_stays_open(
        store: CampaignStore, path: Path, rng: np.random.Generator) -> None:
    schedules = rng.random((3, 5)) + 0.1
    store.write_seeds(schedules, ["a", "b", "c"])
    target = path.with_name("copy.h5")
    assert store.copy_to(target) == target
    with CampaignStore.open(target, writable=True) as copy:  # its lease is free
        assert copy.writable and copy.config_toml == CONFIG
        assert_same_array(copy.read_seeds()[0], schedules)
        copy.write_final("final_model", {"m": np.ones(2)}, {"note": "copy only"})
    assert store.writable and store.read_final("final_model") is None  # the original is apart
    assert sorted(p.name for p in path.parent.iterdir()) == ["campaign.h5", "copy.h5"]


def test_copy_to_refuses_its_own_file_an_existing_one_and_a_non_campaign(
        store: CampaignStore, path: Path) -> None:
    with pytest.raises(CampaignFileError, match="is this campaign's own file"):
        store.copy_to(path, overwrite=True)
    other = path.with_name("other.h5")
    CampaignStore.create(other, "old = 1\n", "1").close()
    with pytest.raises(CampaignFileError, match="already exists"):
        store.copy_to(other)
    notes = path.with_name("notes.txt")
    notes.write_text("a week of lab notes\n")
    with pytest.raises(CampaignFileError, match=r"notes\.txt: not a zbo campaign file"):
        store.copy_to(notes, overwrite=True)
    assert notes.read_text() == "a week of lab notes\n"
    with CampaignStore.open(other) as s:
        assert s.config_toml == "old = 1\n"
    store.copy_to(other, overwrite=True)  # a campaign file no writer holds may be replaced
    with CampaignStore.open(other) as s:
        assert s.config_toml == CONFIG
    assert sorted(p.name for p in path.parent.iterdir()) == ["campaign.h5", "notes.txt",
                                                             "other.h5"]
