"""Replay schedule optimisers against the tabular benchmark (``benchmarks/data/tabular_q``).

The table (``tabular_build.py``) holds real jiVAE trainings at preset "Q": 260 feasible latent
grid points, every seed schedule and 16 constants, each trained with 2 seeds. A method here sees
the same latent grid as the engine, but only the table's points are feasible; visiting a point
returns one of its stored trainings at random (real seed-to-seed noise; a diverged training
scores 0). Every method runs ``--reps`` repetitions with budget 30; best-so-far is read after 10,
20 and 30 evaluations.

Reported per method (JSON ``methods.NAME``):

* ``best_after``: the best *observed* objective after 10, 20, 30 evaluations, per repetition;
* ``incumbent_mean_after``: the table's mean objective (over its seeds) of the point with that
  best observation: what the method would hand the scientist;
* ``predicted_incumbent_mean_after``: the same for the GP's best predicted table point (fitted
  on the visits so far): exporting the best predicted rather than the best evaluated point;
* ``denoised_incumbent_mean_after``: the same for the visited point of highest posterior mean
  (exporting a denoised incumbent);
* ``evals_to_95``: evaluations until the best observation reaches 95 % of the table's best mean
  objective, per repetition (null: never within 30);
* ``visits``: evaluations spent (fewer than 30 when a stop rule ended the run);
* ``accuracy_of_incumbent``: the stored accuracy of the incumbent's training, per budget.

    python benchmarks/tabular.py [--reps 50] [--jobs 2] [--out benchmarks/results/tabular.json]
        [--methods zbo,random-latent,...] [--update]

The variants of zBO tried (one lever at a time) are in ``_variants.py``.

Also draws the landscape (``tabular_landscape.png``): the table's mean objective and its share of
collapsed trainings (one class holding ≥ 90 % of the images) over the latent plane.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _methods import Space, run_in_flight, van_der_corput, zbo_reference
from _report import RESULTS, write_json
from _variants import VARIANTS
from tabular_build import TABLE, build_space, collapsed, read_runs, schedules

from zbo_gui.core.errors import CampaignError
from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.core.schedules import Bounds, ScheduleLibrary

BUDGETS = (10, 20, 30)


@dataclass
class Table:
    """The stored trainings and the space they were made in."""

    space: dict[str, np.ndarray]
    runs: dict[tuple[str, int], list[dict]]

    @classmethod
    def load(cls, folder: Path = TABLE) -> Table:
        runs: dict[tuple[str, int], list[dict]] = {}
        for run in read_runs(folder):
            runs.setdefault((run["kind"], run["index"]), []).append(run)
        return cls(build_space(), runs)

    def has(self, kind: str, index: int) -> bool:
        return (kind, index) in self.runs

    def mean(self, kind: str, index: int) -> float:
        """The mean objective of a schedule over its stored trainings (diverged: 0)."""
        return float(np.mean([_value(r) for r in self.runs[(kind, index)]]))

    def best_mean(self) -> float:
        return max(self.mean(*key) for key in self.runs)

    def engine_space(self, initial: int = 10) -> Space:
        """The engine's grid reduced to the table's stored grid points (all feasible) and the
        grid's 4 corners (infeasible): the same candidates and the same normalisation box as
        the whole grid, so a campaign chooses exactly as on it, with posteriors on a few
        hundred points instead of 10 000."""
        s = self.space
        index = s["grid_index"]
        # ascending, as the whole grid lists them (the same first draw, the same tie order)
        stored = np.sort(index[[i for i in range(len(index)) if self.has("grid", i)]])
        g = len(s["x"])
        corners = np.array([0, g - 1, g * (g - 1), g * g - 1])
        keep = np.concatenate([stored, corners])
        feasible = np.arange(len(keep)) < len(stored)
        grid = LatentGrid(s["x"], s["y"], s["points"][keep],
                          s["decoded"][keep].astype(np.float64), feasible, s["seed_z"])
        library = ScheduleLibrary(s["seeds"], tuple(str(f) for f in s["seed_families"]))
        return Space(Bounds(0.1, 10.0), library, None, grid, initial)  # type: ignore[arg-type]


def _value(run: dict) -> float:
    return float(run["objective"]) if run["status"] == "ok" else 0.0


class Visits:
    """The table as an objective: a visit returns one stored training at random."""

    def __init__(self, table: Table, rng: np.random.Generator) -> None:
        self.table = table
        self.rng = rng
        self.keys: dict[bytes, tuple[str, int]] = {}
        for kind, rows in schedules(table.space).items():
            for i, row in enumerate(rows):
                self.keys[np.asarray(row, np.float64).tobytes()] = (kind, i)
        self.history: list[tuple[tuple[str, int], dict]] = []

    def __call__(self, schedule: np.ndarray) -> float:
        key = self.keys.get(np.asarray(schedule, np.float64).tobytes())
        if key is None or not self.table.has(*key):
            raise KeyError("the method visited a schedule that is not in the table")
        stored = self.table.runs[key]
        run = stored[int(self.rng.integers(len(stored)))]
        self.history.append((key, run))
        return _value(run)


# ------------------------------------------------------------------------------ baselines
def random_latent(space: Space, evaluate, budget: int, seed: int) -> None:
    """The table's grid points uniformly at random, without replacement."""
    rng = np.random.default_rng(seed)
    points = rng.permutation(np.flatnonzero(space.grid.feasible))[:budget]
    for point in points:
        evaluate(space.grid.decoded[point])


