"""Twenty ``kill -9`` at random moments of a quick campaign and its resumes.

Seven kills land at exact moments of each stage (``ZBO_KILL_AT``, see ``zbo_gui.core.faults``:
the process sends itself SIGKILL there), in the order a campaign meets them: while writing the
dataset and the seed schedules of a new file, during the schedule VAE's training (after a
checkpoint), while writing the latent grid, in an evaluation's training, before its scoring and
in the middle of appending it. Thirteen more land after a random delay, some at any moment of a
process's life, most in its evaluations. After each kill the campaign is resumed (or begun again
when no file was published yet), and the finished file must equal an uninterrupted run row for
row: same seeds, schedule-VAE weights, grid and evaluations (timings aside). HDF5's file locking
is off for the killed processes, as on a cluster file system: the writer lease alone must let
each resume take over from the killed writer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np

from tests.cli_helpers import run_zbo, tiny_config, write_config, zbo_command, zbo_env
from zbo_gui.storage.campaign_file import STAGES, CampaignStore

BUDGET = 20
CONFIG = tiny_config(schedule_vae={"epochs": 60}, bo={"initial": 3, "budget": BUDGET})
STAGE_KILLS = ["dataset", "seeds", "schedule_vae@2", "grid", "training@3", "scoring", "append"]
RANDOM_KILLS = 13
READY = "feasible latent region"  # printed once a process has prepared its campaign
TIMING = {"started", "seconds", "train_seconds", "score_seconds"}


def _start(config: Path, out: Path, log: Path, kill_at: str = "") -> subprocess.Popen[bytes]:
    args = (("-v", "resume", out, "-q") if out.exists()
            else ("-v", "run", config, "--out", out, "-q"))
    env = {**zbo_env(), "HDF5_USE_FILE_LOCKING": "FALSE"}
    env.pop("ZBO_KILL_AT", None)
    if kill_at:
        env["ZBO_KILL_AT"] = kill_at
    with log.open("wb") as sink:
        return subprocess.Popen(zbo_command(*args), stdout=sink, stderr=subprocess.STDOUT,
                                env=env)


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def _count(path: Path) -> int:
    with CampaignStore.open(path) as store:
        return store.n_evaluations


def _stages(path: Path) -> list[str]:
    with CampaignStore.open(path) as store:
        return [s for s in STAGES if store.has(s)]


def _check_stage_kill(point: str, out: Path, before: int) -> None:
    """What a kill at ``point`` must have left on disk."""
    name = point.split("@")[0]
    if name in ("dataset", "seeds"):  # the new file was never published
        assert not out.exists()
        assert list(out.parent.glob(f".{out.name}.*.tmp")), "the draft should be left over"
        return
    stages = _stages(out)
    if name == "schedule_vae":
        assert stages == ["dataset", "seeds"]
        with CampaignStore.open(out) as store:
            checkpoint = store.read_checkpoint("schedule_vae")
        assert checkpoint is not None and checkpoint[0] == 12  # 2nd of every 6 epochs
    elif name == "grid":
        assert stages == ["dataset", "seeds", "schedule_vae"]
    else:
        assert stages == list(STAGES)
        assert _count(out) == before
    if name == "append":  # the replicate row is on disk, its evaluation row is not counted
        with h5py.File(out, "r") as f:
            assert f["evaluations/replicates/rows"].shape[0] > before


def _rows(path: Path) -> dict[str, object]:
    """Everything of a finished campaign that a rerun must reproduce exactly."""
    with CampaignStore.open(path) as store:
        assert store.verify() > 0
        images, labels, fingerprint, _ = store.read_dataset()
        weights, meta = store.read_schedule_vae()
        grid = store.read_grid()
        evaluations = store.read_evaluations()
        lease = store.writer()
    assert lease is not None and not lease.taken
    with h5py.File(path, "r") as f:
        assert "_checkpoints" not in f and not any(k.startswith("_partial") for k in f)
    out: dict[str, object] = {"images": images, "labels": labels, "fingerprint": fingerprint,
                              "losses": np.array(meta["losses"])}
    out.update({f"w:{k}": v for k, v in weights.items()})
    out.update({f"grid:{k}": getattr(grid, k) for k in ("points", "decoded", "feasible")})
    for e in evaluations:
        p = e.proposal
        out[f"e{e.index}"] = (e.status.value, e.objective, e.message, p.grid_index,
                              p.source.value, p.acquisition, p.max_ei)
        out[f"e{e.index}:z"], out[f"e{e.index}:schedule"] = p.z, p.schedule
        for r, rep in enumerate(e.replicates):
            for name in ("value", "seed", "l1", "l2", "accuracy", "nmi", "loss_curve",
                         "class_usage", "class_intensity", "manifolds"):
                assert name not in TIMING
                out[f"e{e.index}r{r}:{name}"] = getattr(rep, name)
    return out


def _equal(a: object, b: object) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def _assert_same(got: dict[str, object], expected: dict[str, object]) -> None:
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        if isinstance(value, np.ndarray) or value is None:
            np.testing.assert_array_equal(got[key], value, err_msg=key)
        else:
            assert _equal(got[key], value), (key, got[key], value)


def test_twenty_kills_then_the_file_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    config = write_config(tmp_path / "kill.toml", CONFIG)
    reference = tmp_path / "reference.h5"
    result = run_zbo("run", config, "--out", reference, "-q", timeout=600)
    assert result.returncode == 0, result.stderr
    expected = _rows(reference)
    assert sum(k.startswith("e") and ":" not in k for k in expected) == BUDGET
    with CampaignStore.open(reference) as store:  # how long one evaluation takes here
        per_evaluation = float(np.mean([e.seconds for e in store.read_evaluations()]))

    work = tmp_path / "killed"
    work.mkdir()
    out = work / "camp.h5"
    rng = np.random.default_rng(20)
    kills: list[str] = []
    for point in STAGE_KILLS:
        before = _count(out) if out.exists() and len(_stages(out)) == len(STAGES) else 0
        process = _start(config, out, tmp_path / f"kill{len(kills)}.log", kill_at=point)
        status = process.wait(timeout=300)
        log = (tmp_path / f"kill{len(kills)}.log").read_text(errors="replace")
        assert status == -signal.SIGKILL, (point, status, log)
        if kills and kills[-1].startswith("schedule_vae"):  # went on from the checkpoint
            assert "schedule VAE resumed from its checkpoint at epoch 12" in log, log
        _check_stage_kill(point, out, before)
        kills.append(point)
    for i in range(RANDOM_KILLS):
        log = tmp_path / f"kill{len(kills)}.log"
        process = _start(config, out, log)
        try:
            if i % 3 == 0:  # any moment: start-up, reading the file back, preparing, ...
                time.sleep(rng.uniform(0.2, 3.0))
            else:  # a moment among the next evaluation or two: training, scoring, GP, append
                assert _wait_for(log, READY, process, 300), log.read_text(errors="replace")
                time.sleep(rng.uniform(0.0, 1.5 * per_evaluation))
            assert process.poll() is None, f"the campaign ended before kill {len(kills) + 1}"
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(timeout=60) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        kills.append(f"random {i + 1}")
    assert len(kills) == 20
    assert _count(out) < BUDGET, "the kills should leave evaluations for the last resume"

    result = run_zbo("resume", out, "-q", timeout=600)
    assert result.returncode == 0, result.stderr
    _assert_same(_rows(out), expected)
    assert sorted(p.name for p in work.iterdir()) == ["camp.h5"]  # no draft left behind
