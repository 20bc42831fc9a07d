"""Checks of the paths a command will write, made before anything is written.

Each check raises :class:`CampaignFileError` with one line naming the path and the problem, so
that a mistake in a command line is refused before any file is created, replaced or truncated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import h5py

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage import _files, _lease


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (or would, for paths that do not exist yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_folder(path: Path) -> None:
    """``path`` is not a folder, and its folder exists and is writable."""
    if path.is_dir():
        raise CampaignFileError(f"{path}: is a folder; give a file name inside it")
    parent = path.parent
    if not parent.is_dir():
        raise CampaignFileError(f"{path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CampaignFileError(f"{path}: cannot write in folder {parent} (permission denied)")


def _refuse_if_locked(path: Path) -> None:
    """Refuse a file that another process holds open for writing under HDF5's file lock."""
    try:
        h5py.File(path, "r").close()
    except OSError as exc:
        if _files.is_locked(exc):
            raise CampaignFileError(f"{path}: {_files.problem(exc)}") from None


def check_writable(path: Path) -> None:
    """``path`` may be replaced by a new version of itself (its folder is writable, the file
    is not read-only, no other process holds HDF5's lock on it)."""
    check_folder(path)
    if not os.access(path, os.W_OK):
        raise CampaignFileError(f"{path}: the file is read-only (permission denied)")
    _refuse_if_locked(path)


def check_new_campaign(path: Path, overwrite: bool, allow_own: bool = True) -> None:
    """Whether a new campaign file may be created at ``path`` (``--overwrite`` or not).

    Only an existing *campaign* file (or an empty file) is ever replaced, and only when no
    other writer holds it; anything else at that path (a dataset, a folder) is refused. With
    ``allow_own``, a file this process holds itself passes (it is to be closed before the new
    one is published).

    Raises:
        CampaignFileError: naming the path and the problem.
    """
    check_folder(path)
    if not (path.exists() or path.is_symlink()):
        return
    if not overwrite:
        raise CampaignFileError(f"{path} already exists; use `zbo resume` or --overwrite")
    if not path.is_file():
        raise CampaignFileError(f"{path}: not a regular file; --overwrite replaces only a"
                                " campaign file")
    if path.stat().st_size == 0:
        return
    if not _files.is_campaign(path):
        raise CampaignFileError(f"{path}: not a zbo campaign file; --overwrite replaces only a"
                                " campaign file (move or delete this file yourself)")
    _lease.refuse_if_held(path, "replace it", allow_own=allow_own)
    _refuse_if_locked(path)


def check_export(path: Path, protected: Iterable[Path] = ()) -> None:
    """Whether an export may be written at ``path``.

    Exports never overwrite an HDF5 file (a campaign, a dataset: whatever its name) nor any of
    the ``protected`` files (the campaign being exported, its dataset).

    Raises:
        CampaignFileError: naming the path and the problem.
    """
    check_folder(path)
    if not path.exists():
        return
    for other in protected:
        if same_file(path, other):
            raise CampaignFileError(f"{path}: is the campaign's own file {other}; an export"
                                    " never overwrites it — choose another name")
    if not path.is_file():
        raise CampaignFileError(f"{path}: not a regular file")
    try:
        _files.check_signature(path)
        hdf5 = True
    except CampaignFileError:  # empty, unreadable or not HDF5: an export may replace it
        hdf5 = False
    if hdf5:
        what = "a zbo campaign file" if _files.is_campaign(path) else "an HDF5 file"
        raise CampaignFileError(f"{path}: is {what}; an export never overwrites one — choose"
                                " another name")
