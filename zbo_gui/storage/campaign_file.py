"""The campaign file: one HDF5 file holds the whole state of a campaign (DESIGN.md §4).

Layout (format version 3)::

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
                             attr ``count``: the number of complete rows; attr ``pending``:
                             JSON, the evaluations in flight
    /results/<name>/arrays/<key>   final results (e.g. the final model's manifolds)
    /results/<name>/meta     text: JSON
    /_checkpoints/<stage>    the latest checkpoint of a stage in progress (see ``_checkpoints``)

"text" is a ``uint8`` array of UTF-8 bytes. Every dataset but ``/writer`` carries HDF5's
Fletcher-32 checksum, so damaged data is refused on read with an error naming the dataset
(``_files``); :meth:`CampaignStore.verify` reads every dataset once.

A new campaign file is built under a temporary name beside its target (:meth:`CampaignStore.
draft`) and renamed over the target only when its first stages are written: an existing file is
replaced only by a complete one. A *stage* (``dataset``, ``seeds``, ``schedule_vae``, ``grid``)
is written once (``_stages``): it is built in a group named ``_partial_<stage>`` and renamed to
``/<stage>`` when complete, so :meth:`has` never reports a half-written stage, and a stage
interrupted by a crash is simply written again.

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
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.core.types import Evaluation, Pending
from zbo_gui.storage import _checkpoints, _copy, _evaluations, _files, _lease, _migrate, _paths
from zbo_gui.storage._files import FORMAT_VERSION, KIND, MIGRATIONS
from zbo_gui.storage._lease import Lease
from zbo_gui.storage._paths import check_new_campaign as check_new_campaign_path
from zbo_gui.storage._paths import same_file
from zbo_gui.storage._stages import STAGES, StageAccess, name_ok

__all__ = ["FORMAT_VERSION", "KIND", "MIGRATIONS", "STAGES", "CampaignDraft", "CampaignStore",
           "Lease", "check_new_campaign_path", "read_campaign", "same_file"]

assert _migrate.v1_to_v2 is MIGRATIONS[1]  # registered on import

T = TypeVar("T")


def _detach(file: h5py.File) -> None:
    """Point HDF5's descriptor of an open file at ``/dev/null``: nothing it writes from now on
    (e.g. the header on close) reaches the file."""
    fd = file.id.get_vfd_handle()
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


class CampaignStore(StageAccess):
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
        except (*_files.H5_ERRORS, TypeError) as exc:
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
        _paths.check_new_campaign(path, overwrite, allow_own=True)
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
        except _files.H5_ERRORS as exc:
            raise CampaignFileError(f"{path}: damaged campaign file ({exc})") from None
        finally:
            file.close()
        if not writable:
            if version == FORMAT_VERSION:
                return cls(_files.open_h5(path, "r"), path, False, None)
            return cls(_files.migrate_in_memory(path, version), path, False, version)
        if version != FORMAT_VERSION:
            _paths.check_writable(path)
            _files.migrate_on_disk(path, version)
        lease = _lease.WriterLease(path)  # before HDF5 may write a byte
        try:
            file = h5py.File(path, "r+")
        except OSError as exc:
            lease.release()
            raise CampaignFileError(f"{path}: {_files.problem(exc)}") from None
        except BaseException:
            lease.release()
            raise
        try:
            if _lease.offset_in(file, path) != lease.offset:
                raise CampaignFileError(f"{path}: the writer lease moved while opening")
        except BaseException:
            _detach(file)
            file.close()
            lease.release()
            raise
        return cls(file, path, True, None if version == FORMAT_VERSION else version, lease)

    def copy_to(self, target: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Copy this campaign, as stored now, to ``target`` (Save as); the copy's writer lease
        is free, so it can be opened for writing.

        The copy is written beside ``target`` and published whole (see :meth:`draft`); it
        replaces only a campaign file that no writer holds, and only with ``overwrite``.

        Returns:
            ``target`` as a path.

        Raises:
            CampaignFileError: ``target`` is this file, or may not be replaced (see
                :meth:`draft`); the copy cannot be written.
        """
        target = Path(target)
        if _paths.same_file(target, self._path):
            raise CampaignFileError(f"{target}: is this campaign's own file; choose another"
                                    " name")
        _paths.check_new_campaign(target, overwrite, allow_own=False)
        self._h5.flush()
        _copy.copy_campaign(self._path, target, overwrite)
        return target

    def close(self) -> None:
        """Flush and close the file and free the writer lease; further use raises.

        A store whose lease was taken over closes without HDF5 writing anything: closing a
        file opened for writing rewrites its header, which would undo the new writer's growth.
        """
        try:
            if self._file is not None:
                if self._lease is not None and not self._lease.check(raise_=False):
                    _detach(self._file)
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
        except _files.H5_ERRORS as exc:
            raise CampaignFileError(f"{self._path}: cannot read {what} ({exc})") from None

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

    def write_pending(self, pending: list[Pending]) -> None:
        """Record the evaluations in flight (replacing the previous record) and flush."""
        file = self._writable_file()
        try:
            _evaluations.write_pending(file["evaluations"], pending)
            file.flush()
        except (KeyError, OSError) as exc:
            raise CampaignFileError(f"{self._path}: cannot record the evaluations in flight"
                                    f" ({exc})") from None

    def read_pending(self) -> list[Pending]:
        """The evaluations in flight when the file was last written (a killed run's)."""
        with self._reading("the evaluations in flight") as file:
            return _evaluations.read_pending(file["evaluations"], str(self._path))

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
        if not name_ok(name) or name.startswith("_partial_"):
            raise ValueError(f"invalid result name {name!r}")
        for key in arrays:
            if not name_ok(key):
                raise ValueError(f"invalid array name {key!r}")
        file = self._writable_file()
        meta_json = self._dump_meta(f"result '{name}'", meta)
        results = file.require_group("results")
        partial = f"_partial_{name}"
        if partial in results:
            del results[partial]
        group = results.create_group(partial)
        _files.write_arrays(group.create_group("arrays"), arrays)
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
            arrays = _files.read_arrays(group["arrays"], self._path)
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
            if not name_ok(name):
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
    def verify(self, checkpoints: bool = True) -> int:
        """Read every dataset once, checking its checksum.

        Args:
            checkpoints: also the checkpoints of a stage in progress (they are disposable: a
                damaged one costs only the time it would have saved).

        Returns:
            The number of datasets checked.

        Raises:
            CampaignFileError: naming the first damaged dataset.
        """
        with self._reading("the file") as file:
            skip = () if checkpoints else (f"/{_checkpoints.GROUP}/",)
            return _files.verify(file, self._path,
                                 _evaluations.counted_rows(file["evaluations"]), skip)

    def writer(self) -> Lease | None:
        """The writer lease recorded in the file on disk (None for a file without one)."""
        if self._migrated_from is not None and not self._writable:
            return None  # an old file read in memory has no lease on disk
        return _lease.read_lease(self._path)


