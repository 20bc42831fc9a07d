"""The campaign file: one HDF5 file holds the whole state of a campaign (DESIGN.md §4).

Layout (format version 1; every string is variable-length UTF-8)::

    /                        attrs: kind="zbo-campaign", format_version, app_version,
                             created (ISO 8601, UTC)
    /config                  scalar str: the campaign configuration as TOML text
    /dataset/images          (n, H, W) float32, gzip      attrs of /dataset: fingerprint, source
    /dataset/labels          (n,) int64 (absent when the dataset has no labels)
    /seeds/schedules         (S, N) float64
    /seeds/families          (S,) str
    /schedule_vae/weights/<name>   one plain array per state-dict entry (never pickle);
                             attr ``order`` of /schedule_vae/weights: JSON list of the names
    /schedule_vae/meta       scalar str: JSON (normaliser, losses, ...)
    /grid/{x, y, points, decoded, feasible, seed_z}   the :class:`LatentGrid` arrays
    /evaluations             the append-only evaluation table (see ``_evaluations``);
                             attr ``count``: the number of complete rows
    /results/<name>/arrays/<key>   final results (e.g. the final model's manifolds)
    /results/<name>/meta     scalar str: JSON

A *stage* (``dataset``, ``seeds``, ``schedule_vae``, ``grid``) is written once: it is built in a
group named ``_partial_<stage>`` and renamed to ``/<stage>`` when complete, so :meth:`has` never
reports a half-written stage, and a stage interrupted by a crash is simply written again.

Files use HDF5's default ("earliest") format bounds on purpose: newer superblocks record "open
for writing" in the file, so a killed writer would leave a file HDF5 refuses to open.

Older format versions are migrated on open by the functions in :data:`MIGRATIONS`: in place (via
a copy and an atomic rename) when the file is opened writable, in memory when opened read-only,
so that a read-only open never modifies the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.core.types import Evaluation
from zbo_gui.storage import _evaluations, _files
from zbo_gui.storage._files import FORMAT_VERSION, KIND, MIGRATIONS

__all__ = ["FORMAT_VERSION", "KIND", "MIGRATIONS", "STAGES", "CampaignStore"]

#: The stages written once each, in the order a campaign produces them.
STAGES = ("dataset", "seeds", "schedule_vae", "grid")

_GRID_FIELDS = ("x", "y", "points", "decoded", "feasible", "seed_z")


class CampaignStore:
    """An open campaign file. Build it with :meth:`create` or :meth:`open`; close it after use.

    Every write is flushed to disk before it returns. Writes to a store opened read-only raise
    :class:`CampaignFileError`.
    """

    def __init__(self, file: h5py.File, path: Path, writable: bool, migrated_from: int | None):
        """Wrap an open, current-version file; use :meth:`create` or :meth:`open` instead."""
        self._file: h5py.File | None = file
        self._path = path
        self._writable = writable
        self._migrated_from = migrated_from
        try:
            attrs = file.attrs
            self._format_version = int(attrs["format_version"])
            self._app_version = str(attrs["app_version"])
            self._created = str(attrs["created"])
            self._config_toml = _files.read_str(file, "config")
            int(file["evaluations"].attrs["count"])
        except (KeyError, OSError, ValueError, TypeError) as exc:
            file.close()
            self._file = None
            raise CampaignFileError(f"{path}: damaged campaign file ({exc})") from None

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def create(
        cls, path: str | os.PathLike[str], config_toml: str, app_version: str, *,
        overwrite: bool = False,
    ) -> CampaignStore:
        """Create a new campaign file and open it writable.

        The file is built under a temporary name in the same folder and renamed into place, so
        an existing file is replaced only once the new one is complete.

        Args:
            path: where to create the file.
            config_toml: the campaign configuration as TOML text.
            app_version: the version of the application writing the file.
            overwrite: replace an existing file at ``path``.

        Raises:
            CampaignFileError: the file exists and ``overwrite`` is false, the folder does not
                exist, or the existing file is in use by another process.
        """
        path = Path(path)
        _files.create_file(path, config_toml, app_version, overwrite)
        return cls.open(path, writable=True)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, writable: bool = False) -> CampaignStore:
        """Open an existing campaign file, migrating an older format version.

        Args:
            path: the campaign file.
            writable: open for writing (and migrate an old file on disk); read-only otherwise,
                which never modifies the file.

        Raises:
            CampaignFileError: (one line naming the path and the problem) missing file, not an
                HDF5 file, truncated or damaged file, not a campaign file, a format version
                newer than :data:`FORMAT_VERSION`, or a file in use by another process.
        """
        path = Path(path)
        if not path.exists():
            raise CampaignFileError(f"{path}: no such file")
        if not path.is_file():
            raise CampaignFileError(f"{path}: not a file")
        file = _files.open_h5(path, "r+" if writable else "r")
        try:
            version = _files.check_header(file, path)
        except OSError as exc:
            file.close()
            raise CampaignFileError(f"{path}: damaged campaign file ({exc})") from None
        except BaseException:
            file.close()
            raise
        if version == FORMAT_VERSION:
            return cls(file, path, writable, None)
        file.close()
        if writable:
            file = _files.migrate_on_disk(path, version)
        else:
            file = _files.migrate_in_memory(path, version)
        return cls(file, path, writable, version)

    def close(self) -> None:
        """Flush and close the file; further use of the store raises CampaignFileError."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ properties
    @property
    def path(self) -> Path:
        """The file's path."""
        return self._path

    @property
    def config_toml(self) -> str:
        """The campaign configuration (TOML text)."""
        return self._config_toml

    @property
    def format_version(self) -> int:
        """The format version of the open (possibly migrated) file: :data:`FORMAT_VERSION`."""
        return self._format_version

    @property
    def migrated_from(self) -> int | None:
        """The format version found on disk when the file was migrated on open, else None."""
        return self._migrated_from

    @property
    def app_version(self) -> str:
        """The version of the application that created the file."""
        return self._app_version

    @property
    def created(self) -> str:
        """When the file was created (ISO 8601, UTC)."""
        return self._created

    @property
    def writable(self) -> bool:
        """Whether the store was opened for writing."""
        return self._writable

    # ------------------------------------------------------------------ helpers
    @property
    def _h5(self) -> h5py.File:
        if self._file is None:
            raise CampaignFileError(f"{self._path}: the campaign file is closed")
        return self._file

    def _writable_file(self) -> h5py.File:
        file = self._h5
        if not self._writable:
            raise CampaignFileError(f"{self._path}: opened read-only; cannot write")
        return file

    @contextmanager
    def _reading(self, what: str) -> Iterator[h5py.File]:
        """Turn HDF5 read failures into a CampaignFileError naming the file and ``what``."""
        file = self._h5
        try:
            yield file
        except (KeyError, OSError, ValueError) as exc:
            raise CampaignFileError(f"{self._path}: cannot read {what} ({exc})") from None

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
            group.create_dataset(
                "images", data=images, chunks=chunks, compression="gzip", shuffle=True
            )
            if labels is not None:
                group.create_dataset("labels", data=labels)

        self._write_stage("dataset", fill)

    def read_dataset(self) -> tuple[np.ndarray, np.ndarray | None, str, str]:
        """The stored dataset: ``(images (n, H, W) float32, labels (n,) int64 or None,
        fingerprint, source)``."""
        with self._reading("the dataset") as file:
            group = self._stage(file, "dataset")
            labels = group["labels"][...] if "labels" in group else None
            return (
                group["images"][...], labels,
                str(group.attrs["fingerprint"]), str(group.attrs["source"]),
            )

    # ------------------------------------------------------------------ seeds
    def write_seeds(self, schedules: np.ndarray, families: Sequence[str]) -> None:
        """Store the seed schedule library.

        Args:
            schedules: ``(S, N)`` seed schedules (stored as float64).
            families: ``(S,)`` the family name of each schedule.
        """
        schedules = np.asarray(schedules, dtype=np.float64)
        families = [str(f) for f in families]
        if schedules.ndim != 2 or len(families) != schedules.shape[0]:
            raise ValueError(
                f"schedules must be (S, N) with one family each, got {schedules.shape} and "
                f"{len(families)} families"
            )

        def fill(group: h5py.Group) -> None:
            group.create_dataset("schedules", data=schedules)
            group.create_dataset("families", data=families, dtype=_files.STR)

        self._write_stage("seeds", fill)

    def read_seeds(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The seed library: ``(schedules (S, N) float64, families (S,))``."""
        with self._reading("the seed schedules") as file:
            group = self._stage(file, "seeds")
            families = tuple(str(f) for f in group["families"].asstr()[...])
            return group["schedules"][...], families

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
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"invalid weight name {name!r}")
        meta_json = self._dump_meta("schedule_vae", meta)

        def fill(group: h5py.Group) -> None:
            wgroup = group.create_group("weights")
            for name, array in arrays.items():
                wgroup.create_dataset(name, data=array)
            wgroup.attrs["order"] = json.dumps(list(arrays))
            _files.write_str(group, "meta", meta_json)

        self._write_stage("schedule_vae", fill)

    def read_schedule_vae(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The schedule VAE: ``(weights in the order written, meta)``."""
        with self._reading("the schedule VAE") as file:
            group = self._stage(file, "schedule_vae")
            wgroup = group["weights"]
            order = json.loads(wgroup.attrs["order"])
            weights = {name: np.asarray(wgroup[name][()]) for name in order}
            return weights, json.loads(_files.read_str(group, "meta"))

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
                group.create_dataset(
                    name, data=array, compression="gzip" if compress else None
                )

        self._write_stage("grid", fill)

    def read_grid(self) -> LatentGrid:
        """The stored latent grid."""
        with self._reading("the latent grid") as file:
            group = self._stage(file, "grid")
            return LatentGrid(**{name: group[name][...] for name in _GRID_FIELDS})

    # ------------------------------------------------------------------ evaluations
    @property
    def n_evaluations(self) -> int:
        """The number of complete evaluations stored."""
        with self._reading("the evaluation count") as file:
            return int(file["evaluations"].attrs["count"])

    def append_evaluation(self, evaluation: Evaluation) -> None:
        """Append one evaluation and flush (see ``_evaluations`` for the table layout).

        Raises:
            CampaignFileError: ``evaluation.index`` is not the number of evaluations stored, or
                an array's shape differs from the shape fixed by the first evaluation.
        """
        file = self._writable_file()
        try:
            _evaluations.append(file["evaluations"], evaluation, str(self._path))
            file.flush()
        except (KeyError, OSError) as exc:
            raise CampaignFileError(f"{self._path}: cannot append evaluation ({exc})") from None

    def read_evaluations(self) -> list[Evaluation]:
        """Every complete evaluation, in index order."""
        with self._reading("the evaluations") as file:
            return _evaluations.read_all(file["evaluations"], str(self._path))

    # ------------------------------------------------------------------ final results
    def write_final(
        self, name: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
    ) -> None:
        """Store (or replace) a named result under ``/results/<name>``.

        Args:
            name: the result's name (e.g. ``"final_model"``); no ``/``.
            arrays: named arrays (e.g. ``"manifolds"``: ``(K, d*d, H, W)`` uint8).
            meta: JSON-serialisable metadata.
        """
        if not name or "/" in name or name.startswith("_partial_") or name in (".", ".."):
            raise ValueError(f"invalid result name {name!r}")
        for key in arrays:
            if not key or "/" in key or key in (".", ".."):
                raise ValueError(f"invalid array name {key!r}")
        file = self._writable_file()
        meta_json = self._dump_meta(f"result '{name}'", meta)
        results = file.require_group("results")
        partial = f"_partial_{name}"
        if partial in results:
            del results[partial]
        group = results.create_group(partial)
        agroup = group.create_group("arrays")
        for key, array in arrays.items():
            agroup.create_dataset(key, data=np.asarray(array))
        agroup.attrs["order"] = json.dumps(list(arrays))
        _files.write_str(group, "meta", meta_json)
        if name in results:
            del results[name]
        results.move(partial, name)
        file.flush()

    def read_final(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The result stored under ``name`` as ``(arrays, meta)``, or None if there is none."""
        with self._reading(f"result '{name}'") as file:
            if "/" in name or "results" not in file or name not in file["results"]:
                return None
            group = file["results"][name]
            agroup = group["arrays"]
            arrays = {k: np.asarray(agroup[k][()]) for k in json.loads(agroup.attrs["order"])}
            return arrays, json.loads(_files.read_str(group, "meta"))
