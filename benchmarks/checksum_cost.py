"""Cost of the campaign file's Fletcher-32 checksums on appending and on opening a campaign.

    python benchmarks/checksum_cost.py [--evaluations 100] [--repeats 5]

(with ``zbo_gui`` importable: installed, or ``PYTHONPATH=.`` from the repository root).

Builds, with checksums and without (``zbo_gui.storage._files.CHECKSUMS``, everything else equal:
format version 2, the same chunking and compression), a campaign file of the default demo
preset's shapes: 800 images of 16×16, 120 seed schedules of 50 epochs, a schedule VAE of
hidden (128, 128), a 100×100 grid, and ``--evaluations`` evaluations (4 classes, 8×8 manifolds
of 16×16, a 50-epoch loss curve). Times, alternating the two variants (ABBA) ``--repeats``
times, with the page cache warm:

* ``append``: ``CampaignStore.append_evaluation`` of every evaluation (flushed each time), per
  evaluation;
* ``open``: what ``zbo resume`` does before its first training: open writable (the lease),
  ``verify`` every checksum, read the dataset, seeds, schedule VAE, grid and evaluations;
* ``open_read``: the same reads without ``verify`` (``zbo info``/the window read this much).

Prints the medians and the overhead of the checksums in percent (goal < 5 %); writes
``benchmarks/results/checksum_cost.json``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import write_json

from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.core.types import (
    Evaluation,
    EvaluationStatus,
    ObjectiveResult,
    Proposal,
    ProposalSource,
)
from zbo_gui.storage import _files
from zbo_gui.storage.campaign_file import CampaignStore

N_EPOCHS, CLASSES, D, SIZE, IMAGES, GRID, SEEDS = 50, 4, 8, 16, 800, 100, 120


def evaluation(index: int, rng: np.random.Generator) -> Evaluation:
    """An evaluation of the demo preset's shapes with random contents."""
    result = ObjectiveResult(
        value=float(rng.random()), seed=index, l1=float(rng.random()), l2=0.01,
        loss_curve=rng.normal(size=N_EPOCHS) + 100.0,
        class_usage=rng.integers(0, 200, CLASSES).astype(np.int64),
        class_intensity=rng.random(CLASSES), accuracy=float(rng.random()),
        nmi=float(rng.random()),
        manifolds=rng.integers(0, 256, (CLASSES, D * D, SIZE, SIZE), dtype=np.uint8),
        train_seconds=60.0, score_seconds=0.2)
    proposal = Proposal(grid_index=int(rng.integers(GRID * GRID)), z=rng.normal(size=2),
                        schedule=rng.random(N_EPOCHS) * 5 + 0.1,
                        source=ProposalSource.ACQUISITION, acquisition=float(rng.normal()),
                        max_ei=float(rng.random()))
    return Evaluation(index=index, proposal=proposal, status=EvaluationStatus.SUCCEEDED,
                      objective=result.value, replicates=(result,), started=1.8e9 + index,
                      seconds=61.0)


def weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A schedule VAE's state dict of the demo preset's shapes (hidden 128, 128)."""
    shapes = {"encoder_z.fc_layers.0.weight": (128, N_EPOCHS), "encoder_z.fc_layers.2.weight":
              (128, 128), "encoder_z.fc11.weight": (2, 128), "encoder_z.fc12.weight": (2, 128),
              "decoder.fc_layers.0.weight": (128, 2), "decoder.fc_layers.2.weight": (128, 128),
              "decoder.out.weight": (N_EPOCHS, 128)}
    return {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}


def build(path: Path, evaluations: list[Evaluation]) -> float:
    """Write a whole campaign file; returns the seconds per appended evaluation."""
    rng = np.random.default_rng(0)
    x = np.linspace(-3, 3, GRID)
    xx, yy = np.meshgrid(x, x)
    grid = LatentGrid(x=x, y=x, points=np.column_stack([xx.ravel(), yy.ravel()]),
                      decoded=rng.random((GRID * GRID, N_EPOCHS)).astype(np.float32) + 0.1,
                      feasible=rng.random(GRID * GRID) > 0.5, seed_z=rng.normal(size=(SEEDS, 2)))
    with CampaignStore.create(path, "seed = 0\n", "bench", overwrite=True) as store:
        store.write_dataset(rng.random((IMAGES, SIZE, SIZE)).astype(np.float32),
                            rng.integers(0, 4, IMAGES), "sha256:bench", "demo")
        store.write_seeds(rng.random((SEEDS, N_EPOCHS)) + 0.1, ["cooldown"] * SEEDS)
        store.write_schedule_vae(weights(rng), {"losses": list(range(1000))})
        store.write_grid(grid)
        start = time.perf_counter()
        for e in evaluations:
            store.append_evaluation(e)
        return (time.perf_counter() - start) / len(evaluations)


def open_and_read(path: Path, verify: bool) -> float:
    """Seconds to open ``path`` and read back what a resume reads (with ``verify`` first)."""
    start = time.perf_counter()
    with CampaignStore.open(path, writable=verify) as store:
        if verify:
            store.verify()
        store.read_dataset()
        store.read_seeds()
        store.read_schedule_vae()
        store.read_grid()
        store.read_evaluations()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    evaluations = [evaluation(i, rng) for i in range(args.evaluations)]
    times: dict[str, dict[str, list[float]]] = {
        variant: {"append": [], "open": [], "open_read": []} for variant in ("on", "off")}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.repeats):
            order = ("on", "off") if r % 2 == 0 else ("off", "on")  # ABBA
            for variant in order:
                _files.CHECKSUMS = variant == "on"
                path = Path(folder) / f"{variant}.h5"
                times[variant]["append"].append(build(path, evaluations))
                sizes[variant] = path.stat().st_size
                open_and_read(path, True)  # warm the page cache
                times[variant]["open"].append(open_and_read(path, True))
                times[variant]["open_read"].append(open_and_read(path, False))
    _files.CHECKSUMS = True
    medians = {v: {k: statistics.median(t) for k, t in d.items()} for v, d in times.items()}
    overhead = {k: 100.0 * (medians["on"][k] / medians["off"][k] - 1.0) for k in medians["on"]}
    print(f"campaign file: {args.evaluations} evaluations, demo shapes;"
          f" median of {args.repeats} (ABBA)")
    print(f"{'':<12}{'checksums':>12}{'none':>12}{'overhead':>10}")
    for key, label in (("append", "append/eval"), ("open", "open+verify"),
                       ("open_read", "open (read)")):
        print(f"{label:<12}{medians['on'][key] * 1e3:>10.2f}ms{medians['off'][key] * 1e3:>10.2f}ms"
              f"{overhead[key]:>9.1f}%")
    print(f"{'file size':<12}{sizes['on'] / 1e6:>10.2f}MB{sizes['off'] / 1e6:>10.2f}MB"
          f"{100.0 * (sizes['on'] / sizes['off'] - 1.0):>9.1f}%")
    out = write_json("checksum_cost", {
        "evaluations": args.evaluations, "repeats": args.repeats,
        "seconds": times, "median_seconds": medians, "overhead_percent": overhead,
        "file_bytes": sizes, "goal_percent": 5.0,
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
