"""TIFF stacks (tifffile), single PNG/JPEG/BMP images and folders of images (Pillow, tifffile).

A TIFF file's images are its first series (a stack ``(n, H, W)``, a colour stack, or one image);
a multi-page file whose pages are separate series of the same shape is read as a stack; a file
with different series needs ``dataset.key`` = the series number. Pages are read one by one, so
only the images used are decoded. A folder holds one image per file, of one shape; the files are
sorted by name (``img2`` before ``img10``) and their names kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zbo_gui.core.data.base import (
    Layout,
    RawImages,
    check_dtype,
    layout_of,
    natural_key,
    one_line,
    reading,
    shape_text,
)
from zbo_gui.core.errors import AmbiguousDataError, DatasetError

#: File suffixes read from a folder.
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
#: Pillow modes read as grey, and their dtypes (other modes are read as RGB or RGBA).
_PIL_DTYPES = {"1": np.uint8, "L": np.uint8, "LA": np.uint8, "La": np.uint8, "I;16": np.uint16,
               "I;16L": np.uint16, "I;16B": np.uint16, "I;16N": np.uint16, "I": np.int32,
               "F": np.float32}


# ---------------------------------------------------------------------------------------- TIFF


class _TiffLogCapture(logging.Filter):
    """Takes tifffile's log records away from the threads that are reading TIFF data.

    tifffile logs (and goes on) on many damaged files; inside :func:`_tiff_checked` its records
    from the reading thread are kept here (errors become a :class:`DatasetError`) instead of
    reaching the application's log. Other threads' records pass untouched.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._errors: dict[int, list[str]] = {}

    def start(self) -> None:
        with self._lock:
            self._errors.setdefault(threading.get_ident(), [])

    def stop(self) -> list[str]:
        with self._lock:
            return self._errors.pop(threading.get_ident(), [])

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            errors = self._errors.get(record.thread or 0)
            if errors is None:
                return True
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage())
            return False


_CAPTURE = _TiffLogCapture()


@contextmanager
def _tiff_checked(where: str) -> Iterator[None]:
    """Read TIFF data; an error that tifffile only logs becomes a :class:`DatasetError`."""
    logger = logging.getLogger("tifffile")
    if _CAPTURE not in logger.filters:
        logger.addFilter(_CAPTURE)
    _CAPTURE.start()
    try:
        with reading(where, "TIFF"):
            yield
    finally:
        errors = _CAPTURE.stop()
    if errors:
        raise DatasetError(f"cannot read {where} as TIFF: damaged file: {one_line(errors[0])}")


@dataclass
class TiffImages(RawImages):
    """The images of a TIFF file: one series (by page when pages are images) or all series."""

    tif: Any = None
    series: int | None = None  # None: every series is one image
    by_page: bool = True
    mapped: np.ndarray | None = None  # uncompressed contiguous data, memory-mapped

    def _read(self, indices: np.ndarray) -> np.ndarray:
        if self.mapped is not None:
            return np.asarray(self.mapped.reshape(-1, *self.layout.image_shape)[indices])
        with _tiff_checked(self.where):
            if self.series is None:
                return np.stack([self.tif.series[int(i)].asarray() for i in indices])
            series = self.tif.series[self.series]
            if self.layout.single or (self.by_page and indices.size == self.count):
                return series.asarray()  # every image: one read of the whole series
            if self.by_page:
                return self.tif.asarray(key=[int(i) for i in indices], series=self.series)
            whole = np.asarray(series.asarray())
            return whole.reshape(self.count, *self.layout.image_shape)[indices]

    def close(self) -> None:
        self.mapped = None
        if self.tif is not None:
            self.tif.close()
            self.tif = None


def _series_layout(series: Any, where: str) -> Layout:
    return layout_of(series.shape, where, colour_axis=series.axes.endswith("S"))


def open_tiff(path: Path, key: str) -> TiffImages:
    """Open a TIFF stack or image (see :func:`~zbo_gui.core.data.readers.open_images`)."""
    import tifffile

    with _tiff_checked(str(path)):
        tif = tifffile.TiffFile(path)
    try:
        with _tiff_checked(str(path)):
            all_series = list(tif.series)
            described = [(tuple(s.shape), s.axes, np.dtype(s.dtype)) for s in all_series]
        if not all_series:
            raise DatasetError(f"{path}: empty: no images in the TIFF file")
        listing = "; ".join(f"{i}: {shape_text(shape)} {axes} {dtype}"
                            for i, (shape, axes, dtype) in enumerate(described))
        if key:
            if not key.isdigit() or int(key) >= len(all_series):
                raise DatasetError(f"{path}: no series {key!r}; dataset.key must be a series"
                                   f" number (series: {listing})")
            chosen: int | None = int(key)
        elif len(all_series) == 1:
            chosen = 0
        elif len(set(described)) == 1 and _series_layout(all_series[0], str(path)).single:
            chosen = None  # a multi-page file of same-shaped single images
        else:
            raise AmbiguousDataError(f"{path}: several image series ({listing}); choose one"
                                     " with dataset.key",
                                     tuple(str(i) for i in range(len(all_series))))
        if chosen is None:
            first = _series_layout(all_series[0], str(path))
            layout = Layout(len(all_series), first.image_shape)
            return TiffImages(path, "tiff", "", layout, check_dtype(described[0][2], str(path)),
                              notes=("one image per page", "lazy"), tif=tif, series=None)
        where = f"{path}" + (f"[{chosen}]" if key else "")
        series = all_series[chosen]
        dtype = check_dtype(series.dtype, where)
        layout = _series_layout(series, where)
        with _tiff_checked(where):
            pages = series.pages
            page = pages[0] if len(pages) else None
            by_page = (not layout.single and len(pages) == layout.count and page is not None
                       and int(np.prod(page.shape)) == int(np.prod(layout.image_shape)))
        mapped = _memory_map(path, tif, series)
        if mapped is not None:
            notes: tuple[str, ...] = ("memory-mapped",)
        else:
            notes = ("lazy",) if by_page or layout.single else ("read whole",)
        return TiffImages(path, "tiff", key, layout, dtype, notes=notes, tif=tif,
                          series=chosen, by_page=by_page, mapped=mapped)
    except BaseException:
        tif.close()
        raise


