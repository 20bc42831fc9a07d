"""Opening, creating and migrating campaign files (HDF5), with every failure a one-line
:class:`CampaignFileError` that names the path and the problem."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage import _evaluations

#: The format version this code writes; files with a larger version are refused.
FORMAT_VERSION = 1
#: The value of the root attribute ``kind`` of every campaign file.
KIND = "zbo-campaign"
#: ``MIGRATIONS[v]`` upgrades an open, writable file from format version ``v`` to ``v + 1``
#: (the caller then sets ``format_version``). Empty while only version 1 exists.
MIGRATIONS: dict[int, Callable[[h5py.File], None]] = {}

STR = h5py.string_dtype("utf-8")


def problem(exc: OSError) -> str:
    """A short description of why HDF5 could not open a file."""
    text = str(exc)
    if isinstance(exc, BlockingIOError) or "unable to lock file" in text:
        return "the file is in use by another process (HDF5 file lock); close it there first"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if "file signature not found" in text:
        return "not an HDF5 file"
    if "truncated file" in text:
        return f"truncated or damaged HDF5 file ({text})"
    return f"damaged or unreadable HDF5 file ({text})"


def open_h5(path: Path, mode: str) -> h5py.File:
    """``h5py.File(path, mode)`` with every failure turned into a :class:`CampaignFileError`.

    A read-only open of a file that a running campaign holds (HDF5 file lock) is retried without
    the lock: readers trust only the evaluations counted in ``/evaluations.attrs["count"]``,
    which the writer bumps last, so ``zbo info`` works while a campaign runs.
    """
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        if mode == "r" and "unable to lock file" in str(exc):
            try:
                return h5py.File(path, mode, locking=False)
            except OSError as retry:
                exc = retry
        raise CampaignFileError(f"{path}: {problem(exc)}") from None


def json_default(obj: Any) -> Any:
    """Make numpy scalars and arrays JSON-serialisable (``json.dumps(default=...)``)."""
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def write_str(group: h5py.Group, name: str, text: str) -> None:
    """Store ``text`` as a scalar variable-length UTF-8 string dataset."""
    group.create_dataset(name, data=text, dtype=STR)


def read_str(group: h5py.Group, name: str) -> str:
    """Read a scalar string dataset."""
    return str(group[name].asstr()[()])


def temporary_next_to(path: Path) -> Path:
    """A new empty temporary file in ``path``'s folder (to be renamed over ``path``)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def publish(tmp: Path, path: Path) -> None:
    """Rename a finished temporary file over ``path`` (atomic) with a normal file mode.

    ``mkstemp`` creates files readable by their owner only; the result keeps the mode of the
    file it replaces, or gets the default mode (``0o666`` less the umask) when it is new.
    """
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def create_file(path: Path, config_toml: str, app_version: str, overwrite: bool) -> None:
    """Write a new, empty campaign file at ``path`` (via a temporary file and ``os.replace``)."""
    if path.exists() and not overwrite:
        raise CampaignFileError(f"{path} already exists; use `zbo resume` or --overwrite")
    if not path.parent.is_dir():
        raise CampaignFileError(f"{path}: folder {path.parent} does not exist")
    if path.exists():
        try:  # refuse to replace a file that another process is writing
            h5py.File(path, "r").close()
        except OSError as exc:
            if "unable to lock file" in str(exc):
                raise CampaignFileError(f"{path}: {problem(exc)}") from None
    tmp = temporary_next_to(path)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["kind"] = KIND
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["app_version"] = app_version
            f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
            write_str(f, "config", config_toml)
            _evaluations.init_group(f.create_group("evaluations"))
        publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_header(file: h5py.File, path: Path) -> int:
    """The file's format version, after checking that it is a campaign this code can read.

    Raises:
        CampaignFileError: no ``kind`` attribute (not a campaign), no ``format_version``, a
            version newer than :data:`FORMAT_VERSION`, or no migration from an older one.
    """
    kind = file.attrs.get("kind")
    if kind != KIND:
        found = "no kind attribute" if kind is None else f"kind={kind!r}"
        raise CampaignFileError(f"{path}: not a zbo campaign file ({found})")
    try:
        version = int(file.attrs["format_version"])
    except (KeyError, TypeError, ValueError):
        raise CampaignFileError(f"{path}: damaged campaign file (no format_version)") from None
    if version > FORMAT_VERSION:
        raise CampaignFileError(
            f"{path}: format version {version} is newer than this zbo-gui supports "
            f"({FORMAT_VERSION}); update zbo-gui"
        )
    missing = [v for v in range(version, FORMAT_VERSION) if v not in MIGRATIONS]
    if missing:
        raise CampaignFileError(
            f"{path}: format version {version} cannot be migrated (no migration from "
            f"version {missing[0]})"
        )
    return version


def _apply_migrations(file: h5py.File, version: int, path: Path) -> None:
    try:
        for v in range(version, FORMAT_VERSION):
            MIGRATIONS[v](file)
            file.attrs["format_version"] = v + 1
        file.flush()
    except Exception as exc:
        raise CampaignFileError(
            f"{path}: migration from format version {version} failed ({exc})"
        ) from exc


def migrate_on_disk(path: Path, version: int) -> h5py.File:
    """Migrate a copy of the file, rename it over the original (atomic) and open it writable."""
    tmp = temporary_next_to(path)
    try:
        shutil.copyfile(path, tmp)
        with open_h5(tmp, "r+") as f:
            _apply_migrations(f, version, path)
        publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return open_h5(path, "r+")


def migrate_in_memory(path: Path, version: int) -> h5py.File:
    """Load the file into memory and migrate it there; the file on disk is not touched."""
    try:
        file = h5py.File(io.BytesIO(path.read_bytes()), "r+")
    except OSError as exc:
        raise CampaignFileError(f"{path}: {problem(exc)}") from None
    try:
        _apply_migrations(file, version, path)
    except BaseException:
        file.close()
        raise
    return file
