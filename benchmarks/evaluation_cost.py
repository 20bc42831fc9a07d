"""What one evaluation costs: jiVAE training throughput, the scoring pipeline, engine overhead.

    python benchmarks/evaluation_cost.py [--repeats 5] [--device auto] [--only TEXT]

(with ``zbo_gui`` importable: installed, or ``PYTHONPATH=.`` from the repository root).

1. **Throughput** (images/s, median of ``--repeats``) of the engine's ``train_jrvae`` for the
   settings of DESIGN.md §2 (28×28 digits: 10 classes with pyroVED's default decoder [128, 128];
   10 and 3 classes with [32, 32]; 3 classes without rotational invariance) and for the engine's
   presets "quick", "Q" (DESIGN.md §2) and "D" (the default demo), timed over a few epochs.
2. **Objective pipeline** (class manifolds + class assignments + SSIM scoring) of each preset as
   a fraction of that preset's full training (``epochs × seconds per epoch``).
3. **Engine against a bare pyroVED loop**: ``train_jrvae`` against a hand-written
   ``jiVAE`` + ``SVItrainer`` loop (``trainer.step(loader, scale_factor=[β_c, β_d])``) with
   identical settings and seed, alternated in the same run; ratio = bare / engine time
   (1.0: the engine adds nothing; goal ≥ 0.95), as the ratio of the medians and of the minima.

Uses CUDA when present (``--device auto``). Prints tables; writes
``benchmarks/results/evaluation_cost.{json,png}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from dataclasses import dataclass

import numpy as np
from _report import RESULTS, write_json

from zbo_gui.core.config import JrVAEConfig, ObjectiveConfig, demo_config, quick_config
from zbo_gui.core.datasets import rotated_digits
from zbo_gui.core.jrvae import (
    build_jrvae,
    class_assignments,
    class_manifolds,
    resolve_device,
    train_jrvae,
)
from zbo_gui.core.objective import JrVAEObjective


@dataclass(frozen=True)
class Setting:
    """One jiVAE setting to time: data, model and how many images/epochs to time it on."""

    name: str
    digits: tuple[int, ...]
    image_size: int
    jrvae: JrVAEConfig
    images: int  # images in the timed run (the preset's own count for presets)
    timed_epochs: int
    preset_epochs: int = 0  # > 0 for engine presets: the full training's length
    manifold_d: int = 8


def settings(device: str) -> list[Setting]:
    """DESIGN.md §2's settings, then the engine presets quick, Q and D."""
    ten = tuple(range(10))
    quick, demo = quick_config(), demo_config()
    dev = {"device": device}
    return [
        Setting("28², 10 classes, decoder [128,128]", ten, 28,
                JrVAEConfig(classes=10, decoder_hidden=(128, 128), **dev), 100, 1),
        Setting("28², 10 classes, decoder [32,32]", ten, 28,
                JrVAEConfig(classes=10, **dev), 200, 1),
        Setting("28², 3 classes, decoder [32,32]", (0, 1, 4), 28,
                JrVAEConfig(classes=3, **dev), 400, 2),
        Setting("28², 3 classes, no invariance", (0, 1, 4), 28,
                JrVAEConfig(classes=3, invariances=(), **dev), 1000, 3),
        Setting("preset quick", quick.dataset.digits, quick.dataset.image_size,
                dataclasses.replace(quick.jrvae, **dev), quick.dataset.n_images,
                quick.schedules.n_epochs, quick.schedules.n_epochs, quick.objective.manifold_d),
        Setting("preset Q", (0, 1, 4), 16, JrVAEConfig(classes=3, **dev), 400, 8, 40),
        Setting("preset D (demo)", demo.dataset.digits, demo.dataset.image_size,
                dataclasses.replace(demo.jrvae, **dev), demo.dataset.n_images, 5,
                demo.schedules.n_epochs, demo.objective.manifold_d),
    ]


def bare_loop(images: np.ndarray, schedule: np.ndarray, config: JrVAEConfig, seed: int,
              device: str) -> float:
    """Seconds for pyroVED's own loop: the model, SVItrainer and dataloader, nothing else."""
    import torch
    from pyroved.trainers import SVItrainer
    from pyroved.utils import init_dataloader

    start = time.perf_counter()
    model = build_jrvae(images.shape[1:], config, seed, device)
    trainer = SVItrainer(model, lr=config.lr, enumerate_parallel=True, seed=seed, device=device)
    loader = init_dataloader(torch.from_numpy(np.ascontiguousarray(images, np.float32)),
                             batch_size=config.batch_size, shuffle=True)
    for beta in schedule:
        trainer.step(loader, scale_factor=[float(beta), config.beta_d])
    return time.perf_counter() - start


