"""Readers, each tested on files written by the format's own library (numpy, h5py, tifffile,
Pillow): NPY/NPZ, HDF5, TIFF stacks and multi-page TIFF, folders of images, labels."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.data import detect_format, open_images
from zbo_gui.core.datasets import ImageSet, load_dataset
from zbo_gui.core.errors import DatasetError

pytestmark = pytest.mark.filterwarnings("ignore::zbo_gui.core.data.DatasetWarning")


def stack(n: int = 6, h: int = 10, w: int = 10, seed: int = 0, dtype: str = "uint16"
          ) -> np.ndarray:
    """Distinct random images (each image also has a distinct mean)."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 200, size=(n, h, w)) + 50 * np.arange(n)[:, None, None]
    return data.astype(dtype)


def unit(raw: np.ndarray) -> np.ndarray:
    """Global min-max normalisation, as the loader does by default."""
    raw = raw.astype(np.float64)
    return (raw - raw.min()) / (raw.max() - raw.min())


def load(source: Path | str, **fields: object) -> ImageSet:
    """Load with every image kept at its own size unless ``fields`` say otherwise."""
    fields.setdefault("n_images", 1000)
    return load_dataset(DatasetConfig(source=str(source), **fields), seed=0)


# ------------------------------------------------------------------------------------- NPZ


def test_npz_compressed_by_key_and_single_candidate(tmp_path: Path) -> None:
    raw, labels = stack(8), np.arange(8) % 2
    path = tmp_path / "set.npz"
    np.savez_compressed(path, x=raw, y=labels)  # one image array beside a 1-D one
    data = load(path, image_size=10)
    np.testing.assert_allclose(data.images, unit(raw), atol=1e-6)
    assert "x" in data.source
    by_key = load(path, key="x", image_size=10)
    np.testing.assert_array_equal(by_key.images, data.images)


def test_npz_ambiguous_lists_names_and_shapes(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez(path, first=stack(3), second=stack(4, 5, 5))
    with pytest.raises(DatasetError, match=r"first \(3, 10, 10\) uint16.*second \(4, 5, 5\)"):
        load(path)


# ------------------------------------------------------------------------------------ HDF5


def test_hdf5_dataset_by_path_chunked_and_compressed(tmp_path: Path) -> None:
    raw = stack(12, 9, 7)
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("entry/instrument/data", data=raw, chunks=(4, 9, 7),
                         compression="gzip", compression_opts=4, shuffle=True)
        f.create_dataset("entry/lzf", data=raw, chunks=(1, 9, 7), compression="lzf")
        f.create_dataset("entry/labels", data=np.arange(12) % 3)
    data = load(path, key="/entry/instrument/data", image_size=7, crop="center")
    np.testing.assert_allclose(data.images, unit(raw)[:, 1:8, :], atol=1e-6)
    assert "chunks 4×9×7" in data.steps[0] and "gzip" in data.steps[0]
    lzf = load(path, key="entry/lzf", image_size=7, crop="center")
    np.testing.assert_array_equal(lzf.images, data.images)
    labelled = load(path, key="/entry/lzf", labels="h5:/entry/labels", image_size=7)
    np.testing.assert_array_equal(labelled.labels, np.arange(12) % 3)


def test_hdf5_subset_reads_the_chosen_images(tmp_path: Path) -> None:
    n = 40
    raw = np.zeros((n, 6, 6), dtype=np.float32)
    raw[:, 0, 0] = np.arange(n)  # image i is identified by its corner pixel
    raw[:, 5, 5] = n  # a common maximum: the same normalisation for every subset
    path = tmp_path / "ids.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=raw, chunks=(3, 6, 6), compression="gzip")
        f.create_dataset("other", data=raw)
    data = load(path, n_images=11, image_size=6)  # "images" is preferred among candidates
    ids = np.rint(data.images[:, 0, 0] * n).astype(int)
    assert len(set(ids.tolist())) == 11 and np.all(np.diff(ids) > 0)
    assert data.names == tuple(f"#{i}" for i in ids)
    again = load(path, n_images=11, image_size=6)
    np.testing.assert_array_equal(again.images, data.images)


def test_hdf5_candidates_listed_when_ambiguous_or_missing(tmp_path: Path) -> None:
    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("a/frames", data=stack(3))
        f.create_dataset("b/frames", data=stack(3, 5, 5, dtype="float32"))
        f.create_dataset("b/energy", data=np.arange(5.0))  # 1-D: not a candidate
        f.create_dataset("names", data=np.array([b"x", b"y"]))  # text: not a candidate
    with pytest.raises(DatasetError, match=r"several image datasets \(/a/frames \(3, 10, 10\)"
                                           r" uint16, /b/frames \(3, 5, 5\) float32\)"):
        load(path)
    with pytest.raises(DatasetError, match=r"no dataset '/c/frames' .*/a/frames.*/b/frames"):
        load(path, key="/c/frames")
    with pytest.raises(DatasetError, match=r"'/b' is a group.*/b/frames"):
        load(path, key="/b")
    with pytest.raises(DatasetError, match="1-D array"):
        load(path, key="/b/energy")
    with pytest.raises(DatasetError, match="numeric"):
        load(path, key="/names")


def test_hdf5_without_images(tmp_path: Path) -> None:
    path = tmp_path / "none.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("spectrum", data=np.arange(10.0))
        f.create_dataset("empty", shape=(0, 4, 4), dtype="f4")
    with pytest.raises(DatasetError, match="no image dataset"):
        load(path)
    with pytest.raises(DatasetError, match="empty"):
        load(path, key="empty")


# ------------------------------------------------------------------------------------ TIFF


@pytest.mark.parametrize("options", [{}, {"compression": "zlib"}, {"imagej": True}])
def test_tiff_stack(tmp_path: Path, options: dict) -> None:
    raw = stack(7, 12, 12)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, raw, **options)
    data = load(path, image_size=12)
    np.testing.assert_allclose(data.images, unit(raw), atol=1e-6)
    assert data.steps[0].startswith(f"read tiff {path}: 7 images 12×12 uint16")


