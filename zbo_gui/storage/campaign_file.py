"""The campaign file: one HDF5 file holds the whole state of a campaign (DESIGN.md §4).

Layout (format version 2)::

    /                        attrs: kind="zbo-campaign", format_version, app_version,
                             created (ISO 8601, UTC)
    /config                  text: the campaign configuration as TOML
    /writer                  the writer lease (see ``_lease``; the one unchecksummed dataset)
    /dataset/images          (n, H, W) float32, gzip      attrs of /dataset: fingerprint, source
    /dataset/labels          (n,) int64 (absent when the dataset has no labels)
    /seeds/schedules         (S, N) float64
    /seeds/families          (S,) fixed-length UTF-8
    /schedule_vae/weights/<name>   one plain array per state-dict entry (never pickle);
                             attr ``order`` of /schedule_vae/weights: JSON list of the names
    /schedule_vae/meta       text: JSON (normaliser, losses, ...)
    /grid/{x, y, points, decoded, feasible, seed_z}   the :class:`LatentGrid` arrays
    /evaluations             the append-only evaluation table (see ``_evaluations``);
                             attr ``count``: the number of complete rows
    /results/<name>/arrays/<key>   final results (e.g. the final model's manifolds)
    /results/<name>/meta     text: JSON
    /_checkpoints/<stage>    the latest checkpoint of a stage in progress (see ``_checkpoints``)

"text" is a ``uint8`` array of UTF-8 bytes. Every dataset but ``/writer`` carries HDF5's
Fletcher-32 checksum, so damaged data is refused on read with an error naming the dataset
(``_files``); :meth:`CampaignStore.verify` reads every dataset once.

A new campaign file is built under a temporary name beside its target (:meth:`CampaignStore.
draft`) and renamed over the target only when its first stages are written: an existing file is
replaced only by a complete one. A *stage* (``dataset``, ``seeds``, ``schedule_vae``, ``grid``)
is written once: it is built in a group named ``_partial_<stage>`` and renamed to ``/<stage>``
when complete, so :meth:`has` never reports a half-written stage, and a stage interrupted by a
crash is simply written again.

One writer at a time: a writable store holds the file's writer lease (``_lease``), also where
HDF5's file locking is switched off, and checks it before every write.

Files use HDF5's default ("earliest") format bounds on purpose: newer superblocks record "open
for writing" in the file, so a killed writer would leave a file HDF5 refuses to open.

Older format versions are migrated on open by the functions in :data:`MIGRATIONS`: on disk (in
a copy, repacked and renamed over the original) when the file is opened writable, in memory
when opened read-only, so that a read-only open never modifies the file.
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
from zbo_gui.core.faults import crash_point
from zbo_gui.core.latent_grid import LatentGrid
from zbo_gui.core.types import Evaluation
from zbo_gui.storage import _checkpoints, _evaluations, _files, _lease, _migrate, _paths
from zbo_gui.storage._files import FORMAT_VERSION, KIND, MIGRATIONS
from zbo_gui.storage._lease import Lease
from zbo_gui.storage._paths import check_new_campaign as check_new_campaign_path

__all__ = ["FORMAT_VERSION", "KIND", "MIGRATIONS", "STAGES", "CampaignDraft", "CampaignStore",
           "Lease", "check_new_campaign_path"]

assert _migrate.v1_to_v2 is MIGRATIONS[1]  # registered on import

#: The stages written once each, in the order a campaign produces them.
STAGES = ("dataset", "seeds", "schedule_vae", "grid")

_GRID_FIELDS = ("x", "y", "points", "decoded", "feasible", "seed_z")


def _name_ok(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..")


class CampaignStore:
    """An open campaign file. Build it with :meth:`create`, :meth:`draft` or :meth:`open`; close
    it after use.

    Every write is flushed to disk before it returns. Writes to a store opened read-only raise
    :class:`CampaignFileError`, and so do writes after another writer took the lease over.
    """

    def __init__(self, file: h5py.File, path: Path, writable: bool, migrated_from: int | None,
                 lease: _lease.WriterLease | None = None):
        """Wrap an open, current-version file; use :meth:`create` or :meth:`open` instead."""
        self._file: h5py.File | None = file
        self._path = path
        self._writable = writable
        self._migrated_from = migrated_from
        self._lease = lease
        try:
            attrs = file.attrs
            self._format_version = int(attrs["format_version"])
            self._app_version = str(attrs["app_version"])
            self._created = str(attrs["created"])
            self._config_toml = _files.read_text(file, "config", path)
            int(file["evaluations"].attrs["count"])
        except (KeyError, OSError, ValueError, TypeError) as exc:
            self.close()
            raise CampaignFileError(f"{path}: damaged campaign file ({exc})") from None
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def draft(
        cls, path: str | os.PathLike[str], config_toml: str, app_version: str, *,
        overwrite: bool = False,
    ) -> CampaignDraft:
        """Start a new campaign file under a temporary name beside ``path``.

        Nothing at ``path`` is touched until :meth:`CampaignDraft.publish`.

        Raises:
            CampaignFileError: ``path`` exists and ``overwrite`` is false; ``path`` is a folder,
                its folder does not exist or is not writable; the existing file is not a
                campaign file, or another writer holds it.
        """
        path = Path(path)
        _paths.check_new_campaign(path, overwrite)
        _files.remove_stale_temporaries(path)
        tmp = _files.temporary_next_to(path)
        try:
            with h5py.File(tmp, "w") as f:
                _files.write_header(f, config_toml, app_version)
                _lease.create_lease(f)
                _evaluations.init_group(f.create_group("evaluations"))
            store = cls.open(tmp, writable=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return CampaignDraft(store, path, overwrite)

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], config_toml: str, app_version: str, *,
        overwrite: bool = False,
    ) -> CampaignStore:
        """Create a new, empty campaign file and open it writable (see :meth:`draft`).

        Args:
            path: where to create the file.
            config_toml: the campaign configuration as TOML text.
            app_version: the version of the application writing the file.
            overwrite: replace an existing campaign file at ``path``.
        """
        return cls.draft(path, config_toml, app_version, overwrite=overwrite).publish()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, writable: bool = False) -> CampaignStore:
        """Open an existing campaign file, migrating an older format version.

        Args:
            path: the campaign file.
            writable: open for writing (taking the writer lease, and migrating an old file on
                disk); read-only otherwise, which never modifies the file.

        Raises:
            CampaignFileError: (one line naming the path and the problem) missing or empty
                file, not an HDF5 file, truncated or damaged file, not a campaign file, a
                format version newer than :data:`FORMAT_VERSION`, or a file held by another
                writer.
        """
        path = Path(path)
        _files.check_signature(path)
        file = _files.open_h5(path, "r")
        try:
            version = _files.check_header(file, path)
        except OSError as exc:
            raise CampaignFileError(f"{path}: damaged campaign file ({exc})") from None
        finally:
            file.close()
        if not writable:
            if version == FORMAT_VERSION:
                return cls(_files.open_h5(path, "r"), path, False, None)
            return cls(_files.migrate_in_memory(path, version), path, False, version)
        if version >= 2:
            _lease.refuse_if_held(path)
        if version != FORMAT_VERSION:
            _files.migrate_on_disk(path, version)
        try:
            file = h5py.File(path, "r+")
        except OSError as exc:
            if _files.is_locked(exc):
                _lease.refuse_if_held(path)
            raise CampaignFileError(f"{path}: {_files.problem(exc)}") from None
        try:
            lease = _lease.WriterLease(path, _lease.offset_in(file, path))
        except BaseException:
            file.close()
            raise
        return cls(file, path, True, None if version == FORMAT_VERSION else version, lease)

    def close(self) -> None:
        """Flush and close the file and free the writer lease; further use raises."""
        try:
            if self._file is not None:
                self._file.close()
                self._file = None
        finally:
            if self._lease is not None:
                self._lease.release()
                self._lease = None

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
        if self._lease is not None:
            self._lease.check()
        return file

    def _read(self, dataset: h5py.Dataset) -> np.ndarray:
        return _files.read(dataset, self._path)

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

        width = max([1, *(len(f.encode("utf-8")) for f in families)])
        encoded = np.array([f.encode("utf-8") for f in families], dtype=_files.fixed_str(width))

        def fill(group: h5py.Group) -> None:
            _files.create(group, "schedules", schedules)
            crash_point("seeds", group.file.flush)
            _files.create(group, "families", encoded)

        self._write_stage("seeds", fill)

    def read_seeds(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The seed library: ``(schedules (S, N) float64, families (S,))``."""
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
            if not _name_ok(name):
                raise ValueError(f"invalid weight name {name!r}")
        meta_json = self._dump_meta("schedule_vae", meta)

        def fill(group: h5py.Group) -> None:
            wgroup = group.create_group("weights")
            for name, array in arrays.items():
                _files.create(wgroup, name, array)
            wgroup.attrs["order"] = json.dumps(list(arrays))
            _files.write_text(group, "meta", meta_json)

        self._write_stage("schedule_vae", fill)

    def read_schedule_vae(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The schedule VAE: ``(weights in the order written, meta)``."""
        with self._reading("the schedule VAE") as file:
            group = self._stage(file, "schedule_vae")
            wgroup = group["weights"]
            order = json.loads(wgroup.attrs["order"])
            weights = {name: self._read(wgroup[name]) for name in order}
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
        if not _name_ok(name) or name.startswith("_partial_"):
            raise ValueError(f"invalid result name {name!r}")
        for key in arrays:
            if not _name_ok(key):
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
            _files.create(agroup, key, np.asarray(array))
        agroup.attrs["order"] = json.dumps(list(arrays))
        _files.write_text(group, "meta", meta_json)
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
            arrays = {k: self._read(agroup[k]) for k in json.loads(agroup.attrs["order"])}
            return arrays, json.loads(_files.read_text(group, "meta", self._path))

    # ------------------------------------------------------------------ checkpoints
    def write_checkpoint(self, stage: str, epoch: int, arrays: Mapping[str, np.ndarray],
                         meta: Mapping[str, Any]) -> None:
        """Store the latest checkpoint of ``stage`` (in progress) after ``epoch`` epochs.

        Args:
            stage: one of :data:`STAGES` not written yet (e.g. ``"schedule_vae"``).
            epoch: epochs completed.
            arrays: named arrays (names without ``/``), any shapes and dtypes.
            meta: JSON-serialisable state.
        """
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
        for name in arrays:
            if not _name_ok(name):
                raise ValueError(f"invalid array name {name!r}")
        self._dump_meta(f"the {stage} checkpoint", meta)
        file = self._writable_file()
        _checkpoints.write(file, stage, epoch, arrays, meta)

    def read_checkpoint(self, stage: str
                        ) -> tuple[int, dict[str, np.ndarray], dict[str, Any]] | None:
        """The latest checkpoint of ``stage`` as ``(epoch, arrays, meta)``, or None."""
        with self._reading(f"the {stage} checkpoint") as file:
            return _checkpoints.read(file, stage, self._path)

    def clear_checkpoint(self, stage: str) -> None:
        """Forget the checkpoints of ``stage`` (call once the stage is written)."""
        _checkpoints.clear(self._writable_file(), stage)

    # ------------------------------------------------------------------ integrity and writer
    def verify(self) -> int:
        """Read every dataset once, checking its checksum.

        Returns:
            The number of datasets checked.

        Raises:
            CampaignFileError: naming the first damaged dataset.
        """
        with self._reading("the file") as file:
            return _files.verify(file, self._path)

    def writer(self) -> Lease | None:
        """The writer lease recorded in the file on disk (None for a file without one)."""
        if self._migrated_from is not None and not self._writable:
            return None  # an old file read in memory has no lease on disk
        return _lease.read_lease(self._path)


class CampaignDraft:
    """A new campaign file being built under a temporary name beside its target.

    Write the first stages into :attr:`store`, then :meth:`publish` renames the file over the
    target; :meth:`discard` (or leaving a ``with`` block without publishing) deletes it. An
    existing file at the target is untouched until :meth:`publish`.
    """

    def __init__(self, store: CampaignStore, target: Path, overwrite: bool) -> None:
        self.store = store
        self.target = target
        self._overwrite = overwrite
        self._done = False

    def publish(self) -> CampaignStore:
        """Close the draft, rename it over the target and open the result writable.

        Raises:
            CampaignFileError: the target changed meanwhile so that it may no longer be
                replaced (another writer took it); the draft is discarded.
        """
        tmp = self.store.path
        try:
            self.store.close()
            _paths.check_new_campaign(self.target, self._overwrite)
            _files.publish(tmp, self.target)
        except BaseException:
            self.discard()
            raise
        self._done = True
        return CampaignStore.open(self.target, writable=True)

    def discard(self) -> None:
        """Delete the draft (idempotent; nothing at the target changes)."""
        if not self._done:
            self.store.close()
            self.store.path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> CampaignDraft:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
