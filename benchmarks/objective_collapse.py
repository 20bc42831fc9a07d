"""Does the objective reward collapsed jrVAEs? "paper" against the default "usage" objective.

Trains the jiVAE of preset "Q" (DESIGN.md §2: digits {0,1,4}, 400 images, 16x16, 40 epochs,
lr 1e-2, batch 25, β_d = 1) with a set of β_c schedules and seeds that includes collapses
(warm-ups and cyclical schedules train to chance), scores every trained model with both
objectives from the same manifolds and class assignments, and reports accuracy (Hungarian) and
NMI of the discrete latent beside ℓ1 ("paper") and the default objective, with the Spearman
correlation of each objective with accuracy.

    python benchmarks/objective_collapse.py [--epochs 40] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _report import write_json
from scipy.stats import spearmanr

from zbo_gui.core.config import JrVAEConfig, ObjectiveConfig
from zbo_gui.core.datasets import rotated_digits
from zbo_gui.core.jrvae import class_assignments, class_manifolds, train_jrvae
from zbo_gui.core.objective import JrVAEObjective


def schedules(n: int) -> list[tuple[str, np.ndarray, int, float]]:
    """(name, β_c schedule (n,), seed, β_d) of every training.

    Schedules of DESIGN.md §2 at β_d = 1 (seeds 1-6 of constant 1, where a collapse is known to
    occur), then constant 1 at small β_d, which collapses the discrete latent.
    """
    ramp = np.linspace(0.0, 1.0, n)
    cyc = (np.arange(n) % max(n // 4, 1)) / max(n // 4 - 1, 1)
    runs = [("constant 1", np.ones(n), seed, 1.0) for seed in range(1, 7)]
    runs += [
        ("cool-down 2→1", np.interp(ramp, [0, 0.5, 1], [2, 1, 1]), 1, 1.0),
        ("cool-down 20→1", np.interp(ramp, [0, 0.5, 1], [20, 1, 1]), 1, 1.0),
        ("constant 10", np.full(n, 10.0), 1, 1.0),
        ("constant 0.1", np.full(n, 0.1), 1, 1.0),
        ("warm-up 0.1→5", np.interp(ramp, [0, 0.5, 1], [0.1, 5, 5]), 1, 1.0),
        ("cyclical 0→5", np.maximum(5 * cyc, 1e-3), 1, 1.0),
    ]
    runs += [("constant 1", np.ones(n), seed, bd) for bd in (0.3, 0.1) for seed in (1, 2)]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    data = rotated_digits((0, 1, 4), 400, 16, 60.0, seed=0)
    scorers = {kind: JrVAEObjective(data.images, data.labels, JrVAEConfig(classes=3),
                                    ObjectiveConfig(kind=kind))
               for kind in ("paper", "usage")}
    rows = []
    print(f"{'schedule':<16} {'beta_d':>6} {'seed':>4} {'accuracy':>8} {'nmi':>6} {'usage':<16}"
          f" {'l1 paper':>8} {'usage obj':>9} {'s':>5}")
    for name, beta, seed, beta_d in schedules(args.epochs):
        t0 = time.perf_counter()
        trained = train_jrvae(data.images, beta, JrVAEConfig(classes=3, beta_d=beta_d), seed)
        manifolds = class_manifolds(trained.model, 8)
        assigned = class_assignments(trained.model, data.images)
        paper = scorers["paper"].score(manifolds, assigned, seed)
        usage = scorers["usage"].score(manifolds, assigned, seed)
        row = {"schedule": name, "beta_d": beta_d, "seed": seed, "accuracy": paper.accuracy,
               "nmi": paper.nmi,
               "class_usage": paper.class_usage.tolist(),
               "class_intensity": np.round(paper.class_intensity, 4).tolist(),
               "l1_paper": paper.l1, "l2_paper": paper.l2, "objective_paper": paper.value,
               "l1_usage": usage.l1, "objective_usage": usage.value,
               "seconds": time.perf_counter() - t0}
        rows.append(row)
        print(f"{name:<16} {beta_d:>6g} {seed:>4} {row['accuracy']:>8.3f} {row['nmi']:>6.3f}"
              f" {row['class_usage']!s:<16} {row['l1_paper']:>8.3f}"
              f" {row['objective_usage']:>9.3f} {row['seconds']:>5.1f}", flush=True)
    acc = [r["accuracy"] for r in rows]
    rho_paper = float(spearmanr([r["objective_paper"] for r in rows], acc).statistic)
    rho_usage = float(spearmanr([r["objective_usage"] for r in rows], acc).statistic)
    collapsed = [r for r in rows if max(r["class_usage"]) >= 0.9 * sum(r["class_usage"])]
    top = {k: max(rows, key=lambda r, k=k: r[k]) for k in ("objective_paper", "objective_usage")}
    print(f"\nSpearman rho with accuracy: paper {rho_paper:+.2f}, usage (default) {rho_usage:+.2f}")
    print(f"collapsed trainings (>= 90 % of images in one class): {len(collapsed)} of {len(rows)}")
    for key, row in top.items():
        print(f"highest {key}: {row['schedule']} (beta_d {row['beta_d']:g}, seed {row['seed']}),"
              f" accuracy {row['accuracy']:.3f}, usage {row['class_usage']}")
    result = {"preset": "Q", "epochs": args.epochs, "rows": rows, "spearman_paper": rho_paper,
              "top_paper": top["objective_paper"], "top_usage": top["objective_usage"],
              "spearman_usage": rho_usage, "collapsed": len(collapsed)}
    write_json("objective_collapse", result, args.out)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharex=True)
    for ax, key, title in ((axes[0], "objective_paper", f"paper ℓ1 (ρ = {rho_paper:+.2f})"),
                           (axes[1], "objective_usage", f"usage, default (ρ = {rho_usage:+.2f})")):
        ax.scatter(acc, [r[key] for r in rows], c=["C3" if r in collapsed else "C0" for r in rows])
        ax.set_title(title)
        ax.set_xlabel("accuracy of the discrete latent")
    axes[0].set_ylabel("objective (red: collapsed)")
    fig.tight_layout()
    fig.savefig(args.out / "objective_collapse.png", dpi=120)


if __name__ == "__main__":
    main()