def test_multipage_tiff_written_page_by_page(tmp_path: Path) -> None:
    raw = stack(5, 8, 8, dtype="uint8")
    path = tmp_path / "pages.tiff"
    for page in raw:
        tifffile.imwrite(path, page, append=True)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series) == 5  # every page is its own series
    data = load(path, image_size=8)
    np.testing.assert_allclose(data.images, unit(raw), atol=1e-6)


def test_tiff_colour_stack_and_series_choice(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 255, size=(4, 8, 8, 3), dtype=np.uint8)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    data = load(path, image_size=8)
    grey = rgb.astype(np.float64) @ np.array([0.2125, 0.7154, 0.0721])
    np.testing.assert_allclose(data.images, unit(grey), atol=1e-6)

    mixed = tmp_path / "mixed.tif"
    tifffile.imwrite(mixed, stack(3, 16, 16), photometric="minisblack")
    tifffile.imwrite(mixed, stack(2, 6, 6), append=True, photometric="minisblack")
    with pytest.raises(DatasetError, match=r"several image series \(0: 3×16×16 .*1: 2×6×6"):
        load(mixed)
    assert load(mixed, key="1", image_size=6).images.shape == (2, 6, 6)
    with pytest.raises(DatasetError, match="no series '5'"):
        load(mixed, key="5")


def test_single_page_tiff_is_one_image(tmp_path: Path) -> None:
    path = tmp_path / "one.tif"
    tifffile.imwrite(path, stack(1, 20, 20)[0])
    with pytest.raises(DatasetError, match=r"single image.*patch_size"):
        load(path)


# ---------------------------------------------------------------------------------- folders


def test_folder_of_pngs_sorted_naturally_with_names(tmp_path: Path) -> None:
    raw = stack(11, 9, 9, dtype="uint8")
    for i, image in enumerate(raw):
        Image.fromarray(image).save(tmp_path / f"crop{i}.png")
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    data = load(tmp_path, image_size=9)
    assert data.names == tuple(f"crop{i}.png" for i in range(11))  # crop2 before crop10
    np.testing.assert_allclose(data.images, unit(raw), atol=1e-6)
    assert "1 other files ignored" in data.steps[0]
    subset = load(tmp_path, image_size=9, n_images=4)
    assert set(subset.names) <= set(data.names) and len(subset.names) == 4


def test_folder_of_tiffs_and_16_bit_pngs(tmp_path: Path) -> None:
    raw = stack(4, 6, 6)
    for i, image in enumerate(raw[:2]):
        tifffile.imwrite(tmp_path / f"a{i}.tif", image)
    for i, image in enumerate(raw[2:], start=2):
        Image.fromarray(image).save(tmp_path / f"a{i}.png")  # 16-bit grey PNG
    data = load(tmp_path, image_size=6)
    np.testing.assert_allclose(data.images, unit(raw), atol=1e-6)


