"""Cost of the campaign file's Fletcher-32 checksums on appending and on opening a campaign.

    python benchmarks/checksum_cost.py [--evaluations 100] [--repeats 9] [--contents demo|random]

(with ``zbo_gui`` importable: installed, or ``PYTHONPATH=.`` from the repository root).

Builds, with checksums and without (``zbo_gui.storage._files.CHECKSUMS``, everything else equal:
format version 2, the same chunking and compression), a campaign file of the default demo
preset's shapes and kind of contents (what compresses how much decides what a checksum over the
stored bytes costs): the demo's 800 rotated digits of 16×16, its 120 seed schedules of 50
epochs, a schedule VAE of hidden (128, 128), a 100×100 grid of smooth decoded schedules, and
``--evaluations`` evaluations (4 classes, 8×8 manifolds of 16×16 tiles cut from the digits, a
50-epoch loss curve). Times, alternating the two variants (ABBA) ``--repeats`` times, with
the page cache warm:

* ``append``: ``CampaignStore.append_evaluation`` of every evaluation (flushed each time), per
  evaluation;
* ``open``: what ``zbo resume`` does before its first training: open writable (the lease),
  ``verify`` every checksum, read the dataset, seeds, schedule VAE, grid and evaluations;
* ``open_read``: the same reads without ``verify`` (``zbo info``/the window read this much).

``--contents random`` fills every array with random numbers instead: incompressible, the worst
case for a checksum over the stored (compressed) bytes. Prints the medians and minima and the
overhead of the checksums in percent (goal < 5 %); writes
``benchmarks/results/checksum_cost[_random].json``.
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


def evaluation(index: int, rng: np.random.Generator, images: np.ndarray) -> Evaluation:
    """An evaluation of the demo preset's shapes; its manifolds are tiles of ``images``."""
    tiles = images[rng.integers(0, len(images), CLASSES * D * D)]
    manifolds = (255 * tiles).astype(np.uint8).reshape(CLASSES, D * D, SIZE, SIZE)
    result = ObjectiveResult(
        value=float(rng.random()), seed=index, l1=float(rng.random()), l2=0.01,
        loss_curve=rng.normal(size=N_EPOCHS) + 100.0,
        class_usage=rng.integers(0, 200, CLASSES).astype(np.int64),
        class_intensity=rng.random(CLASSES), accuracy=float(rng.random()),
        nmi=float(rng.random()),
        manifolds=manifolds,
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


def demo_contents(random: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The demo preset's images ``(800, 16, 16)``, labels, seed schedules ``(120, 50)`` and
    their families (``random``: arrays of those shapes with random values)."""
    if random:
        rng = np.random.default_rng(2)
        return (rng.random((IMAGES, SIZE, SIZE)).astype(np.float32),
                rng.integers(0, 4, IMAGES), rng.random((SEEDS, N_EPOCHS)) + 0.1,
                ("cooldown",) * SEEDS)
    from zbo_gui.core.config import demo_config
    from zbo_gui.core.datasets import load_dataset
    from zbo_gui.core.schedules import Bounds, generate_library

    config = demo_config()
    data = load_dataset(config.dataset, config.seed)
    sc = config.schedules
    library = generate_library(sc.counts, sc.n_epochs, Bounds(sc.beta_lo, sc.beta_hi),
                               config.seed)
    return data.images, data.labels, library.schedules, library.families


def build(path: Path, evaluations: list[Evaluation], demo: tuple, random: bool) -> float:
    """Write a whole campaign file; returns the seconds per appended evaluation."""
    images, labels, seeds, families = demo
    rng = np.random.default_rng(0)
    x = np.linspace(-3, 3, GRID)
    xx, yy = np.meshgrid(x, x)
    # smooth decoded schedules: each grid point blends the seed schedules by its distance
    anchors = rng.normal(size=(len(seeds), 2))
    points = np.column_stack([xx.ravel(), yy.ravel()])
    weight = np.exp(-((points[:, None, :] - anchors[None]) ** 2).sum(-1))
    decoded = (weight @ seeds / weight.sum(1, keepdims=True)).astype(np.float32)
    if random:
        decoded = rng.random(decoded.shape).astype(np.float32)
    grid = LatentGrid(x=x, y=x, points=points, decoded=decoded,
                      feasible=(xx ** 2 + yy ** 2).ravel() < 6.0, seed_z=anchors)
    with CampaignStore.create(path, "seed = 0\n", "bench", overwrite=True) as store:
        store.write_dataset(images, labels, "sha256:bench", "demo")
        store.write_seeds(seeds, families)
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
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--contents", choices=("demo", "random"), default="demo")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    demo = demo_contents(args.contents == "random")
    evaluations = [evaluation(i, rng, demo[0]) for i in range(args.evaluations)]
    if args.contents == "random":  # incompressible manifolds, too
        for e in evaluations:
            e.replicates[0].manifolds[...] = rng.integers(0, 256, e.replicates[0].manifolds.shape)
    times: dict[str, dict[str, list[float]]] = {
        variant: {"append": [], "open": [], "open_read": []} for variant in ("on", "off")}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.repeats):
            order = ("on", "off") if r % 2 == 0 else ("off", "on")  # ABBA
            for variant in order:
                _files.CHECKSUMS = variant == "on"
                path = Path(folder) / f"{variant}.h5"
                times[variant]["append"].append(
                    build(path, evaluations, demo, args.contents == "random"))
                sizes[variant] = path.stat().st_size
                open_and_read(path, True)  # warm the page cache
                times[variant]["open"].append(open_and_read(path, True))
                times[variant]["open_read"].append(open_and_read(path, False))
    _files.CHECKSUMS = True
    medians = {v: {k: statistics.median(t) for k, t in d.items()} for v, d in times.items()}
    minima = {v: {k: min(t) for k, t in d.items()} for v, d in times.items()}
    overhead = {k: 100.0 * (medians["on"][k] / medians["off"][k] - 1.0) for k in medians["on"]}
    overhead_min = {k: 100.0 * (minima["on"][k] / minima["off"][k] - 1.0) for k in minima["on"]}
    print(f"campaign file: {args.evaluations} evaluations, demo shapes, {args.contents}"
          f" contents; median (minimum) of {args.repeats}, ABBA")
    print(f"{'':<12}{'checksums':>20}{'none':>20}{'overhead':>18}")
    for key, label in (("append", "append/eval"), ("open", "open+verify"),
                       ("open_read", "open (read)")):
        on, off = medians["on"][key] * 1e3, medians["off"][key] * 1e3
        on_min, off_min = minima["on"][key] * 1e3, minima["off"][key] * 1e3
        print(f"{label:<12}{on:>9.2f} ({on_min:6.2f}) ms{off:>9.2f} ({off_min:6.2f}) ms"
              f"{overhead[key]:>8.1f}% ({overhead_min[key]:5.1f}%)")
    print(f"{'file size':<12}{sizes['on'] / 1e6:>10.2f}MB{sizes['off'] / 1e6:>10.2f}MB"
          f"{100.0 * (sizes['on'] / sizes['off'] - 1.0):>9.1f}%")
    name = "checksum_cost" + ("_random" if args.contents == "random" else "")
    out = write_json(name, {
        "evaluations": args.evaluations, "repeats": args.repeats, "contents": args.contents,
        "seconds": times, "median_seconds": medians, "minimum_seconds": minima,
        "overhead_percent": overhead, "overhead_percent_of_minima": overhead_min,
        "file_bytes": sizes, "goal_percent": 5.0,
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