def _memory_map(path: Path, tif: Any, series: Any) -> np.ndarray | None:
    """The series as a read-only memory map when it is stored uncompressed in one block."""
    offset = series.dataoffset
    dtype = np.dtype(series.dtype).newbyteorder(tif.byteorder)
    bits = getattr(series.keyframe, "bitspersample", 0)
    if offset is None or bits != dtype.itemsize * 8:  # compressed, scattered or bit-packed
        return None
    shape = tuple(int(s) for s in series.shape)
    if offset + int(np.prod(shape)) * dtype.itemsize > path.stat().st_size:
        raise DatasetError(f"cannot read {path} as TIFF: truncated file (the image data end"
                           " past the end of the file)")
    with reading(str(path), "TIFF"):
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


# ------------------------------------------------------------------------------- single images


def _pil_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """``(image_shape, dtype)`` of a PNG/JPEG/BMP file, from its header."""
    from PIL import Image

    with reading(str(path), "an image"), Image.open(path) as image:
        width, height = image.size
        mode = image.mode
    if mode in _PIL_DTYPES:
        return (height, width), np.dtype(_PIL_DTYPES[mode])
    channels = 4 if mode in ("RGBA", "RGBa", "RGBX") else 3
    return (height, width, channels), np.dtype(np.uint8)


def _pil_pixels(path: Path) -> np.ndarray:
    """The pixels of a PNG/JPEG/BMP file: grey ``(H, W)`` or colour ``(H, W, 3|4)``."""
    from PIL import Image

    with reading(str(path), "an image"), Image.open(path) as image:
        image.load()
        if image.mode in ("1", "LA", "La"):
            image = image.convert("L")
        elif image.mode not in _PIL_DTYPES and image.mode not in ("RGB", "RGBA", "RGBa", "RGBX"):
            image = image.convert("RGB")  # palette, CMYK, YCbCr, ...
        return np.asarray(image)


@dataclass
class FileImages(RawImages):
    """Images stored one per file: a single PNG/JPEG/BMP file, or a folder of image files."""

    files: tuple[Path, ...] = ()
    grey: bool = False  # convert colour files to grey at read (a folder mixing both)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((indices.size, *self.layout.image_shape), dtype=self.dtype)
        for slot, index in enumerate(indices):
            pixels = _file_pixels(self.files[int(index)])
            if pixels.shape[:2] != self.layout.image_shape[:2]:
                raise DatasetError(f"{self.files[int(index)]}: image is"
                                   f" {shape_text(pixels.shape[:2])}, its header said"
                                   f" {shape_text(self.layout.image_shape[:2])}")
            if pixels.ndim == 3 and self.grey:
                from zbo_gui.core.data.preprocess import to_grey

                pixels = to_grey(pixels[None])[0]
            elif pixels.ndim == 3:
                pixels = pixels[..., : self.layout.image_shape[2]]
            out[slot] = pixels
        return out


def _file_pixels(path: Path) -> np.ndarray:
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with _tiff_checked(str(path)):
            return np.asarray(tifffile.imread(path))
    return _pil_pixels(path)


def _file_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Per-image shape and dtype of a one-image file (TIFF or PNG/JPEG/BMP)."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return _pil_header(path)
    with open_tiff(path, "") as raw:
        if raw.count != 1:
            raise DatasetError(f"{path}: holds {raw.count} images; a folder needs one image"
                               " per file")
        return raw.layout.image_shape, raw.dtype


def open_image(path: Path) -> FileImages:
    """One PNG/JPEG/BMP image (to be cut into patches)."""
    shape, dtype = _pil_header(path)
    layout = layout_of(shape, str(path), colour_axis=len(shape) == 3)
    return FileImages(path, "image", "", layout, check_dtype(dtype, str(path)),
                      names=(path.name,), files=(path,))


def open_folder(path: Path) -> FileImages:
    """A folder of same-sized PNG/TIFF/JPEG/BMP images, sorted by name."""
    with reading(str(path), "a folder"):
        entries = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    files = sorted((p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise DatasetError(f"{path}: empty: no PNG, TIFF, JPEG or BMP images in the folder")
    headers = [_file_header(f) for f in files]
    size = headers[0][0][:2]
    for f, (shape, _) in zip(files, headers, strict=True):
        if shape[:2] != size:
            raise DatasetError(f"{path}: mixed image shapes: {files[0].name} is"
                               f" {shape_text(size)} but {f.name} is {shape_text(shape[:2])};"
                               " all images in a folder must have the same shape")
    colour = [len(shape) == 3 for shape, _ in headers]
    dtype = np.result_type(*(d for _, d in headers))
    notes = [f"{len(files)} files"]
    if len(entries) > len(files):
        notes.append(f"{len(entries) - len(files)} other files ignored")
    grey = any(colour) and not all(colour)
    if grey:
        dtype = np.dtype(np.float32)
        notes.append(f"{sum(colour)} colour files made grey")
    image_shape = (*size, 3) if all(colour) else size
    layout = layout_of((len(files), *image_shape), str(path), colour_axis=all(colour))
    return FileImages(path, "folder", "", layout, check_dtype(dtype, str(path)),
                      names=tuple(f.name for f in files), notes=tuple(notes),
                      files=tuple(files), grey=grey)
