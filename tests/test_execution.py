"""Evaluations in Dask worker processes: overlap, faults (kill -9 of a worker, of the driver),
Stop and Pause, the SLURM job script. Real trainings (tiny settings), real local clusters."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import h5py
import psutil
import pytest

from zbo_gui.core.config import ExecutionConfig, config_from_dict
from zbo_gui.core.errors import ConfigError
from zbo_gui.core.types import Controls, EvaluationCancelled, EvaluationStatus
from zbo_gui.execution.clusters import slurm_cluster
from zbo_gui.execution.task import WorkerProgress, worker_ordinal
from zbo_gui.runner import CampaignRunner
from zbo_gui.storage.campaign_file import FORMAT_VERSION, CampaignStore

from .cli_helpers import run_zbo, start_zbo, tiny_config, write_config


def _config(epochs: int, workers: int = 2, budget: int = 6, **sections: dict) -> object:
    return config_from_dict(tiny_config(
        schedules={"n_epochs": epochs}, bo={"initial": 3, "budget": budget},
        execution={"workers": workers}, **sections))


def _pending_unlocked(path: Path) -> list[dict]:
    """The evaluations in flight that another process records in ``path`` (or [])."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            text = f["evaluations"].attrs.get("pending", "[]")
    except (OSError, KeyError, ValueError, RuntimeError):
        return []
    return json.loads(text.decode() if isinstance(text, bytes) else text)


# ---------------------------------------------------------------------------- two workers
def test_two_local_workers_train_at_the_same_time(tmp_path: Path) -> None:
    config = _config(epochs=30)
    reports: list[WorkerProgress] = []
    with CampaignRunner.create(tmp_path / "c.h5", config) as runner:
        end = runner.run(on_progress=reports.append)
    assert end.reason is not None and end.reason.value == "budget"
    with CampaignStore.open(tmp_path / "c.h5") as store:
        evaluations = store.read_evaluations()
        assert store.read_pending() == []
    assert len(evaluations) == 6
    assert all(e.status is EvaluationStatus.SUCCEEDED for e in evaluations)
    assert len({e.worker for e in evaluations}) == 2 and all("@" in e.worker for e in evaluations)
    assert len({r.pid for r in reports}) == 2 and os.getpid() not in {r.pid for r in reports}
    spans = [(e.started, e.started + e.seconds, e.worker) for e in evaluations]
    overlaps = [(a, b) for a in spans for b in spans
                if a[2] != b[2] and a[0] < b[1] and b[0] < a[1]]
    assert overlaps, spans
    # every training reported each of its epochs, from the worker that ran it
    assert {(r.ticket, r.step) for r in reports} >= {(t, s) for t in range(6) for s in (1, 30)}


def test_kill_9_of_a_worker_costs_one_retry_then_a_failed_evaluation(tmp_path: Path) -> None:
    """Ticket 1's first worker is killed: it trains again elsewhere and succeeds. Ticket 3's
    worker is killed twice: it is recorded FAILED, naming the cause, and the campaign goes on."""
    config = _config(epochs=60, budget=6)
    kills: dict[int, set[int]] = {1: set(), 3: set()}
    wanted = {1: 1, 3: 2}

    def watch(report: WorkerProgress) -> None:
        victims = kills.get(report.ticket)
        if (victims is not None and report.step >= 3 and report.pid not in victims
                and len(victims) < wanted[report.ticket]):
            victims.add(report.pid)
            os.kill(report.pid, signal.SIGKILL)

    with CampaignRunner.create(tmp_path / "c.h5", config) as runner:
        end = runner.run(on_progress=watch)
    assert end.reason is not None and end.reason.value == "budget"
    assert [len(v) for v in kills.values()] == [1, 2]
    with CampaignStore.open(tmp_path / "c.h5") as store:
        evaluations = store.read_evaluations()
    assert len(evaluations) == 6
    failed = [e for e in evaluations if e.status is EvaluationStatus.FAILED]
    assert len(failed) == 1 and "KilledWorker" in failed[0].message, failed
    assert sum(e.status is EvaluationStatus.SUCCEEDED for e in evaluations) == 5