def seed_library(table: Table) -> Callable:
    def method(space: Space, evaluate, budget: int, seed: int) -> None:
        """The stored seed schedules in random order."""
        rows = [i for i in range(len(space.library)) if table.has("seed", i)]
        for row in np.random.default_rng(seed).permutation(rows)[:budget]:
            evaluate(np.asarray(space.library.schedules[row], np.float64))
    return method


def constant_grid(table: Table) -> Callable:
    def method(space: Space, evaluate, budget: int, seed: int) -> None:
        """The stored constants coarse to fine (van der Corput from a random shift), each
        once: with fewer constants than the budget, the rest of the budget is not spent."""
        constants = table.space["constants"]
        stored = [i for i in range(len(constants)) if table.has("constant", i)]
        shift = np.random.default_rng(seed).uniform()
        order: list[int] = []
        for u in np.mod(van_der_corput(4 * len(stored)) + shift, 1.0):
            nearest = stored[int(np.argmin(np.abs(np.linspace(0, 1, len(constants))[stored]
                                                  - u)))]
            if nearest not in order:
                order.append(nearest)
        n = table.space["decoded"].shape[1]
        for i in order[:budget]:
            evaluate(np.full(n, float(constants[i])))
    return method


def _engine(config: Callable[[int], object], in_flight: int = 1) -> Callable:
    def method(space: Space, evaluate, budget: int, seed: int) -> None:
        """The engine's campaign with the given settings (a stop rule may end it early) and
        ``in_flight`` evaluations running at once (``_methods.run_in_flight``)."""
        from zbo_gui.core.campaign import Campaign

        run_in_flight(Campaign(space.grid, config(budget), seed),  # type: ignore[arg-type]
                      evaluate, in_flight)
    return method


def _bo(**settings) -> Callable[[int], object]:
    from zbo_gui.core.config import BOConfig

    return lambda budget: BOConfig(budget=budget, **settings)


#: ``zbo``: every BO setting at the engine's default; ``zbo-before``: the defaults before this
#: benchmark (10 initial points, the raw objective); ``zbo-stop-rule``: today's defaults with
#: the convergence rule that was the default before (max EI < 1e-3 · std(y), 3 times in a row);
#: ``zbo-Q-in-flight``: today's defaults with Q evaluations running at once (issue 13), the
#: points in flight believed at the GP mean; ``zbo-Q-liar``: at the lowest objective seen.
ENGINE = {
    "zbo": _engine(_bo()),
    "zbo-before": _engine(_bo(initial=10, warp="none")),
    "zbo-stop-rule": _engine(_bo(stop_patience=3)),
    **{f"zbo-{q}-in-flight": _engine(_bo(), in_flight=q) for q in (2, 4, 8)},
    **{f"zbo-{q}-liar": _engine(_bo(pending="liar"), in_flight=q) for q in (2, 4, 8)},
}


def predicted_incumbents(table: Table, visits: Visits, b: int) -> tuple[float | None,
                                                                           float | None]:
    """The table means of two GP choices after the first ``b`` visits (a GP of the log warp,
    as the engine fits it): the best predicted table point ("export the best predicted point")
    and the visited point of highest posterior mean (a denoised incumbent). None when a visit
    was not a grid point or the fit failed."""
    from zbo_gui.core.campaign import warp_outcomes
    from zbo_gui.core.surrogate import fit_gp, predict

    seen = visits.history[:b]
    if any(key[0] != "grid" for key, _ in seen) or len(seen) < 2:
        return None, None
    s = table.space
    z = np.array([s["points"][s["grid_index"][key[1]]] for key, _ in seen])
    y = np.array([_value(run) for _, run in seen])
    stored = [i for i in range(len(s["grid_index"])) if table.has("grid", i)]
    candidates = s["points"][s["grid_index"][stored]]
    try:
        fit = fit_gp(z, warp_outcomes(y, "log"), s["points"].min(axis=0),
                     s["points"].max(axis=0), seed=b)
    except CampaignError:  # a failed fit: no prediction
        return None, None
    mean, _ = predict(fit, candidates)
    at_visits, _ = predict(fit, z)
    return (table.mean("grid", stored[int(np.argmax(mean))]),
            table.mean("grid", seen[int(np.argmax(at_visits))][0][1]))


