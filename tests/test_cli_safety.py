"""Nothing a user types may destroy a campaign: the ``zbo`` command with mistakes on purpose.

Bad input of every kind, combined with ``--overwrite`` onto an existing campaign, must leave
that campaign byte for byte as it was and print one line; exports never write onto a campaign;
relative paths are the configuration's; signals stop cleanly. Real campaigns, no mocks.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_helpers import (
    TINY_CONFIG,
    assert_user_error,
    run_zbo,
    sha256,
    start_zbo,
    tiny_config,
    wait_for_evaluations,
    write_config,
    zbo_command,
    zbo_env,
)
from zbo_gui import cli
from zbo_gui.storage.campaign_file import CampaignStore

BUDGET = TINY_CONFIG["bo"]["budget"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny campaign (6 evaluations), made once per module."""
    folder = tmp_path_factory.mktemp("finished")
    config = write_config(folder / "tiny.toml", TINY_CONFIG)
    out = folder / "done.h5"
    result = run_zbo("run", config, "--out", out, "-q")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def campaign(finished: Path, tmp_path: Path) -> Path:
    """A private copy of the finished campaign, in an otherwise empty folder."""
    work = tmp_path / "work"
    work.mkdir()
    copy = work / "my.h5"
    shutil.copyfile(finished, copy)
    return copy


def _folder_state(folder: Path) -> dict[str, str]:
    return {p.name: sha256(p) for p in folder.iterdir() if p.is_file()}


# ---------------------------------------------------------------------------- bad seed CSVs
BAD_CSVS = {
    "negative": "1,2,-0.5,3\n",
    "zero": "1,0,2,3\n",
    "nan": "1,nan,2,3\n",
    "inf": "1,inf,2,3\n",
    "text": "1,two,3,4\n",
    "empty": "",
    "header only": "beta_c\n",
    "one value": "1.5\n",
}


@pytest.mark.parametrize("kind", list(BAD_CSVS))
def test_a_bad_seed_csv_with_overwrite_keeps_the_campaign(kind: str, campaign: Path) -> None:
    folder = campaign.parent
    (folder / "bad.csv").write_text(BAD_CSVS[kind], encoding="utf-8")
    config = write_config(folder / "bad.toml",
                          tiny_config(schedules={"csv_files": ["bad.csv"]}))
    before = _folder_state(folder)
    line = assert_user_error(run_zbo("run", config, "--out", campaign, "--overwrite"),
                             "bad.csv")
    assert str(folder / "bad.csv") in line  # resolved from the config's folder
    assert _folder_state(folder) == before  # the campaign, byte for byte; no temporary left


