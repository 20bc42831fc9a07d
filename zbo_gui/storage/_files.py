"""Opening, creating and checking campaign files (HDF5), with every failure a one-line
:class:`CampaignFileError` that names the path and the problem.

Checksums (format version 2): every dataset but the writer lease is chunked and carries HDF5's
Fletcher-32 filter, so a flipped byte in its data makes the read fail; :func:`read` turns that
failure into an error naming the dataset. Text is stored as UTF-8 bytes (``uint8`` arrays) and
string columns as fixed-length UTF-8, because HDF5's variable-length strings live in a global
heap that no checksum covers. Zero-dimensional arrays are stored as ``(1,)`` arrays with the
attribute ``scalar`` (a scalar dataset cannot be chunked).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError

#: The format version this code writes; files with a larger version are refused.
FORMAT_VERSION = 4
#: The value of the root attribute ``kind`` of every campaign file.
KIND = "zbo-campaign"
#: ``MIGRATIONS[v]`` upgrades an open, writable file from format version ``v`` to ``v + 1``
#: in place (the caller then sets ``format_version`` and, on disk, repacks the file).
MIGRATIONS: dict[int, Callable[[h5py.File], None]] = {}
#: Whether new datasets carry the Fletcher-32 checksum (off only to measure its cost).
CHECKSUMS = True
#: The first bytes of every HDF5 file (at offset 0 in the files this code writes).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

STR = h5py.string_dtype("utf-8")
#: What h5py raises on a damaged file: OSError for data and I/O, RuntimeError for damaged
#: metadata (B-trees, object headers), KeyError/ValueError for what they point at.
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError)


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


def is_locked(exc: OSError) -> bool:
    """Whether HDF5 refused to open a file because another process holds its lock."""
    return isinstance(exc, BlockingIOError) or "unable to lock file" in str(exc)


def check_signature(path: Path) -> None:
    """Refuse, without writing anything, a path that is not a non-empty HDF5 file.

    ``h5py.File(path, "r+")`` writes a fresh HDF5 header into an empty file, so this runs
    before any open.

    Raises:
        CampaignFileError: missing, a folder, empty, unreadable or not an HDF5 file.
    """
    if not path.exists():
        raise CampaignFileError(f"{path}: no such file")
    if not path.is_file():
        raise CampaignFileError(f"{path}: not a file")
    try:
        with path.open("rb") as f:
            head = f.read(len(HDF5_SIGNATURE))
    except OSError as exc:
        raise CampaignFileError(f"{path}: {problem(exc)}") from None
    if not head:
        raise CampaignFileError(f"{path}: empty file (0 bytes), not a campaign file")
    if head != HDF5_SIGNATURE:
        raise CampaignFileError(f"{path}: not an HDF5 file")


def open_h5(path: Path, mode: str) -> h5py.File:
    """``h5py.File(path, mode)`` with every failure turned into a :class:`CampaignFileError`.

    A read-only open of a file that a running campaign holds (HDF5 file lock) is retried without
    the lock: readers trust only the evaluations counted in ``/evaluations.attrs["count"]``,
    which the writer bumps last, so ``zbo info`` works while a campaign runs.
    """
    try:
        return h5py.File(path, mode)
    except RuntimeError as exc:
        raise CampaignFileError(f"{path}: damaged HDF5 file ({exc})") from None
    except OSError as exc:
        if mode == "r" and is_locked(exc):
            try:
                return h5py.File(path, mode, locking=False)
            except OSError as retry:
                exc = retry
        raise CampaignFileError(f"{path}: {problem(exc)}") from None


def host_name() -> str:
    """This machine's host name."""
    return socket.gethostname() or "unknown-host"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_without_lock(path: Path) -> h5py.File:
    """Open ``path`` read-only without taking HDF5's file lock (a writer may hold it).

    Where this process already has the file open (with the lock), HDF5 refuses other locking
    flags; the file is then opened as it is open already.
    """
    try:
        return h5py.File(path, "r", locking=False)
    except OSError as exc:
        if "locking flag values don't match" not in str(exc):
            raise
        return h5py.File(path, "r")


def json_default(obj: Any) -> Any:
    """Make numpy scalars and arrays JSON-serialisable (``json.dumps(default=...)``)."""
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


