"""Helpers of the ``zbo`` command-line tests: run the command, write tiny configs, watch files."""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import tomli_w

#: A campaign small enough to run end to end in seconds on a 2-core CPU (it need not learn).
TINY_CONFIG: dict[str, Any] = {
    "seed": 0,
    "dataset": {"source": "demo", "digits": [0, 1], "n_images": 120, "image_size": 8},
    "schedules": {
        "n_epochs": 6,
        "counts": {"cooldown": 3, "segmented": 2, "constant": 2, "warmup": 2},
    },
    "schedule_vae": {"epochs": 60},
    "grid": {"size": 30},
    "jrvae": {"classes": 2, "encoder_hidden": [32], "decoder_hidden": [8], "device": "cpu"},
    "objective": {"manifold_d": 3, "pairs": 10},
    "bo": {"initial": 3, "budget": 6, "stop_patience": 0},
    # Trainings of seconds run in the test's own process; the tests of execution (and of the
    # window's and the CLI's default) use Dask worker processes (tests/test_execution.py).
    "execution": {"workers": 0},
}

#: Environment of every ``zbo`` subprocess: no progress bars to parse, one torch thread each.
_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def zbo_command(*args: str | os.PathLike[str]) -> list[str]:
    """The argv that runs ``zbo ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "zbo_gui.cli", *(str(a) for a in args)]


def zbo_env() -> dict[str, str]:
    """The environment of a ``zbo`` subprocess."""
    return {**os.environ, **_ENV}


def run_zbo(*args: str | os.PathLike[str], timeout: float = 300,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``zbo ARGS...`` to completion and capture its output (text)."""
    return subprocess.run(zbo_command(*args), capture_output=True, text=True, timeout=timeout,
                          env=zbo_env(), cwd=cwd, check=False)


def start_zbo(*args: str | os.PathLike[str], stderr_file: Path) -> subprocess.Popen[bytes]:
    """Start ``zbo ARGS...`` in the background; stdout and stderr go to ``stderr_file``."""
    with stderr_file.open("wb") as sink:
        return subprocess.Popen(zbo_command(*args), stdout=sink, stderr=subprocess.STDOUT,
                                env=zbo_env())


def tiny_config(**sections: dict[str, Any]) -> dict[str, Any]:
    """:data:`TINY_CONFIG` with keys of some sections replaced (``jrvae={"lr": 1.0}``)."""
    config = copy.deepcopy(TINY_CONFIG)
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` as TOML at ``path``; returns ``path``."""
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_count_unlocked(path: Path) -> int | None:
    """The evaluation count of a campaign file that another process may be writing.

    Opens the file read-only without HDF5 file locking (the writer holds the lock for as long
    as it runs); None while the file is missing or unreadable mid-write.
    """
    try:
        with h5py.File(path, "r", locking=False) as f:
            return int(f["evaluations"].attrs["count"])
    except (OSError, KeyError, ValueError, RuntimeError):
        return None


def wait_for_evaluations(path: Path, count: int, process: subprocess.Popen[bytes],
                         timeout: float = 240, interval: float = 0.1) -> int:
    """Poll ``path`` until it holds at least ``count`` evaluations; returns the count seen.

    Raises:
        AssertionError: the process ended, or ``timeout`` seconds passed, first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = stored_count_unlocked(path)
        if seen is not None and seen >= count:
            return seen
        if process.poll() is not None:
            raise AssertionError(f"zbo ended (status {process.returncode}) before {count}"
                                 f" evaluations were stored (last seen: {seen})")
        time.sleep(interval)
    raise AssertionError(f"no {count} evaluations in {path} after {timeout} s")


def assert_user_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Check a one-line ``zbo: error: ...`` naming ``needles``, exit status 2, no traceback.

    Returns:
        The error line.
    """
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zbo: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
