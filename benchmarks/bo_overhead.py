"""Time the BO overhead of one iteration: GP fit plus log-EI over a 100 x 100 latent grid.

Usage::

    python benchmarks/bo_overhead.py [--repeats 3] [--grid 100]

(with ``zbo_gui`` importable: installed, or ``PYTHONPATH=.`` from the repository root).

For each number of evaluations (10, 50, 150) it times ``fit_gp`` and ``grid_posterior("logei")``
on synthetic, seeded data (a smooth function plus noise), reports the median of the repeats and
writes ``benchmarks/results/bo_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from zbo_gui.core.surrogate import fit_gp, grid_posterior

N_EVALS = (10, 50, 150)
Z_LO = np.array([-3.0, -3.0])
Z_HI = np.array([3.0, 3.0])
RESULTS = Path(__file__).resolve().parent / "results" / "bo_overhead.json"


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``n x 2`` points in the box and a noisy smooth objective ``(n,)``."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(Z_LO, Z_HI, size=(n, 2))
    y = np.sin(z[:, 0]) * np.cos(0.7 * z[:, 1]) - 0.05 * (z**2).sum(axis=1)
    return z, y + 0.05 * rng.standard_normal(n)


def _grid(size: int) -> np.ndarray:
    axes = [np.linspace(Z_LO[i], Z_HI[i], size) for i in range(2)]
    return np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, 2)


def run(repeats: int, grid_size: int) -> list[dict[str, float]]:
    """Times fit + grid posterior for every entry of ``N_EVALS``; returns one row per entry."""
    points = _grid(grid_size)
    rows = []
    for n in N_EVALS:
        fits, posts = [], []
        for rep in range(repeats):
            z, y = _synthetic(n, seed=rep)
            t0 = time.perf_counter()
            fit = fit_gp(z, y, Z_LO, Z_HI, seed=rep)
            t1 = time.perf_counter()
            grid_posterior(fit, points, "logei")
            t2 = time.perf_counter()
            fits.append(t1 - t0)
            posts.append(t2 - t1)
        fit_s, post_s = statistics.median(fits), statistics.median(posts)
        totals = [a + b for a, b in zip(fits, posts, strict=True)]
        rows.append(
            {
                "n_eval": n,
                "fit_s": fit_s,
                "grid_posterior_s": post_s,
                "total_s": statistics.median(totals),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid", type=int, default=100)
    args = parser.parse_args()

    fit_gp(*_synthetic(10, seed=99), Z_LO, Z_HI)  # warm-up: first-call costs of torch/gpytorch
    rows = run(args.repeats, args.grid)

    load = os.getloadavg()[0]
    print(
        f"grid {args.grid}x{args.grid} = {args.grid**2} points, median of {args.repeats}, "
        f"{torch.get_num_threads()} torch threads, load average {load:.2f}"
    )
    print(f"{'n_eval':>6} {'fit_gp [s]':>11} {'grid_post [s]':>14} {'total [s]':>10}")
    for row in rows:
        print(
            f"{row['n_eval']:>6} {row['fit_s']:>11.3f} {row['grid_posterior_s']:>14.3f} "
            f"{row['total_s']:>10.3f}"
        )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "bo_overhead",
        "grid_points": args.grid**2,
        "repeats": args.repeats,
        "acquisition": "logei",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": load,  # other processes on the machine inflate the timings
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