def methods(table: Table) -> dict[str, Callable]:
    return {
        **ENGINE,
        "zbo-reference": zbo_reference,
        "random-latent": random_latent,
        "seed-library": seed_library(table),
        "constant-grid": constant_grid(table),
        **VARIANTS,
    }


# ------------------------------------------------------------------------------ replay
def replay(table: Table, method: Callable, reps: int, budget: int = max(BUDGETS)) -> dict:
    """``reps`` repetitions of one method; the figures of the module docstring."""
    target = 0.95 * table.best_mean()
    best_after: dict[str, list[float]] = {str(b): [] for b in BUDGETS}
    incumbent: dict[str, list[float]] = {str(b): [] for b in BUDGETS}
    accuracy: dict[str, list[float]] = {str(b): [] for b in BUDGETS}
    predicted: dict[str, list[float | None]] = {str(b): [] for b in BUDGETS}
    denoised: dict[str, list[float | None]] = {str(b): [] for b in BUDGETS}
    reach: list[int | None] = []
    n_visits: list[int] = []
    start = time.perf_counter()
    for rep in range(reps):
        visits = Visits(table, np.random.default_rng(10_000 + rep))
        try:
            method(table.engine_space(), visits, budget, rep)
        except RuntimeError as exc:  # a partial table can run out of points
            print(f"  repetition {rep}: {exc} after {len(visits.history)} visits")
        values = np.array([_value(run) for _, run in visits.history])
        running = np.maximum.accumulate(values)
        for b in BUDGETS:
            if len(values) == 0:
                continue
            k = int(np.argmax(values[:b]))
            key, run = visits.history[k]
            best_after[str(b)].append(float(values[:b].max()))
            incumbent[str(b)].append(table.mean(*key))
            accuracy[str(b)].append(float(run.get("accuracy") or 0.0))
            best_predicted, denoised_pick = predicted_incumbents(table, visits, b)
            predicted[str(b)].append(best_predicted)
            denoised[str(b)].append(denoised_pick)
        n_visits.append(len(values))
        hit = np.flatnonzero(running >= target)
        reach.append(int(hit[0]) + 1 if hit.size else None)
    return {"best_after": best_after, "incumbent_mean_after": incumbent,
            "predicted_incumbent_mean_after": predicted,
            "denoised_incumbent_mean_after": denoised, "evals_to_95": reach,
            "accuracy_of_incumbent": accuracy, "visits": n_visits,
            "seconds": time.perf_counter() - start}


def _replay_named(name: str, reps: int) -> tuple[str, dict]:
    """One method's replay in a worker process (one torch thread)."""
    import torch

    torch.set_num_threads(1)
    table = Table.load()
    return name, replay(table, methods(table)[name], reps)


def reach_median(values: list[int | None]) -> str:
    """The median number of evaluations to 95 % over every repetition, "never" counted as
    beyond the budget (so a method that reaches it in fewer than half cannot look fast), and
    how many repetitions reached it."""
    steps = np.array([np.inf if v is None else v for v in values], dtype=float)
    median = np.median(steps)
    shown = f"{median:.0f}" if np.isfinite(median) else f"> {max(BUDGETS)}"
    return f"{shown} ({int(np.isfinite(steps).sum())}/{len(values)})"


def summary_line(name: str, result: dict) -> str:
    med = {b: np.median(result["best_after"][str(b)]) for b in BUDGETS}
    inc = {b: np.median(result["incumbent_mean_after"][str(b)]) for b in BUDGETS}
    return (f"{name:18s} best " + " / ".join(f"{med[b]:.3f}" for b in BUDGETS)
            + "   incumbent mean " + " / ".join(f"{inc[b]:.3f}" for b in BUDGETS)
            + f"   evals to 95 % {reach_median(result['evals_to_95'])}")


