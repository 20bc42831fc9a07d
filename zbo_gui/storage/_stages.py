"""The stages of a campaign file: dataset, seed schedules, schedule VAE, latent grid.

Each is written once (:meth:`StageAccess._write_stage`): built in a group named
``_partial_<stage>`` and renamed to ``/<stage>`` when complete, so :meth:`StageAccess.has` never
reports a half-written stage and one interrupted by a crash is simply written again. A mixin of
:class:`~zbo_gui.storage.campaign_file.CampaignStore`, which provides the file and its checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.core.faults import crash_point
from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.storage import _files

#: The stages written once each, in the order a campaign produces them.
STAGES = ("dataset", "seeds", "schedule_vae", "grid")

_GRID_FIELDS = ("x", "y", "points", "decoded", "feasible", "seed_z")


def name_ok(name: str) -> bool:
    """Whether ``name`` can name an HDF5 object in a group (not empty, no ``/``, ``.``, ``..``)."""
    return bool(name) and "/" not in name and name not in (".", "..")


class StageAccess:
    """Writing and reading the stages (mixed into ``CampaignStore``)."""

    _path: Path

    @property
    def _h5(self) -> h5py.File:
        raise NotImplementedError

    def _writable_file(self) -> h5py.File:
        raise NotImplementedError

    def _read(self, dataset: h5py.Dataset) -> np.ndarray:
        raise NotImplementedError

    def _reading(self, what: str) -> AbstractContextManager[h5py.File]:
        raise NotImplementedError

    def _write_stage(self, stage: str, fill: Callable[[h5py.Group], None]) -> None:
        """Build ``stage`` in a temporary group, rename it into place and flush."""
        file = self._writable_file()
        if stage in file:
            raise CampaignFileError(f"{self._path}: stage '{stage}' was already written")
        partial = f"_partial_{stage}"
        if partial in file:  # left over by an interrupted write
            del file[partial]
        fill(file.create_group(partial))
        file.move(partial, stage)
        file.flush()

    def _stage(self, file: h5py.File, stage: str) -> h5py.Group:
        if stage not in file:
            raise CampaignFileError(f"{self._path}: stage '{stage}' has not been written yet")
        return file[stage]

    def has(self, stage: str) -> bool:
        """Whether ``stage`` (one of :data:`STAGES`) was written completely."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
        return stage in self._h5

    # ------------------------------------------------------------------ dataset
    def write_dataset(
        self, images: np.ndarray, labels: np.ndarray | None, fingerprint: str, source: str
    ) -> None:
        """Store the evaluation dataset (so the file is portable).

        Args:
            images: ``(n, H, W)`` images (stored as float32, gzip-compressed).
            labels: ``(n,)`` integer labels (stored as int64), or None.
            fingerprint: a hash identifying the dataset.
            source: where the dataset came from (``"demo"`` or a path).
        """
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 3:
            raise ValueError(f"images must have shape (n, H, W), got {images.shape}")
        if labels is not None:
            labels = np.asarray(labels, dtype=np.int64)
            if labels.shape != images.shape[:1]:
                raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")

        def fill(group: h5py.Group) -> None:
            group.attrs["fingerprint"] = fingerprint
            group.attrs["source"] = source
            chunks = (max(1, min(images.shape[0], 256)), *(max(1, s) for s in images.shape[1:]))
            _files.create(group, "images", images, chunks=chunks, compression="gzip",
                          shuffle=True)
            crash_point("dataset", group.file.flush)
            if labels is not None:
                _files.create(group, "labels", labels)

        self._write_stage("dataset", fill)

    def read_dataset(self) -> tuple[np.ndarray, np.ndarray | None, str, str]:
        """The stored dataset: ``(images (n, H, W) float32, labels (n,) int64 or None,
        fingerprint, source)``."""
        with self._reading("the dataset") as file:
            group = self._stage(file, "dataset")
            labels = self._read(group["labels"]) if "labels" in group else None
            return (
                self._read(group["images"]), labels,
                str(group.attrs["fingerprint"]), str(group.attrs["source"]),
            )

    # ------------------------------------------------------------------ seeds
    def write_seeds(self, schedules: np.ndarray, families: Sequence[str]) -> None:
        """Store the seed schedule library.

        Args:
            schedules: ``(S, N)`` seed schedules, or ``(S, 2, N)`` pairs (β_c, β_d) (stored as
                float64).
            families: ``(S,)`` the family name of each schedule.
        """
        schedules = np.asarray(schedules, dtype=np.float64)
        families = [str(f) for f in families]
        pairs = schedules.ndim == 3 and schedules.shape[1] == 2
        if not (schedules.ndim == 2 or pairs) or len(families) != schedules.shape[0]:
            raise ValueError(
                f"schedules must be (S, N) or pairs (S, 2, N) with one family each, got"
                f" {schedules.shape} and "
                f"{len(families)} families"
            )

        width = max([1, *(len(f.encode("utf-8")) for f in families)])
        encoded = np.array([f.encode("utf-8") for f in families], dtype=_files.fixed_str(width))

        def fill(group: h5py.Group) -> None:
            _files.create(group, "schedules", schedules)
            crash_point("seeds", group.file.flush)
            _files.create(group, "families", encoded)

        self._write_stage("seeds", fill)

    def read_seeds(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The seed library: ``(schedules (S, N) (pairs: (S, 2, N)) float64, families (S,))``."""
        with self._reading("the seed schedules") as file:
            group = self._stage(file, "seeds")
            families = tuple(f.decode("utf-8") for f in self._read(group["families"]))
            return self._read(group["schedules"]), families

    # ------------------------------------------------------------------ schedule VAE
    def write_schedule_vae(
        self, weights: Mapping[str, np.ndarray], meta: Mapping[str, Any]
    ) -> None:
        """Store the trained schedule VAE.

        Args:
            weights: state-dict entries as numpy arrays (e.g. ``"encoder_z.fc_layers.0.weight"``),
                each stored as a plain dataset with its dtype and shape; the order is kept.
            meta: JSON-serialisable metadata (normaliser, losses, reconstruction error, ...);
                numpy scalars and arrays are converted to lists and numbers.
        """
        arrays = {str(k): np.asarray(v) for k, v in weights.items()}
        for name in arrays:
            if not name_ok(name):
                raise ValueError(f"invalid weight name {name!r}")
        meta_json = self._dump_meta("schedule_vae", meta)

        def fill(group: h5py.Group) -> None:
            _files.write_arrays(group.create_group("weights"), arrays)
            _files.write_text(group, "meta", meta_json)

        self._write_stage("schedule_vae", fill)

    def read_schedule_vae(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The schedule VAE: ``(weights in the order written, meta)``."""
        with self._reading("the schedule VAE") as file:
            group = self._stage(file, "schedule_vae")
            weights = _files.read_arrays(group["weights"], self._path)
            return weights, json.loads(_files.read_text(group, "meta", self._path))

    def _dump_meta(self, what: str, meta: Mapping[str, Any]) -> str:
        try:
            return json.dumps(dict(meta), default=_files.json_default)
        except (TypeError, ValueError) as exc:
            raise CampaignFileError(
                f"{self._path}: metadata of {what} is not JSON-serialisable ({exc})"
            ) from None

    # ------------------------------------------------------------------ latent grid
    def write_grid(self, grid: LatentGrid) -> None:
        """Store the latent grid and its feasibility mask (``decoded`` gzip-compressed)."""

        def fill(group: h5py.Group) -> None:
            for name in _GRID_FIELDS:
                array = np.asarray(getattr(grid, name))
                compress = name == "decoded" and array.size > 0
                _files.create(group, name, array, compression="gzip" if compress else None,
                              shuffle=compress)
                if name == "decoded":
                    crash_point("grid", group.file.flush)

        self._write_stage("grid", fill)

    def read_grid(self) -> LatentGrid:
        """The stored latent grid."""
        with self._reading("the latent grid") as file:
            group = self._stage(file, "grid")
            return LatentGrid(**{name: self._read(group[name]) for name in _GRID_FIELDS})
