"""Shared pieces of the data readers: the lazy image source, the array layouts, the warnings.

A reader opens a file and returns a :class:`RawImages`: the number of images, their shape and
dtype, known from the file's header, and a :meth:`RawImages.read` that loads only the images
asked for. Nothing is decoded until then, so a file larger than memory can be used as long as
the subset the evaluations need fits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zbo_gui.core.errors import DatasetError

#: The most memory (bytes, as float64) that one read may need; a larger request is refused with
#: a message naming its size rather than attempted (a damaged header can claim huge images).
MAX_LOAD_BYTES = 4 * 1024**3

#: dtype kinds accepted as image values: bool, signed and unsigned integers, floats.
NUMERIC_KINDS = "biuf"


class DatasetWarning(UserWarning):
    """Suspicious but usable data (values far outside [0, 1], few images per class, ...).

    Emitted with :func:`warnings.warn` and also recorded in ``ImageSet.warnings`` and in the
    dataset summary, so the command line and the GUI can show it.
    """


@dataclass(frozen=True)
class Layout:
    """How the images lie in an array of shape ``shape``.

    Attributes:
        count: number of images.
        image_shape: ``(H, W)`` or, for colour, ``(H, W, C)`` with C = 3 or 4.
        single: the array is one image (no image axis).

    A channel axis of size 1 is not part of ``image_shape``: reads reshape it away.
    """

    count: int
    image_shape: tuple[int, ...]
    single: bool = False

    @property
    def colour(self) -> bool:
        """True for RGB(A) images."""
        return len(self.image_shape) == 3


def shape_text(shape: Sequence[int]) -> str:
    """``(64, 48)`` → ``"64×48"``."""
    return "×".join(str(int(s)) for s in shape)


def layout_of(shape: Sequence[int], where: str, colour_axis: bool | None = None) -> Layout:
    """Interpret an array shape as a set of grey or colour images (see :func:`_layout`).

    Raises:
        DatasetError: not an image layout, no images, or images with no pixels.
    """
    layout = _layout(shape, where, colour_axis)
    if layout.count == 0:
        raise DatasetError(f"{where}: empty: the array {tuple(shape)} holds no images")
    if min(layout.image_shape[:2]) == 0:
        raise DatasetError(f"{where}: empty images of {shape_text(layout.image_shape[:2])}"
                           f" pixels (array {tuple(shape)})")
    return layout


def _layout(shape: Sequence[int], where: str, colour_axis: bool | None) -> Layout:
    """Interpret an array shape as a set of grey or colour images.

    Accepted: ``(H, W)`` one image; ``(H, W, C)`` one colour image (C = 3 or 4); ``(n, H, W)``
    a stack; ``(n, H, W, C)`` a colour stack (C = 1, 3 or 4); ``(n, 1, H, W)`` a stack with a
    leading channel axis.

    Args:
        shape: the array's shape.
        where: names the data in error messages.
        colour_axis: whether the last axis holds colour samples; None: guess (in a 3-D array,
            a last axis of size 3 or 4, smaller than the other two, is colour).

    Raises:
        DatasetError: 0-D, 1-D or ≥ 5-D arrays, or a 4-D array that is not one of the above.
    """
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    if ndim <= 1:
        raise DatasetError(f"{where}: a {ndim}-D array {shape} is not images; expected"
                           " (n, H, W) or one (H, W) image")
    if ndim >= 5:
        raise DatasetError(f"{where}: a {ndim}-D array {shape} is not images; expected"
                           " (n, H, W) or (n, H, W, channels)")
    if ndim == 2:
        return Layout(1, shape, single=True)
    if ndim == 3:
        guess = shape[2] in (3, 4) and min(shape[:2]) > shape[2]
        is_colour = guess if colour_axis is None else colour_axis
        if is_colour:
            if shape[2] not in (3, 4):
                raise DatasetError(f"{where}: {shape[2]} colour samples per pixel; expected 3"
                                   " (RGB) or 4 (RGBA)")
            return Layout(1, shape, single=True)
        return Layout(shape[0], shape[1:])
    if shape[3] in (3, 4) and colour_axis is not False:
        return Layout(shape[0], shape[1:])
    if shape[3] == 1:
        return Layout(shape[0], shape[1:3])
    if shape[1] == 1:
        return Layout(shape[0], shape[2:])
    raise DatasetError(f"{where}: a 4-D array {shape} is not images; expected (n, H, W, channels)"
                       " with 1, 3 or 4 channels")


def check_dtype(dtype: np.dtype, where: str) -> np.dtype:
    """Require numeric values (bool, integer or float)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in NUMERIC_KINDS:
        kind = "complex" if dtype.kind == "c" else "non-numeric"
        raise DatasetError(f"{where}: images must be numeric, got {kind} dtype {dtype}")
    return dtype


