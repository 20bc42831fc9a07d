"""Preprocessing: grey, normalisation, crop/pad/resize, subsets and class balance; the checks
that refuse bad data and the warnings on suspicious data; the recorded steps."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.data import DatasetWarning
from zbo_gui.core.data import preprocess as prep
from zbo_gui.core.datasets import ImageSet, load_dataset
from zbo_gui.core.errors import DatasetError


def save(tmp_path: Path, array: np.ndarray, name: str = "x.npy") -> Path:
    path = tmp_path / name
    np.save(path, array)
    return path


def load(source: Path, **fields: object) -> ImageSet:
    fields.setdefault("n_images", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return load_dataset(DatasetConfig(source=str(source), **fields), seed=0)


def ramp_images(n: int = 4, h: int = 8, w: int = 8) -> np.ndarray:
    """Image i spans [i, 10 + 3 i] (every image a different range)."""
    base = np.linspace(0.0, 1.0, h * w).reshape(h, w)
    return np.stack([i + (10 + 2 * i) * base for i in range(n)])


# --------------------------------------------------------------------------------- normalise


def test_global_per_image_and_percentile(tmp_path: Path) -> None:
    raw = ramp_images()
    path = save(tmp_path, raw)
    glob = load(path, image_size=8)
    np.testing.assert_allclose(glob.images, (raw - raw.min()) / (raw.max() - raw.min()),
                               atol=1e-6)
    per = load(path, image_size=8, normalize="per_image")
    for image in per.images:
        assert image.min() == pytest.approx(0.0) and image.max() == pytest.approx(1.0)
    pct = load(path, image_size=8, normalize="percentile", percentiles=(10.0, 90.0))
    lo, hi = np.percentile(raw, [10, 90])
    np.testing.assert_allclose(pct.images, np.clip((raw - lo) / (hi - lo), 0, 1), atol=1e-6)
    assert "percentiles 10–90" in pct.source


def test_percentile_of_a_mostly_constant_set_is_refused(tmp_path: Path) -> None:
    raw = np.zeros((5, 8, 8))
    raw[0, 0, 0] = 1.0  # one bright pixel in 320: the 1st and 99th percentiles are both 0
    with pytest.raises(DatasetError, match="percentiles are equal"):
        load(save(tmp_path, raw), image_size=8, normalize="percentile")


def test_hot_pixel_warns_and_suggests_percentile(tmp_path: Path) -> None:
    raw = np.random.default_rng(0).random((6, 8, 8))
    raw[2, 3, 3] = 1e3
    path = save(tmp_path, raw)
    with pytest.warns(DatasetWarning) as record:
        data = load_dataset(DatasetConfig(source=str(path), image_size=8), seed=0)
    assert any("bright outliers" in str(w.message) for w in record)
    assert any("far outside [0, 1]" in str(w.message) for w in record)
    assert any("bright outliers" in w for w in data.warnings)
    assert any("far outside" in w for w in data.warnings)


# -------------------------------------------------------------------------------- geometry


def test_crop_pad_and_resize(tmp_path: Path) -> None:
    raw = np.zeros((3, 8, 12))
    raw[:, :, :2] = 1.0  # a bright band on the left edge, cut off by a centre crop
    raw[:, 4, 6] = 0.5
    path = save(tmp_path, raw)
    centre = load(path, image_size=8, crop="center")
    np.testing.assert_allclose(centre.images, raw[:, :, 2:10] / 1.0, atol=1e-6)
    assert "centre crop 8×12 → 8×8" in centre.steps
    padded = load(path, image_size=12, crop="pad")
    assert padded.images.shape == (3, 12, 12)
    np.testing.assert_allclose(padded.images[:, 2:10, :], raw, atol=1e-6)
    assert np.all(padded.images[:, :2, :] == 0) and np.all(padded.images[:, 10:, :] == 0)
    squashed = load(path, image_size=6, crop="resize")
    assert squashed.images.shape == (3, 6, 6)
    assert squashed.steps[-1].startswith("resize 8×12 → 6×6")
    up = load(path, image_size=24, crop="center")
    assert up.images.shape == (3, 24, 24)
    assert up.images.min() >= 0 and up.images.max() <= 1


def test_grey_conversion_weights() -> None:
    rgba = np.zeros((1, 2, 2, 4), dtype=np.uint8)
    rgba[0, 0, 0] = (255, 0, 0, 7)
    rgba[0, 0, 1] = (0, 255, 0, 0)
    rgba[0, 1, 0] = (0, 0, 255, 255)
    grey = prep.to_grey(rgba)
    assert grey.dtype == np.float32
    np.testing.assert_allclose(grey[0], [[0.2125 * 255, 0.7154 * 255], [0.0721 * 255, 0]],
                               rtol=1e-6)


# ---------------------------------------------------------------------------------- subsets


def test_seeded_subset_and_steps(tmp_path: Path) -> None:
    raw = np.random.default_rng(0).random((50, 6, 6))
    path = save(tmp_path, raw)
    a = load_dataset(DatasetConfig(source=str(path), n_images=10, image_size=6), seed=3)
    b = load_dataset(DatasetConfig(source=str(path), n_images=10, image_size=6), seed=3)
    c = load_dataset(DatasetConfig(source=str(path), n_images=10, image_size=6), seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.names != c.names
    assert "subset: 10 of 50 images (seed 3)" in a.steps
    assert a.source == "; ".join(a.steps)
    assert a.steps[0].startswith(f"read npy {path}: 50 images 6×6 float64")


def test_balanced_resample(tmp_path: Path) -> None:
    n = 60
    labels = np.array([0] * 40 + [1] * 15 + [2] * 5)
    raw = np.zeros((n, 4, 4))
    raw[:, 0, 0] = np.arange(n)
    raw[:, 3, 3] = n
    path = save(tmp_path, raw)
    np.save(tmp_path / "y.npy", labels)
    data = load(path, labels=str(tmp_path / "y.npy"), balance=True, n_images=30, image_size=4)
    assert data.images.shape == (30, 4, 4)
    assert np.bincount(data.labels).tolist() == [10, 10, 10]
    ids = np.rint(data.images[:, 0, 0] * n).astype(int)
    np.testing.assert_array_equal(labels[ids], data.labels)  # labels stay aligned
    assert len(set(ids[data.labels == 2].tolist())) == 5  # all five, plus repeats
    assert any("resampled with repeats: class 2 from 5" in s for s in data.steps)
    assert not any("only" in w for w in data.warnings)  # resampled: 10 of each class
    with pytest.raises(DatasetError, match="balance needs labels"):
        load(path, balance=True, image_size=4)


def test_balanced_subset_quota() -> None:
    labels = np.repeat([3, 5, 9], [100, 100, 100])
    order, text = prep.balanced_subset(labels, 31, seed=0)
    counts = sorted(np.bincount(labels[order]).tolist())
    assert counts[-3:] == [10, 10, 11] and order.size == 31
    assert np.all(np.diff(order) > 0)  # no repeats needed: distinct, in file order
    assert "3 classes × 10–11 images" in text


def test_few_images_per_class_warns(tmp_path: Path) -> None:
    path = save(tmp_path, np.random.default_rng(0).random((12, 5, 5)))
    np.save(tmp_path / "y.npy", np.array([0] * 9 + [1] * 3))
    with pytest.warns(DatasetWarning, match="only 3 images of class 1"):
        data = load_dataset(DatasetConfig(source=str(path), labels=str(tmp_path / "y.npy"),
                                          image_size=5), seed=0)
    assert len(data.warnings) == 1


# ------------------------------------------------------------------------------ bad values


@pytest.mark.parametrize(
    ("array", "fields", "needle"),
    [
        (np.zeros((0, 4, 4)), {}, "empty"),
        (np.zeros((3, 0, 4)), {}, "empty images"),
        (np.zeros((3, 4, 4, 2, 2)), {}, "5-D array"),
        (np.arange(5.0), {}, "1-D array"),
        (np.array(3.0), {}, "0-D array"),
        (np.ones((3, 4, 4), dtype=complex), {}, "complex"),
        (np.full((3, 4, 4), 2.0), {}, "all values are equal"),
        (np.random.default_rng(0).random((1, 6, 6)), {}, "single image"),
    ],
)
def test_bad_arrays(tmp_path: Path, array: np.ndarray, fields: dict, needle: str) -> None:
    with pytest.raises(DatasetError, match=needle) as info:
        load(save(tmp_path, array), **fields)
    assert "x.npy" in str(info.value) and "\n" not in str(info.value)


def test_constant_images(tmp_path: Path) -> None:
    raw = np.random.default_rng(0).random((5, 6, 6))
    raw[1] = 0.25
    raw[3] = 0.5
    path = save(tmp_path, raw)
    with pytest.raises(DatasetError, match=r"2 constant images \(first: #1\).*per image"):
        load(path, normalize="per_image", image_size=6)
    with pytest.warns(DatasetWarning, match=r"2 constant images \(first: #1\)"):
        data = load_dataset(DatasetConfig(source=str(path), image_size=6), seed=0)
    assert data.images.shape == (5, 6, 6)


def test_nan_and_inf(tmp_path: Path) -> None:
    raw = np.random.default_rng(0).random((5, 6, 6))
    raw[2, 0, 0] = np.nan
    raw[4, 1, 1] = -np.inf
    with pytest.raises(DatasetError, match=r"2 NaN or infinite values in 2 of the 5 images"
                                           r" used \(first: #2\)"):
        load(save(tmp_path, raw), image_size=6)