def test_relative_csv_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    (configs / "seeds").mkdir(parents=True)
    (configs / "seeds" / "mine.csv").write_text("epoch,beta_c,beta_d\n0,2.0,1\n1,1.5,1\n"
                                                "2,1.0,1\n", encoding="utf-8")
    config = write_config(configs / "c.toml", tiny_config(
        schedules={"csv_files": ["seeds/mine.csv"]}, bo={"initial": 2, "budget": 2}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_zbo("run", config, "--out", "c.h5", "-q", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    with CampaignStore.open(elsewhere / "c.h5") as store:
        schedules, families = store.read_seeds()
        assert families.count("csv") == 1
        np.testing.assert_allclose(schedules[families.index("csv")][[0, -1]], [2.0, 1.0])
        assert str(configs / "seeds" / "mine.csv") in store.config_toml


# ---------------------------------------------------------------------------- property test
def _bad_dataset(folder: Path, kind: str) -> str:
    path = folder / f"data-{kind}.npy"
    if kind == "nan":
        images = np.random.default_rng(0).random((20, 8, 8))
        images[3, 2, 2] = np.nan
        np.save(path, images)
    elif kind == "constant":
        np.save(path, np.ones((20, 8, 8)))
    elif kind == "1-d":
        np.save(path, np.arange(20.0))
    elif kind == "garbage":
        path.write_bytes(b"\x93NUMPY garbage")
    else:  # missing
        return str(folder / "missing.npy")
    return str(path)


BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {  # the change, and what the error names
    "lr": ({"jrvae": {"lr": -1.0}}, "jrvae.lr"),
    "classes": ({"jrvae": {"classes": 1}}, "jrvae.classes"),
    "device": ({"jrvae": {"device": "cuda"}}, "CUDA"),  # skipped where there is a GPU
    "grid": ({"grid": {"size": 30000}}, "grid.size"),  # far beyond this machine's memory
    "image size": ({"dataset": {"image_size": 100000}}, "dataset.image_size"),
    "manifold": ({"objective": {"manifold_d": 5000}}, "objective.manifold_d"),
    "budget": ({"bo": {"initial": 5, "budget": 3}}, "bo.budget"),
    "bounds": ({"schedules": {"beta_lo": 3.0, "beta_hi": 2.0}}, "schedules.beta_lo"),
    "unknown key": ({"grid": {"sise": 40}}, "grid.sise"),
}
DATASET_ERRORS = {"nan": "NaN", "constant": "all values are equal", "1-d": "data-1-d.npy",
                  "garbage": "data-garbage.npy", "missing": "missing.npy"}
OUT_ERRORS = {"folder": "is a folder", "missing folder": "does not exist",
              "data file": "not a zbo campaign file"}
TOML_ERRORS = {"[jrvae\nlr = 1": "invalid TOML", "seed = -3": "seed", "bo = 5": "[bo]"}


@st.composite
def bad_inputs(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["value", "csv", "dataset", "out", "toml"]))
    if kind == "value":
        values = sorted(BAD_VALUES)
        if _cuda():
            values.remove("device")
        return kind, draw(st.sampled_from(values))
    if kind == "csv":
        return kind, (draw(st.sampled_from(sorted(BAD_CSVS))), draw(st.booleans()))
    if kind == "dataset":
        return kind, draw(st.sampled_from(sorted(DATASET_ERRORS)))
    if kind == "out":
        return kind, draw(st.sampled_from(sorted(OUT_ERRORS)))
    return kind, draw(st.sampled_from(sorted(TOML_ERRORS)))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _run_in_process(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main([str(a) for a in args])
    return status, err.getvalue()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=bad_inputs(), also_bad_csv=st.booleans())
def test_no_bad_configuration_or_file_changes_a_campaign_with_overwrite(
        bad: tuple[str, Any], also_bad_csv: bool, campaign: Path) -> None:
    """Each mistake, alone or with a second one (a bad seed CSV), is refused naming one of
    them, and the campaign it would have replaced is byte for byte as it was."""
    folder = campaign.parent
    for extra in folder.iterdir():
        if extra != campaign:
            extra.unlink() if extra.is_file() else shutil.rmtree(extra)
    config = tiny_config()
    out: Path = campaign
    kind, what = bad
    if kind == "value":
        change, needle = BAD_VALUES[what]
        for section, values in change.items():
            config.setdefault(section, {}).update(values)
    elif kind == "csv":
        name, absolute = what
        (folder / "s.csv").write_text(BAD_CSVS[name], encoding="utf-8")
        config["schedules"]["csv_files"] = [str(folder / "s.csv") if absolute else "s.csv"]
        needle = "s.csv"
    elif kind == "dataset":
        config["dataset"] = {"source": _bad_dataset(folder, what), "image_size": 8}
        needle = DATASET_ERRORS[what]
    elif kind == "out":
        needle = OUT_ERRORS[what]
        if what == "folder":
            out = folder
        elif what == "missing folder":
            out = folder / "nowhere" / "my.h5"
        else:  # somebody's HDF5 data where the campaign would go
            out = folder / "data.h5"
            with h5py.File(out, "w") as f:
                f["images"] = np.zeros((3, 4, 4))
    if also_bad_csv and kind != "csv":
        (folder / "also.csv").write_text("1,-2,3\n", encoding="utf-8")
        config["schedules"]["csv_files"] = ["also.csv"]
    path = write_config(folder / "bad.toml", config)
    if kind == "toml":
        path.write_text(what, encoding="utf-8")
        needle = TOML_ERRORS[what]
    before = _folder_state(folder)
    status, err = _run_in_process("run", path, "--out", out, "--overwrite", "-q")
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("zbo: error: "), err
    second = "also.csv" if also_bad_csv and kind not in ("csv", "toml") else None
    assert needle in lines[0] or (second is not None and second in lines[0]), (needle, err)
    assert _folder_state(folder) == before, err


# ---------------------------------------------------------------------------- exports
@pytest.mark.parametrize("fmt", ["csv", "json", "npy"])
def test_an_export_never_writes_onto_a_campaign(fmt: str, campaign: Path, finished: Path
                                                ) -> None:
    folder = campaign.parent
    other = folder / "other.csv"  # a campaign under another name (and extension)
    shutil.copyfile(finished, other)
    data = folder / "data.json"  # somebody's HDF5 file
    with h5py.File(data, "w") as f:
        f["x"] = np.arange(3)
    before = _folder_state(folder)
    for target, needle in ((campaign, "campaign's own file"), (other, "zbo campaign file"),
                           (data, "an HDF5 file")):
        assert_user_error(run_zbo("export", campaign, "--format", fmt, "-o", target),
                          str(target), needle, "never overwrites")
    script = folder / "best_train.py"  # the training script beside a CSV export
    shutil.copyfile(finished, script)
    if fmt == "csv":
        assert_user_error(run_zbo("export", campaign, "--format", "csv", "-o",
                                  folder / "best.csv"), str(script), "zbo campaign file")
        assert not (folder / "best.csv").exists()
    assert _folder_state(folder) == {**before, "best_train.py": sha256(finished)}


@pytest.mark.parametrize(("target", "needle"), [
    ("/nonexistent/dir/b.csv", "folder /nonexistent/dir does not exist"),
    ("FOLDER", "is a folder"),
])
def test_an_export_to_a_missing_folder_or_a_folder_is_one_line(target: str, needle: str,
                                                               campaign: Path) -> None:
    out = campaign.parent if target == "FOLDER" else Path(target)
    before = _folder_state(campaign.parent)
    assert_user_error(run_zbo("export", campaign, "--format", "csv", "-o", out), needle)
    assert _folder_state(campaign.parent) == before


def test_run_onto_a_folder_with_overwrite_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "t.toml", TINY_CONFIG)
    assert_user_error(run_zbo("run", config, "--out", tmp_path, "--overwrite"), "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.toml"]


# ---------------------------------------------------------------------------- sizes
@pytest.mark.parametrize(("section", "value", "field"), [
    ({"grid": {"size": 30000}}, "30000", "grid.size"),
    ({"objective": {"manifold_d": 5000}}, "5000", "objective.manifold_d"),
    ({"dataset": {"image_size": 100000}}, "100000", "dataset.image_size"),
])
def test_sizes_beyond_the_memory_are_refused_with_the_figure(section: dict, value: str,
                                                             field: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "big.toml", tiny_config(**section))
    result = run_zbo("run", config, "--out", tmp_path / "big.h5", timeout=60)
    line = assert_user_error(result, field, value, "GB", "available")
    assert "GB" in line.split("available")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.toml"]


# ---------------------------------------------------------------------------- small points
def test_resume_of_an_empty_file_refuses_and_leaves_it_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.h5"
    empty.touch()
    assert_user_error(run_zbo("resume", empty), str(empty), "empty file")
    assert empty.stat().st_size == 0


@pytest.mark.parametrize("fmt", ["npz", "hdf5"])
def test_inspect_data_json_on_an_ambiguous_file(fmt: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    if fmt == "npz":
        path = tmp_path / "two.npz"
        np.savez(path, a=rng.random((5, 8, 8)), b=rng.random((6, 8, 8)))
        choices = ["a", "b"]
    else:
        path = tmp_path / "two.h5"
        with h5py.File(path, "w") as f:
            f["raw/a"] = rng.random((5, 8, 8))
            f["raw/b"] = rng.random((6, 8, 8))
        choices = ["/raw/a", "/raw/b"]
    result = run_zbo("inspect-data", path, "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["usable"] is False and document["choices"] == choices
    assert "--key" in document["problems"][0] and "dataset.key" not in result.stderr
    assert result.stderr.count("\n") == 1 and "--key" in result.stderr
    plain = run_zbo("inspect-data", path)
    assert_user_error(plain, "--key")


def test_info_of_a_partial_campaign_shows_the_configured_length(tmp_path: Path) -> None:
    config = write_config(tmp_path / "t.toml", TINY_CONFIG)
    out = tmp_path / "partial.h5"
    env = {**zbo_env(), "ZBO_KILL_AT": "schedule_vae"}
    killed = subprocess.run(zbo_command("run", config, "--out", out, "-q"), env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    result = run_zbo("info", out)
    assert result.returncode == 0, result.stderr
    assert f"schedule length {TINY_CONFIG['schedules']['n_epochs']};" in result.stdout
    assert "stages          dataset, seeds\n" in result.stdout
    assert "None" not in result.stdout


def test_info_into_a_pipe_closed_early_ends_quietly(campaign: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # `| head` has ended before zbo writes a line
    try:
        result = subprocess.run(zbo_command("info", campaign), stdout=write,
                                stderr=subprocess.PIPE, env=zbo_env(), timeout=120, check=False)
    finally:
        os.close(write)
    assert result.stderr == b"", result.stderr.decode()
    assert result.returncode == 141


def test_sigterm_stops_cleanly_and_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path / "t.toml", tiny_config(schedules={"n_epochs": 15}))
    out = tmp_path / "camp.h5"
    log = tmp_path / "run.log"
    process = start_zbo("run", config, "--out", out, "-q", stderr_file=log)
    try:
        wait_for_evaluations(out, 1, process)
        os.kill(process.pid, signal.SIGTERM)
        status = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text(errors="replace")
    assert status == 143, text
    assert "SIGTERM: stopping after the current epoch" in text and "Traceback" not in text
    assert f"Continue with: zbo resume {out}" in text
    result = run_zbo("resume", out, "-q")
    assert result.returncode == 0, result.stderr
    with CampaignStore.open(out) as store:
        assert store.n_evaluations == BUDGET


def test_a_second_writer_is_refused_naming_the_first_without_file_locks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    budget = 200  # the first writer cannot finish while the test runs
    config = write_config(tmp_path / "t.toml", tiny_config(bo={"budget": budget}))
    out = tmp_path / "camp.h5"
    monkeypatch.setenv("HDF5_USE_FILE_LOCKING", "FALSE")  # inherited by both processes
    first = start_zbo("run", config, "--out", out, "-q", stderr_file=tmp_path / "1.log")
    try:
        wait_for_evaluations(out, 1, first)
        second = run_zbo("resume", out, "-q")
        assert_user_error(second, str(out), "in use by", f"pid {first.pid} on ")
        wait_for_evaluations(out, 3, first)  # the first goes on, undisturbed
        os.kill(first.pid, signal.SIGTERM)
        assert first.wait(timeout=120) == 143, (tmp_path / "1.log").read_text()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    with CampaignStore.open(out) as store:
        assert 3 <= store.n_evaluations < budget
        assert store.verify() > 0
        lease = store.writer()
    assert lease is not None and not lease.taken  # the stopped writer freed it



def test_damaged_bytes_anywhere_give_one_line_or_a_correct_answer(finished: Path,
                                                                  tmp_path: Path) -> None:
    """Flipped bytes in the file's structure (B-trees, object headers), not only in data."""
    original = finished.read_bytes()
    expected = _run_in_process("info", finished, "--json")
    assert expected[0] == 0
    rng = np.random.default_rng(11)
    path = tmp_path / "flipped.h5"
    outcomes = {0: 0, 2: 0}
    for _ in range(150):
        data = bytearray(original)
        at = int(rng.integers(0, len(data) - 8))
        data[at:at + 8] = bytes(b ^ 0xA5 for b in data[at:at + 8])
        path.write_bytes(bytes(data))
        err = io.StringIO()
        out = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status = cli.main(["info", str(path), "--json"])  # an escaping exception fails
        assert status in (0, 2), (at, status, err.getvalue())
        if status == 2:
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("zbo: error: "), (at, lines)
        outcomes[status] += 1
    assert outcomes[2] >= 10, outcomes  # most flips land in data the checksums catch


def test_a_damaged_schedule_vae_checkpoint_is_trained_again(tmp_path: Path) -> None:
    from tests.storage.test_integrity import flip_bytes

    config = write_config(tmp_path / "t.toml", tiny_config(bo={"initial": 2, "budget": 2}))
    out = tmp_path / "camp.h5"
    env = {**zbo_env(), "ZBO_KILL_AT": "schedule_vae@3"}
    killed = subprocess.run(zbo_command("run", config, "--out", out, "-q"), env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with h5py.File(out, "r") as f:
        slot = int(f["_checkpoints/schedule_vae"].attrs["current"])
        weights = [k for k in f[f"_checkpoints/schedule_vae/slot{slot}/arrays"]
                   if k.startswith("model.")]
    flip_bytes(out, f"/_checkpoints/schedule_vae/slot{slot}/arrays/{weights[0]}")
    assert_user_error(run_zbo("info", out), "damaged data in /_checkpoints/")
    result = run_zbo("-v", "resume", out, "-q")
    assert result.returncode == 0, result.stderr
    assert "ignoring the schedule VAE checkpoint" in result.stderr
    with CampaignStore.open(out) as store:
        assert store.n_evaluations == 2 and store.verify() > 0


def test_an_old_campaign_opens_and_exports_and_a_bad_stage_stops_resume_in_one_line(
        tmp_path: Path) -> None:
    """The format-1 fixture (zbo-gui 0.1.0) opens in ``zbo info`` and exports through the
    README's commands; its schedule VAE stage is a stub without training metadata, so ``zbo
    resume`` must say that in one line (not a traceback) and keep the evaluations."""
    from tests.fixtures import make_fixtures as fx

    old = tmp_path / "old.h5"
    shutil.copyfile(fx.V1_FILE, old)
    info = run_zbo("info", old)
    assert info.returncode == 0, info.stderr
    assert "format 1 has no checksums" in info.stdout
    exported = run_zbo("export", old, "--format", "csv", "-o", tmp_path / "best.csv")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "best.csv").read_text().startswith("epoch,beta_c,beta_d\n")
    line = assert_user_error(run_zbo("resume", old, timeout=120), "schedule VAE",
                             "cannot be rebuilt", "'epochs'")
    assert str(old) in line
    with CampaignStore.open(old) as store:
        assert len(store.read_evaluations()) == 3
