"""Image datasets for the jrVAE evaluations: the built-in demo and NPY/NPZ files.

Every loader returns an :class:`ImageSet`: float32 images ``(n, H, W)`` in [0, 1], optional labels
(kept for diagnostics only, never used by the objective), a fingerprint and a description of the
source. Errors name the file and the problem (:class:`DatasetError`).
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.errors import DatasetError


@dataclass(frozen=True)
class ImageSet:
    """A dataset ready for training.

    Attributes:
        images: ``(n, H, W)`` float32 in [0, 1].
        labels: ``(n,)`` int64 class labels, or None. Diagnostics only.
        source: where the images came from (``"demo"`` or a path, with the key).
    """

    images: np.ndarray
    labels: np.ndarray | None
    source: str

    @property
    def fingerprint(self) -> str:
        """sha256 of the images (and labels), identifying the data a campaign used."""
        digest = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        digest.update(str(self.images.shape).encode())
        if self.labels is not None:
            digest.update(np.ascontiguousarray(self.labels).tobytes())
        return digest.hexdigest()


def rotated_digits(
    digits: tuple[int, ...], n_images: int, image_size: int, max_rotation: float, seed: int
) -> ImageSet:
    """The demo: scikit-learn's bundled handwritten digits, upscaled and randomly rotated.

    Each 8x8 digit is padded to 12x12 (so a rotation keeps its corners), resized to
    ``image_size x image_size`` and rotated by an angle drawn uniformly in ±``max_rotation``
    degrees. When ``n_images`` exceeds the number of available digits, digits are reused with
    new rotations.

    Args:
        digits: the digit classes to keep (0-9).
        n_images: number of images returned.
        image_size: H = W of the returned images.
        max_rotation: largest rotation in degrees.
        seed: seeds the choice of digits and the angles.

    Returns:
        An ImageSet with images ``(n_images, image_size, image_size)`` and the digit labels.
    """
    from skimage.transform import resize, rotate
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = np.isin(bunch.target, digits)
    raw = bunch.images[keep].astype(np.float64) / 16.0
    labels = bunch.target[keep].astype(np.int64)
    rng = np.random.default_rng(seed)
    reps = -(-n_images // len(raw))
    order = np.concatenate([rng.permutation(len(raw)) for _ in range(reps)])[:n_images]
    angles = rng.uniform(-max_rotation, max_rotation, size=n_images)
    out = np.empty((n_images, image_size, image_size), dtype=np.float32)
    for i, (idx, angle) in enumerate(zip(order, angles, strict=True)):
        padded = np.pad(raw[idx], 2)
        big = resize(padded, (image_size, image_size), order=1, anti_aliasing=False)
        out[i] = rotate(big, angle, order=1, mode="constant", cval=0.0)
    np.clip(out, 0.0, 1.0, out=out)
    source = f"demo: rotated digits {list(digits)} (±{max_rotation:g}°)"
    return ImageSet(out, labels[order], source)


def _read_array(path: Path, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Read images (and labels, if the NPZ has a ``labels`` array) from an NPY/NPZ file."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"dataset file not found: {path}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"cannot read {path} as NPY/NPZ: {exc}") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        names = list(loaded.files)
        if key:
            if key not in names:
                raise DatasetError(f"{path}: no array named {key!r} (arrays: {', '.join(names)})")
            chosen = key
        elif "images" in names:
            chosen = "images"
        elif len(names) == 1:
            chosen = names[0]
        else:
            raise DatasetError(
                f"{path}: several arrays ({', '.join(names)}); choose one with dataset.key"
            )
        try:
            images = loaded[chosen]
            labels = loaded["labels"] if "labels" in names and chosen != "labels" else None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"cannot read array {chosen!r} of {path}: {exc}") from None
    return images, labels


def _check_shape(images: np.ndarray, where: str) -> None:
    """Require numeric images ``(n, H, W)`` with n >= 2."""
    if images.dtype.kind not in "biuf":
        raise DatasetError(f"{where}: images must be numeric, got dtype {images.dtype}")
    if images.ndim != 3:
        raise DatasetError(f"{where}: images must have shape (n, H, W), got {images.shape}")
    if images.shape[0] < 2:
        raise DatasetError(f"{where}: need at least 2 images, got {images.shape[0]}")


def _prepare(images: np.ndarray, where: str, image_size: int) -> np.ndarray:
    """Min-max normalise ``(n, H, W)`` images to [0, 1] and resize; reject NaN/constant data."""
    from skimage.transform import resize

    data = images.astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise DatasetError(f"{where}: {bad} NaN or infinite values")
    lo, hi = float(data.min()), float(data.max())
    if hi <= lo:
        raise DatasetError(f"{where}: all values are equal ({lo:g}); nothing to learn")
    data = (data - lo) / (hi - lo)
    if data.shape[1:] != (image_size, image_size):
        data = np.stack([resize(im, (image_size, image_size), order=1) for im in data])
    return data.astype(np.float32)


def load_npy(path: str | Path, key: str, n_images: int, image_size: int, seed: int) -> ImageSet:
    """Load images from an NPY or NPZ file, normalise, resize and draw a seeded subset.

    Args:
        path: ``.npy`` file of images ``(n, H, W)`` or ``.npz`` file with such an array.
        key: the array's name inside an NPZ (empty: ``images`` or the only array). An NPZ array
            named ``labels`` ``(n,)`` is kept as labels (diagnostics only).
        n_images: size of the subset (all images when the file has fewer).
        image_size: H = W of the returned images.
        seed: seeds the subset.

    Raises:
        DatasetError: missing or unreadable file, wrong shape or dtype, NaN values, constant data.
    """
    path = Path(path)
    images, labels = _read_array(path, key)
    where = str(path) + (f"[{key}]" if key else "")
    if labels is not None and (labels.ndim != 1 or labels.shape[0] != images.shape[0]):
        raise DatasetError(
            f"{where}: labels must have shape ({images.shape[0]},), got {labels.shape}"
        )
    _check_shape(images, where)
    rng = np.random.default_rng(seed)
    n = min(n_images, images.shape[0])
    order = np.sort(rng.choice(images.shape[0], size=n, replace=False))
    data = _prepare(np.asarray(images[order]), where, image_size)
    lab = None if labels is None else np.asarray(labels[order]).astype(np.int64)
    return ImageSet(data, lab, where)


def load_dataset(config: DatasetConfig, seed: int) -> ImageSet:
    """Load the dataset a campaign config names (the demo or an NPY/NPZ file)."""
    if config.source == "demo":
        return rotated_digits(
            config.digits, config.n_images, config.image_size, config.max_rotation, seed
        )
    return load_npy(config.source, config.key, config.n_images, config.image_size, seed)
