"""Tests of the image datasets: the rotated-digits demo and NPY/NPZ files through load_dataset.

The other formats, preprocessing, patches and the particles demo: ``test_data_*.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.datasets import ImageSet, load_dataset, rotated_digits
from zbo_gui.core.errors import DatasetError

pytestmark = pytest.mark.filterwarnings("ignore::zbo_gui.core.data.DatasetWarning")

N_DIGITS_0_1 = 178 + 182  # scikit-learn's bundled digits: 178 zeros, 182 ones


def load_npy(path: Path, key: str, n_images: int, image_size: int, seed: int) -> ImageSet:
    """An NPY/NPZ file through the campaign entry point, default preprocessing."""
    config = DatasetConfig(source=str(path), key=key, n_images=n_images, image_size=image_size)
    return load_dataset(config, seed)


def _images(n: int = 6, h: int = 8, w: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(3.0, 7.0, size=(n, h, w))


# ------------------------------------------------------------------------------------- demo


def test_rotated_digits_shape_dtype_range_and_labels() -> None:
    data = rotated_digits((0, 1, 4), n_images=60, image_size=12, max_rotation=60.0, seed=0)
    assert isinstance(data, ImageSet)
    assert data.images.shape == (60, 12, 12)
    assert data.images.dtype == np.float32
    assert data.images.min() >= 0.0
    assert data.images.max() <= 1.0
    assert data.images.max() > 0.5  # real strokes, not an empty canvas
    assert data.labels is not None
    assert data.labels.shape == (60,)
    assert data.labels.dtype == np.int64
    assert set(data.labels.tolist()) <= {0, 1, 4}
    assert len(set(data.labels.tolist())) == 3  # 60 random draws hit every class


def test_rotated_digits_is_seeded() -> None:
    a = rotated_digits((0, 7), n_images=20, image_size=10, max_rotation=45.0, seed=3)
    b = rotated_digits((0, 7), n_images=20, image_size=10, max_rotation=45.0, seed=3)
    c = rotated_digits((0, 7), n_images=20, image_size=10, max_rotation=45.0, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.fingerprint == b.fingerprint
    assert not np.array_equal(a.images, c.images)
    assert a.fingerprint != c.fingerprint


def test_rotated_digits_without_rotation_are_the_upscaled_digits() -> None:
    from sklearn.datasets import load_digits

    data = rotated_digits((3,), n_images=5, image_size=12, max_rotation=0.0, seed=1)
    bunch = load_digits()
    threes = bunch.images[bunch.target == 3] / 16.0
    for image in data.images:
        inner = image[2:10, 2:10]  # 12x12 output = 8x8 digit padded by 2 on each side
        errors = np.abs(threes - inner).max(axis=(1, 2))
        assert errors.min() < 1e-6


def test_rotated_digits_reuse_digits_with_new_rotations() -> None:
    n = N_DIGITS_0_1 + 40
    data = rotated_digits((0, 1), n_images=n, image_size=8, max_rotation=60.0, seed=0)
    assert data.images.shape == (n, 8, 8)
    assert set(data.labels.tolist()) <= {0, 1}
    # all of the available digits are used before any is reused
    assert np.count_nonzero(data.labels == 0) >= 178
    assert np.count_nonzero(data.labels == 1) >= 182
    flat = data.images.reshape(n, -1)
    # every image differs from every other: reused digits got a different rotation
    distances = np.linalg.norm(flat[:, None, :] - flat[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 1e-3


def test_load_dataset_demo_follows_config() -> None:
    config = DatasetConfig(digits=(4, 7), n_images=12, image_size=9, max_rotation=10.0)
    data = load_dataset(config, seed=5)
    assert data.images.shape == (12, 9, 9)
    assert set(data.labels.tolist()) <= {4, 7}
    assert data.source.startswith("demo")


# ----------------------------------------------------------------------------------- NPY/NPZ


def test_load_npy_normalises_and_keeps_all_images(tmp_path: Path) -> None:
    raw = _images(6, 8, 8)
    path = tmp_path / "images.npy"
    np.save(path, raw)
    data = load_npy(path, "", n_images=100, image_size=8, seed=0)
    assert data.images.shape == (6, 8, 8)
    assert data.images.dtype == np.float32
    assert data.labels is None
    assert data.images.min() == pytest.approx(0.0)
    assert data.images.max() == pytest.approx(1.0)
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(data.images, expected, atol=1e-6)
    assert "images.npy" in data.source


def test_load_npy_resizes_and_subsets_with_a_seed(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, _images(30, 20, 24).astype(np.float32))
    a = load_npy(path, "", n_images=10, image_size=12, seed=1)
    b = load_npy(path, "", n_images=10, image_size=12, seed=1)
    c = load_npy(path, "", n_images=10, image_size=12, seed=2)
    assert a.images.shape == (10, 12, 12)
    assert a.images.min() >= 0.0 and a.images.max() <= 1.0
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_load_npy_integer_images(tmp_path: Path) -> None:
    path = tmp_path / "uint8.npy"
    raw = np.random.default_rng(0).integers(10, 200, size=(4, 6, 6)).astype(np.uint8)
    np.save(path, raw)
    data = load_npy(path, "", n_images=4, image_size=6, seed=0)
    assert data.images.dtype == np.float32
    np.testing.assert_allclose(data.images, (raw - raw.min()) / float(raw.max() - raw.min()),
                               atol=1e-6)


def test_load_npz_images_default_and_labels_kept(tmp_path: Path) -> None:
    raw = _images(8, 8, 8)
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    path = tmp_path / "set.npz"
    np.savez(path, other=np.ones((3, 8, 8)), images=raw, labels=labels)
    data = load_npy(path, "", n_images=8, image_size=8, seed=0)
    np.testing.assert_allclose(data.images, (raw - raw.min()) / (raw.max() - raw.min()),
                               atol=1e-6)
    assert data.labels is not None
    assert data.labels.dtype == np.int64
    np.testing.assert_array_equal(data.labels, labels)


def test_load_npz_subset_keeps_labels_aligned(tmp_path: Path) -> None:
    n = 20
    raw = np.zeros((n, 4, 4))
    raw[:, 0, 0] = np.arange(n)  # image i is identified by its corner pixel
    raw[:, 3, 3] = n  # a common maximum so the normalisation is the same for every subset
    path = tmp_path / "aligned.npz"
    np.savez(path, images=raw, labels=np.arange(n) * 10)
    data = load_npy(path, "", n_images=7, image_size=4, seed=3)
    ids = np.rint(data.images[:, 0, 0] * n).astype(int)
    np.testing.assert_array_equal(data.labels, ids * 10)
    assert len(set(ids.tolist())) == 7


def test_load_npz_by_key_and_single_array(tmp_path: Path) -> None:
    a, b = _images(4, 6, 6, seed=1), _images(5, 6, 6, seed=2)
    path = tmp_path / "two.npz"
    np.savez(path, first=a, second=b)
    chosen = load_npy(path, "second", n_images=10, image_size=6, seed=0)
    assert chosen.images.shape == (5, 6, 6)
    np.testing.assert_allclose(chosen.images, (b - b.min()) / (b.max() - b.min()), atol=1e-6)
    assert "second" in chosen.source

    single = tmp_path / "single.npz"
    np.savez(single, stack=a)
    assert load_npy(single, "", n_images=10, image_size=6, seed=0).images.shape == (4, 6, 6)


def test_load_npz_several_arrays_without_key_lists_names(tmp_path: Path) -> None:
    path = tmp_path / "ambiguous.npz"
    np.savez(path, alpha=_images(3), beta=_images(3))
    with pytest.raises(DatasetError) as info:
        load_npy(path, "", n_images=3, image_size=8, seed=0)
    message = str(info.value)
    assert "alpha" in message and "beta" in message and "ambiguous.npz" in message


def test_load_npz_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.npz"
    np.savez(path, alpha=_images(3))
    with pytest.raises(DatasetError, match=r"'gamma'.*alpha"):
        load_npy(path, "gamma", n_images=3, image_size=8, seed=0)


def test_load_dataset_from_file_config(tmp_path: Path) -> None:
    path = tmp_path / "cfg.npy"
    np.save(path, _images(5, 8, 8))
    data = load_dataset(DatasetConfig(source=str(path), n_images=3, image_size=5), seed=0)
    assert data.images.shape == (3, 5, 5)


# --------------------------------------------------------------------------------- bad files


def _save(tmp_path: Path, name: str, array: np.ndarray) -> Path:
    path = tmp_path / name
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    ("name", "array", "needle"),
    [
        ("flat.npy", np.arange(10.0), "1-D array"),
        ("five_d.npy", np.random.default_rng(0).random((3, 4, 4, 3, 2)), "5-D array"),
        ("four_d.npy", np.random.default_rng(0).random((3, 4, 4, 5)), "4-D array"),
        ("single.npy", np.random.default_rng(0).random((1, 4, 4)), "at least 2"),
        ("constant.npy", np.full((3, 4, 4), 0.5), "equal"),
        ("strings.npy", np.array([[["a", "b"], ["c", "d"]]] * 3), "numeric"),
    ],
)
def test_bad_arrays_raise_dataset_error_naming_the_file(
    tmp_path: Path, name: str, array: np.ndarray, needle: str
) -> None:
    path = _save(tmp_path, name, array)
    with pytest.raises(DatasetError) as info:
        load_npy(path, "", n_images=10, image_size=4, seed=0)
    assert name in str(info.value)
    assert needle in str(info.value)


def test_nan_values_raise(tmp_path: Path) -> None:
    array = _images(4, 5, 5)
    array[2, 1, 1] = np.nan
    array[3, 0, 0] = np.inf
    path = _save(tmp_path, "nan.npy", array)
    with pytest.raises(DatasetError, match=r"nan\.npy.*2 NaN"):
        load_npy(path, "", n_images=10, image_size=5, seed=0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"absent\.npy"):
        load_npy(tmp_path / "absent.npy", "", n_images=3, image_size=4, seed=0)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.npy"
    path.write_text("these are not images\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"notes\.npy: not an NPY file"):
        load_npy(path, "", n_images=3, image_size=4, seed=0)


def test_colour_stack_becomes_grey(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).random((3, 4, 4, 3))
    data = load_npy(_save(tmp_path, "rgb.npy", rgb), "", n_images=10, image_size=4, seed=0)
    grey = rgb @ np.array([0.2125, 0.7154, 0.0721])
    np.testing.assert_allclose(data.images, (grey - grey.min()) / (grey.max() - grey.min()),
                               atol=1e-6)
    assert any("colour → grey" in step for step in data.steps)


def test_mismatched_labels(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    np.savez(path, images=_images(5), labels=np.arange(4))
    with pytest.raises(DatasetError, match=r"labels\.npz.*labels"):
        load_npy(path, "", n_images=5, image_size=8, seed=0)


# ------------------------------------------------------------------------------- fingerprint


def test_fingerprint_identifies_the_data() -> None:
    images = np.random.default_rng(0).random((4, 6, 6)).astype(np.float32)
    same = ImageSet(images.copy(), None, "a")
    also_same = ImageSet(images.copy(), None, "another source")
    assert same.fingerprint == also_same.fingerprint
    assert len(same.fingerprint) == 64

    changed = images.copy()
    changed[3, 5, 5] += 1e-3
    assert ImageSet(changed, None, "a").fingerprint != same.fingerprint

    labelled = ImageSet(images.copy(), np.arange(4), "a")
    relabelled = ImageSet(images.copy(), np.array([0, 1, 3, 2]), "a")
    assert labelled.fingerprint != same.fingerprint
    assert labelled.fingerprint != relabelled.fingerprint

    reshaped = ImageSet(images.reshape(4, 3, 12).copy(), None, "a")
    assert reshaped.fingerprint != same.fingerprint