def markdown(out: dict, gp_columns: bool = True) -> str:
    """The results as a markdown table (medians over the repetitions; docs/benchmarks.md);
    ``gp_columns``: with the two export alternatives' figures."""
    def med(values: list) -> str:
        kept = [v for v in values if v is not None]
        return f"{np.median(kept):.3f}" if kept else "–"

    gp_head = (" denoised incumbent's mean at 20 | predicted point's mean at 20 |" if gp_columns
               else "")
    lines = ["| method | best observed after 10 / 20 / 30 | incumbent's table mean at"
             " 10 / 20 / 30 |" + gp_head + " evals to 95 % (reached) | visits |",
             "|---|---|---|" + ("---|---|" if gp_columns else "") + "---|---|"]
    ranked = sorted(out["methods"].items(),
                    key=lambda kv: -np.median(kv[1]["best_after"]["20"] or [0]))
    for name, r in ranked:
        lines.append(
            f"| {name} | " + " / ".join(med(r["best_after"][str(b)]) for b in BUDGETS)
            + " | " + " / ".join(med(r["incumbent_mean_after"][str(b)]) for b in BUDGETS)
            + (f" | {med(r.get('denoised_incumbent_mean_after', {}).get('20', []))}"
               f" | {med(r['predicted_incumbent_mean_after']['20'])}" if gp_columns else "")
            + f" | {reach_median(r['evals_to_95'])} | {np.median(r['visits']):.0f} |")
    return "\n".join(lines)


def stop_rule_line(result: dict, budget: int = max(BUDGETS)) -> str:
    """How often a method with a stop rule ended before ``budget``, and how many of those
    stops came before its best observation reached 95 % of the table's best."""
    visits = np.array(result["visits"])
    stopped = visits < budget
    reach = [np.inf if r is None else r for r in result["evals_to_95"]]
    early = [r > v for r, v, s in zip(reach, visits, stopped, strict=True) if s]
    if not stopped.any():
        return f"the stop rule never fired within {budget} evaluations"
    return (f"stopped before {budget} evaluations in {stopped.sum()}/{len(visits)} repetitions"
            f" (median after {np.median(visits[stopped]):.0f}); {sum(early)} of these stops"
            " came before 95 % of the table's best was observed")


def landscape(table: Table, path: Path) -> None:
    """The table's mean objective and share of collapsed trainings over the latent plane."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = table.space
    stored = [i for i in range(len(s["grid_index"])) if table.has("grid", i)]
    z = s["points"][s["grid_index"][stored]]
    mean = [table.mean("grid", i) for i in stored]
    share = [np.mean([collapsed(r) for r in table.runs[("grid", i)]]) for i in stored]
    outline = s["points"][s["feasible"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
    for ax, values, title, cmap in ((axes[0], mean, "mean objective", "viridis"),
                                    (axes[1], share, "share of collapsed trainings", "magma_r")):
        ax.scatter(outline[:, 0], outline[:, 1], s=2, c="0.88", linewidths=0)
        art = ax.scatter(z[:, 0], z[:, 1], c=values, s=28, cmap=cmap, edgecolors="k",
                         linewidths=0.3)
        ax.scatter(s["seed_z"][:, 0], s["seed_z"][:, 1], s=8, marker="x", c="0.4",
                   linewidths=0.6, label="encoded seeds")
        fig.colorbar(art, ax=ax)
        ax.set_title(f"{title} ({len(stored)} points, preset Q)")
        ax.set_xlabel("z₁")
        ax.set_ylabel("z₂")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS / "tabular.json")
    parser.add_argument("--methods", default="", help="comma-separated (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (one method each)")
    parser.add_argument("--update", action="store_true",
                        help="keep the methods already in --out (same --reps): run those named"
                             " in --methods again, or else only the missing ones")
    args = parser.parse_args()
    table = Table.load()
    available = methods(table)
    named = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(named) - set(available))
    if unknown:
        parser.error(f"unknown method {unknown[0]!r} (known: {', '.join(available)})")
    n_runs = sum(len(v) for v in table.runs.values())
    print(f"table: {n_runs} trainings at {len(table.runs)} schedules; best mean objective"
          f" {table.best_mean():.3f}")
    out: dict = {"table": {"trainings": n_runs, "schedules": len(table.runs),
                           "best_mean": table.best_mean()}, "reps": args.reps, "methods": {}}
    if args.update and args.out.exists():
        kept = json.loads(args.out.read_text())
        if kept.get("reps") != args.reps:
            parser.error(f"{args.out} holds {kept.get('reps')} repetitions, not --reps"
                         f" {args.reps}")
        out["methods"] = {k: v for k, v in kept["methods"].items()
                          if k in available and k not in named}
    chosen = named or [m for m in available if m not in out["methods"]]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_replay_named, name, args.reps) for name in chosen]
        for future in as_completed(futures):
            name, result = future.result()
            out["methods"][name] = result
            print(summary_line(name, result), f"({result['seconds']:.0f} s)", flush=True)
            write_json(args.out.stem, out, args.out.parent)
    print(markdown(out))
    if "zbo-stop-rule" in out["methods"]:
        print("zbo-stop-rule:", stop_rule_line(out["methods"]["zbo-stop-rule"]))
    landscape(table, args.out.with_name(args.out.stem + "_landscape.png"))
    print(json.dumps({"wrote": str(args.out)}))


if __name__ == "__main__":
    main()
