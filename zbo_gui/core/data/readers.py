"""Open an image file of any supported format; read NPY and NPZ files; read label files.

:func:`open_images` picks the reader by ``format`` (``"auto"``: a folder, or the file's
extension, or its first bytes) and returns a lazy :class:`~zbo_gui.core.data.base.RawImages`.
NPY files are memory-mapped (only the images used are read); NPZ members are read whole.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zbo_gui.core.data.base import (
    FORMATS,
    NUMERIC_KINDS,
    RawImages,
    check_dtype,
    layout_of,
    one_line,
    reading,
)
from zbo_gui.core.errors import AmbiguousDataError, DatasetError

_EXTENSIONS = {
    ".npy": "npy", ".npz": "npz",
    ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".he5": "hdf5", ".nxs": "hdf5",
    ".emd": "hdf5", ".tif": "tiff", ".tiff": "tiff",
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".bmp": "image",
}
_MAGIC = (
    (b"\x93NUMPY", "npy"), (b"PK\x03\x04", "npz"), (b"PK\x05\x06", "npz"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"), (b"MM\x00+", "tiff"), (b"\x89PNG", "image"), (b"\xff\xd8\xff", "image"),
    (b"BM", "image"),
)
#: Column names taken as the labels in a CSV file with a header row.
LABEL_COLUMNS = ("label", "labels", "class", "classes", "y", "target")


def detect_format(path: str | Path, format: str = "auto") -> str:
    """The reader for ``path``: ``format`` itself, or guessed from a folder, extension or bytes.

    Raises:
        DatasetError: a missing path, an unknown format name, or a file of no known format.
    """
    path = Path(path)
    if format not in FORMATS:
        raise DatasetError(f"unknown dataset format {format!r} (known: {', '.join(FORMATS)})")
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path}")
    if format != "auto":
        if (format == "folder") != path.is_dir():
            kind = "a folder" if path.is_dir() else "a file"
            raise DatasetError(f"{path} is {kind}; dataset.format = {format!r} does not apply")
        return format
    if path.is_dir():
        return "folder"
    if path.suffix.lower() in _EXTENSIONS:
        return _EXTENSIONS[path.suffix.lower()]
    with reading(str(path), "a data file"), path.open("rb") as handle:
        head = handle.read(8)
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if not head:
        raise DatasetError(f"{path}: empty file")
    raise DatasetError(f"{path}: unknown file type (not NPY, NPZ, HDF5, TIFF, PNG or JPEG);"
                       " set dataset.format")


def open_images(path: str | Path, format: str = "auto", key: str = "") -> RawImages:
    """Open the images of a file or folder without reading their pixels.

    Args:
        path: an ``.npy``/``.npz``/HDF5/TIFF/PNG/JPEG file or a folder of images.
        format: one of :data:`~zbo_gui.core.data.base.FORMATS` (``"auto"`` guesses).
        key: NPZ array name, HDF5 dataset path or TIFF series number; "" picks the only
            candidate (or ``images``) and lists them when there are several.

    Returns:
        The lazy image source; close it (or use ``with``) when done.

    Raises:
        DatasetError: the file cannot be used (the message names the file and the problem).
    """
    path = Path(path)
    fmt = detect_format(path, format)
    if key and fmt in ("npy", "folder", "image"):
        raise DatasetError(f"{path}: dataset.key {key!r} applies to NPZ, HDF5 and TIFF files,"
                           f" not to {fmt} data")
    if path.is_file() and path.stat().st_size == 0:
        raise DatasetError(f"{path}: empty file")
    if fmt == "npy":
        return _open_npy(path)
    if fmt == "npz":
        return _open_npz(path, key)
    if fmt == "hdf5":
        from zbo_gui.core.data.hdf5 import open_hdf5

        return open_hdf5(path, key)
    from zbo_gui.core.data import images

    if fmt == "tiff":
        return images.open_tiff(path, key)
    if fmt == "folder":
        return images.open_folder(path)
    return images.open_image(path)


@dataclass
class ArrayImages(RawImages):
    """Images held by a numpy array (in memory or memory-mapped)."""

    array: np.ndarray | None = None

    def _read(self, indices: np.ndarray) -> np.ndarray:
        assert self.array is not None
        if self.layout.single:
            return np.array(self.array)
        return np.asarray(self.array[indices])  # fancy indexing copies (from a memory map too)


def _array_images(path: Path, fmt: str, key: str, array: np.ndarray, notes: tuple[str, ...],
                  labels: np.ndarray | None = None) -> ArrayImages:
    where = f"{path}" + (f"[{key}]" if key else "")
    dtype = check_dtype(array.dtype, where)
    layout = layout_of(array.shape, where)
    return ArrayImages(path, fmt, key, layout, dtype, labels=labels, notes=notes, array=array)


def _open_npy(path: Path) -> ArrayImages:
    with reading(str(path), "NPY"), path.open("rb") as handle:
        magic = handle.read(6)
    if magic != b"\x93NUMPY":
        raise DatasetError(f"{path}: not an NPY file (it does not start with the NPY header)")
    with reading(str(path), "NPY"):
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            notes: tuple[str, ...] = ("memory-mapped",)
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise DatasetError(f"{path}: holds Python objects (pickled), not a numeric"
                                   " array") from None
            array = np.load(path, allow_pickle=False)  # e.g. an empty array cannot be mapped
            notes = ()
    if not isinstance(array, np.ndarray):
        raise DatasetError(f"{path}: not an NPY array")
    return _array_images(path, "npy", "", array, notes)


def npz_members(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array of an NPZ file, read from the headers only."""
    out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    with reading(str(path), "NPZ"), zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            out[info.filename[:-4]] = (tuple(shape), np.dtype(dtype))
    return out


