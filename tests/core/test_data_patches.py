"""One large image cut into patches: a regular grid, or centred on blobs (particles) or on
peaks (atomic columns); the particles demo with its known counts."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from scipy import ndimage

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.data import DatasetWarning, particle_images
from zbo_gui.core.data.patches import grid_positions
from zbo_gui.core.datasets import ImageSet, load_dataset
from zbo_gui.core.errors import DatasetError


def load(source: Path | str, seed: int = 0, **fields: object) -> ImageSet:
    fields.setdefault("n_images", 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return load_dataset(DatasetConfig(source=str(source), **fields), seed=seed)


def spots(centres: list[tuple[int, int]], shape: tuple[int, int], sigma: float,
          noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Gaussian spots at ``centres`` on a dark background, with optional noise."""
    yy, xx = np.mgrid[0: shape[0], 0: shape[1]]
    image = np.zeros(shape)
    for cy, cx in centres:
        image += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    image += np.random.default_rng(seed).normal(0.0, noise, shape)
    return image


# ------------------------------------------------------------------------------------- grid


def test_grid_tiling_with_stride() -> None:
    corners = grid_positions((10, 12), 4, 4)
    assert corners.tolist() == [[y, x] for y in (0, 4) for x in (0, 4, 8)]
    assert grid_positions((10, 12), 4, 2).shape == (4 * 5, 2)
    assert grid_positions((4, 4), 4, 3).tolist() == [[0, 0]]


def test_grid_patches_of_a_png(tmp_path: Path) -> None:
    image = np.arange(24 * 36, dtype=np.uint16).reshape(24, 36)
    path = tmp_path / "big.png"
    Image.fromarray(image).save(path)
    data = load(path, patch_size=12, image_size=12)
    assert data.images.shape == (6, 12, 12)
    assert data.names[0] == "big.png y=0 x=0" and data.names[-1] == "big.png y=12 x=24"
    unit = (image - image.min()) / (image.max() - image.min())
    for patch, name in zip(data.images, data.names, strict=True):
        y, x = (int(part.split("=")[1]) for part in name.split()[1:])
        np.testing.assert_allclose(patch, unit[y: y + 12, x: x + 12], atol=1e-6)
    assert "patches 12×12 on a grid, stride 12: 6 from 1 image" in data.steps
    overlapping = load(path, patch_size=12, patch_stride=6, image_size=8, n_images=5)
    assert overlapping.images.shape == (5, 8, 8)
    assert "subset: 5 of 15 patches (seed 0)" in overlapping.steps


def test_patches_from_every_frame_of_a_stack(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 1000, size=(3, 20, 20)).astype(np.uint16)
    path = tmp_path / "frames.tif"
    tifffile.imwrite(path, frames, photometric="minisblack")
    data = load(path, patch_size=10, image_size=10)
    assert data.images.shape == (12, 10, 10)
    assert {name.split()[0] for name in data.names} == {"#0", "#1", "#2"}


def test_patch_larger_than_the_image(tmp_path: Path) -> None:
    path = tmp_path / "small.npy"
    np.save(path, np.random.default_rng(0).random((30, 40)))
    with pytest.raises(DatasetError, match=r"patch_size 32 is larger than the image \(30×40\)"):
        load(path, patch_size=32)
    with pytest.raises(DatasetError, match="only 1 patch"):
        load(path, patch_size=30)


# ----------------------------------------------------------------------------- blobs, peaks


def test_blobs_centre_patches_on_particles(tmp_path: Path) -> None:
    centres = [(20, 20), (20, 70), (60, 45), (95, 25), (90, 95), (50, 100)]
    image = spots(centres, (120, 120), sigma=3.0, noise=0.03)
    path = tmp_path / "particles.npy"
    np.save(path, image)
    data = load(path, patch_size=24, patch_mode="blobs", image_size=24, normalize="per_image")
    assert data.images.shape == (len(centres), 24, 24)
    for patch in data.images:  # each patch holds its particle at the centre
        cy, cx = ndimage.center_of_mass(np.clip(patch - 0.5, 0, None))
        assert abs(cy - 11.5) < 1.5 and abs(cx - 11.5) < 1.5
    assert "centred on blobs: 6 from 1 image" in data.source


def test_peaks_on_an_atomic_lattice_drop_border_atoms(tmp_path: Path) -> None:
    centres = [(y, x) for y in range(4, 64, 8) for x in range(4, 64, 8)]  # 8 x 8 atoms
    image = spots(centres, (64, 64), sigma=1.2, noise=0.02)
    path = tmp_path / "lattice.tif"
    tifffile.imwrite(path, image.astype(np.float32))
    data = load(path, patch_size=16, patch_mode="peaks", image_size=16)
    inside = [c for c in centres if 8 <= c[0] <= 56 and 8 <= c[1] <= 56]
    assert data.images.shape == (len(inside), 16, 16)
    assert f"({len(centres) - len(inside)} peaks too close to the border dropped)" in data.source


def test_no_features_found(tmp_path: Path) -> None:
    path = tmp_path / "flat.npy"
    image = np.zeros((40, 40))
    image[0, 0] = 1.0  # not constant, but no blob a patch could hold
    np.save(path, image)
    with pytest.raises(DatasetError, match="no blobs found in 1 image"):
        load(path, patch_size=16, patch_mode="blobs")


# -------------------------------------------------------------------------------- particles


def test_particles_demo_shapes_labels_and_seed() -> None:
    config = DatasetConfig(source="particles", n_images=40, image_size=24, max_particles=5)
    a = load_dataset(config, seed=1)
    b = load_dataset(config, seed=1)
    c = load_dataset(config, seed=2)
    assert a.images.shape == (40, 24, 24) and a.images.dtype == np.float32
    assert a.images.min() >= 0 and a.images.max() <= 1
    assert np.bincount(a.labels).tolist() == [0, 8, 8, 8, 8, 8]
    np.testing.assert_array_equal(a.images, b.images)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.source.startswith("demo: particles, 1–5 per image")


def test_particle_counts_are_the_labels() -> None:
    images, labels = particle_images(60, 32, 4, seed=0, noise=False)
    for image, count in zip(images, labels, strict=True):
        _, found = ndimage.label(image > 0.3)
        assert found == count


def test_particles_too_small_for_k() -> None:
    with pytest.raises(DatasetError, match="too small for 9 particles"):
        particle_images(4, 8, 9, seed=0)