def one_line(text: str, limit: int = 240) -> str:
    """Collapse whitespace and shorten a library's message for a one-line error."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def reading(where: str, what: str) -> Iterator[None]:
    """Turn a file library's failure on bad bytes into a :class:`DatasetError`.

    Third-party parsers (numpy, h5py, tifffile, Pillow) raise many exception types on truncated
    or corrupt files; wrap only their calls in this block. The original exception is chained.
    """
    try:
        yield
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"dataset file not found: {where}") from None
    except MemoryError:
        raise DatasetError(f"{where}: not enough memory to read it as {what}") from None
    except Exception as exc:  # parsers of damaged files raise anything; keep it chained
        detail = one_line(f"{type(exc).__name__}: {exc}")
        raise DatasetError(f"cannot read {where} as {what}: {detail}") from exc


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that orders ``img2`` before ``img10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))


@dataclass
class RawImages:
    """Lazy access to the images of one file (or folder).

    Subclasses implement :meth:`_read`; callers use :meth:`read`, which checks the indices and
    the memory the block needs.

    Attributes:
        path: the file or folder.
        format: ``npy``, ``npz``, ``hdf5``, ``tiff``, ``folder`` or ``image``.
        key: NPZ array, HDF5 dataset path or TIFF series ("" when none).
        layout: count and per-image shape.
        dtype: the values' dtype as stored.
        names: per image, a short origin (file name in a folder); empty when not meaningful.
        labels: labels stored beside the images (an NPZ ``labels`` array), or None.
        notes: details of how the file is stored (chunks, compression, lazy or not).
    """

    path: Path
    format: str
    key: str
    layout: Layout
    dtype: np.dtype
    names: tuple[str, ...] = ()
    labels: np.ndarray | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int:
        """Number of images."""
        return self.layout.count

    @property
    def where(self) -> str:
        """The file (and key) for messages."""
        return f"{self.path}" + (f"[{self.key}]" if self.key else "")

    def describe(self) -> str:
        """One line: format, file, key, count, shape, dtype and storage notes."""
        what = (f"{self.count} image{'s' if self.count != 1 else ''}"
                f" {shape_text(self.layout.image_shape)} {self.dtype}")
        notes = f", {', '.join(self.notes)}" if self.notes else ""
        return f"read {self.format} {self.where}: {what}{notes}"

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Load some images.

        Args:
            indices: image indices, increasing and distinct.

        Returns:
            ``(len(indices), *layout.image_shape)`` in the stored dtype.

        Raises:
            DatasetError: an index out of range, a block too large for memory, unreadable data.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx[0] < 0 or idx[-1] >= self.count or np.any(np.diff(idx) <= 0)):
            raise DatasetError(f"{self.where}: bad image indices (need increasing, in"
                               f" 0..{self.count - 1})")
        need = idx.size * int(np.prod(self.layout.image_shape)) * 8
        if need > MAX_LOAD_BYTES:
            raise DatasetError(
                f"{self.where}: {idx.size} images of {shape_text(self.layout.image_shape)} would"
                f" need {need / 1024**3:.1f} GiB of memory (limit"
                f" {MAX_LOAD_BYTES / 1024**3:.1f} GiB); use fewer images (dataset.n_images)")
        if idx.size == 0:
            return np.empty((0, *self.layout.image_shape), dtype=self.dtype)
        with reading(self.where, self.format.upper()):
            block = np.asarray(self._read(idx)).reshape(idx.size, *self.layout.image_shape)
        return block

    def _read(self, indices: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> RawImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def runs(indices: np.ndarray) -> list[tuple[int, int, int]]:
    """Split increasing indices into runs of consecutive values: ``(start, stop, offset)``.

    ``offset`` is the position of ``start`` in ``indices``.
    """
    out: list[tuple[int, int, int]] = []
    if indices.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [indices.size]])
    for a, b in zip(starts, stops, strict=True):
        out.append((int(indices[a]), int(indices[b - 1]) + 1, int(a)))
    return out


#: Values of ``dataset.format``.
FORMATS = ("auto", "npy", "npz", "hdf5", "tiff", "folder", "image")
#: Values of ``dataset.patch_mode``: a regular tiling, or patches centred on detected features.
PATCH_MODES = ("grid", "blobs", "peaks")
#: Values of ``dataset.normalize``.
NORMALIZE_MODES = ("global", "per_image", "percentile")
#: Values of ``dataset.crop``: how an image reaches ``image_size x image_size``.
CROP_MODES = ("resize", "center", "pad")
