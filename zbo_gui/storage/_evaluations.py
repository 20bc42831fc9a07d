"""The append-only evaluation table of the campaign file (group ``/evaluations``).

Layout. The group's attribute ``count`` is the number of complete evaluations; readers trust only
that many rows. Every dataset is resizable and chunked along its first axis (one row per item)
and is created by the first append that writes it, so its per-row shape (N, K, d*d, H, W) is
fixed by the first evaluation (resp. the first replicate) of the campaign. The scalar columns of
each table share one compound dataset ``rows`` (read one column with ``rows["objective"]``);
this keeps the number of datasets, and their fixed HDF5 overhead, small.

One row per evaluation (``n`` rows), in ``/evaluations``::

    rows (n,) compound: index int64, grid_index int64, source str16, acquisition float64,
        max_ei float64, status str16, objective float64, message str1024, started float64,
        seconds float64, replicate_start int64, replicate_count int64, worker str96
    z (n, 2) float64
    schedule (n, N) float64, or (n, 2, N) for schedule pairs (β_c, β_d; format 4)

One row per replicate (``r`` rows in all), in ``/evaluations/replicates``; evaluation ``i`` owns
rows ``replicate_start[i] : replicate_start[i] + replicate_count[i]``::

    rows (r,) compound: evaluation int64, value float64, seed int64, l1 float64, l2 float64,
        accuracy float64, nmi float64, train_seconds float64, score_seconds float64
    loss_curve (r, L) float64, gzip
    class_usage (r, K) int64
    class_intensity (r, K) float64
    manifolds (r, K, d*d, H, W) uint8, gzip

A flat replicate table (rather than rows padded to a maximum replicate count) lets an
evaluation have any number of replicates (0 for a FAILED one), and lets the first evaluation be a
FAILED one whose array shapes are not known yet. Enums are stored by their string values and
the message as fixed-length UTF-8 (``strW``: at most W bytes; a longer message is cut with "…"),
so that the Fletcher-32 checksum of every dataset covers them (see ``_files``). Arrays are
stored with the dtypes above (the ``ObjectiveResult`` defaults), so they round-trip exactly
when given in those dtypes.

The evaluations in flight (submitted, not finished) are the group's attribute ``pending``: a
JSON list of their proposals, tickets, start times and workers, replaced whole whenever one is
submitted or ends, so that a killed driver's successor submits them again.

Append order: replicate rows, then evaluation rows, then ``count`` last (the caller flushes). A
kill in the middle leaves rows past ``count`` that readers ignore and the next append overwrites,
so it loses at most the evaluation being appended.
"""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.core.faults import crash_point
from zbo_gui.core.types import (
    Evaluation,
    EvaluationStatus,
    ObjectiveResult,
    Pending,
    Proposal,
    ProposalSource,
)
from zbo_gui.storage._files import clip_utf8, create, fixed_str, read

#: Bytes kept of an evaluation's message (a longer one is cut, ending in "…").
MESSAGE_BYTES = 1024
#: Bytes kept of the name of the worker that ran an evaluation.
WORKER_BYTES = 96

_I8 = np.dtype(np.int64)
_F8 = np.dtype(np.float64)

#: Scalar columns of an evaluation (fields of ``/evaluations/rows``).
EVALUATION_ROW = np.dtype([
    ("index", _I8), ("grid_index", _I8), ("source", fixed_str(16)), ("acquisition", _F8),
    ("max_ei", _F8), ("status", fixed_str(16)), ("objective", _F8),
    ("message", fixed_str(MESSAGE_BYTES)),
    ("started", _F8), ("seconds", _F8), ("replicate_start", _I8), ("replicate_count", _I8),
    ("worker", fixed_str(WORKER_BYTES)),
])
#: Array columns of an evaluation and their dtypes.
EVALUATION_ARRAYS: dict[str, np.dtype] = {"z": _F8, "schedule": _F8}
#: Scalar columns of a replicate (fields of ``/evaluations/replicates/rows``).
REPLICATE_ROW = np.dtype([
    ("evaluation", _I8), ("value", _F8), ("seed", _I8), ("l1", _F8), ("l2", _F8),
    ("accuracy", _F8), ("nmi", _F8), ("train_seconds", _F8), ("score_seconds", _F8),
])
#: Array columns of a replicate and their dtypes.
REPLICATE_ARRAYS: dict[str, np.dtype] = {
    "loss_curve": _F8, "class_usage": _I8, "class_intensity": _F8,
    "manifolds": np.dtype(np.uint8),
}
_COMPRESSED = frozenset({"manifolds", "loss_curve"})
_CHUNK_BYTES = 256 * 1024


def init_group(group: h5py.Group) -> None:
    """Make ``group`` an empty evaluation table."""
    group.attrs["count"] = np.int64(0)
    group.create_group("replicates")