def test_stop_ends_every_training_in_flight_within_an_epoch_and_keeps_none(
        tmp_path: Path) -> None:
    """Counted in epochs, not seconds (a loaded machine slows both alike): each training in
    flight reports at most the epoch it was in when Stop came, and one more (an epoch here,
    ≈ 0.5 s, is longer than the worker's 0.25 s between looks at the flag)."""
    config = _config(epochs=400, budget=6, dataset={"n_images": 600})
    cancel = threading.Event()
    at_stop: dict[int, int] = {}
    last: dict[int, int] = {}

    def watch(report: WorkerProgress) -> None:
        last[report.ticket] = report.step
        if not cancel.is_set() and len(last) == 2 and min(last.values()) >= 3:
            at_stop.update(last)
            cancel.set()

    with (CampaignRunner.create(tmp_path / "c.h5", config) as runner,
          pytest.raises(EvaluationCancelled)):
        runner.run(Controls(cancel=cancel), on_progress=watch)
    with CampaignStore.open(tmp_path / "c.h5") as store:
        assert store.n_evaluations == 0 and store.read_pending() == []
    assert set(at_stop) == {0, 1}
    assert all(last[t] - at_stop[t] <= 2 for t in at_stop), (at_stop, last)


def test_pause_lets_the_trainings_in_flight_finish(tmp_path: Path) -> None:
    config = _config(epochs=40, budget=6)
    pause = threading.Event()

    def watch(report: WorkerProgress) -> None:
        if report.ticket == 4 and report.step >= 1:  # tickets 4 and 5 in flight, or about to
            pause.set()

    with CampaignRunner.create(tmp_path / "c.h5", config) as runner:
        end = runner.run(pause=pause, on_progress=watch)
    assert end.paused
    with CampaignStore.open(tmp_path / "c.h5") as store:
        count, pending = store.n_evaluations, store.read_pending()
    assert count in (5, 6) and pending == []  # nothing left in flight: both finished


# ---------------------------------------------------------------------------- the driver
def test_kill_9_of_the_driver_with_two_in_flight_then_resume_to_the_end(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tiny_config(
        schedules={"n_epochs": 80}, bo={"initial": 3, "budget": 5}, execution={"workers": 2}))
    out, log = tmp_path / "c.h5", tmp_path / "zbo.log"
    process = start_zbo("run", config, "--out", out, "--workers", "2", "-q", stderr_file=log)
    deadline = time.monotonic() + 240
    pending: list[dict] = []
    while time.monotonic() < deadline and process.poll() is None:
        pending = _pending_unlocked(out)
        if len(pending) == 2 and all(p["worker"] for p in pending):
            break
        time.sleep(0.05)
    assert len(pending) == 2, log.read_text()
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 2
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], f"worker processes outlived the driver by 30 s: {alive}"

    lost = {p["grid_index"] for p in pending}
    done = run_zbo("resume", out, "--workers", "2", "-q", timeout=300)
    assert done.returncode == 0, done.stderr
    with CampaignStore.open(out) as store:
        evaluations = store.read_evaluations()
        assert store.read_pending() == []
    assert len(evaluations) == 5
    assert lost <= {e.proposal.grid_index for e in evaluations}  # submitted again
    info = json.loads(run_zbo("info", out, "--json").stdout)
    assert all(row["worker"] and row["started"] > 1.7e9 for row in info["rows"])
    assert info["in_flight"] == []


# ---------------------------------------------------------------------------- configuration
def test_slurm_job_script_carries_the_requested_directives() -> None:
    config = ExecutionConfig(workers=3, cluster="slurm", queue="gpu", account="ms-lab",
                             memory="16GB", walltime="02:30:00", gpus=1,
                             job_extra=("--constraint=a100",))
    cluster = slurm_cluster(config, threads=4, scale=False)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for directive in ("#SBATCH -p gpu", "#SBATCH -A ms-lab", "#SBATCH -t 02:30:00",
                      "#SBATCH --gres=gpu:1", "#SBATCH --constraint=a100",
                      "#SBATCH --cpus-per-task=4"):
        assert directive in script, script
    assert "--mem=" in script and "--resources zbo_training=1" in script
    assert "PRE_SPAWN_ENVIRON" in script and "MALLOC_TRIM" not in script


