"""Build the tabular benchmark: real jiVAE trainings stored once at fixed schedules.

The way the hyper-parameter field compares optimisers (HPOBench, LCBench): train once at fixed
points, then replay every optimiser against the table (``benchmarks/tabular.py``), where a visit
returns one of the stored seeds at random — real noise, in seconds instead of hours.

The space is the engine's defaults at preset "Q" (DESIGN.md §2): seed library of
``ScheduleConfig`` counts with N = 40 epochs, bounds [0.1, 10], schedule VAE and 100×100 grid,
all seeded 0. The table's schedules:

* ``grid``: 260 feasible grid points chosen farthest-first over the region (any prefix covers it);
* ``seed``: every seed schedule of the library;
* ``constant``: 16 constants log-spaced over [0.1, 10].

Each is trained with seeds 1 and 2 (digits {0,1,4}, 400 images 16×16, 3 classes, lr 1e-2, batch
25, β_d = 1, the engine's "usage" objective). A training stores the objective, ℓ1, ℓ2, class
usage, accuracy, NMI, the loss curve, the class usage of a 120-image probe every 5 epochs, and its
seconds. Jobs are interleaved over the three kinds, so a partial table is a smaller whole one.

Resumes where it stopped: the space is saved once (``space.npz``); each worker appends one JSON
line per training to its own ``runs-K.jsonl`` (flushed and synced; a torn last line is ignored).

    python benchmarks/tabular_build.py --workers 2 [--hours 1.5]
    python benchmarks/tabular_build.py --status
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TABLE = Path(__file__).resolve().parent / "data" / "tabular_q"
N_EPOCHS = 40
BOUNDS = (0.1, 10.0)
N_GRID_POINTS = 260
N_CONSTANTS = 16
TRAINING_SEEDS = (1, 2)
USAGE_EVERY = 5
#: A stored training collapsed when one class holds at least this share of the images.
COLLAPSED_SHARE = 0.9
KINDS = ("grid", "seed", "constant")


# ------------------------------------------------------------------------------ the space
def build_space() -> dict[str, np.ndarray]:
    """The seed library, schedule VAE and grid of the engine's defaults (seed 0), and the
    table's schedules; saved to ``space.npz`` the first time, read back afterwards."""
    path = TABLE / "space.npz"
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    from _methods import build_space as engine_space

    from zbo_gui.core.campaign import space_filling
    from zbo_gui.core.config import ScheduleConfig
    from zbo_gui.core.schedules import Bounds

    counts = dict(ScheduleConfig(n_epochs=N_EPOCHS).counts)
    space = engine_space(counts, N_EPOCHS, Bounds(*BOUNDS), initial=10, seed=0)
    grid = space.grid
    chosen = space_filling(grid.points, grid.feasible, N_GRID_POINTS, seed=0)
    arrays = {
        "x": grid.x, "y": grid.y, "points": grid.points,
        "decoded": grid.decoded.astype(np.float32), "feasible": grid.feasible,
        "seed_z": grid.seed_z, "grid_index": chosen.astype(np.int64),
        "seeds": space.library.schedules, "seed_families": np.array(space.library.families),
        "constants": np.geomspace(BOUNDS[0], BOUNDS[1], N_CONSTANTS),
    }
    TABLE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return arrays


