"""Image datasets for the jrVAE evaluations: two built-in demos and the user's files.

:func:`load_dataset` is the entry point: ``dataset.source = "demo"`` (rotated handwritten
digits), ``"particles"`` (synthetic particle counting) or a path to an NPY/NPZ, HDF5 or TIFF
file, a PNG/JPEG image or a folder of images (see ``zbo_gui.core.data``). Every loader returns an
:class:`ImageSet`: float32 images ``(n, H, W)`` in [0, 1], optional labels (kept for diagnostics
only, never used by the objective), a fingerprint and a description of the source and of every
step applied. Unusable data raises :class:`DatasetError` naming the file and the problem;
suspicious data gives a :class:`~zbo_gui.core.data.DatasetWarning`, also kept in
``ImageSet.warnings``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.data import DatasetWarning, RawImages, open_images, read_labels
from zbo_gui.core.data import patches as patching
from zbo_gui.core.data import preprocess as prep
from zbo_gui.core.data.particles import particle_images
from zbo_gui.core.errors import DatasetError

if TYPE_CHECKING:
    from zbo_gui.core.data import DataSummary


@dataclass(frozen=True)
class ImageSet:
    """A dataset ready for training.

    Attributes:
        images: ``(n, H, W)`` float32 in [0, 1].
        labels: ``(n,)`` int64 class labels, or None. Diagnostics only.
        source: where the images came from and what was done to them (the ``steps`` joined).
        steps: each step, in order: the read (format, file, key, shape, dtype), patches,
            subset, colour to grey, value checks, normalisation, crop/pad/resize, labels.
        warnings: suspicious properties of the data (also emitted as ``DatasetWarning``).
        names: per image, its origin (file name, index in the file, patch corner).
    """

    images: np.ndarray
    labels: np.ndarray | None
    source: str
    steps: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """sha256 of the images (and labels), identifying the data a campaign used."""
        digest = hashlib.sha256(np.ascontiguousarray(self.images).data)
        digest.update(str(self.images.shape).encode())
        if self.labels is not None:
            digest.update(np.ascontiguousarray(self.labels).data)
        return digest.hexdigest()

    def summary(self) -> DataSummary:
        """Count, shape, dtype, value range, NaN count, fingerprint, labels, steps, warnings."""
        from zbo_gui.core.data import summarize_images

        return summarize_images(self.images, self.labels, self.source, self.fingerprint,
                                self.steps, self.warnings)


@functools.lru_cache(maxsize=1)
def bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits: ``(1797, 8, 8)`` float64 images (0..16) and
    ``(1797,)`` int64 labels.

    Read straight from the data file that scikit-learn installs (milliseconds; importing
    scikit-learn takes about a second, which the window would spend before it shows), else
    through ``sklearn.datasets.load_digits``.
    """
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


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

    images, target = bundled_digits()
    keep = np.isin(target, digits)
    raw = images[keep] / 16.0
    labels = target[keep]
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
    return ImageSet(out, labels[order], source, (source,))


def particles(n_images: int, image_size: int, max_particles: int, seed: int) -> ImageSet:
    """The particles demo: 1 to ``max_particles`` particles per image, labelled by count.

    See :func:`zbo_gui.core.data.particle_images`.
    """
    images, labels = particle_images(n_images, image_size, max_particles, seed)
    source = (f"demo: particles, 1–{max_particles} per image, {image_size}×{image_size},"
              f" labels = particle count (seed {seed})")
    return ImageSet(images, labels, source, (source,))


def _numeric(images: np.ndarray) -> np.ndarray:
    """Boolean images as 0/1 bytes (numpy does no arithmetic on bool); others unchanged."""
    return images.astype(np.uint8) if images.dtype == np.bool_ else images


def _frame(raw: RawImages, index: int) -> np.ndarray:
    """One whole image of ``raw``, grey."""
    frame = _numeric(raw.read([index]))
    return prep.to_grey(frame)[0] if raw.layout.colour else frame[0]


