"""How early can a collapsing training be stopped? Measured on the tabular benchmark's trainings.

Every training of ``benchmarks/data/tabular_q`` stored the class usage of a fixed 120-image probe
at epoch 1 and every 5 epochs. A rule stops a training at the first check, from epoch ``start``
on, where one class has held at least ``share`` of the probe for ``checks`` checks in a row. A
stop is *false* when the training, left to run, ended healthy (no class holding ≥ 90 % of the
400 images at the end); it is *costly* when the training ended with an objective ≥ 0.01 (a
result the search could have used). Reported per rule: trainings stopped, false and costly stops
(shares of the stops), and the training time saved (share of all training time, from each
stopped training's epochs not run).

    python benchmarks/collapse_rule.py     # writes benchmarks/results/collapse_rule.json
"""

from __future__ import annotations

import itertools

import numpy as np
from _report import write_json
from tabular_build import N_EPOCHS, collapsed, read_runs

USEFUL = 0.01
SHARES = (0.9, 0.95, 0.98, 1.0)
STARTS = (5, 10, 15, 20)
CHECKS = (1, 2, 3)


def stop_epoch(curve: list[list[int]], share: float, start: int, checks: int) -> int | None:
    """The epoch a rule stops a training at, given its probe usage ``[[epoch, u0, u1, …], …]``
    (None: it runs to the end)."""
    streak = 0
    for epoch, *usage in curve:
        counts = np.asarray(usage, dtype=float)
        streak = streak + 1 if counts.max() >= share * counts.sum() else 0
        if epoch >= start and streak >= checks and epoch < N_EPOCHS:
            return int(epoch)
    return None


def evaluate_rule(runs: list[dict], share: float, start: int, checks: int) -> dict:
    stops = false = costly = 0
    saved = total = 0.0
    for run in runs:
        seconds = float(run["train_seconds"])
        total += seconds
        epoch = stop_epoch(run["usage_curve"], share, start, checks)
        if epoch is None:
            continue
        stops += 1
        false += not collapsed(run)
        costly += run["objective"] >= USEFUL
        saved += seconds * (N_EPOCHS - epoch) / N_EPOCHS
    return {"share": share, "start": start, "checks": checks, "stopped": stops,
            "false_stops": false, "false_share": false / stops if stops else 0.0,
            "costly_stops": costly, "costly_share": costly / stops if stops else 0.0,
            "time_saved": saved / total if total else 0.0}


def main() -> None:
    runs = [r for r in read_runs() if r["status"] == "ok" and r.get("usage_curve")]
    n_collapsed = sum(collapsed(r) for r in runs)
    print(f"{len(runs)} trainings, {n_collapsed} ({n_collapsed / len(runs):.0%}) ended"
          " collapsed")
    rules = [evaluate_rule(runs, *rule) for rule in itertools.product(SHARES, STARTS, CHECKS)]
    allowed = [r for r in rules if r["false_share"] <= 0.05 and r["stopped"]]
    best = max(allowed, key=lambda r: r["time_saved"]) if allowed else None
    print("share start checks  stopped  false  costly  time saved")
    for r in rules:
        mark = " <- best with ≤ 5 % false stops" if r is best else ""
        print(f"{r['share']:5.2f} {r['start']:5d} {r['checks']:6d} {r['stopped']:8d}"
              f" {r['false_share']:6.1%} {r['costly_share']:7.1%} {r['time_saved']:10.1%}{mark}")
    write_json("collapse_rule", {"trainings": len(runs), "ended_collapsed": n_collapsed,
                                 "rules": rules, "best": best})


if __name__ == "__main__":
    main()
