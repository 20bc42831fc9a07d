"""Property-based tests: malformed arrays and files fed to every reader either load into a
valid image set or raise the project's own DatasetError, never another exception.

Run with ``--hypothesis-show-statistics`` to see how many inputs were tried (and the events:
how many loaded, how many were refused).
"""

from __future__ import annotations

import io
import tempfile
import warnings
from functools import cache
from pathlib import Path
from unittest import mock

import h5py
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.data import DatasetWarning, base, inspect_file
from zbo_gui.core.datasets import load_dataset
from zbo_gui.core.errors import DatasetError

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])
#: A damaged header may claim huge images: refuse early rather than allocate.
SMALL_MEMORY = mock.patch.object(base, "MAX_LOAD_BYTES", 64 * 1024**2)

DTYPES = ["uint8", "uint16", "int8", "int32", "int64", "float16", "float32", "float64", "bool",
          "complex64", "<U3", "|S2"]
SHAPES = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5),
    st.tuples(st.integers(1, 6), st.integers(1, 14), st.integers(1, 14)),
    st.tuples(st.integers(1, 4), st.integers(3, 10), st.integers(3, 10),
              st.sampled_from([1, 3, 4])),
    st.tuples(st.integers(8, 24), st.integers(8, 24)),
)
CONFIGS = st.fixed_dictionaries({
    "n_images": st.integers(2, 8),
    "image_size": st.integers(4, 10),
    "normalize": st.sampled_from(["global", "per_image", "percentile"]),
    "crop": st.sampled_from(["resize", "center", "pad"]),
    "patch_size": st.sampled_from([0, 0, 4, 6, 8]),
    "patch_mode": st.sampled_from(["grid", "grid", "blobs", "peaks"]),
    "patch_stride": st.integers(0, 5),
})


def arrays() -> st.SearchStrategy[np.ndarray]:
    return st.sampled_from(DTYPES).flatmap(
        lambda dtype: SHAPES.flatmap(lambda shape: hnp.arrays(np.dtype(dtype), shape)))


def check_load(source: Path, fields: dict, **extra: object) -> None:
    """Load ``source``: a valid image set or a one-line DatasetError, nothing else."""
    config = DatasetConfig(source=str(source), **fields, **extra)
    with SMALL_MEMORY, warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        try:
            data = load_dataset(config, seed=0)
        except DatasetError as exc:
            message = str(exc)
            assert message and "\n" not in message
            reason = message.replace(str(source), "FILE").rsplit(": ", 1)[-1]
            event(f"refused: {reason.split('(')[0].strip()[:40]}")
        else:
            event("loaded")
            n = data.images.shape[0]
            assert 2 <= n <= config.n_images
            assert data.images.shape == (n, config.image_size, config.image_size)
            assert data.images.dtype == np.float32
            assert np.all(np.isfinite(data.images))
            assert data.images.min() >= 0.0 and data.images.max() <= 1.0
            assert data.labels is None or data.labels.shape == (n,)
            assert len(data.names) == n and data.steps
        try:
            info = inspect_file(source, config.format, config.key, config.labels)
        except DatasetError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert info.count >= 1 and len(info.fingerprint) == 64


def write(array: np.ndarray, path: Path, fmt: str, data: st.DataObject) -> Path:
    """Write ``array`` with the format's own library; reject what the library refuses."""
    path = path.with_suffix({"npy": ".npy", "npz": ".npz", "hdf5": ".h5", "tiff": ".tif"}[fmt])
    try:
        if fmt == "npy":
            np.save(path, array)
        elif fmt == "npz":
            extra = data.draw(st.sampled_from(["", "labels", "other"]), label="npz extra")
            arrays_ = {"images": array} if data.draw(st.booleans(), label="named") else {
                "stack": array}
            if extra:
                arrays_[extra] = data.draw(arrays(), label="extra array")
            np.savez(path, **arrays_)
        elif fmt == "hdf5":
            with h5py.File(path, "w") as f:
                chunked = array.size > 0 and array.ndim > 0 and data.draw(st.booleans())
                f.create_dataset("entry/images", data=array,
                                 **({"chunks": True, "compression": "gzip"} if chunked else {}))
        else:
            tifffile.imwrite(path, array)
    except (TypeError, ValueError, OSError, KeyError, IndexError, NotImplementedError,
            RuntimeError):  # tifffile 2026 raises RuntimeError for an empty page
        reject()
    return path


@settings(FUZZ, max_examples=400)
@given(array=arrays(), fmt=st.sampled_from(["npy", "npz", "hdf5", "tiff"]), fields=CONFIGS,
       data=st.data())
def test_any_array_in_any_format_loads_or_is_refused(array: np.ndarray, fmt: str, fields: dict,
                                                     data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # writers' own deprecation warnings
        path = write(array, Path(folder) / "data", fmt, data)
        event(f"format {fmt}")
        check_load(path, fields)


# ---------------------------------------------------------------------------- damaged files


@cache
def valid_file(fmt: str) -> bytes:
    """A small valid file of each format, as bytes."""
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 255, size=(4, 12, 12)).astype(np.uint8)
    buffer = io.BytesIO()
    if fmt == "npy":
        np.save(buffer, stack.astype(np.float32))
    elif fmt == "npz":
        np.savez_compressed(buffer, images=stack, labels=np.arange(4) % 2)
    elif fmt == "hdf5":
        with h5py.File(buffer, "w") as f:
            f.create_dataset("images", data=stack, chunks=(1, 12, 12), compression="gzip")
    elif fmt == "tiff":
        tifffile.imwrite(buffer, stack, compression="zlib", photometric="minisblack")
    else:
        Image.fromarray(np.hstack(list(stack))).save(buffer, format=fmt.upper())
    return buffer.getvalue()


