"""What a dataset holds: count, shape, dtype, value range, NaN count, fingerprint, source.

:func:`inspect_file` reads a file block by block (bounded memory, whatever its size) and
describes the data as stored, with the problems that would make ``zbo run`` refuse it and the
warnings it would give; :func:`summarize_images` describes a loaded (prepared) image set. Both
give a :class:`DataSummary`, which the ``zbo inspect-data`` command and the GUI show.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zbo_gui.core.data.base import RawImages, reading, shape_text
from zbo_gui.core.data.preprocess import FAR_HIGH, FAR_LOW, label_warnings
from zbo_gui.core.data.readers import npz_members, open_images, read_labels

#: Bytes of stored data read at once by :func:`inspect_file`.
INSPECT_BLOCK_BYTES = 64 * 1024**2


@dataclass(frozen=True)
class DataSummary:
    """A description of a dataset, as stored in a file or as prepared for training.

    Attributes:
        source: the file (and key), or the loaded set's description.
        format: ``npy``, ``npz``, ``hdf5``, ``tiff``, ``folder``, ``image``, or ``prepared``.
        count: number of images.
        image_shape: ``(H, W)`` or ``(H, W, C)``.
        dtype: the values' dtype.
        value_range: smallest and largest finite value (None when there is none).
        nan_count: NaN and infinite values.
        constant_images: images whose finite values are all equal.
        fingerprint: SHA-256 of the array (and its shape and dtype) as read.
        labels: images per class, or None without labels.
        steps: what was done to the data (reading, preprocessing).
        warnings: suspicious but usable properties.
        problems: why the data cannot be used as it is (empty when it can).
        others: other arrays in the file that could be chosen with ``dataset.key``.
    """

    source: str
    format: str
    count: int
    image_shape: tuple[int, ...]
    dtype: str
    value_range: tuple[float, float] | None
    nan_count: int
    constant_images: int
    fingerprint: str
    labels: dict[int, int] | None = None
    steps: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    others: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists instead of tuples, class keys as strings)."""
        out = asdict(self)
        for name, value in out.items():
            if isinstance(value, tuple):
                out[name] = list(value)
        if self.labels is not None:
            out["labels"] = {str(k): v for k, v in self.labels.items()}
        return out

    def to_text(self) -> str:
        """Human-readable lines for a terminal."""
        low_high = ("no finite values" if self.value_range is None
                    else f"[{self.value_range[0]:.6g}, {self.value_range[1]:.6g}]")
        lines = [
            f"source       {self.source}",
            f"format       {self.format}",
            f"images       {self.count} × {shape_text(self.image_shape)} {self.dtype}",
            f"values       {low_high}; {self.nan_count} NaN/Inf;"
            f" {self.constant_images} constant image{'s' if self.constant_images != 1 else ''}",
            f"fingerprint  sha256:{self.fingerprint}",
        ]
        if self.labels is None:
            lines.append("labels       none")
        else:
            counts = ", ".join(f"{k}: {v}" for k, v in self.labels.items())
            lines.append(f"labels       {len(self.labels)} classes ({counts})")
        lines += [f"step         {s}" for s in self.steps]
        lines += [f"other array  {o}" for o in self.others]
        lines += [f"warning      {w}" for w in self.warnings]
        lines += [f"problem      {p}" for p in self.problems]
        return "\n".join(lines)


def _label_counts(labels: np.ndarray | None) -> dict[int, int] | None:
    if labels is None:
        return None
    classes, counts = np.unique(labels, return_counts=True)
    return {int(c): int(n) for c, n in zip(classes, counts, strict=True)}


def _block_stats(block: np.ndarray) -> tuple[int, float, float, int]:
    """NaN count, finite min and max (±inf when none), constant images of one block."""
    flat = block.reshape(block.shape[0], -1)
    if flat.dtype.kind == "f":
        finite = np.isfinite(flat)
        bad = int(flat.size - np.count_nonzero(finite))
        low = np.where(finite, flat, np.inf).min(axis=1)
        high = np.where(finite, flat, -np.inf).max(axis=1)
    else:
        bad = 0
        low = flat.min(axis=1).astype(np.float64)
        high = flat.max(axis=1).astype(np.float64)
    constant = int(np.count_nonzero(high <= low))
    return bad, float(low.min()), float(high.max()), constant


def _others(raw: RawImages) -> tuple[str, ...]:
    if raw.format == "npz":
        members = npz_members(raw.path)
        return tuple(f"{name} {shape} {dtype}" for name, (shape, dtype) in members.items()
                     if name != raw.key)
    if raw.format == "hdf5":
        from zbo_gui.core.data.hdf5 import image_datasets

        with reading(raw.where, "HDF5"):
            found = image_datasets(raw.file)  # type: ignore[attr-defined]
        return tuple(f"{name} {shape} {dtype}" for name, shape, dtype in found
                     if name != raw.key)
    return ()


