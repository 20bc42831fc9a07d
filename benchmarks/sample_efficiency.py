"""Sample efficiency: zBO against the obvious alternatives on the same evaluation budget.

Two problems (``--problem``):

* ``target`` (cheap, optimum known): score = exp(−½ (d / 0.1)²), d = RMS(schedule − target) in
  unit (log-β) space, so 1 at the target, 0.88 at d = 0.05, 0.14 at d = 0.2; observed with
  Gaussian noise (``--noise``, default 0.02). The hidden target is drawn per repetition from the
  seed families with a seed the library never uses, and kept only if the schedule VAE can
  represent it (encode → decode d ≤ 0.05), so it is reachable but not a seed.
  Best-so-far is reported on the noise-free score of what each method evaluated.
* ``jivae`` (real): the engine's default objective on preset "Q" of DESIGN.md §2 (digits {0,1,4},
  400 images 16×16, 3 classes, 40 epochs, lr 1e-2, batch 25, β_d = 1), one training per
  evaluation. Evaluation k of repetition r trains with seed 1000·r + k + 1 for every method
  (common random numbers); identical (schedule, seed) pairs are trained once. Best-so-far is the
  observed objective; the accuracy of the incumbent is reported beside it (a diagnostic).

Methods: see ``benchmarks/_methods.py``. Every repetition trains its own seed library, schedule
VAE and grid (seed r), shared by the latent-space methods.

    python benchmarks/sample_efficiency.py --problem target [--reps 10 --budget 30 --initial 10]
    python benchmarks/sample_efficiency.py --problem jivae  [--reps 3 --budget 12 --initial 4]

Prints a table; writes ``benchmarks/results/sample_efficiency_PROBLEM.{json,png}`` (the JSON after
every repetition, so a long run that is stopped keeps what it finished).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable

import numpy as np
from _methods import ASYNC, METHODS, Space, build_space, unit_rms
from _report import RESULTS, best_so_far, evaluations_to_reach, quartiles, write_json

from zbo_gui.core.config import JrVAEConfig, ObjectiveConfig, ScheduleConfig
from zbo_gui.core.schedules import FAMILIES, Bounds, generate_family
from zbo_gui.core.types import Controls

REPRESENTABLE_RMS = 0.05
TARGET_WIDTH = 0.1
PRESETS = {  # problem -> (n_epochs, reps, budget, initial)
    "target": (50, 10, 30, 10),
    "jivae": (40, 3, 12, 4),
}


class Recorder:
    """Wraps a problem's scoring function; keeps observed values and diagnostics in call order."""

    def __init__(self, score: Callable[[np.ndarray, int], tuple[float, float, float]]) -> None:
        self.score = score
        self.observed: list[float] = []
        self.reported: list[float] = []  # what best-so-far is computed on
        self.accuracy: list[float] = []
        self.best_schedule: np.ndarray | None = None
        self._seen: set[bytes] = set()

    def distinct(self) -> int:
        """How many different schedules were evaluated (a method may repeat one)."""
        return len(self._seen)

    def __call__(self, schedule: np.ndarray) -> float:
        self._seen.add(np.asarray(schedule, np.float64).tobytes())
        observed, reported, accuracy = self.score(schedule, len(self.observed))
        if not self.reported or reported > max(self.reported):
            self.best_schedule = np.asarray(schedule, dtype=np.float64).copy()
        self.observed.append(observed)
        self.reported.append(reported)
        self.accuracy.append(accuracy)
        return observed


def target_problem(space: Space, rep: int, budget: int, noise: float
                   ) -> tuple[Callable[[np.ndarray, int], tuple[float, float, float]], dict]:
    """The hidden-target problem of repetition ``rep`` and a description of its target."""
    rng = np.random.default_rng(10_000 + rep)
    n = space.library.n_epochs
    for _ in range(200):
        family = str(rng.choice(FAMILIES))
        target = generate_family(family, 1, n, space.bounds, rng)[0]
        floor = space.vae.reconstruction_error(target[None, :])
        if floor <= REPRESENTABLE_RMS:
            break
    else:
        raise RuntimeError(f"no representable target in 200 draws (repetition {rep})")
    noise_draws = np.random.default_rng(20_000 + rep).normal(0.0, noise, size=budget + 1)

    def score(schedule: np.ndarray, k: int) -> tuple[float, float, float]:
        true = math.exp(-0.5 * (unit_rms(space.bounds, schedule, target) / TARGET_WIDTH) ** 2)
        return true + float(noise_draws[min(k, budget)]), true, float("nan")

    return score, {"family": family, "vae_floor_rms": floor, "target": target.tolist()}


