"""Tests of the ``zbo`` command line: real campaigns (pyroVED trainings on CPU), no mocks.

One quick-demo campaign is run per test session and shared by the ``info``/``export`` tests;
the kill/resume, Ctrl-C and divergence tests run tiny TOML campaigns (see ``cli_helpers``).
"""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.cli_helpers import (
    TINY_CONFIG,
    assert_user_error,
    run_zbo,
    sha256,
    start_zbo,
    tiny_config,
    wait_for_evaluations,
    write_config,
)
from zbo_gui.core.config import quick_config
from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage.campaign_file import FORMAT_VERSION, CampaignStore

QUICK = quick_config()
TINY_BUDGET = TINY_CONFIG["bo"]["budget"]


# ---------------------------------------------------------------------------- shared campaign
@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """``zbo run --demo --quick`` once per session: (campaign file, completed process)."""
    out = tmp_path_factory.mktemp("quick") / "quick.h5"
    result = run_zbo("run", "--demo", "--quick", "--out", out, "--quiet", timeout=900)
    return out, result


@pytest.fixture(scope="session")
def quick_file(quick_run: tuple[Path, Any]) -> Path:
    out, result = quick_run
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def quick_info(quick_file: Path) -> dict[str, Any]:
    result = run_zbo("info", quick_file, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _best(path: Path):
    with CampaignStore.open(path) as store:
        ok = [e for e in store.read_evaluations() if e.succeeded]
    return max(ok, key=lambda e: e.objective)


def _snapshot(path: Path) -> list[tuple[int, str, tuple[float, ...], float, str]]:
    """(index, status, z, objective, message) of every stored evaluation."""
    with CampaignStore.open(path) as store:
        return [(e.index, e.status.value, tuple(e.proposal.z.tolist()), e.objective, e.message)
                for e in store.read_evaluations()]


def _same_evaluations(before: list[tuple], after: list[tuple]) -> None:
    assert len(after) >= len(before)
    for old, new in zip(before, after, strict=False):
        assert old[:3] == new[:3]
        assert old[3] == new[3] or (math.isnan(old[3]) and math.isnan(new[3]))
        assert old[4] == new[4]


# ---------------------------------------------------------------------------- run / info
def test_quick_demo_runs_the_whole_campaign(quick_run: tuple[Path, Any]) -> None:
    out, result = quick_run
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "zbo: finished" in result.stderr
    assert f"export with: zbo export {out}" in result.stderr
    with CampaignStore.open(out) as store:
        for stage in ("dataset", "seeds", "schedule_vae", "grid"):
            assert store.has(stage), stage
        images, labels, _, _ = store.read_dataset()
        assert images.shape == (QUICK.dataset.n_images, QUICK.dataset.image_size,
                                QUICK.dataset.image_size)
        assert labels is not None and set(labels.tolist()) == set(QUICK.dataset.digits)
        evaluations = store.read_evaluations()
    assert [e.index for e in evaluations] == list(range(len(evaluations)))
    assert QUICK.bo.initial <= len(evaluations) <= QUICK.bo.budget
    for e in evaluations:
        assert e.proposal.schedule.shape == (QUICK.schedules.n_epochs,)


def test_info_json_counts_are_consistent(quick_file: Path, quick_info: dict[str, Any]) -> None:
    info = quick_info
    for key in ("evaluations", "succeeded", "failed", "best_objective", "schedule_length",
                "format_version"):
        assert key in info, key
    converged = info["evaluations"] < QUICK.bo.budget
    assert info["evaluations"] == QUICK.bo.budget or (
        converged and info["evaluations"] >= QUICK.bo.initial)
    assert info["succeeded"] + info["failed"] == info["evaluations"]
    assert info["succeeded"] >= 1
    assert info["schedule_length"] == QUICK.schedules.n_epochs
    assert info["format_version"] == FORMAT_VERSION
    assert len(info["rows"]) == info["evaluations"]
    best = _best(quick_file)
    assert info["best_objective"] == pytest.approx(best.objective, rel=0, abs=1e-12)
    assert info["best_index"] == best.index
    ok = [r["objective"] for r in info["rows"] if r["status"] == "succeeded"]
    assert info["best_objective"] == max(ok)


def test_info_text_summarises_the_campaign(quick_file: Path,
                                           quick_info: dict[str, Any]) -> None:
    result = run_zbo("info", quick_file)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"schedule length {QUICK.schedules.n_epochs}" in text
    assert f"budget {QUICK.bo.budget}" in text
    assert (f"evaluations     {quick_info['evaluations']} ({quick_info['succeeded']} succeeded,"
            f" {quick_info['failed']} failed)") in text
    assert f"best objective  {quick_info['best_objective']:.4f}" in text


# ---------------------------------------------------------------------------- export
def test_export_csv_is_the_best_schedule_with_a_training_script(quick_file: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "best.csv"
    result = run_zbo("export", quick_file, "--format", "csv", "-o", out)
    assert result.returncode == 0, result.stderr
    best = _best(quick_file)
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "beta_c", "beta_d"]
    assert [int(r[0]) for r in rows[1:]] == list(range(QUICK.schedules.n_epochs))
    # exact at the stored (single) precision, written without float32 noise
    np.testing.assert_array_equal(np.array([r[1] for r in rows[1:]], dtype=np.float32),
                                  best.proposal.schedule.astype(np.float32))
    assert all(float(r[2]) == QUICK.jrvae.beta_d for r in rows[1:])
    script = tmp_path / "best_train.py"
    assert script.is_file()
    source = script.read_text(encoding="utf-8")
    ast.parse(source)
    assert "'best.csv'" in source and "scale_factor=[beta_c[e], beta_d[e]]" in source


def test_export_json_is_the_best_evaluation(quick_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.json"
    result = run_zbo("export", quick_file, "--format", "json", "-o", out, "--which",
                     "evaluated")
    assert result.returncode == 0, result.stderr
    best = _best(quick_file)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["format"] == "zbo-schedule"
    assert document["which"] == "evaluated"
    np.testing.assert_array_equal(np.array(document["schedule"], dtype=np.float32),
                                  best.proposal.schedule.astype(np.float32))
    assert document["z"] == best.proposal.z.tolist()
    assert document["objective"] == best.objective
    assert document["beta_d"] == QUICK.jrvae.beta_d
    assert document["extra"]["evaluation"] == best.index
    assert document["config"]["schedules"]["n_epochs"] == QUICK.schedules.n_epochs


def test_export_npy_is_the_best_schedule(quick_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.npy"
    result = run_zbo("export", quick_file, "--format", "npy", "-o", out)
    assert result.returncode == 0, result.stderr
    table = np.load(out, allow_pickle=False)
    assert table.shape == (QUICK.schedules.n_epochs, 2)
    np.testing.assert_array_equal(table[:, 0], _best(quick_file).proposal.schedule)
    np.testing.assert_array_equal(table[:, 1], QUICK.jrvae.beta_d)


def test_export_predicted_is_a_feasible_grid_schedule(quick_file: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "predicted.json"
    result = run_zbo("export", quick_file, "--format", "json", "-o", out, "--which",
                     "predicted")
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["which"] == "predicted"
    assert document["extra"]["predicted_std"] >= 0
    assert math.isfinite(document["objective"])
    with CampaignStore.open(quick_file) as store:
        grid = store.read_grid()
    points = np.asarray(grid.points).reshape(-1, 2)
    decoded = np.asarray(grid.decoded).reshape(points.shape[0], -1)
    match = np.flatnonzero(np.all(points == np.asarray(document["z"]), axis=1))
    assert match.size == 1
    assert np.asarray(grid.feasible).ravel()[match[0]]
    np.testing.assert_array_equal(decoded[match[0]].astype(np.float32),
                                  np.array(document["schedule"], dtype=np.float32))


# ---------------------------------------------------------------------------- kill and resume
def test_sigkill_then_resume_loses_no_finished_evaluation(tmp_path: Path) -> None:
    config = write_config(tmp_path / "tiny.toml", TINY_CONFIG)
    out = tmp_path / "camp.h5"
    process = start_zbo("run", config, "--out", out, "--quiet",
                        stderr_file=tmp_path / "run.log")
    try:
        wait_for_evaluations(out, 2, process)
        # while the campaign runs, a writer is refused but a reader sees the finished evaluations
        with pytest.raises(CampaignFileError, match="in use by"):
            CampaignStore.open(out, writable=True)
        with CampaignStore.open(out) as live:
            assert live.n_evaluations >= 2
        assert process.poll() is None, "the campaign ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    before = _snapshot(out)
    assert 2 <= len(before) < TINY_BUDGET
    result = run_zbo("resume", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"{len(before)}/{TINY_BUDGET} evaluations done" in result.stderr
    after = _snapshot(out)
    assert len(after) == TINY_BUDGET
    assert [row[0] for row in after] == list(range(TINY_BUDGET))
    _same_evaluations(before, after)
    assert len({row[2] for row in after}) == TINY_BUDGET  # no point evaluated twice


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    # longer trainings, so that the signal lands in one
    config = write_config(tmp_path / "tiny.toml", tiny_config(schedules={"n_epochs": 15}))
    out = tmp_path / "camp.h5"
    log = tmp_path / "run.log"
    process = start_zbo("run", config, "--out", out, stderr_file=log)
    try:
        seen = wait_for_evaluations(out, 1, process)
        assert process.poll() is None, "the campaign ended before Ctrl-C"
        os.kill(process.pid, signal.SIGINT)
        status = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert status == 130, text
    assert "Traceback" not in text
    assert "stopping after the current epoch" in text
    assert f"zbo resume {out}" in text
    before = _snapshot(out)
    assert seen <= len(before) < TINY_BUDGET
    assert f"stopped; {len(before)} evaluations are saved" in text
    assert all(row[1] == "succeeded" for row in before)
    result = run_zbo("resume", out, "--quiet")
    assert result.returncode == 0, result.stderr
    after = _snapshot(out)
    assert len(after) == TINY_BUDGET
    _same_evaluations(before, after)


# ---------------------------------------------------------------------------- divergence
def test_diverged_training_is_a_failed_evaluation_and_the_campaign_goes_on(
        tmp_path: Path) -> None:
    # lr = 1e9 sends an encoder scale to 0 in the first epoch: pyro's distribution check
    # raises ValueError, which train_jrvae turns into TrainingDiverged (every schedule)
    config = write_config(tmp_path / "nan.toml", tiny_config(jrvae={"lr": 1e9},
                                                             bo={"initial": 2, "budget": 3}))
    out = tmp_path / "nan.h5"
    result = run_zbo("run", config, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    failed_lines = [line for line in result.stderr.splitlines() if "| FAILED: " in line]
    assert [line.split(" | ")[0] for line in failed_lines] == [
        "zbo: eval 1/3", "zbo: eval 2/3", "zbo: eval 3/3"]
    assert all("FAILED: TrainingDiverged: training diverged at epoch 1" in line
               for line in failed_lines)
    assert "zbo: finished (budget); 3 evaluations" in result.stderr
    info = run_zbo("info", out, "--json")
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert (summary["evaluations"], summary["succeeded"], summary["failed"]) == (3, 0, 3)
    assert summary["best_objective"] is None
    for row in summary["rows"]:
        assert row["status"] == "failed"
        assert row["message"].startswith("TrainingDiverged: training diverged at epoch 1: ")
        assert "\n" not in row["message"]
        assert row["objective"] is None and row["class_usage"] == []
    export = run_zbo("export", out, "--format", "csv", "-o", tmp_path / "best.csv")
    assert_user_error(export, "no successful evaluation")
    assert not (tmp_path / "best.csv").exists()


# ---------------------------------------------------------------------------- bad input
BAD_CONFIGS = {
    "negative lr": ({"jrvae": {"lr": -1}}, ["jrvae.lr", "-1"]),
    "unknown key": ({"jrvae": {"learning_rate": 0.1}}, ["unknown key", "jrvae.learning_rate"]),
    "unknown section": ({"optimiser": {"lr": 0.1}}, ["unknown section", "optimiser"]),
    "missing dataset": ({"dataset": {"source": "missing.npy"}}, ["missing.npy"]),
    "beta_lo >= beta_hi": ({"schedules": {"beta_lo": 5.0, "beta_hi": 5.0}},
                           ["schedules.beta_lo", "beta_hi"]),
    "beta_lo <= 0": ({"schedules": {"beta_lo": 0.0}}, ["schedules.beta_lo", "> 0"]),
    "N < 2": ({"schedules": {"n_epochs": 1}}, ["schedules.n_epochs", ">= 2"]),
    "budget < initial": ({"bo": {"initial": 5, "budget": 3}}, ["bo.budget", "bo.initial"]),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_value_is_a_one_line_error(case: str, tmp_path: Path) -> None:
    sections, needles = BAD_CONFIGS[case]
    path = write_config(tmp_path / "bad.toml", tiny_config(**sections))
    out = tmp_path / "camp.h5"
    assert_user_error(run_zbo("run", path, "--out", out), *needles)
    assert not out.exists(), "a rejected configuration left a campaign file behind"
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]


def test_invalid_toml_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[jrvae]\nlr = = 0.1\n", encoding="utf-8")
    assert_user_error(run_zbo("run", path, "--out", tmp_path / "camp.h5"), "invalid TOML")
    assert not (tmp_path / "camp.h5").exists()


def test_missing_config_file_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert_user_error(run_zbo("run", missing, "--out", tmp_path / "camp.h5"),
                      "config file not found", str(missing))


def test_existing_campaign_is_not_overwritten(quick_file: Path, tmp_path: Path) -> None:
    existing = tmp_path / "camp.h5"
    shutil.copyfile(quick_file, existing)
    digest = sha256(existing)
    config = write_config(tmp_path / "tiny.toml", TINY_CONFIG)
    assert_user_error(run_zbo("run", config, "--out", existing), str(existing),
                      "already exists", "--overwrite")
    assert sha256(existing) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camp.h5", "tiny.toml"]


def _damaged(kind: str, quick_file: Path, folder: Path) -> Path:
    path = folder / f"{kind}.h5"
    if kind == "corrupted":
        path.write_bytes(np.random.default_rng(7).bytes(64 * 1024))
    else:
        data = quick_file.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("command", ["info", "resume", "export"])
@pytest.mark.parametrize("kind", ["corrupted", "truncated"])
def test_damaged_campaign_file_is_a_one_line_error(kind: str, command: str, quick_file: Path,
                                                   tmp_path: Path) -> None:
    path = _damaged(kind, quick_file, tmp_path)
    digest = sha256(path)
    args: list[Any] = [command, path]
    if command == "export":
        args += ["--format", "csv", "-o", tmp_path / "best.csv"]
    line = assert_user_error(run_zbo(*args), str(path))
    expected = "not an HDF5 file" if kind == "corrupted" else "truncated"
    assert expected in line
    assert sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_missing_campaign_file_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.h5"
    assert_user_error(run_zbo("info", missing), str(missing), "no such file")


def test_run_needs_a_config_or_the_demo(tmp_path: Path) -> None:
    assert_user_error(run_zbo("run", "--out", tmp_path / "camp.h5"), "--demo")
    assert not (tmp_path / "camp.h5").exists()


def test_cli_module_is_runnable() -> None:
    result = run_zbo("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("zbo-gui ")
