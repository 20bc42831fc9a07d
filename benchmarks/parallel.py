"""Parallel evaluations: wall time of the same 12-evaluation campaign, side by side.

Preset "Q" (DESIGN.md §2: digits {0,1,4}, 400 images 16x16, 40 epochs, 3 classes). The campaign's
stages (seed schedules, schedule VAE, grid) are computed once; each mode then runs the same 12
evaluations from a copy of that file, through the real run loop (``CampaignRunner.run``):

* ``1x2``: one Dask worker process, 2 torch threads (``execution.workers = 1``,
  ``threads_per_worker = 2``);
* ``2x1``: two worker processes, one thread each (the default on a 2-core machine);
* the limit: twice the throughput of one 1-thread training alone, measured here by training
  the campaign's first schedules one after another in this process on 1 thread.

Also per evaluation in the ``2x1`` run: the dispatch overhead, from the driver's submission to
its receipt of the result minus the worker's own time for it, compared with one preset-Q
training (a training at the demo preset "D" takes about 3.5 times as long).

    python benchmarks/parallel.py [--modes 1x2,2x1] [--limit-trainings 3]

Appends each mode's result to ``benchmarks/results/parallel.json`` as it finishes (a rerun skips
modes already there unless ``--fresh``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _report import RESULTS, write_json

NAME = "parallel"
BUDGET = 12
MODES = {"1x2": (1, 2), "2x1": (2, 1)}


def preset_q(workers: int = 1, threads: int = 0):
    """Preset "Q" with ``workers`` worker processes of ``threads`` torch threads each."""
    from zbo_gui.core.config import config_from_dict

    return config_from_dict({
        "seed": 0,
        "dataset": {"digits": [0, 1, 4], "n_images": 400, "image_size": 16},
        "schedules": {"n_epochs": 40},
        "jrvae": {"classes": 3, "device": "cpu"},
        "bo": {"initial": 6, "budget": BUDGET},
        "execution": {"workers": workers, "threads_per_worker": threads},
    })


def prepared(folder: Path) -> Path:
    """The campaign file with its stages computed (once) and no evaluation."""
    from zbo_gui.runner import CampaignRunner

    path = folder / "prepared.h5"
    if not path.exists():
        with CampaignRunner.create(path, preset_q()) as runner:
            runner.prepare()
    return path


def run_mode(base: Path, folder: Path, workers: int, threads: int) -> dict:
    """The 12 evaluations with ``workers`` × ``threads``: wall time and dispatch overheads."""
    from zbo_gui.core.config import config_from_dict
    from zbo_gui.runner import CampaignRunner

    path = folder / f"mode_{workers}x{threads}.h5"
    shutil.copyfile(base, path)
    submitted: dict[int, float] = {}
    overheads: list[float] = []
    with CampaignRunner.open(path) as runner:
        runner.config = config_from_dict(
            {"execution": {"workers": workers, "threads_per_worker": threads}},
            base=runner.config)
        runner.prepare()
        executor = runner.start_executor()
        try:
            start = time.perf_counter()

            def proposed(proposal) -> None:
                submitted[proposal.grid_index] = time.perf_counter()

            def evaluated(evaluation) -> None:
                round_trip = time.perf_counter() - submitted[evaluation.proposal.grid_index]
                overheads.append(round_trip - evaluation.seconds)

            runner.run(on_proposal=proposed, on_evaluation=evaluated, executor=executor)
            wall = time.perf_counter() - start
        finally:
            executor.close()
        evaluations = runner.campaign.evaluations
    seconds = [e.seconds for e in evaluations]
    return {"workers": workers, "threads": threads, "wall_seconds": wall,
            "evaluations": len(evaluations), "evaluation_seconds": seconds,
            "workers_used": sorted({e.worker for e in evaluations}),
            "dispatch_overhead_seconds": overheads,
            "median_dispatch_overhead_seconds": statistics.median(overheads)}


def one_thread_training_seconds(base: Path, count: int) -> list[float]:
    """Seconds of ``count`` trainings (with scoring) on 1 thread in this process, one after
    another: the campaign's first design points."""
    import torch

    from zbo_gui.core.types import Controls
    from zbo_gui.runner import CampaignRunner

    torch.set_num_threads(1)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "limit.h5"
        shutil.copyfile(base, path)
        with CampaignRunner.open(path) as runner:
            campaign = runner.prepare()
            for k in range(count):
                proposal = campaign.ask()
                start = time.perf_counter()
                runner.objective(proposal.schedule, runner.seeds(k)[0], Controls())
                out.append(time.perf_counter() - start)
                runner.evaluate(proposal)  # so that the next ask is the next design point
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="1x2,2x1")
    parser.add_argument("--limit-trainings", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    args = parser.parse_args()
    out = RESULTS / f"{NAME}.json"
    result = {} if args.fresh or not out.exists() else json.loads(out.read_text())
    result.pop("machine", None)
    result.setdefault("budget", BUDGET)
    result.setdefault("preset", "Q")
    modes = result.setdefault("modes", {})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = prepared(folder)
        print(f"stages of the preset-Q campaign ready ({base})", flush=True)
        if "limit" not in result:
            times = one_thread_training_seconds(base, args.limit_trainings)
            one = statistics.median(times)
            result["limit"] = {"one_thread_training_seconds": times,
                               "wall_seconds": BUDGET * one / 2}
            write_json(NAME, result)
            print(f"one training on 1 thread: {', '.join(f'{t:.1f}' for t in times)} s;"
                  f" limit for {BUDGET} on 2 cores: {BUDGET * one / 2:.1f} s", flush=True)
        for name in args.modes.split(","):
            if name in modes:
                print(f"{name}: kept from an earlier run ({modes[name]['wall_seconds']:.1f} s)")
                continue
            workers, threads = MODES[name]
            modes[name] = run_mode(base, folder, workers, threads)
            write_json(NAME, result)
            print(f"{name} ({workers} worker(s) x {threads} thread(s)): {BUDGET} evaluations in"
                  f" {modes[name]['wall_seconds']:.1f} s; median dispatch overhead"
                  f" {modes[name]['median_dispatch_overhead_seconds'] * 1000:.0f} ms", flush=True)
    limit = result["limit"]["wall_seconds"]
    for mode in modes.values():
        mode["share_of_limit"] = limit / mode["wall_seconds"]
    if "1x2" in modes and "2x1" in modes:
        result["speedup_2x1_over_1x2"] = modes["1x2"]["wall_seconds"] / modes["2x1"]["wall_seconds"]
    if "2x1" in modes:  # a preset-Q training is shorter than one of the demo preset "D"
        one = statistics.median(result["limit"]["one_thread_training_seconds"])
        result["dispatch_overhead_share_of_one_training"] = (
            modes["2x1"]["median_dispatch_overhead_seconds"] / one)
    write_json(NAME, result)
    for name, mode in modes.items():
        print(f"{name}: {mode['wall_seconds']:.1f} s = {mode['share_of_limit']:.2f} x the limit"
              f" ({limit:.1f} s)")
    if "speedup_2x1_over_1x2" in result:
        print("2 workers x 1 thread vs 1 worker x 2 threads:"
              f" {result['speedup_2x1_over_1x2']:.2f}x")
    if "dispatch_overhead_share_of_one_training" in result:
        print(f"dispatch overhead: {result['dispatch_overhead_share_of_one_training']:.2%} of one"
              " preset-Q training on 1 thread")


if __name__ == "__main__":
    main()
