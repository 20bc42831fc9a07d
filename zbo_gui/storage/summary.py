"""A plain summary of a campaign file (what ``zbo info`` prints), without torch or Qt."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zbo_gui.core.config import stored_config_from_toml
from zbo_gui.core.schedules import split_pair
from zbo_gui.core.types import Evaluation, EvaluationStatus
from zbo_gui.storage.campaign_file import STAGES, CampaignStore


def _num(value: float) -> float | None:
    """JSON-friendly float: NaN → None."""
    return None if value is None or not math.isfinite(value) else float(value)


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return _num(float(np.mean(finite))) if finite else None


def evaluation_row(evaluation: Evaluation, beta_d: float) -> dict[str, Any]:
    """One evaluation as a JSON-friendly dict (replicates averaged; usage summed; ``beta_c``
    and ``beta_d`` the first and last value of each curve, β_d the constant ``beta_d`` of a
    β_c schedule)."""
    reps = evaluation.replicates
    curve_c, curve_d = split_pair(evaluation.proposal.schedule, beta_d)
    usage = np.sum([r.class_usage for r in reps], axis=0).tolist() if reps else []
    intensity = np.mean([r.class_intensity for r in reps], axis=0).tolist() if reps else []
    return {
        "index": evaluation.index,
        "source": evaluation.proposal.source.value,
        "status": evaluation.status.value,
        "objective": _num(evaluation.objective),
        "replicate_objectives": [_num(r.value) for r in reps],
        "l1": _mean([r.l1 for r in reps]),
        "l2": _mean([r.l2 for r in reps]),
        "class_usage": usage,
        "class_intensity": [round(v, 4) for v in intensity],
        "accuracy": _mean([r.accuracy for r in reps]),
        "nmi": _mean([r.nmi for r in reps]),
        "z": [float(v) for v in evaluation.proposal.z],
        "beta_c": [float(curve_c[0]), float(curve_c[-1])],
        "beta_d": [float(curve_d[0]), float(curve_d[-1])],
        "started": round(evaluation.started, 3),
        "seconds": round(evaluation.seconds, 2),
        "worker": evaluation.worker,
        "message": evaluation.message,
    }


def summarize(store: CampaignStore) -> dict[str, Any]:
    """Counts, best objective and per-evaluation rows of a campaign file.

    Keys: ``evaluations``, ``succeeded``, ``collapsed``, ``failed``, ``best_objective``,
    ``best_index``,
    ``schedule_length``, ``format_version``, ``app_version``, ``created``, ``stages``,
    ``in_flight`` (the evaluations a run had in flight when it last wrote: ticket, z, started,
    worker) and ``rows`` (see :func:`evaluation_row`).
    """
    evaluations = store.read_evaluations()
    ok = [e for e in evaluations if e.succeeded]
    best = max(ok, key=lambda e: e.objective) if ok else None
    length = None
    if store.has("seeds"):
        length = int(store.read_seeds()[0].shape[-1])
    beta_d = stored_config_from_toml(store.config_toml).jrvae.beta_d
    return {
        "evaluations": len(evaluations),
        "succeeded": len(ok),
        "collapsed": sum(e.status is EvaluationStatus.COLLAPSED for e in evaluations),
        "failed": sum(e.status is EvaluationStatus.FAILED for e in evaluations),
        "best_objective": None if best is None else _num(best.objective),
        "best_index": None if best is None else best.index,
        "schedule_length": length,
        "format_version": store.format_version,
        "app_version": store.app_version,
        "created": store.created,
        "stages": [s for s in STAGES if store.has(s)],
        "in_flight": [{"ticket": p.ticket, "z": [float(v) for v in p.proposal.z],
                       "started": round(p.started, 3), "worker": p.worker}
                      for p in store.read_pending()],
        "rows": [evaluation_row(e, beta_d) for e in evaluations],
    }