def _evaluation_values(evaluation: Evaluation, replicate_start: int) -> dict[str, Any]:
    p = evaluation.proposal
    return {
        "index": evaluation.index, "grid_index": p.grid_index, "z": p.z,
        "schedule": p.schedule, "source": p.source.value, "acquisition": p.acquisition,
        "max_ei": p.max_ei, "status": evaluation.status.value, "objective": evaluation.objective,
        "message": evaluation.message, "started": evaluation.started,
        "seconds": evaluation.seconds, "replicate_start": replicate_start,
        "replicate_count": len(evaluation.replicates), "worker": evaluation.worker,
    }


def _replicate_values(result: ObjectiveResult, evaluation_index: int) -> dict[str, Any]:
    names = [*REPLICATE_ROW.names, *REPLICATE_ARRAYS]
    values = {name: getattr(result, name) for name in names if name != "evaluation"}
    values["evaluation"] = evaluation_index
    return values


def _prepare(group: h5py.Group, row_dtype: np.dtype, arrays: dict[str, np.dtype],
             values: dict[str, Any], what: str) -> dict[str, tuple[np.dtype, np.ndarray]]:
    """The datasets' new rows as ``{name: (dtype, array)}``, checked against stored shapes."""
    record = tuple(
        clip_utf8(str(values[name]), row_dtype.fields[name][0].itemsize)
        if h5py.check_string_dtype(row_dtype.fields[name][0]) else values[name]
        for name in row_dtype.names
    )
    out = {"rows": (row_dtype, np.array(record, dtype=row_dtype))}
    for name, dtype in arrays.items():
        out[name] = (dtype, np.asarray(values[name], dtype=dtype))
    for name, (_, array) in out.items():
        if name in group and group[name].shape[1:] != array.shape:
            raise CampaignFileError(
                f"{what}: {name} has shape {array.shape}, but this campaign stores "
                f"{group[name].shape[1:]}"
            )
    return out