def jivae_problem(rep: int) -> Callable[[np.ndarray, int], tuple[float, float, float]]:
    """The real jiVAE objective (preset "Q"), cached per (schedule, seed)."""
    from zbo_gui.core.datasets import rotated_digits
    from zbo_gui.core.objective import JrVAEObjective

    data = rotated_digits((0, 1, 4), 400, 16, 60.0, seed=0)
    objective = JrVAEObjective(data.images, data.labels, JrVAEConfig(classes=3), ObjectiveConfig())
    cache: dict[tuple[bytes, int], tuple[float, float, float]] = {}

    def score(schedule: np.ndarray, k: int) -> tuple[float, float, float]:
        seed = 1000 * rep + k + 1
        key = (np.asarray(schedule, np.float64).tobytes(), seed)
        if key not in cache:
            result = objective(schedule, seed, Controls())
            cache[key] = (result.value, result.value, result.accuracy)
        return cache[key]

    return score


def summarise(runs: dict[str, list[dict]], budget: int) -> dict[str, dict]:
    """Median/IQR best-so-far curves and evaluations to reach 95 % of the best per repetition."""
    methods = list(runs)
    curves = {m: best_so_far(np.array([r["reported"] for r in runs[m]])) for m in methods}
    n_reps = min(len(c) for c in curves.values())
    best_any = np.max([curves[m][:n_reps, -1] for m in methods], axis=0)  # (R,)
    out = {}
    for m in methods:
        med, q25, q75 = quartiles(curves[m][:n_reps])
        reach = [evaluations_to_reach(curves[m][r], 0.95 * best_any[r]) for r in range(n_reps)]
        hits = [x for x in reach if x is not None]
        out[m] = {
            "median": med.tolist(), "q25": q25.tolist(), "q75": q75.tolist(),
            "final_median": float(med[-1]), "final_q25": float(q25[-1]),
            "final_q75": float(q75[-1]),
            "evals_to_95": reach,
            "evals_to_95_median": float(np.median(hits)) if len(hits) > n_reps / 2 else None,
            "reached_95": len(hits),
            "seconds_median": float(np.median([r["seconds"] for r in runs[m]])),
            "distinct_median": float(np.median([r.get("distinct", budget) for r in runs[m]])),
        }
        acc = [r["accuracy"][int(np.argmax(r["reported"]))] for r in runs[m]]
        if np.isfinite(acc).all():
            out[m]["incumbent_accuracy_median"] = float(np.median(acc))
    return out


def print_table(summary: dict[str, dict], n_reps: int, budget: int) -> None:
    """The headline table: final best-so-far and evaluations to 95 % of the best."""
    has_acc = all("incumbent_accuracy_median" in s for s in summary.values())
    head = f"{'method':<15} {'best after ' + str(budget):>22} {'evals to 95 %':>16}"
    print(head + (f" {'incumbent acc':>14}" if has_acc else "") + f" {'s/run':>7}")
    for m, s in summary.items():
        reach = s["evals_to_95_median"]
        reach_txt = f"{reach:.0f}" if reach is not None else f">{budget}"
        line = (f"{m:<15} {s['final_median']:>8.3f} [{s['final_q25']:.3f}, {s['final_q75']:.3f}]"
                f" {reach_txt:>6} ({s['reached_95']}/{n_reps})".ljust(62))
        if has_acc:
            line += f" {s['incumbent_accuracy_median']:>7.3f}"
        print(line + f" {s['seconds_median']:>9.1f}")


