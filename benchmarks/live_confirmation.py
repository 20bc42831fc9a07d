"""The live confirmation of the tabular benchmark: real trainings, not the table.

``zbo`` (the engine's defaults, as ``zbo run`` uses them), ``random-latent`` and ``constant-grid``
each run ``--reps`` repetitions of budget 20 at preset "Q" (DESIGN.md §2), every evaluation a
real jiVAE training (``sample_efficiency.jivae_problem``: repetition r, evaluation k trains with
seed 1000·r + k + 1 for every method). Then the schedule each repetition would export (its best
evaluation) is retrained with 5 fresh seeds (90001…90005): its mean accuracy and objective say
what the scientist gets.

Resumes: each finished (method, repetition) is appended to the JSON at once; a new run skips
what is there. Two processes, one torch thread each.

    python benchmarks/live_confirmation.py [--reps 5] [--budget 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
from _methods import METHODS, build_space
from _report import RESULTS, write_json

from zbo_gui.core.config import BOConfig, ScheduleConfig
from zbo_gui.core.schedules import Bounds

NAME = "live_confirmation"
METHOD_NAMES = ("zbo", "random-latent", "constant-grid")
RETRAIN_SEEDS = (90001, 90002, 90003, 90004, 90005)
N_EPOCHS = 40


def one_run(method: str, rep: int, budget: int) -> dict:
    """One repetition of one method, then its exported schedule retrained with fresh seeds."""
    import torch
    from sample_efficiency import Recorder, jivae_problem

    from zbo_gui.core.config import JrVAEConfig, ObjectiveConfig
    from zbo_gui.core.datasets import rotated_digits
    from zbo_gui.core.objective import JrVAEObjective
    from zbo_gui.core.types import Controls

    torch.set_num_threads(1)
    schedules = ScheduleConfig(n_epochs=N_EPOCHS)
    bounds = Bounds(schedules.beta_lo, schedules.beta_hi)
    space = build_space(dict(schedules.counts), N_EPOCHS, bounds, BOConfig().initial, seed=rep)
    recorder = Recorder(jivae_problem(rep))
    start = time.perf_counter()
    METHODS[method](space, recorder, budget, rep)
    data = rotated_digits((0, 1, 4), 400, 16, 60.0, seed=0)
    objective = JrVAEObjective(data.images, data.labels, JrVAEConfig(classes=3),
                               ObjectiveConfig())
    retrained = [objective(recorder.best_schedule, seed, Controls()) for seed in RETRAIN_SEEDS]
    return {"method": method, "rep": rep, "observed": recorder.observed,
            "accuracy": recorder.accuracy, "best": float(max(recorder.reported)),
            "best_schedule": recorder.best_schedule.tolist(),
            "retrained_objective": [r.value for r in retrained],
            "retrained_accuracy": [r.accuracy for r in retrained],
            "seconds": time.perf_counter() - start}


def summary(runs: list[dict]) -> dict:
    out = {}
    for method in METHOD_NAMES:
        mine = [r for r in runs if r["method"] == method]
        if mine:
            out[method] = {
                "reps": len(mine),
                "best_median": float(np.median([r["best"] for r in mine])),
                "retrained_objective_median": float(np.median(
                    [np.mean(r["retrained_objective"]) for r in mine])),
                "retrained_accuracy_median": float(np.median(
                    [np.mean(r["retrained_accuracy"]) for r in mine])),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    path = RESULTS / f"{NAME}.json"
    runs: list[dict] = json.loads(path.read_text())["runs"] if path.exists() else []
    done = {(r["method"], r["rep"]) for r in runs}
    todo = [(m, r) for r in range(args.reps) for m in METHOD_NAMES if (m, r) not in done]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one_run, m, r, args.budget) for m, r in todo]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            print(f"{run['method']:14s} rep {run['rep']}: best {run['best']:.3f}; exported"
                  f" schedule retrained: accuracy {np.mean(run['retrained_accuracy']):.3f},"
                  f" objective {np.mean(run['retrained_objective']):.3f}"
                  f" ({run['seconds']:.0f} s)", flush=True)
            write_json(NAME, {"budget": args.budget, "preset": "Q",
                              "summary": summary(runs), "runs": runs})
    print(json.dumps(summary(runs), indent=2))


if __name__ == "__main__":
    main()