def _write_row(group: h5py.Group, name: str, dtype: np.dtype, row: int,
               array: np.ndarray) -> None:
    if name not in group:
        shape = array.shape
        chunk_rows = max(1, min(16, _CHUNK_BYTES // max(1, array.nbytes)))
        create(group, name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
               chunks=(chunk_rows, *(max(1, s) for s in shape)),
               compression="gzip" if name in _COMPRESSED else None)
    ds = group[name]
    if ds.shape[0] <= row:
        ds.resize(row + 1, axis=0)
    ds[row] = array


def append(group: h5py.Group, evaluation: Evaluation, where: str) -> None:
    """Append ``evaluation`` as row ``count`` and bump ``count`` last (the caller flushes).

    Args:
        group: the ``/evaluations`` group, writable.
        evaluation: the evaluation; its ``index`` must equal the current ``count``.
        where: the file's path, for error messages.

    Raises:
        CampaignFileError: wrong index, or an array shape that differs from the stored one.
    """
    count = int(group.attrs["count"])
    if evaluation.index != count:
        raise CampaignFileError(
            f"{where}: evaluation index {evaluation.index} does not follow the {count} "
            f"evaluations stored (expected index {count})"
        )
    start = 0
    if count:
        last = read(group["rows"], where, slice(count - 1, count))[0]
        start = int(last["replicate_start"]) + int(last["replicate_count"])
    what = f"{where}: evaluation {evaluation.index}"
    replicates = group.require_group("replicates")
    new_replicates = [
        _prepare(replicates, REPLICATE_ROW, REPLICATE_ARRAYS,
                 _replicate_values(r, evaluation.index), what)
        for r in evaluation.replicates
    ]
    new_evaluation = _prepare(group, EVALUATION_ROW, EVALUATION_ARRAYS,
                              _evaluation_values(evaluation, start), what)
    for j, new in enumerate(new_replicates[1:], start=1):  # replicates must agree, too
        for name, (_, array) in new.items():
            first = new_replicates[0][name][1]
            if array.shape != first.shape:
                raise CampaignFileError(
                    f"{what}: replicate {j} has {name} of shape {array.shape}, replicate 0 "
                    f"has {first.shape}"
                )
    for offset, new in enumerate(new_replicates):
        for name, (dtype, array) in new.items():
            _write_row(replicates, name, dtype, start + offset, array)
    crash_point("append", group.file.flush)
    for name, (dtype, array) in new_evaluation.items():
        _write_row(group, name, dtype, count, array)
    group.attrs["count"] = np.int64(count + 1)


def write_pending(group: h5py.Group, pending: list[Pending]) -> None:
    """Record the evaluations in flight (the attribute ``pending``, JSON; replaced whole)."""
    group.attrs["pending"] = json.dumps([
        {"ticket": p.ticket, "grid_index": p.proposal.grid_index,
         "z": [float(v) for v in p.proposal.z],
         "schedule": np.asarray(p.proposal.schedule, dtype=np.float64).tolist(),
         "source": p.proposal.source.value, "acquisition": p.proposal.acquisition,
         "max_ei": p.proposal.max_ei, "started": p.started, "worker": p.worker}
        for p in pending])


def read_pending(group: h5py.Group, where: str) -> list[Pending]:
    """The evaluations that were in flight when the file was last written (oldest first)."""
    text = group.attrs.get("pending", "[]")
    try:
        records = json.loads(text.decode("utf-8") if isinstance(text, bytes) else str(text))
        return [Pending(
            ticket=int(r["ticket"]),
            proposal=Proposal(int(r["grid_index"]), np.array(r["z"], dtype=np.float64),
                              np.array(r["schedule"], dtype=np.float64),
                              ProposalSource(r["source"]), float(r["acquisition"]),
                              float(r["max_ei"])),
            started=float(r["started"]), worker=str(r["worker"])) for r in records]
    except (ValueError, KeyError, TypeError) as exc:
        raise CampaignFileError(f"{where}: damaged record of the evaluations in flight ({exc})"
                                ) from None


def counted_rows(group: h5py.Group) -> dict[str, int]:
    """How many rows of each table dataset belong to complete evaluations (by dataset path);
    rows past them may be in the middle of being written."""
    count = int(group.attrs["count"])
    replicates = 0
    if count and "rows" in group:
        last = read(group["rows"], group.file.filename, slice(count - 1, count))[0]
        replicates = int(last["replicate_start"]) + int(last["replicate_count"])
    out = {}
    for table, rows in ((group, count), (group["replicates"], replicates)):
        for obj in table.values():
            if isinstance(obj, h5py.Dataset):
                out[obj.name] = rows
    return out


def _read(group: h5py.Group, names: list[str], rows: int, where: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in names:
        have = group[name].shape[0] if name in group else 0
        if have < rows:
            raise CampaignFileError(
                f"{where}: damaged evaluation table ({group.name}/{name} has {have} rows, "
                f"{rows} expected)"
            )
        out[name] = read(group[name], where, slice(0, rows))
    return out


def _text(value: Any) -> str:
    """A string field of a compound row (h5py reads them as UTF-8 bytes)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_all(group: h5py.Group, where: str) -> list[Evaluation]:
    """Every complete evaluation of the table (the first ``count`` rows), in index order."""
    count = int(group.attrs["count"])
    if count == 0:
        return []
    ev = _read(group, ["rows", *EVALUATION_ARRAYS], count, where)
    rows = ev["rows"]
    ends = rows["replicate_start"] + rows["replicate_count"]
    total = int(ends.max())
    rep = _read(group["replicates"], ["rows", *REPLICATE_ARRAYS], total, where) if total else {}
    out = []
    for i in range(count):
        row = rows[i]
        if int(row["index"]) != i:
            raise CampaignFileError(
                f"{where}: damaged evaluation table (row {i} has index {int(row['index'])})"
            )
        try:
            source = ProposalSource(_text(row["source"]))
            status = EvaluationStatus(_text(row["status"]))
        except ValueError as exc:
            raise CampaignFileError(f"{where}: evaluation {i}: {exc}") from None
        proposal = Proposal(
            grid_index=int(row["grid_index"]), z=ev["z"][i].copy(),
            schedule=ev["schedule"][i].copy(), source=source,
            acquisition=float(row["acquisition"]), max_ei=float(row["max_ei"]),
        )
        start = int(row["replicate_start"])
        replicates = tuple(_replicate(rep, j) for j in range(start, int(ends[i])))
        out.append(Evaluation(
            index=i, proposal=proposal, status=status, objective=float(row["objective"]),
            replicates=replicates, message=_text(row["message"]),
            started=float(row["started"]), seconds=float(row["seconds"]),
            worker=_text(row["worker"]) if "worker" in rows.dtype.names else "",
        ))
    return out


def _replicate(rep: dict[str, np.ndarray], j: int) -> ObjectiveResult:
    row = rep["rows"][j]
    return ObjectiveResult(
        value=float(row["value"]), seed=int(row["seed"]), l1=float(row["l1"]),
        l2=float(row["l2"]), loss_curve=rep["loss_curve"][j].copy(),
        class_usage=rep["class_usage"][j].copy(),
        class_intensity=rep["class_intensity"][j].copy(), accuracy=float(row["accuracy"]),
        nmi=float(row["nmi"]), manifolds=rep["manifolds"][j].copy(),
        train_seconds=float(row["train_seconds"]), score_seconds=float(row["score_seconds"]),
    )
