"""Checkpoints of a long stage in progress (e.g. the schedule VAE's training), in the file.

Layout: ``/_checkpoints/<stage>/slot0`` and ``slot1``, each ``arrays/<name>`` (checksummed) and
``meta`` (JSON text), with the attribute ``epoch``; the attribute ``current`` of
``/_checkpoints/<stage>`` names the complete slot (-1: none). A new checkpoint is written into the
other slot, flushed, and only then made current, so a kill at any moment leaves the previous
checkpoint intact. Slots are rewritten in place when the shapes agree, so the file does not grow
with every checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage import _files

GROUP = "_checkpoints"


def _fill_slot(slot: h5py.Group, arrays: Mapping[str, np.ndarray], meta_json: str) -> None:
    group = slot.require_group("arrays")
    for name in list(group):
        if name not in arrays:
            del group[name]
    for name, value in arrays.items():
        array = np.asarray(value)
        stored = group.get(name)
        same = (stored is not None and stored.dtype == array.dtype
                and stored.shape == (array.shape or (1,))
                and bool(stored.attrs.get("scalar", False)) == (array.ndim == 0))
        if same:
            stored[...] = array.reshape(stored.shape)
        else:
            if stored is not None:
                del group[name]
            _files.create(group, name, array)
    group.attrs["order"] = json.dumps(list(arrays))
    if "meta" in slot:
        del slot["meta"]
    _files.write_text(slot, "meta", meta_json)


def write(file: h5py.File, stage: str, epoch: int, arrays: Mapping[str, np.ndarray],
          meta: Mapping[str, Any]) -> None:
    """Store a checkpoint of ``stage`` after ``epoch`` epochs (the caller checks names)."""
    meta_json = json.dumps(dict(meta), default=_files.json_default)
    group = file.require_group(f"{GROUP}/{stage}")
    current = int(group.attrs.get("current", -1))
    slot_name = f"slot{1 - current if current in (0, 1) else 0}"
    slot = group.require_group(slot_name)
    _fill_slot(slot, arrays, meta_json)
    slot.attrs["epoch"] = np.int64(epoch)
    file.flush()
    group.attrs["current"] = np.int64(int(slot_name[-1]))
    file.flush()


def read(file: h5py.File, stage: str, where: Path | str
         ) -> tuple[int, dict[str, np.ndarray], dict[str, Any]] | None:
    """The current checkpoint of ``stage`` as ``(epoch, arrays, meta)``, or None.

    Raises:
        CampaignFileError: the checkpoint is damaged (naming the dataset).
    """
    name = f"{GROUP}/{stage}"
    if name not in file:
        return None
    group = file[name]
    current = int(group.attrs.get("current", -1))
    if current not in (0, 1) or f"slot{current}" not in group:
        return None
    slot = group[f"slot{current}"]
    try:
        arrays = _files.read_arrays(slot["arrays"], where)
        meta = json.loads(_files.read_text(slot, "meta", where))
        return int(slot.attrs["epoch"]), arrays, meta
    except (KeyError, ValueError) as exc:
        raise CampaignFileError(f"{where}: damaged checkpoint of {stage} ({exc})") from None


def clear(file: h5py.File, stage: str) -> None:
    """Forget the checkpoints of ``stage`` (once the stage is complete)."""
    name = f"{GROUP}/{stage}"
    if name in file:
        del file[name]
    if GROUP in file and not len(file[GROUP]):
        del file[GROUP]
    file.flush()