def read_campaign(path: str | os.PathLike[str], work: Callable[[CampaignStore], T], *,
                  attempts: int = 5, pause: float = 0.3) -> T:
    """Open ``path`` read-only and return ``work(store)``, also while another process writes it.

    A writer rewrites the chunks of the evaluation it appends, so a reader may catch one half
    written: when a read fails and a live writer holds the file, the file is opened afresh and
    ``work`` tried again, up to ``attempts`` times.

    Raises:
        CampaignFileError: the file is damaged (no writer is active), or it kept changing.
    """
    path = Path(path)
    for attempt in range(attempts):
        try:
            with CampaignStore.open(path) as store:
                return work(store)
        except CampaignFileError as exc:
            try:
                lease = _lease.read_lease(path)
            except CampaignFileError:
                raise exc from None
            if lease is None or not lease.live() or lease.held_here(path):
                raise
            if attempt + 1 == attempts:
                raise CampaignFileError(
                    f"{path}: being written by {lease.describe()}; it changed while being"
                    f" read ({attempts} tries): try again") from None
            time.sleep(pause)
    raise AssertionError("unreachable")


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
            _paths.check_new_campaign(self.target, self._overwrite, allow_own=False)
            _files.publish(tmp, self.target, overwrite=self._overwrite)
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