def _is_image_array(shape: tuple[int, ...], dtype: np.dtype) -> bool:
    return len(shape) >= 2 and dtype.kind in NUMERIC_KINDS


def _open_npz(path: Path, key: str) -> ArrayImages:
    members = npz_members(path)
    if not members:
        raise DatasetError(f"{path}: empty: the NPZ file holds no arrays")

    def listing(names: list[str]) -> str:
        return ", ".join(f"{n} {members[n][0]} {members[n][1]}" for n in names)

    names = list(members)
    candidates = [n for n in names if _is_image_array(*members[n])]
    if key:
        if key not in members:
            raise DatasetError(f"{path}: no array named {key!r} (arrays: {listing(names)})")
        chosen = key
    elif "images" in members:
        chosen = "images"
    elif len(names) == 1:
        chosen = names[0]
    elif len(candidates) == 1:
        chosen = candidates[0]
    else:
        raise AmbiguousDataError(f"{path}: several arrays ({listing(names)}); choose one with"
                                 " dataset.key", tuple(names))
    with reading(f"{path}[{chosen}]", "NPZ"), np.load(path, allow_pickle=False) as loaded:
        array = loaded[chosen]
        labels = loaded["labels"] if "labels" in members and chosen != "labels" else None
    shown_key = chosen if (key or len(names) > 1) else ""
    raw = _array_images(path, "npz", shown_key, array, ("read whole (NPZ)",))
    if labels is not None:
        raw.labels = to_classes(labels, f"{path}[labels]", raw.count)
    return raw


# -------------------------------------------------------------------------------------- labels


