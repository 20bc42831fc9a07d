"""HDF5 files (h5py): any dataset by its path, lazily.

The file stays open while the :class:`Hdf5Images` is; :meth:`~RawImages.read` reads only the
images asked for, run by run of consecutive indices, so a chunked (and compressed) dataset
larger than memory costs only the chunks that hold the chosen images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zbo_gui.core.data.base import (
    NUMERIC_KINDS,
    RawImages,
    check_dtype,
    layout_of,
    reading,
    runs,
    shape_text,
)
from zbo_gui.core.errors import AmbiguousDataError, DatasetError

#: HDF5 chunk cache per open file (bytes): holds the chunks shared by neighbouring images.
CHUNK_CACHE_BYTES = 32 * 1024**2


def _open_file(path: Path) -> Any:
    import h5py

    with reading(str(path), "HDF5"):
        return h5py.File(path, "r", locking=False, rdcc_nbytes=CHUNK_CACHE_BYTES)


def _text(name: str | bytes) -> str:
    """An HDF5 object name as text (h5py gives bytes for names that are not UTF-8)."""
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def _candidates(group: Any) -> list[tuple[str, tuple[int, ...], np.dtype, Any]]:
    import h5py

    found: list[tuple[str, tuple[int, ...], np.dtype, Any]] = []

    def visit(_name: str, obj: Any) -> None:
        if (isinstance(obj, h5py.Dataset) and obj.shape is not None and len(obj.shape) >= 2
                and obj.dtype.kind in NUMERIC_KINDS and obj.size > 0):
            found.append((_text(obj.name), tuple(obj.shape), obj.dtype, obj))

    group.visititems(visit)
    return found


def image_datasets(group: Any) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """The candidate image datasets under ``group``: numeric, at least 2-D, not empty.

    Returns:
        ``(path, shape, dtype)`` for each, in the file's order.
    """
    return [(name, shape, dtype) for name, shape, dtype, _ in _candidates(group)]


def _listing(found: list[tuple[str, tuple[int, ...], np.dtype]]) -> str:
    return ", ".join(f"{name} {shape} {dtype}" for name, shape, dtype in found) or "none"


def _storage_notes(dataset: Any) -> tuple[str, ...]:
    notes = []
    if dataset.chunks:
        notes.append(f"chunks {shape_text(dataset.chunks)}")
    if dataset.compression:
        notes.append(str(dataset.compression))
    notes.append("lazy")
    return tuple(notes)


@dataclass
class Hdf5Images(RawImages):
    """The images of one HDF5 dataset; the file stays open until :meth:`close`."""

    file: Any = None
    dataset: Any = None

    def _read(self, indices: np.ndarray) -> np.ndarray:
        if self.layout.single:
            return self.dataset[()]
        out = np.empty((indices.size, *self.dataset.shape[1:]), dtype=self.dataset.dtype)
        for start, stop, offset in runs(indices):  # straight into ``out``, no temporary
            self.dataset.read_direct(out, np.s_[start:stop], np.s_[offset: offset + stop - start])
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _find(handle: Any, path: Path, key: str) -> Any:
    """The dataset ``key`` names, or the only (or ``images``) candidate when ``key`` is ""."""
    import h5py

    if key:
        with reading(f"{path}[{key}]", "HDF5"):
            obj = handle.get(key)
        if obj is None:
            raise DatasetError(f"{path}: no dataset {key!r} (image datasets:"
                               f" {_listing(image_datasets(handle))})")
        if isinstance(obj, h5py.Group):
            raise DatasetError(f"{path}: {key!r} is a group, not a dataset (image datasets in"
                               f" it: {_listing(image_datasets(obj))})")
        if not isinstance(obj, h5py.Dataset):
            raise DatasetError(f"{path}: {key!r} is not a dataset")
        return obj
    with reading(str(path), "HDF5"):
        found = _candidates(handle)
    if not found:
        raise DatasetError(f"{path}: no image dataset (numeric, at least 2-D) in the file")
    named = [f for f in found if f[0].rsplit("/", 1)[-1] == "images"]
    if len(found) == 1 or len(named) == 1:
        return (named or found)[0][3]
    listing = _listing([f[:3] for f in found])
    raise AmbiguousDataError(f"{path}: several image datasets ({listing}); choose one with"
                             " dataset.key", tuple(f[0] for f in found))


def open_hdf5(path: Path, key: str) -> Hdf5Images:
    """Open an HDF5 dataset of images (see :func:`~zbo_gui.core.data.readers.open_images`)."""
    handle = _open_file(path)
    try:
        with reading(str(path), "HDF5"):
            dataset = _find(handle, path, key)
            name = _text(dataset.name)
            where = f"{path}[{name}]"
            if dataset.shape is None:
                raise DatasetError(f"{where}: empty (null) dataset")
            dtype = check_dtype(dataset.dtype, where)
            layout = layout_of(dataset.shape, where)
            notes = _storage_notes(dataset)
        return Hdf5Images(path, "hdf5", name, layout, dtype, notes=notes, file=handle,
                          dataset=dataset)
    except BaseException:
        handle.close()
        raise


def read_hdf5_array(path: Path, key: str) -> np.ndarray:
    """Read a whole (small) dataset, e.g. labels, from an HDF5 file.

    Raises:
        DatasetError: a missing path, a group, or an unreadable dataset.
    """
    handle = _open_file(path)
    try:
        import h5py

        with reading(f"{path}[{key}]", "HDF5"):
            obj = handle.get(key)
            if not isinstance(obj, h5py.Dataset):
                what = "a group" if isinstance(obj, h5py.Group) else "missing"
                raise DatasetError(f"{path}: labels dataset {key!r} is {what}")
            if obj.shape is None:
                raise DatasetError(f"{path}: labels dataset {key!r} is empty (null)")
            values = obj[()]
        if values.dtype.kind in "SO":  # names stored as bytes or variable-length strings
            values = np.array([v.decode() if isinstance(v, bytes) else str(v)
                               for v in np.ravel(values)]).reshape(np.shape(values))
        return np.asarray(values)
    finally:
        handle.close()