SUFFIX = {"npy": ".npy", "npz": ".npz", "hdf5": ".h5", "tiff": ".tif", "png": ".png",
          "jpeg": ".jpg"}


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(list(SUFFIX)))
    content = bytearray(valid_file(fmt))
    kind = draw(st.sampled_from(["truncate", "flip", "zero", "junk", "prefix"]))
    if kind == "truncate":
        content = content[: draw(st.integers(0, len(content) - 1))]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(content) - 1))
            content[at] = draw(st.integers(0, 255))
    elif kind == "zero":
        start = draw(st.integers(0, len(content) - 1))
        stop = draw(st.integers(start, min(len(content), start + 64)))
        content[start:stop] = bytes(stop - start)
    elif kind == "junk":
        content = bytearray(draw(st.binary(max_size=200)))
    else:
        content = bytearray(draw(st.binary(min_size=1, max_size=16))) + content
    event(f"{fmt} {kind}")
    return fmt, bytes(content)


@settings(FUZZ, max_examples=600)
@given(case=damaged(), fields=CONFIGS)
def test_damaged_files_load_or_are_refused(case: tuple[str, bytes], fields: dict) -> None:
    fmt, content = case
    if fmt in ("png", "jpeg") and not fields["patch_size"]:
        fields = {**fields, "patch_size": 6}  # one image: only usable as patches
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{SUFFIX[fmt]}"
        path.write_bytes(content)
        check_load(path, fields)


# ------------------------------------------------------------------------------------ folders


@st.composite
def folder_images(draw: st.DrawFn) -> list[tuple[str, np.ndarray | bytes]]:
    files: list[tuple[str, np.ndarray | bytes]] = []
    size = draw(st.tuples(st.integers(1, 12), st.integers(1, 12)))
    for i in range(draw(st.integers(1, 5))):
        suffix = draw(st.sampled_from([".png", ".tif", ".jpg", ".bmp", ".png"]))
        shape = size if draw(st.integers(0, 7)) < 7 else draw(
            st.tuples(st.integers(1, 12), st.integers(1, 12)))
        if draw(st.booleans()):
            shape = (*shape, draw(st.sampled_from([3, 4] if suffix == ".png" else [3])))
        dtype = "uint16" if suffix in (".png", ".tif") and len(shape) == 2 and draw(
            st.booleans()) else "uint8"
        if suffix == ".tif" and draw(st.booleans()):
            dtype = "float32"
        if draw(st.integers(0, 9)) == 9:
            files.append((f"junk{i}{suffix}", draw(st.binary(max_size=64))))
        else:
            files.append((f"img{i}{suffix}", draw(hnp.arrays(np.dtype(dtype), shape))))
    return files


@settings(FUZZ, max_examples=200)
@given(files=folder_images(), fields=CONFIGS)
def test_folders_load_or_are_refused(files: list[tuple[str, np.ndarray | bytes]],
                                     fields: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, content in files:
            if isinstance(content, bytes):
                (root / name).write_bytes(content)
            elif name.endswith(".tif"):
                tifffile.imwrite(root / name, content,
                                 photometric="rgb" if content.ndim == 3 else "minisblack")
            else:
                Image.fromarray(content).save(root / name)
        event(f"{len(files)} files")
        shapes = {c.shape[:2] for n, c in files if isinstance(c, np.ndarray)}
        check_load(root, fields)
        if len(shapes) > 1 and all(isinstance(c, np.ndarray) for _, c in files):
            with SMALL_MEMORY, pytest.raises(DatasetError, match="mixed image shapes"):
                load_dataset(DatasetConfig(source=folder, **fields), seed=0)


# ------------------------------------------------------------------------------------- labels


LABEL_TEXT = st.lists(st.one_of(st.integers(-3, 5).map(str), st.sampled_from(
    ["", "a", "cat", "1.5", "nan", "label", "x,y", "2.0"])), max_size=10).map("\n".join)


SIX_LABELS = st.one_of(  # the right count, of many kinds
    hnp.arrays(st.sampled_from(["int8", "uint16", "int64", "float32", "float64", "bool", "<U3"]),
               st.sampled_from([(6,), (6, 1), (1, 6)])),
    st.lists(st.integers(0, 3).map(str), min_size=6, max_size=6).map("\n".join),
    st.lists(st.sampled_from(["a", "b", "cat"]), min_size=6, max_size=6).map(
        lambda names: "label\n" + "\n".join(names)),
)


@settings(FUZZ, max_examples=200)
@given(labels=st.one_of(arrays(), LABEL_TEXT, SIX_LABELS), balance=st.booleans(),
       n_images=st.integers(2, 8))
def test_label_files_load_or_are_refused(labels: np.ndarray | str, balance: bool,
                                         n_images: int) -> None:
    images = np.random.default_rng(0).random((6, 5, 5))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        np.save(root / "x.npy", images)
        if isinstance(labels, str):
            path = root / "y.csv"
            path.write_text(labels, encoding="utf-8")
        else:
            path = root / "y.npy"
            np.save(path, labels)
        fields = {"n_images": n_images, "image_size": 5, "balance": balance}
        check_load(root / "x.npy", fields, labels=str(path))