def to_classes(values: np.ndarray, where: str, count: int) -> np.ndarray:
    """Check labels against the image count and make them int64 classes.

    Integer, boolean and integral float labels are kept; text labels become the index of their
    name in sorted order.

    Raises:
        DatasetError: wrong length or shape, NaN, or non-integral numbers.
    """
    values = np.asarray(values)
    if values.ndim == 2 and 1 in values.shape:
        values = values.reshape(-1)
    if values.ndim != 1:
        raise DatasetError(f"{where}: labels must be one value per image, got shape"
                           f" {values.shape}")
    if values.shape[0] != count:
        raise DatasetError(f"{where}: {values.shape[0]} labels for {count} images")
    if values.dtype.kind in "US":
        _, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64)
    if values.dtype.kind not in "biuf":
        raise DatasetError(f"{where}: labels must be integers or names, got dtype {values.dtype}")
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)):
            raise DatasetError(f"{where}: labels contain NaN or infinite values")
        if not np.all(values == np.round(values)) or np.abs(values).max(initial=0) > 2**53:
            raise DatasetError(f"{where}: labels must be integer classes, got non-integral"
                               " numbers")
    return values.astype(np.int64)


def _read_csv_labels(path: Path) -> np.ndarray:
    with reading(str(path), "CSV"):
        text = path.read_text(encoding="utf-8-sig")
    rows = [row for row in csv.reader(text.splitlines()) if any(c.strip() for c in row)]
    if not rows:
        raise DatasetError(f"{path}: empty labels file")
    width = len(rows[0])
    first = [c.strip() for c in rows[0]]

    def numeric(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    if width == 1:
        column = 0
        rest_numeric = len(rows) > 1 and all(numeric(r[0]) for r in rows[1:] if r)
        header = first[0].lower() in LABEL_COLUMNS or (not numeric(first[0]) and rest_numeric)
    else:
        matches = [i for i, name in enumerate(first) if name.lower() in LABEL_COLUMNS]
        if not matches:
            raise DatasetError(f"{path}: {width} columns; name the label column one of"
                               f" {', '.join(LABEL_COLUMNS)} in a header row")
        column, header = matches[0], True
    body = rows[1:] if header else rows
    cells = []
    for number, row in enumerate(body, start=1):
        if len(row) <= column:
            raise DatasetError(f"{path}: row {number} has no column {column + 1}")
        cells.append(row[column].strip())
    if cells and all(numeric(c) for c in cells):
        return np.array([float(c) for c in cells])
    return np.array(cells, dtype=str)


def read_labels(spec: str, raw: RawImages) -> tuple[np.ndarray | None, str]:
    """Read the labels that ``dataset.labels`` names, aligned with ``raw``'s images.

    Args:
        spec: "" (labels stored beside the images, if any), a ``.npy``/``.csv`` path, or
            ``h5:/path`` for a dataset inside the same HDF5 file.
        raw: the open image source.

    Returns:
        ``(labels, description)``: ``(n,)`` int64 classes (or None) and a step description.

    Raises:
        DatasetError: a missing or unreadable file, a count that differs from the images'.
    """
    if not spec:
        if raw.labels is None:
            return None, ""
        return raw.labels, f"labels: stored beside the images ({_classes_text(raw.labels)})"
    if spec.startswith("h5:"):
        if raw.format != "hdf5":
            raise DatasetError(f"dataset.labels {spec!r} names an HDF5 dataset, but the images"
                               f" come from a {raw.format} source")
        from zbo_gui.core.data.hdf5 import read_hdf5_array

        where = f"{raw.path}[{spec[3:]}]"
        values = read_hdf5_array(raw.path, spec[3:])
    else:
        path = Path(spec)
        where = str(path)
        if not path.is_file():
            raise DatasetError(f"labels file not found: {path}")
        suffix = path.suffix.lower()
        if suffix == ".npy":
            with reading(where, "NPY"):
                values = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".txt", ".tsv"):
            values = _read_csv_labels(path)
        else:
            raise DatasetError(f"{path}: labels must be an .npy or .csv file")
    labels = to_classes(values, where, raw.count)
    return labels, f"labels: {one_line(where)} ({_classes_text(labels)})"


def _classes_text(labels: np.ndarray) -> str:
    classes = np.unique(labels)
    return f"{classes.size} class{'es' if classes.size != 1 else ''}"