# ---------------------------------------------------------------------------- checked datasets
def _chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """A chunk shape of at most about 1 MiB: whole rows, split along the first axis."""
    row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize if len(shape) > 1 else itemsize
    rows = max(1, min(max(shape[0], 1), (1 << 20) // max(row, 1)))
    return (rows, *(max(1, s) for s in shape[1:]))


def create(group: h5py.Group, name: str, data: Any = None, *, shape: tuple[int, ...] | None = None,
           dtype: Any = None, maxshape: tuple[int | None, ...] | None = None,
           chunks: tuple[int, ...] | None = None, compression: str | None = None,
           shuffle: bool = False) -> h5py.Dataset:
    """Create a chunked dataset with the Fletcher-32 checksum (see the module docstring).

    Args:
        group: where to create it.
        name: its name.
        data: the values (any shape, 0-d included), or None with ``shape`` and ``dtype``.
        shape, dtype: the shape and dtype of an empty dataset (``data`` None).
        maxshape: resizable axes (None entries), as for h5py.
        chunks: the chunk shape (default: whole rows of about 1 MiB at most).
        compression: ``"gzip"`` or None.
        shuffle: the byte-shuffle filter (helps gzip on floats).
    """
    scalar = False
    if data is not None:
        array = np.asarray(data) if not isinstance(data, np.ndarray) else data
        if array.ndim == 0:
            array, scalar = array.reshape(1), True
        shape, dtype = array.shape, array.dtype if dtype is None else dtype
    else:
        array = None
    assert shape is not None and dtype is not None
    dtype = np.dtype(dtype)
    if chunks is None:
        chunks = _chunks(tuple(shape), dtype.itemsize)
    if 0 in shape:  # HDF5 chunks an empty axis only when it is resizable
        maxshape = tuple(None if s == 0 else m
                         for s, m in zip(shape, maxshape or shape, strict=True))
    dataset = group.create_dataset(
        name, shape=shape, dtype=dtype, data=array, maxshape=maxshape, chunks=chunks,
        fletcher32=CHECKSUMS, compression=compression, shuffle=shuffle and compression is not None,
    )
    if scalar:
        dataset.attrs["scalar"] = True
    return dataset


def damaged(path: Path | str, dataset: h5py.Dataset | str, exc: BaseException) -> CampaignFileError:
    """The one-line error of a dataset whose data cannot be read back (checksum mismatch)."""
    name = dataset if isinstance(dataset, str) else dataset.name
    text = str(exc)
    if "filter returned failure" in text or "checksum" in text.lower():
        why = "Fletcher-32 checksum mismatch: the data changed on disk"
    else:
        why = text
    return CampaignFileError(f"{path}: damaged data in {name} ({why})")


def read(dataset: h5py.Dataset, where: Path | str, rows: slice | None = None) -> np.ndarray:
    """The values of ``dataset`` (a ``rows`` slice of its first axis), checksums checked.

    Raises:
        CampaignFileError: naming the dataset, when its data is damaged.
    """
    try:
        values = dataset[rows] if rows is not None else dataset[()]
    except H5_ERRORS as exc:
        raise damaged(where, dataset, exc) from None
    if rows is None and dataset.attrs.get("scalar", False):
        return np.asarray(values).reshape(())
    return np.asarray(values)


def write_text(group: h5py.Group, name: str, text: str) -> None:
    """Store ``text`` as a checksummed ``uint8`` array of its UTF-8 bytes."""
    create(group, name, np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


def read_text(group: h5py.Group, name: str, where: Path | str) -> str:
    """Read a text written by :func:`write_text`."""
    data = read(group[name], where)
    try:
        return data.tobytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise damaged(where, group[name], exc) from None


def write_arrays(group: h5py.Group, arrays: Mapping[str, Any]) -> None:
    """Store named arrays (any shapes and dtypes), checksummed, remembering their order."""
    for name, array in arrays.items():
        create(group, name, np.asarray(array))
    group.attrs["order"] = json.dumps(list(arrays))


def read_arrays(group: h5py.Group, where: Path | str) -> dict[str, np.ndarray]:
    """The arrays of :func:`write_arrays`, in the order written."""
    return {name: read(group[name], where) for name in json.loads(group.attrs["order"])}


def fixed_str(width: int) -> np.dtype:
    """A fixed-length UTF-8 string dtype of ``width`` bytes (numpy ``S<width>``)."""
    return h5py.string_dtype("utf-8", width)


def clip_utf8(text: str, width: int) -> bytes:
    """``text`` as UTF-8 of at most ``width`` bytes, cut at a character boundary (with "…")."""
    data = text.encode("utf-8")
    if len(data) <= width:
        return data
    return data[: width - 3].decode("utf-8", errors="ignore").encode("utf-8") + "…".encode()


def verify(file: h5py.File, where: Path | str, rows: dict[str, int] | None = None,
           skip: tuple[str, ...] = ()) -> int:
    """Read every dataset of ``file`` chunk by chunk, so that every checksum is checked.

    Args:
        file: the open file.
        where: its path, for messages.
        rows: for the append-only tables, how many rows count (``{"/evaluations/z": 12}``):
            chunks past them are not read (a writer may be writing them right now).
        skip: prefixes of dataset paths not to check.

    Returns:
        The number of datasets checked.

    Raises:
        CampaignFileError: naming the first damaged dataset (and how many are damaged), or
            the file's damaged structure.
    """
    rows = rows or {}
    names: list[str] = []
    try:
        file.visititems(lambda name, obj: names.append("/" + name)
                        if isinstance(obj, h5py.Dataset)
                        and not ("/" + name).startswith(skip) else None)
    except H5_ERRORS as exc:
        raise CampaignFileError(f"{where}: damaged HDF5 file structure ({exc})") from None
    bad: list[tuple[str, BaseException]] = []
    for name in names:
        try:
            dataset = file[name]
            limit = rows.get(name)
            if dataset.chunks is None or dataset.size == 0:
                dataset[()]
                continue
            for chunk in dataset.iter_chunks():
                first = chunk[0]
                if limit is not None:
                    if first.start >= limit:
                        continue
                    chunk = (slice(first.start, min(first.stop, limit)), *chunk[1:])
                dataset[chunk]
        except H5_ERRORS as exc:
            bad.append((name, exc))
    if bad:
        error = damaged(where, bad[0][0], bad[0][1])
        if len(bad) > 1:
            others = ", ".join(name for name, _ in bad[1:4])
            error = CampaignFileError(f"{error}; also damaged: {others}"
                                      + (", …" if len(bad) > 4 else ""))
        raise error
    return len(names)


# ---------------------------------------------------------------------------- temporaries
def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def temporary_next_to(path: Path) -> Path:
    """A new empty temporary file in ``path``'s folder (to be renamed over ``path``).

    Its name records this host and process (``.<name>.<host>-<pid namespace>.<pid>.<random>
    .tmp``), so that
    :func:`remove_stale_temporaries` can tell one left by a killed process.
    """
    host = _process_host()
    prefix = f"{_temporary_prefix(path)}{host}.{os.getpid()}."
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    except OSError as exc:
        raise CampaignFileError(f"{path}: cannot write in {path.parent} ({exc.strerror})"
                                ) from None
    os.close(fd)
    return Path(name)


@functools.cache
def pid_namespace() -> int:
    """This process's pid namespace (an inode number; 0 where unknown)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _process_host() -> str:
    """This host and pid namespace, as a file-name part (pids are unique within it)."""
    return f"{host_name().replace('.', '_')}-{pid_namespace()}"


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries of ``path`` left by killed processes of this host (and pid
    namespace: another container's processes are not ours to judge).

    Returns:
        The files removed.
    """
    host = _process_host()
    removed = []
    prefix = _temporary_prefix(path)
    for candidate in path.parent.glob(f"{prefix}*.tmp"):
        parts = candidate.name[len(prefix):].split(".")
        if len(parts) != 4 or parts[0] != host or not parts[1].isdigit():
            continue
        if not pid_alive(int(parts[1])):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, path: Path, overwrite: bool = True) -> None:
    """Rename a finished temporary file over ``path`` (atomic) with a normal file mode.

    The file's data reach the disk before the rename and the rename before this returns
    (``fsync`` of the file and of the folder), so a power cut leaves the old file or the new
    one. ``mkstemp`` creates files readable by their owner only; the result keeps the mode of
    the file it replaces, or gets the default mode (``0o666`` less the umask) when it is new.
    Without ``overwrite`` an existing ``path`` is never replaced, not even one created by
    another process since it was checked (a hard link fails where a rename would not).

    Raises:
        CampaignFileError: ``path`` exists and ``overwrite`` is false.
    """
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
    _fsync(tmp)
    if overwrite:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise CampaignFileError(f"{path} already exists; use `zbo resume` or --overwrite"
                                    ) from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise CampaignFileError(f"{path} already exists; use `zbo resume` or"
                                        " --overwrite") from None
            os.replace(tmp, path)
        else:
            tmp.unlink()
    with contextlib.suppress(OSError):  # a file system that cannot sync a folder
        _fsync(path.parent)


# ---------------------------------------------------------------------------- header
def write_header(f: h5py.File, config_toml: str, app_version: str) -> None:
    """The root attributes and the configuration of a new campaign file."""
    f.attrs["kind"] = KIND
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["app_version"] = app_version
    f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_text(f, "config", config_toml)


def is_campaign(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file with the campaign ``kind`` (read without locking)."""
    try:
        check_signature(path)
        with read_without_lock(path) as f:
            return f.attrs.get("kind") == KIND
    except (CampaignFileError, *H5_ERRORS):
        return False


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


# ---------------------------------------------------------------------------- migration
def _apply_migrations(file: h5py.File, version: int, path: Path) -> None:
    try:
        for v in range(version, FORMAT_VERSION):
            MIGRATIONS[v](file)
            file.attrs["format_version"] = v + 1
        file.flush()
    except CampaignFileError:
        raise
    except Exception as exc:
        raise CampaignFileError(
            f"{path}: migration from format version {version} failed ({exc})"
        ) from exc


def repack(source: Path, target: Path) -> None:
    """Copy every object of ``source`` into a new file ``target`` (drops freed space)."""
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for name in src:
            src.copy(src[name], dst, name=name)


def migrate_on_disk(path: Path, version: int) -> None:
    """Migrate a copy of the file, repack it and rename it over the original (atomic)."""
    remove_stale_temporaries(path)  # of a migration that was killed
    work = temporary_next_to(path)
    packed = temporary_next_to(path)
    try:
        shutil.copyfile(path, work)
        with open_h5(work, "r+") as f:
            _apply_migrations(f, version, path)
        repack(work, packed)
        publish(packed, path)
    finally:
        work.unlink(missing_ok=True)
        packed.unlink(missing_ok=True)


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
