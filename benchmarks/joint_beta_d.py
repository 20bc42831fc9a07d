"""β_c and β_d in one latent space (joint) against β_c alone with β_d fixed: real campaigns.

Every arm is a real campaign (``CampaignRunner``, trainings in this process, one torch thread),
stored in ``benchmarks/results/joint_campaigns/PROBLEM-ARM-rR.h5``; a campaign that was stopped
is resumed where it ended, and the summary JSON is rewritten after every finished campaign, so
the measurement can span several sessions.

Problems (``--problem``):

* ``q``: preset "Q" of DESIGN.md §2 (digits {0,1,4}, 400 images 16×16, 3 classes, 40 epochs).
  Arms: ``c_only`` (β_c in [0.1, 10], β_d ≡ 1, the known-good value; budget B) and ``joint``
  (β_c in [0.1, 10], β_d(epoch) in [0.1, 10]; budget 1.5·B): does the joint campaign find the
  good β_d region by itself, its best accuracy within 0.03 of ``c_only``'s with ≤ 1.5× the
  evaluations?
* ``particles``: the particles demo (800 images 16×16, 1–4 particles, 4 classes, 50 epochs),
  where the good β_d is not known. Arms, same budget B: ``c_only_bd1`` (β_d ≡ 1),
  ``c_only_bd0.01`` (β_d ≡ 0.01, the paper's value for nanoparticles) and ``joint``
  (β_d(epoch) in [0.01, 10]).

Repetition r uses campaign seed r for every arm, so the arms share the data subset and the β_c
seed curves (the β_d curves come from a stream of their own).

    python benchmarks/joint_beta_d.py --problem q --reps 3 --budget 12
    python benchmarks/joint_beta_d.py --problem particles --reps 1 --budget 12
    python benchmarks/joint_beta_d.py --problem particles --reps 3 --first-rep 1  # beside it

Two processes may run different repetitions of one problem at once (``--first-rep``): each
merges its campaigns into the JSON that is there when it writes.

Writes ``benchmarks/results/joint_beta_d_PROBLEM.{json,png}`` (``--summary``: only the summary
and the plot of the JSON written so far). The JSON holds, per campaign, every evaluation's
objective, accuracy and the first/last values of its β_c and β_d curves; per arm, the best
accuracy (of any evaluation, and of the best-objective one) after each number of evaluations.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from _report import RESULTS, write_json

from zbo_gui.core.config import (
    BOConfig,
    CampaignConfig,
    DatasetConfig,
    ExecutionConfig,
    JrVAEConfig,
    ScheduleConfig,
)
from zbo_gui.core.schedules import split_pair
from zbo_gui.core.types import Evaluation
from zbo_gui.runner import CampaignRunner

CAMPAIGNS = RESULTS / "joint_campaigns"


def _arms(problem: str, budget: int) -> dict[str, CampaignConfig]:
    """The arms of a problem: name → configuration (seed 0; the caller sets the repetition)."""
    if problem == "q":
        base = CampaignConfig(
            dataset=DatasetConfig(digits=(0, 1, 4), n_images=400, image_size=16),
            schedules=ScheduleConfig(n_epochs=40),
            jrvae=JrVAEConfig(classes=3, beta_d=1.0),
            execution=ExecutionConfig(workers=0),
        )
        joint_budget = math.ceil(1.5 * budget)
        return {
            "c_only": base.replace(bo=BOConfig(budget=budget)),
            "joint": base.replace(
                schedules=ScheduleConfig(n_epochs=40, beta_d_lo=0.1, beta_d_hi=10.0),
                bo=BOConfig(budget=joint_budget)),
        }
    base = CampaignConfig(dataset=DatasetConfig(source="particles"),
                          execution=ExecutionConfig(workers=0), bo=BOConfig(budget=budget))
    return {
        "c_only_bd1": base.replace(jrvae=JrVAEConfig(beta_d=1.0)),
        "c_only_bd0.01": base.replace(jrvae=JrVAEConfig(beta_d=0.01)),
        "joint": base.replace(schedules=ScheduleConfig(beta_d_lo=0.01, beta_d_hi=10.0)),
    }


def _row(evaluation: Evaluation, beta_d: float) -> dict[str, Any]:
    """What the report keeps of one evaluation."""
    c, d = split_pair(evaluation.proposal.schedule, beta_d)
    accuracy = [r.accuracy for r in evaluation.replicates]
    return {
        "objective": evaluation.objective, "status": evaluation.status.value,
        "accuracy": float(np.mean(accuracy)) if accuracy else float("nan"),
        "source": evaluation.proposal.source.value,
        "beta_c": [float(c[0]), float(c[-1]), float(np.exp(np.mean(np.log(c))))],
        "beta_d": [float(d[0]), float(d[-1]), float(np.exp(np.mean(np.log(d))))],
        "seconds": evaluation.seconds,
    }


def run_campaign(path: Path, config: CampaignConfig) -> list[dict[str, Any]]:
    """Runs (or resumes) one campaign to its budget; its evaluations as report rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    runner = (CampaignRunner.open(path) if path.exists()
              else CampaignRunner.create(path, config))
    with runner:
        runner.prepare()
        start = time.perf_counter()

        def done(evaluation: Evaluation) -> None:
            row = _row(evaluation, config.jrvae.beta_d)
            print(f"  {path.stem} #{evaluation.index + 1}: objective {row['objective']:.3f}"
                  f" accuracy {row['accuracy']:.3f} β_c≈{row['beta_c'][2]:.2f}"
                  f" β_d≈{row['beta_d'][2]:.3g} ({time.perf_counter() - start:.0f} s)",
                  flush=True)

        runner.run(on_evaluation=done)
        return [_row(e, config.jrvae.beta_d) for e in runner.store.read_evaluations()]