def test_execution_settings_are_checked() -> None:
    for bad, needle in (({"workers": -1}, "execution.workers"),
                        ({"scheduler": "localhost"}, "execution.scheduler"),
                        ({"cluster": "pbs"}, "execution.cluster"),
                        ({"scheduler": "tcp://h:8786", "cluster": "slurm"}, "exclude"),
                        ({"workers": 0, "scheduler": "tcp://h:8786"}, "workers = 0")):
        with pytest.raises(ConfigError, match=needle):
            ExecutionConfig(**bad)
    assert ExecutionConfig(workers=2).threads(2) == 1
    assert ExecutionConfig(workers=1).threads(16) == 16
    assert ExecutionConfig(workers=4, threads_per_worker=3).threads(2) == 3
    assert [worker_ordinal(n) for n in (0, 3, "SLURMCluster-12", "x")] == [0, 3, 12, 0]


def test_an_unreachable_scheduler_is_one_line_naming_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tiny_config())
    result = run_zbo("run", config, "--out", tmp_path / "c.h5", "--workers", "1",
                     "--scheduler", "tcp://127.0.0.1:9", timeout=200)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "tcp://127.0.0.1:9" in result.stderr.strip().splitlines()[-1]


def test_worker_processes_are_gone_after_a_run(tmp_path: Path) -> None:
    config = _config(epochs=6, workers=2, budget=3)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with CampaignRunner.create(tmp_path / "c.h5", config) as runner:
        runner.run()
    time.sleep(1.0)
    after = {p.pid for p in psutil.Process().children(recursive=True) if p.is_running()
             and p.status() != psutil.STATUS_ZOMBIE}
    assert after <= before


def _as_format_2(path: Path) -> None:
    """Rewrite a current campaign file as format 2 wrote it: evaluation rows without the
    ``worker`` field, no record of evaluations in flight."""
    import numpy as np

    from zbo_gui.storage import _files

    with h5py.File(path, "r+", locking=False) as f:
        group = f["evaluations"]
        rows = group["rows"][()]
        names = [n for n in rows.dtype.names if n != "worker"]
        old = np.zeros(rows.shape, dtype=np.dtype([(n, rows.dtype.fields[n][0]) for n in names]))
        for name in names:
            old[name] = rows[name]
        chunks = group["rows"].chunks
        del group["rows"]
        _files.create(group, "rows", old, maxshape=(None,), chunks=chunks)
        if "pending" in group.attrs:
            del group.attrs["pending"]
        f.attrs["format_version"] = 2


def test_a_campaign_of_the_previous_format_resumes_on_workers_and_exports(
        tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    config = config_from_dict(tiny_config(bo={"initial": 3, "budget": 5},
                                          execution={"workers": 0}))
    with CampaignRunner.create(path, config) as runner:
        runner.prepare()
        for _ in range(2):
            runner.evaluate(runner.next_proposal())
    _as_format_2(path)
    info = json.loads(run_zbo("info", path, "--json").stdout)
    assert info["format_version"] == FORMAT_VERSION and info["evaluations"] == 2  # migrated
    done = run_zbo("resume", path, "--workers", "1", "-q", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "INFO" not in done.stderr  # Dask's own chatter is not shown
    info = json.loads(run_zbo("info", path, "--json").stdout)
    assert info["evaluations"] == 5
    assert [bool(row["worker"]) for row in info["rows"]] == [False, False, True, True, True]
    exported = run_zbo("export", path, "--format", "csv", "-o", tmp_path / "best.csv")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "best.csv").read_text().startswith("epoch,beta_c,beta_d")