def measure(setting: Setting, repeats: int, device: str) -> dict:
    """Throughput, engine/bare ratio and (for presets) the scoring pipeline's share."""
    data = rotated_digits(setting.digits, setting.images, setting.image_size, 60.0, seed=0)
    schedule = np.ones(setting.timed_epochs)
    bare_loop(data.images, schedule[:1], setting.jrvae, 0, device)  # warm-up of this shape
    engine, bare = [], []
    trained = None
    for rep in range(repeats):  # ABBA order: drift in machine load hits both alike
        runs = ("engine", "bare") if rep % 2 == 0 else ("bare", "engine")
        for kind in runs:
            if kind == "engine":
                trained = train_jrvae(data.images, schedule, setting.jrvae, seed=rep + 1)
                engine.append(trained.seconds)
            else:
                bare.append(bare_loop(data.images, schedule, setting.jrvae, rep + 1, device))
    engine_s, bare_s = statistics.median(engine), statistics.median(bare)
    row = {"setting": setting.name, "images": setting.images, "image_size": setting.image_size,
           "classes": setting.jrvae.classes, "decoder": list(setting.jrvae.decoder_hidden),
           "invariances": list(setting.jrvae.invariances), "batch_size": setting.jrvae.batch_size,
           "timed_epochs": setting.timed_epochs, "engine_s": engine_s, "bare_s": bare_s,
           "engine_runs_s": engine, "bare_runs_s": bare,
           "images_per_s": setting.images * setting.timed_epochs / engine_s,
           "ms_per_image": 1000 * engine_s / (setting.images * setting.timed_epochs),
           "bare_over_engine": bare_s / engine_s,
           "bare_over_engine_min": min(bare) / min(engine)}
    if setting.preset_epochs and trained is not None:  # score the last engine-trained model
        scorer = JrVAEObjective(data.images, data.labels, setting.jrvae,
                                ObjectiveConfig(manifold_d=setting.manifold_d))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            manifolds = class_manifolds(trained.model, setting.manifold_d)
            scorer.score(manifolds, class_assignments(trained.model, data.images), seed=1)
            times.append(time.perf_counter() - start)
        full = engine_s / setting.timed_epochs * setting.preset_epochs
        row.update({"preset_epochs": setting.preset_epochs, "full_training_s": full,
                    "pipeline_s": statistics.median(times),
                    "pipeline_fraction": statistics.median(times) / full})
    return row


def plot(rows: list[dict]) -> None:
    """Throughput per setting (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    names = [r["setting"] for r in rows]
    ax.barh(names, [r["images_per_s"] for r in rows], color="C0")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("training throughput [images/s] (image-epochs per second)")
    ax.set_title("jiVAE training throughput")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "evaluation_cost.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--only", help="run only settings whose name contains this text")
    args = parser.parse_args()
    device = resolve_device(args.device)
    chosen = [s for s in settings(device) if not args.only or args.only in s.name]
    rows = []
    print(f"device {device}; median of {args.repeats}")
    print(f"{'setting':<36} {'images/s':>9} {'ms/image':>9} {'bare/engine':>12} {'(min)':>6}"
          f" {'full training':>14} {'pipeline':>9} {'share':>6}")
    for setting in chosen:
        r = measure(setting, args.repeats, device)
        rows.append(r)
        extra = (f" {r['full_training_s']:>12.1f} s {r['pipeline_s']:>7.2f} s"
                 f" {100 * r['pipeline_fraction']:>5.1f}%" if "pipeline_s" in r else "")
        print(f"{r['setting']:<36} {r['images_per_s']:>9.0f} {r['ms_per_image']:>9.2f}"
              f" {r['bare_over_engine']:>12.3f} {r['bare_over_engine_min']:>6.3f}{extra}",
              flush=True)
    path = write_json("evaluation_cost", {
        "benchmark": "evaluation_cost", "device": device,
        "command": f"python benchmarks/evaluation_cost.py --repeats {args.repeats}"
                   f" --device {args.device}", "repeats": args.repeats, "rows": rows})
    plot(rows)
    print(f"wrote {path} and evaluation_cost.png")


if __name__ == "__main__":
    main()