def _patches(raw: RawImages, config: DatasetConfig, seed: int
             ) -> tuple[np.ndarray, tuple[str, ...], list[str]]:
    """Cut the images of ``raw`` into patches; return a seeded subset of them (grey)."""
    size, mode = config.patch_size, config.patch_mode
    stride = config.patch_stride or size
    patching.check_patch_size(raw.layout.image_shape, size, raw.where)
    kept: dict[int, np.ndarray] = {}
    positions, dropped = [], 0
    for f in range(raw.count):
        if mode == "grid":
            found = patching.grid_positions(raw.layout.image_shape, size, stride)
        else:
            frame = _frame(raw, f)
            if not np.all(np.isfinite(frame)):
                raise DatasetError(f"{raw.where}: NaN or infinite values in image {f}")
            found, lost = patching.feature_positions(frame, size, mode)
            dropped += lost
            if raw.count == 1:
                kept[f] = frame
        positions.append(np.column_stack([np.full(len(found), f), found]))
    every = np.concatenate(positions)
    frames = f"{raw.count} image{'s' if raw.count > 1 else ''}"
    if every.shape[0] == 0:
        raise DatasetError(f"{raw.where}: no {mode} found in {frames} for patches of {size}"
                           f" pixels{f' ({dropped} too close to the border)' if dropped else ''};"
                           " try dataset.patch_mode = \"grid\" or another dataset.patch_size")
    how = (f"on a grid, stride {stride}" if mode == "grid" else f"centred on {mode}")
    step = f"patches {size}×{size} {how}: {every.shape[0]} from {frames}"
    if dropped:
        step += f" ({dropped} {mode} too close to the border dropped)"
    order, subset_step = prep.subset(every.shape[0], config.n_images, seed, "patches")
    chosen = every[order]
    out = np.empty((chosen.shape[0], size, size), dtype=np.float32 if raw.layout.colour
                   else _numeric(np.empty(0, raw.dtype)).dtype)
    for f in np.unique(chosen[:, 0]):
        rows = np.flatnonzero(chosen[:, 0] == f)
        frame = kept[f] if f in kept else _frame(raw, int(f))
        out[rows] = patching.cut(frame, chosen[rows, 1:], size)

    def origin(f: int) -> str:
        if raw.names:
            return f"{raw.names[f]} "
        return f"#{f} " if raw.count > 1 else ""

    names = tuple(f"{origin(int(f))}y={int(y)} x={int(x)}" for f, y, x in chosen)
    steps = [step, subset_step]
    if raw.layout.colour:
        steps.append(prep.grey_step())
    if raw.labels is not None:
        steps.append("labels stored beside the images are per image, not per patch: not used")
    return out, names, steps


def load_file(config: DatasetConfig, seed: int) -> ImageSet:
    """Load, check and prepare the images of a file or folder as ``config`` says.

    Steps: open the source lazily (``format``, ``key``); cut patches (``patch_size``,
    ``patch_stride``, ``patch_mode``) or take the images; draw the seeded subset of
    ``n_images`` (class-balanced when ``balance``); read only that subset; colour to grey;
    refuse NaN/Inf and constant data; normalise (``normalize``, ``percentiles``); bring to
    ``image_size`` (``crop``). Each step is recorded in ``ImageSet.steps``.

    Args:
        config: the dataset section of a campaign config (``source`` is a path).
        seed: seeds the subset.

    Raises:
        DatasetError: a file or value that cannot be used (the message names it).
    """
    with open_images(config.source, config.format, config.key) as raw:
        steps, found = [raw.describe()], []
        labels: np.ndarray | None = None
        if config.patch_size:
            images, names, more = _patches(raw, config, seed)
            steps += more
        else:
            if raw.count < 2:
                raise DatasetError(f"{raw.where}: a single image; need at least 2 (or cut it"
                                   " into patches with dataset.patch_size)")
            labels, label_step = read_labels(config.labels, raw)
            if config.balance:
                if labels is None:
                    raise DatasetError(f"{raw.where}: dataset.balance needs labels (set"
                                       " dataset.labels)")
                order, subset_step = prep.balanced_subset(labels, config.n_images, seed)
            else:
                order, subset_step = prep.subset(raw.count, config.n_images, seed)
            unique, inverse = np.unique(order, return_inverse=True)
            images = _numeric(raw.read(unique))[inverse]
            names = tuple(raw.names[i] if raw.names else f"#{i}" for i in order)
            steps.append(subset_step)
            if labels is not None:
                labels = labels[order]
                steps.append(label_step)
                found += prep.label_warnings(labels, raw.where)
            if raw.layout.colour:
                images = prep.to_grey(images)
                steps.append(prep.grey_step())
    if images.shape[0] < 2:
        raise DatasetError(f"{raw.where}: only {images.shape[0]} patch; need at least 2")
    per_image = config.normalize == "per_image"
    _, _, value_warnings = prep.check_values(images, raw.where, raw.dtype, per_image, names)
    images, norm_step, norm_warnings = prep.normalise(images, config.normalize,
                                                      config.percentiles, raw.where)
    images, size_steps = prep.fit_size(images, config.image_size, config.crop)
    steps += [norm_step, *size_steps]
    found = value_warnings + norm_warnings + found
    return ImageSet(images, labels, "; ".join(steps), tuple(steps), tuple(found), names)


def load_dataset(config: DatasetConfig, seed: int) -> ImageSet:
    """Load the dataset a campaign config names: a built-in demo or the user's file.

    Warnings about the data (:class:`~zbo_gui.core.data.DatasetWarning`) are emitted here and
    kept in ``ImageSet.warnings``.

    Raises:
        DatasetError: data that cannot be used.
    """
    if config.source == "demo":
        data = rotated_digits(
            config.digits, config.n_images, config.image_size, config.max_rotation, seed
        )
    elif config.source == "particles":
        data = particles(config.n_images, config.image_size, config.max_particles, seed)
    else:
        data = load_file(config, seed)
    for message in data.warnings:
        warnings.warn(message, DatasetWarning, stacklevel=2)
    return data