def test_folder_of_jpegs_colour_and_grey(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = np.kron(rng.integers(0, 255, size=(3, 4, 4)), np.ones((1, 4, 4))).astype(np.uint8)
    Image.fromarray(base[0]).save(tmp_path / "0.jpg", quality=95)
    Image.fromarray(np.stack([base[1]] * 3, axis=-1)).save(tmp_path / "1.jpg", quality=95)
    Image.fromarray(base[2]).save(tmp_path / "2.jpeg", quality=95)
    data = load(tmp_path, image_size=16)
    assert data.images.shape == (3, 16, 16)
    assert np.abs(data.images - unit(base)).max() < 0.1  # JPEG is lossy
    assert "1 colour files made grey" in data.steps[0]


def test_folder_mixed_shapes_and_empty(tmp_path: Path) -> None:
    Image.fromarray(stack(1, 8, 8, dtype="uint8")[0]).save(tmp_path / "a.png")
    Image.fromarray(stack(1, 8, 6, dtype="uint8")[0]).save(tmp_path / "b.png")
    with pytest.raises(DatasetError, match=r"mixed image shapes: a\.png is 8×8 but b\.png is"
                                           r" 8×6"):
        load(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no PNG, TIFF, JPEG or BMP images"):
        load(empty)


def test_folder_with_a_multipage_tiff(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", stack(3, 8, 8), photometric="minisblack")
    tifffile.imwrite(tmp_path / "b.tif", stack(1, 8, 8)[0])
    with pytest.raises(DatasetError, match=r"a\.tif: holds 3 images"):
        load(tmp_path)


# ----------------------------------------------------------------------------------- labels


def test_labels_from_npy_and_csv(tmp_path: Path) -> None:
    images = tmp_path / "x.npy"
    np.save(images, stack(6))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 0, 1, 2], dtype=np.int16))
    assert load(images, labels=str(tmp_path / "y.npy"), image_size=10).labels.tolist() == [
        0, 1, 2, 0, 1, 2]
    (tmp_path / "plain.csv").write_text("3\n1\n3\n2\n1\n2\n", encoding="utf-8")
    assert load(images, labels=str(tmp_path / "plain.csv"), image_size=10).labels.tolist() == [
        3, 1, 3, 2, 1, 2]
    (tmp_path / "table.csv").write_text("file,label\na,cat\nb,dog\nc,cat\nd,ant\ne,dog\nf,ant\n",
                                        encoding="utf-8")
    named = load(images, labels=str(tmp_path / "table.csv"), image_size=10)
    assert named.labels.tolist() == [1, 2, 1, 0, 2, 0]  # ant, cat, dog in sorted order


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("0\n1\n2\n", "3 labels for 6 images"),
        ("0.5\n1\n2\n0\n1\n2\n", "integer classes"),
        ("a,b\n1,2\n", "name the label column"),
        ("", "empty labels file"),
    ],
)
def test_bad_label_files(tmp_path: Path, content: str, needle: str) -> None:
    images = tmp_path / "x.npy"
    np.save(images, stack(6))
    (tmp_path / "y.csv").write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=needle):
        load(images, labels=str(tmp_path / "y.csv"))
    with pytest.raises(DatasetError, match="labels file not found"):
        load(images, labels=str(tmp_path / "missing.csv"))
    with pytest.raises(DatasetError, match="HDF5"):
        load(images, labels="h5:/labels")


# ------------------------------------------------------------------------- format detection


def test_format_detected_by_first_bytes(tmp_path: Path) -> None:
    raw = stack(3)
    odd = tmp_path / "images.dat"
    with h5py.File(odd, "w") as f:
        f.create_dataset("images", data=raw)
    assert detect_format(odd) == "hdf5"
    np.testing.assert_allclose(load(odd, image_size=10).images, unit(raw), atol=1e-6)
    tiff = tmp_path / "scan.raw"
    tifffile.imwrite(tiff, raw, photometric="minisblack")
    assert detect_format(tiff) == "tiff"
    assert load(tiff, format="tiff", image_size=10).images.shape == (3, 10, 10)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(DatasetError, match="unknown file type"):
        load(junk)
    with pytest.raises(DatasetError, match="is a folder"):
        load(tmp_path, format="npy")


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".h5", ".tif", ".png", ".jpg"])
def test_empty_truncated_and_corrupt_files(tmp_path: Path, suffix: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / f"data{suffix}"
    raw = stack(4, 16, 16, dtype="uint8")
    if suffix == ".npy":
        np.save(path, raw)
    elif suffix == ".npz":
        np.savez_compressed(path, images=raw)
    elif suffix == ".h5":
        with h5py.File(path, "w") as f:
            f.create_dataset("images", data=raw, chunks=(1, 16, 16), compression="gzip")
    elif suffix == ".tif":
        tifffile.imwrite(path, raw, compression="zlib", photometric="minisblack")
    else:
        Image.fromarray(np.hstack(list(raw))).save(path)
    content = path.read_bytes()
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="empty file"):
        load(path, patch_size=8)
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DatasetError, match=f"data\\{suffix}"):
        load(path, patch_size=8, n_images=100)
    path.write_bytes(content[:16] + bytes(255 - b for b in content[16:]))
    with pytest.raises(DatasetError, match=f"data\\{suffix}"):
        load(path, patch_size=8, n_images=100)
    # what tifffile only logs became the error above; nothing reaches the application's log
    assert not [r for r in caplog.records if r.name.startswith("tifffile")]


def test_raw_images_read_checks_indices(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, stack(5))
    with open_images(path) as raw:
        assert raw.read([1, 3]).shape == (2, 10, 10)
        for bad in ([3, 1], [0, 5], [-1], [2, 2]):
            with pytest.raises(DatasetError, match="bad image indices"):
                raw.read(bad)
