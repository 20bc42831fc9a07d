"""Migrations of older campaign-file formats (registered in ``_files.MIGRATIONS``).

Format version 1 → 2: checksums and a writer lease.
- every dataset is rewritten chunked with the Fletcher-32 checksum (``_files.create``);
- scalar text datasets (``/config``, ``.../meta``) become ``uint8`` UTF-8 byte arrays;
- variable-length string arrays (``/seeds/families``) and the string fields of the compound
  evaluation rows become fixed-length UTF-8 (the widths of ``_evaluations``: an evaluation's
  message is kept up to ``_evaluations.MESSAGE_BYTES``, a longer one is cut and ends in "…");
- the appendable tables keep their chunk shapes;
- zero-dimensional datasets become ``(1,)`` arrays with the attribute ``scalar``;
- an empty writer lease ``/writer`` is added.
Attributes are kept.

Format version 2 → 3: evaluations in flight and who ran each evaluation.
- the evaluation rows gain the field ``worker`` (empty for the evaluations already stored);
- ``/evaluations`` may carry the attribute ``pending`` (absent: nothing in flight).

Format version 3 → 4: schedule pairs.
- the seeds (``/seeds/schedules``), the grid's decoded schedules and the evaluations'
  schedules (with those in flight) may be pairs, ``(..., 2, N)``: β_c and β_d per epoch, when
  the configuration sets β_d bounds (``schedules.beta_d_lo``/``beta_d_hi``). A version-3 file
  needs no rewrite: its configuration has no β_d bounds, so its schedules are all β_c curves
  ``(..., N)`` with β_d the constant ``jrvae.beta_d``, which format 4 stores the same way. The
  version is bumped so that an older zbo-gui refuses a file of pairs with a clear message
  instead of misreading it.

The caller repacks the file afterwards, so the replaced datasets' space is
not carried along.
"""

from __future__ import annotations

import h5py
import numpy as np

from zbo_gui.storage import _evaluations, _files, _lease

_TEXT_DATASETS = ("meta", "config")


def _fixed_strings(values: np.ndarray) -> np.ndarray:
    texts = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.ravel()]
    width = max([1, *(len(t.encode("utf-8")) for t in texts)])
    return np.array([t.encode("utf-8") for t in texts], dtype=_files.fixed_str(width)).reshape(
        values.shape)


def _fixed_rows(rows: np.ndarray) -> np.ndarray:
    """Compound rows with variable-length string fields → the current fixed-width row dtype."""
    target = (_evaluations.EVALUATION_ROW if "replicate_start" in rows.dtype.names
              else _evaluations.REPLICATE_ROW)
    out = np.zeros(rows.shape, dtype=target)
    for name in target.names:
        if name not in rows.dtype.names:  # a field added later: its zero (empty text)
            continue
        field = rows[name]
        if target.fields[name][0].kind == "S":
            width = target.fields[name][0].itemsize
            out[name] = [_files.clip_utf8(v.decode("utf-8") if isinstance(v, bytes) else str(v),
                                          width) for v in field]
        else:
            out[name] = field
    return out


def _rewrite(dataset: h5py.Dataset) -> None:
    parent, name = dataset.parent, dataset.name.rsplit("/", 1)[-1]
    attrs = dict(dataset.attrs)
    dtype, shape = dataset.dtype, dataset.shape
    string = h5py.check_string_dtype(dtype) is not None
    compound_strings = bool(dtype.names) and any(
        h5py.check_string_dtype(dtype.fields[f][0]) for f in dtype.names)
    resizable = dataset.maxshape != shape
    chunks = dataset.chunks if resizable else None  # an appendable table keeps its chunking
    compression = dataset.compression
    data = dataset[()]
    del parent[name]
    if string and (shape == () or name in _TEXT_DATASETS):
        _files.write_text(parent, name, data.decode("utf-8") if isinstance(data, bytes)
                          else str(data))
    elif string:
        _files.create(parent, name, _fixed_strings(np.asarray(data)))
    elif compound_strings:
        _files.create(parent, name, _fixed_rows(data), maxshape=(None,), chunks=chunks)
    else:
        array = np.asarray(data)
        maxshape = (None, *array.shape[1:]) if resizable and array.ndim else None
        _files.create(parent, name, array, maxshape=maxshape, chunks=chunks,
                      compression=compression, shuffle=compression is not None)
    for key, value in attrs.items():
        parent[name].attrs[key] = value


def v1_to_v2(file: h5py.File) -> None:
    """Migrate an open, writable format-version-1 file to version 2 in place."""
    datasets: list[str] = []
    file.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset)
                    else None)
    for name in datasets:
        if name != _lease.NAME:
            _rewrite(file[name])
    if _lease.NAME not in file:
        _lease.create_lease(file)


_files.MIGRATIONS[1] = v1_to_v2


def v2_to_v3(file: h5py.File) -> None:
    """Migrate an open, writable format-version-2 file to version 3 in place."""
    rows = file.get("evaluations/rows")
    if rows is None or "worker" in rows.dtype.names:
        return
    parent, attrs, chunks = rows.parent, dict(rows.attrs), rows.chunks
    data = _fixed_rows(rows[()])
    del parent["rows"]
    _files.create(parent, "rows", data, maxshape=(None,), chunks=chunks)
    for key, value in attrs.items():
        parent["rows"].attrs[key] = value


_files.MIGRATIONS[2] = v2_to_v3


def v3_to_v4(file: h5py.File) -> None:
    """Migrate an open, writable format-version-3 file to version 4 in place (nothing to
    rewrite: see the module docstring)."""
    del file


_files.MIGRATIONS[3] = v3_to_v4
