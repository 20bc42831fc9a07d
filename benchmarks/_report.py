"""Shared by the benchmark scripts: machine facts, JSON output and best-so-far statistics."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Facts that decide how a timing or a result can be compared: CPU, threads, load, versions."""
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1min": os.getloadavg()[0],  # other processes inflate timings
    }


def write_json(name: str, report: dict[str, Any], folder: Path = RESULTS) -> Path:
    """Writes ``report`` (plus :func:`machine`) to ``FOLDER/NAME.json`` (benchmarks/results)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**report, "machine": machine()}, indent=2) + "\n")
    return path


def best_so_far(values: np.ndarray) -> np.ndarray:
    """Running maximum along the last axis: ``(..., B)`` → ``(..., B)``."""
    return np.maximum.accumulate(values, axis=-1)


def quartiles(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 25th and 75th percentile over repetitions of ``(R, B)`` curves, each ``(B,)``."""
    q25, q50, q75 = np.percentile(curves, [25, 50, 75], axis=0)
    return q50, q25, q75


def evaluations_to_reach(curve: np.ndarray, threshold: float) -> int | None:
    """1-based number of evaluations after which ``curve`` ``(B,)`` is ≥ threshold, or None."""
    hit = np.flatnonzero(curve >= threshold)
    return int(hit[0]) + 1 if hit.size else None