def inspect_file(path: str | Path, format: str = "auto", key: str = "",
                 labels: str = "") -> DataSummary:
    """Describe the images of a file or folder as stored, reading them block by block.

    Args:
        path: the file or folder (any format :func:`~zbo_gui.core.data.open_images` reads).
        format: ``dataset.format`` (``"auto"`` guesses).
        key: ``dataset.key`` (NPZ array, HDF5 dataset, TIFF series).
        labels: ``dataset.labels`` ("" : labels stored beside the images, if any).

    Returns:
        The summary; data that ``zbo run`` would refuse (NaN values, all values equal) is
        described, with the reasons in ``problems``.

    Raises:
        DatasetError: the file cannot be read as images at all (missing, corrupt, wrong
            shape or dtype, ambiguous key, ...).
    """
    with open_images(path, format, key) as raw:
        per_image = int(np.prod(raw.layout.image_shape)) * raw.dtype.itemsize
        step = max(1, INSPECT_BLOCK_BYTES // max(1, per_image))
        digest = hashlib.sha256()
        nan_count = constant = 0
        lo, hi = np.inf, -np.inf
        for start in range(0, raw.count, step):
            block = raw.read(np.arange(start, min(raw.count, start + step)))
            digest.update(np.ascontiguousarray(block).data)  # no copy
            bad, b_lo, b_hi, b_const = _block_stats(block)
            nan_count, constant = nan_count + bad, constant + b_const
            lo, hi = min(lo, b_lo), max(hi, b_hi)
        digest.update(f"{(raw.count, *raw.layout.image_shape)} {raw.dtype.str}".encode())
        label_values, label_step = read_labels(labels, raw)
        others = _others(raw)
    finite = bool(np.isfinite(lo))
    problems, warnings = [], []
    if nan_count:
        problems.append(f"{nan_count} NaN or infinite values")
    if finite and hi <= lo:
        problems.append(f"all values are equal ({lo:g}); nothing to learn")
    elif not finite:
        problems.append("no finite values")
    if constant and not (finite and hi <= lo):
        warnings.append(f"{constant} constant image{'s' if constant > 1 else ''}")
    if raw.count == 1:
        warnings.append("a single image: cut it into patches with dataset.patch_size")
    if finite and raw.dtype.kind == "f" and (lo < FAR_LOW or hi > FAR_HIGH):
        warnings.append(f"float values span [{lo:.4g}, {hi:.4g}], far outside [0, 1]")
    if label_values is not None:
        warnings += label_warnings(label_values, "labels")
    return DataSummary(
        source=raw.where, format=raw.format, count=raw.count,
        image_shape=tuple(raw.layout.image_shape), dtype=str(raw.dtype),
        value_range=(float(lo), float(hi)) if finite else None, nan_count=nan_count,
        constant_images=constant, fingerprint=digest.hexdigest(),
        labels=_label_counts(label_values),
        steps=tuple(s for s in (raw.describe(), label_step) if s),
        warnings=tuple(warnings), problems=tuple(problems), others=others)


def summarize_images(images: np.ndarray, labels: np.ndarray | None, source: str,
                     fingerprint: str, steps: tuple[str, ...] = (),
                     warnings: tuple[str, ...] = ()) -> DataSummary:
    """Describe a prepared image set ``(n, H, W)`` (see ``ImageSet.summary``)."""
    bad, lo, hi, constant = _block_stats(images)
    finite = bool(np.isfinite(lo))
    return DataSummary(
        source=source, format="prepared", count=int(images.shape[0]),
        image_shape=tuple(int(s) for s in images.shape[1:]), dtype=str(images.dtype),
        value_range=(lo, hi) if finite else None, nan_count=bad, constant_images=constant,
        fingerprint=fingerprint, labels=_label_counts(labels), steps=steps,
        warnings=warnings)


def image_candidates(path: str | Path, fmt: str) -> list[tuple[str, str]]:
    """The arrays of an NPZ file or the image datasets of an HDF5 file that could be the images.

    Args:
        path: The file.
        fmt: Its format (``npz`` or ``hdf5``; other formats have no candidates).

    Returns:
        ``(key, description)`` pairs in file order; ``labels`` arrays are left out.

    Raises:
        DatasetError: If the file cannot be read.
    """
    path = Path(path)
    if fmt == "npz":
        members = npz_members(path)
        return [(name, f"{name}  {shape} {dtype}") for name, (shape, dtype) in members.items()
                if len(shape) >= 2 and dtype.kind in "biuf" and name != "labels"]
    if fmt == "hdf5":
        import h5py

        from zbo_gui.core.data.hdf5 import image_datasets

        with reading(str(path), "HDF5"), h5py.File(path, "r", locking=False) as handle:
            found = image_datasets(handle)
        return [(name, f"{name}  {shape} {dtype}") for name, shape, dtype in found
                if name.rsplit("/", 1)[-1] != "labels"]
    return []