def schedules(space: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each kind's schedules ``(n, N)``."""
    n = space["decoded"].shape[1]
    return {
        "grid": np.asarray(space["decoded"][space["grid_index"]], np.float64),
        "seed": np.asarray(space["seeds"], np.float64),
        "constant": np.repeat(space["constants"][:, None], n, axis=1),
    }


def jobs(space: dict[str, np.ndarray]) -> list[tuple[str, int, int]]:
    """Every (kind, index, seed), interleaved so that any prefix holds each kind in proportion
    (and both seeds of a schedule next to each other)."""
    keyed = []
    for kind, rows in schedules(space).items():
        for i in range(len(rows)):
            for seed in TRAINING_SEEDS:
                keyed.append(((i + 0.5) / len(rows), KINDS.index(kind), i, seed, kind))
    keyed.sort()
    return [(kind, i, seed) for _, _, i, seed, kind in keyed]


# ------------------------------------------------------------------------------ runs
def read_runs(folder: Path = TABLE) -> list[dict]:
    """Every stored training (a torn last line of a shard is skipped)."""
    runs = []
    for shard in sorted(folder.glob("runs-*.jsonl")):
        for line in shard.read_text().splitlines():
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return runs


def _append(path: Path, record: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def collapsed(run: dict) -> bool:
    """Whether a stored training collapsed: diverged, or one class holds ≥ 90 % of the
    images at the end."""
    if run["status"] != "ok":
        return True
    usage = np.asarray(run["usage"], dtype=float)
    return bool(usage.max() >= COLLAPSED_SHARE * usage.sum())


def train_one(objective, schedule: np.ndarray, seed: int) -> dict:
    """One training with the engine's objective, watching the class usage of its probe."""
    from zbo_gui.core.jrvae import class_assignments
    from zbo_gui.core.objective import probe_images
    from zbo_gui.core.types import Controls, TrainingDiverged

    probe = probe_images(objective.images)
    usage_curve: list[list[int]] = []
    k = objective.jrvae.classes

    def watch(epoch: int, model) -> None:
        if epoch % USAGE_EVERY == 0 or epoch == 1:
            usage = np.bincount(class_assignments(model, probe), minlength=k)
            usage_curve.append([epoch, *map(int, usage)])

    start = time.perf_counter()
    try:
        result = objective(schedule, seed, Controls(), on_epoch=watch)
    except TrainingDiverged as exc:
        return {"status": "diverged", "message": str(exc), "objective": None,
                "usage_curve": usage_curve, "seconds": time.perf_counter() - start}
    return {
        "status": "ok", "objective": result.value, "l1": result.l1, "l2": result.l2,
        "usage": result.class_usage.tolist(), "accuracy": result.accuracy, "nmi": result.nmi,
        "loss_curve": [round(float(v), 4) for v in result.loss_curve],
        "usage_curve": usage_curve, "train_seconds": result.train_seconds,
        "score_seconds": result.score_seconds,
        "seconds": time.perf_counter() - start,
    }


def work(worker: int, workers: int, hours: float) -> None:
    """Train this worker's share of the missing jobs, until done or ``hours`` have passed."""
    import torch

    from zbo_gui.core.config import JrVAEConfig, ObjectiveConfig
    from zbo_gui.core.datasets import rotated_digits
    from zbo_gui.core.objective import JrVAEObjective

    torch.set_num_threads(1)
    space = build_space()
    rows = schedules(space)
    data = rotated_digits((0, 1, 4), 400, 16, 60.0, seed=0)
    objective = JrVAEObjective(data.images, data.labels, JrVAEConfig(classes=3),
                               ObjectiveConfig())
    done = {(r["kind"], r["index"], r["seed"]) for r in read_runs()}
    mine = [j for n, j in enumerate(jobs(space)) if n % workers == worker and j not in done]
    shard = TABLE / f"runs-{worker}.jsonl"
    deadline = time.monotonic() + hours * 3600
    for count, (kind, index, seed) in enumerate(mine, 1):
        if time.monotonic() > deadline:
            print(f"worker {worker}: time is up, {len(mine) - count + 1} jobs left", flush=True)
            return
        record = train_one(objective, rows[kind][index], seed)
        _append(shard, {"kind": kind, "index": index, "seed": seed, **record})
        print(f"worker {worker}: {count}/{len(mine)} {kind} {index} seed {seed}:"
              f" objective {record['objective']}, accuracy {record.get('accuracy')},"
              f" {record['seconds']:.1f} s", flush=True)


def status() -> None:
    """How much of the table is built."""
    space = build_space()
    runs = read_runs()
    total = len(jobs(space))
    print(f"{len(runs)} of {total} trainings stored ({100 * len(runs) / total:.0f} %)")
    for kind in KINDS:
        mine = [r for r in runs if r["kind"] == kind]
        ok = [r for r in mine if r["status"] == "ok"]
        if ok:
            values = np.array([r["objective"] for r in ok])
            acc = np.array([r["accuracy"] for r in ok])
            print(f"  {kind:8s} {len(mine):4d} trainings; objective median {np.median(values):.3f},"
                  f" < 0.01 in {np.mean(values < 0.01):.0%}; accuracy {acc.min():.2f}–"
                  f"{acc.max():.2f}; {np.mean([r['seconds'] for r in mine]):.1f} s each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="processes, 1 torch thread each")
    parser.add_argument("--hours", type=float, default=100.0, help="stop after this long")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--status", action="store_true", help="say how much is built")
    args = parser.parse_args()
    if args.status:
        status()
        return
    if args.worker is not None:
        work(args.worker, args.workers, args.hours)
        return
    build_space()  # once, before the workers read it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    children = [subprocess.Popen([sys.executable, __file__, "--worker", str(k), "--workers",
                                  str(args.workers), "--hours", str(args.hours)], env=env)
                for k in range(args.workers)]
    try:
        for child in children:
            child.wait()
    except KeyboardInterrupt:  # the children got it too; each keeps what it finished
        for child in children:
            child.wait()
    status()


if __name__ == "__main__":
    main()