def plot(summary: dict[str, dict], problem: str, n_reps: int, name: str = "") -> None:
    """Median best-so-far with the interquartile band, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m, s in summary.items():
        k = np.arange(1, len(s["median"]) + 1)
        ax.plot(k, s["median"], label=m, lw=2.2 if m == "zbo" else 1.4)
        ax.fill_between(k, s["q25"], s["q75"], alpha=0.15)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best so far (noise-free score)" if problem == "target"
                  else "best so far (objective)")
    ax.set_title(f"sample efficiency, problem '{problem}': median and IQR of {n_reps} repetitions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name or f'sample_efficiency_{problem}'}.png", dpi=110)


def previous_runs(name: str, reps: int, budget: int, initial: int,
                  parser: argparse.ArgumentParser) -> dict[str, list[dict]]:
    """The runs stored by an earlier, complete run of the same problem and settings (in
    ``results/NAME.json``)."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        parser.error(f"--append: {path} does not exist")
    old = json.loads(path.read_text())
    settings = (old["reps_done"], old["budget"], old["initial"])
    if settings != (reps, budget, initial):
        parser.error(f"--append: {path} has reps/budget/initial {settings},"
                     f" this run {(reps, budget, initial)}")
    return old["runs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(PRESETS), default="target")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--budget", type=int)
    parser.add_argument("--initial", type=int)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--tag", default="",
                        help="write sample_efficiency_PROBLEM_TAG.{json,png} instead")
    parser.add_argument("--append", action="store_true",
                        help="keep the methods of the existing JSON of this problem and add"
                             " (or re-run) --methods; budget, initial and reps must match")
    args = parser.parse_args()
    name = f"sample_efficiency_{args.problem}" + (f"_{args.tag}" if args.tag else "")
    n_epochs, reps, budget, initial = PRESETS[args.problem]
    reps, budget, initial = args.reps or reps, args.budget or budget, args.initial or initial
    methods = args.methods.split(",")
    known = {**METHODS, **ASYNC}
    unknown = sorted(set(methods) - set(known))
    if unknown:
        parser.error(f"unknown method {unknown[0]!r}; choose from {', '.join(known)}")
    schedules = ScheduleConfig(n_epochs=n_epochs)
    bounds = Bounds(schedules.beta_lo, schedules.beta_hi)

    runs: dict[str, list[dict]] = {}
    if args.append:
        runs = previous_runs(name, reps, budget, initial, parser)
    runs.update({m: [] for m in methods})
    targets = []
    for rep in range(reps):
        space = build_space(dict(schedules.counts), n_epochs, bounds, initial, seed=rep)
        if args.problem == "target":
            score, target = target_problem(space, rep, budget, args.noise)
            targets.append(target)
            print(f"rep {rep}: target from family {target['family']!r},"
                  f" schedule-VAE round trip d = {target['vae_floor_rms']:.3f}", flush=True)
        else:
            score = jivae_problem(rep)
        for m in methods:
            rec = Recorder(score)
            start = time.perf_counter()
            known[m](space, rec, budget, rep)
            runs[m].append({"observed": rec.observed, "reported": rec.reported,
                            "accuracy": rec.accuracy, "seconds": time.perf_counter() - start,
                            "distinct": rec.distinct(),
                            "best_schedule": rec.best_schedule.tolist()})
            print(f"rep {rep} {m:<14} best {max(rec.reported):.3f}"
                  f" ({time.perf_counter() - start:.1f} s)", flush=True)
        summary = summarise(runs, budget)
        write_json(name, {
            "benchmark": "sample_efficiency", "problem": args.problem,
            "command": f"python benchmarks/sample_efficiency.py --problem {args.problem}"
                       f" --reps {reps} --budget {budget} --initial {initial}",
            "reps_done": rep + 1, "budget": budget, "initial": initial, "n_epochs": n_epochs,
            "bounds": [bounds.lo, bounds.hi], "noise": args.noise if args.problem == "target"
            else None, "feasible_fraction": float(space.grid.feasible.mean()),
            "targets": targets, "summary": summary, "runs": runs,
        })
    print(f"\nproblem {args.problem!r}: {reps} repetitions, budget {budget}"
          f" ({initial} initial for the BO methods); median [IQR]")
    print_table(summary, reps, budget)
    plot(summary, args.problem, reps, name)
    print(f"wrote {RESULTS / f'{name}.json'} and .png")


if __name__ == "__main__":
    main()
