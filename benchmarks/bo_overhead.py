"""BO overhead of one zBO iteration against the number of evaluations and the grid size.

    python benchmarks/bo_overhead.py [--repeats 3] [--loop-grid 100]

(with ``zbo_gui`` importable: installed, or ``PYTHONPATH=.`` from the repository root).

For 10-200 evaluations and grids of 50², 100², 200² it times, on synthetic seeded data (a smooth
function plus noise), the three parts of an iteration as ``Campaign.ask`` runs them:

* ``fit``: ``fit_gp`` (BoTorch SingleTaskGP, noise fitted by L-BFGS);
* ``posterior``: the display arrays, posterior mean and σ over the whole grid (``predict``);
* ``acquisition``: LogEI over the grid, EI over the candidates (for the stop rule), argmax.

Beside them, on one grid (``--loop-grid``) at 50 and 150 evaluations, the point-by-point
posterior loop of the reference scripts (one ``model.posterior`` call per grid point) on the same
fitted model, as a ratio to the chunked posterior measured in the same run. Medians of
``--repeats``. Prints a table; writes ``benchmarks/results/bo_overhead.{json,png}``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gpytorch
import numpy as np
import torch
from _report import RESULTS, write_json

from zbo_gui.core.surrogate import (
    expected_improvement,
    fit_gp,
    log_expected_improvement,
    predict,
    propose,
)

N_EVALS = (10, 25, 50, 100, 150, 200)
GRIDS = (50, 100, 200)
LOOP_EVALS = (50, 150)
Z_LO = np.array([-3.0, -3.0])
Z_HI = np.array([3.0, 3.0])


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(n, 2)`` points in the box and a noisy smooth objective ``(n,)``."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(Z_LO, Z_HI, size=(n, 2))
    y = np.sin(z[:, 0]) * np.cos(0.7 * z[:, 1]) - 0.05 * (z**2).sum(axis=1)
    return z, y + 0.05 * rng.standard_normal(n)


def grid_points(size: int) -> np.ndarray:
    """The ``(size*size, 2)`` points of a regular grid over the box."""
    axes = [np.linspace(Z_LO[i], Z_HI[i], size) for i in range(2)]
    return np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, 2)


def one_iteration(n: int, points: np.ndarray, seed: int) -> tuple[dict[str, float], object]:
    """Times fit, posterior and acquisition of one iteration; returns the times and the fit."""
    z, y = synthetic(n, seed)
    t0 = time.perf_counter()
    fit = fit_gp(z, y, Z_LO, Z_HI, seed=seed)
    t1 = time.perf_counter()
    mean, std = predict(fit, points)
    t2 = time.perf_counter()
    candidates = np.ones(len(points), dtype=bool)
    candidates[::7] = False  # as if some points were infeasible or evaluated
    acq = log_expected_improvement(mean, std, fit.best_y)
    propose(acq, candidates)
    float(expected_improvement(mean[candidates], std[candidates], fit.best_y).max())
    t3 = time.perf_counter()
    return {"fit_s": t1 - t0, "posterior_s": t2 - t1, "acquisition_s": t3 - t2,
            "total_s": t3 - t0}, fit


def point_loop(fit, points: np.ndarray) -> float:
    """Seconds for the reference scripts' posterior: one ``posterior`` call per point."""
    x = torch.as_tensor((points - fit.z_lo) / (fit.z_hi - fit.z_lo), dtype=torch.float64)
    mean = np.empty(len(points))
    var = np.empty(len(points))
    start = time.perf_counter()
    with torch.no_grad(), gpytorch.settings.fast_pred_var():
        for i in range(len(points)):
            post = fit.model.posterior(x[i:i + 1])
            mean[i] = float(post.mean)
            var[i] = float(post.variance)
    return time.perf_counter() - start


def run(repeats: int, loop_grid: int) -> tuple[list[dict], list[dict]]:
    """Rows of the overhead table and of the point-loop comparison."""
    rows, loops = [], []
    for size in GRIDS:
        points = grid_points(size)
        for n in N_EVALS:
            times = [one_iteration(n, points, seed=rep)[0] for rep in range(repeats)]
            row = {"grid": size, "n_eval": n}
            row.update({k: statistics.median(t[k] for t in times) for k in times[0]})
            rows.append(row)
    points = grid_points(loop_grid)
    for n in LOOP_EVALS:
        chunked, fit = one_iteration(n, points, seed=0)
        looped = point_loop(fit, points)
        loops.append({"grid": loop_grid, "n_eval": n, "chunked_posterior_s":
                      chunked["posterior_s"], "point_loop_s": looped,
                      "ratio": looped / chunked["posterior_s"]})
    return rows, loops


def plot(rows: list[dict]) -> None:
    """Total overhead against evaluations, one line per grid size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for size in GRIDS:
        sel = [r for r in rows if r["grid"] == size]
        ax.plot([r["n_eval"] for r in sel], [r["total_s"] for r in sel], "o-",
                label=f"{size}×{size} grid")
    ax.axhline(1.0, color="grey", ls="--", lw=1, label="goal at 150 evaluations (1 s)")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("seconds per BO iteration")
    ax.set_title("BO overhead: GP fit + grid posterior + acquisition")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "bo_overhead.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-grid", type=int, default=100)
    args = parser.parse_args()

    fit_gp(*synthetic(10, seed=99), Z_LO, Z_HI)  # warm-up: first-call costs of torch/gpytorch
    rows, loops = run(args.repeats, args.loop_grid)

    print(f"median of {args.repeats}, {torch.get_num_threads()} torch threads")
    print(f"{'grid':>5} {'n_eval':>6} {'fit [s]':>8} {'posterior [s]':>14} {'acq [s]':>8}"
          f" {'total [s]':>10}")
    for r in rows:
        print(f"{r['grid']:>4}² {r['n_eval']:>6} {r['fit_s']:>8.3f} {r['posterior_s']:>14.3f}"
              f" {r['acquisition_s']:>8.3f} {r['total_s']:>10.3f}")
    print("\npoint-by-point posterior loop (reference scripts) against the chunked posterior:")
    for r in loops:
        print(f"  {r['grid']}² grid, {r['n_eval']} evaluations: loop {r['point_loop_s']:.2f} s,"
              f" chunked {r['chunked_posterior_s']:.3f} s, ratio {r['ratio']:.0f}×")
    path = write_json("bo_overhead", {
        "benchmark": "bo_overhead", "command": "python benchmarks/bo_overhead.py"
        f" --repeats {args.repeats} --loop-grid {args.loop_grid}",
        "repeats": args.repeats, "acquisition": "logei", "rows": rows, "point_loop": loops,
    })
    plot(rows)
    print(f"wrote {path} and bo_overhead.png")


if __name__ == "__main__":
    main()