def _curves(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Best accuracy after each evaluation: of any evaluation, and of the incumbent (the
    best objective so far)."""
    best_any, incumbent, best_objective, at = [], [], -math.inf, float("nan")
    top = -math.inf
    for row in rows:
        accuracy = row["accuracy"] if math.isfinite(row["accuracy"]) else -math.inf
        top = max(top, accuracy)
        if math.isfinite(row["objective"]) and row["objective"] > best_objective:
            best_objective, at = row["objective"], row["accuracy"]
        best_any.append(top)
        incumbent.append(at)
    return {"best_accuracy": best_any, "incumbent_accuracy": incumbent}


def _merged(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with the campaigns another run already wrote to ``path`` (same budget)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return report
    if stored.get("budget") != report["budget"]:
        return report
    arms = {arm: dict(reps) for arm, reps in stored.get("arms", {}).items()}
    for arm, reps in report["arms"].items():
        arms.setdefault(arm, {}).update(reps)
    return {**report, "arms": arms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", choices=("q", "particles"), default="q")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--first-rep", type=int, default=0,
                        help="start at this repetition (another process runs the ones before)")
    parser.add_argument("--summary", action="store_true",
                        help="only print the summary of the JSON written so far")
    args = parser.parse_args()
    name = f"joint_beta_d_{args.problem}"
    if args.summary:
        report = json.loads((RESULTS / f"{name}.json").read_text())
        summarize(report)
        plot(report, name)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    arms = _arms(args.problem, args.budget)
    report: dict[str, Any] = {"problem": args.problem, "budget": args.budget, "arms": {}}
    for rep in range(args.first_rep, args.reps):
        for arm, config in arms.items():
            path = CAMPAIGNS / f"{args.problem}-{arm}-r{rep}.h5"
            print(f"{args.problem} {arm} repetition {rep}: {path}", flush=True)
            rows = run_campaign(path, config.replace(seed=rep))
            report["arms"].setdefault(arm, {})[str(rep)] = {"evaluations": rows, **_curves(rows)}
            out = write_json(name, _merged(RESULTS / f"{name}.json", report))
            print(f"  wrote {out}", flush=True)
    report = _merged(RESULTS / f"{name}.json", report)
    summarize(report)
    plot(report, name)


def plot(report: dict[str, Any], name: str) -> None:
    """Best accuracy so far against evaluations: each repetition thin, the median thick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (arm, reps), colour in zip(report["arms"].items(), ("C0", "C1", "C2", "C3"),
                                   strict=False):
        curves = [np.asarray(r["best_accuracy"]) for _, r in sorted(reps.items())]
        for curve in curves:
            ax.plot(np.arange(1, curve.size + 1), curve, color=colour, lw=0.8, alpha=0.5)
        length = min(c.size for c in curves)
        median = np.median([c[:length] for c in curves], axis=0)
        ax.plot(np.arange(1, length + 1), median, color=colour, lw=2.4,
                label=f"{arm} (median of {len(curves)})")
    ax.axvline(report["budget"], color="grey", ls=":", lw=1)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best accuracy so far (diagnostic)")
    ax.set_title(f"β_c alone vs β_c and β_d together, problem '{report['problem']}'")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=110)


def summarize(report: dict[str, Any]) -> None:
    """Prints, per arm, the best accuracy and the incumbent's after B evaluations and at the
    arm's budget; for ``joint`` on ``q``, how many evaluations it took to come within 0.03 of
    ``c_only``'s best accuracy of the same repetition."""
    budget = report["budget"]

    def at(reps: dict[str, Any], key: str, k: int | None) -> np.ndarray:
        """``key``'s value after ``k`` evaluations (None: all) of each repetition."""
        return np.round([r[key][(k or len(r[key])) - 1] for _, r in sorted(reps.items())], 3)

    for arm, reps in report["arms"].items():
        print(f"{arm:14s} {len(reps)} reps | best accuracy at {budget}:"
              f" {at(reps, 'best_accuracy', budget)}, at the end:"
              f" {at(reps, 'best_accuracy', None)} | incumbent's at {budget}:"
              f" {at(reps, 'incumbent_accuracy', budget)}, at the end:"
              f" {at(reps, 'incumbent_accuracy', None)}")
    arms = report["arms"]
    if "joint" in arms and "c_only" in arms:
        for rep in sorted(set(arms["joint"]) & set(arms["c_only"])):
            target = arms["c_only"][rep]["best_accuracy"][-1] - 0.03
            curve = arms["joint"][rep]["best_accuracy"]
            reached = next((k + 1 for k, v in enumerate(curve) if v >= target), None)
            print(f"repetition {rep}: joint within 0.03 of c_only's best accuracy"
                  f" ({target + 0.03:.3f}) after {reached or 'more than ' + str(len(curve))}"
                  f" evaluations (c_only's budget {budget})")


if __name__ == "__main__":
    main()
