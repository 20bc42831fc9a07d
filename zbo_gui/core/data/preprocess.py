"""Preprocessing: colour to grey, checks of the values, normalisation, size, subsets.

Every function returns, besides its result, a short description of what it did; the loader
collects them as the dataset's ``steps`` (stored in the campaign file with the data).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zbo_gui.core.data.base import shape_text
from zbo_gui.core.errors import DatasetError

#: Luminance weights of R, G, B (ITU-R BT.709, as scikit-image's ``rgb2gray``).
GREY_WEIGHTS = (0.2125, 0.7154, 0.0721)
#: Float data with values beyond [FAR_LOW, FAR_HIGH] (10 units from [0, 1]) gets a warning.
FAR_LOW, FAR_HIGH = -10.0, 11.0
#: A class with fewer images than this in the subset gets a warning.
MIN_PER_CLASS = 10
#: Pixels processed at once by the blockwise steps (bounds the float64 temporaries: 32 MB).
BLOCK_PIXELS = 4 * 1024**2


def _blocks(images: np.ndarray) -> range:
    """Start indices of blocks of whole images holding about BLOCK_PIXELS pixels each."""
    return range(0, images.shape[0], _block_size(images))


def _block_size(images: np.ndarray) -> int:
    return max(1, BLOCK_PIXELS // max(1, int(np.prod(images.shape[1:]))))


def to_grey(images: np.ndarray) -> np.ndarray:
    """Colour ``(n, H, W, C)`` (C = 3 or 4; alpha dropped) to grey ``(n, H, W)`` float32."""
    out = np.empty(images.shape[:3], dtype=np.float32)
    weights = np.asarray(GREY_WEIGHTS)
    chunk = _block_size(images)
    for start in _blocks(images):
        block = images[start: start + chunk, ..., :3].astype(np.float64)
        out[start: start + chunk] = block @ weights
    return out


def grey_step() -> str:
    """The description of :func:`to_grey`."""
    r, g, b = GREY_WEIGHTS
    return f"colour → grey ({r} R + {g} G + {b} B, alpha dropped)"


def check_values(images: np.ndarray, where: str, raw_dtype: np.dtype, per_image: bool,
                 names: Sequence[str] = ()) -> tuple[float, float, list[str]]:
    """Refuse unusable values and flag suspicious ones.

    Args:
        images: ``(n, H, W)`` grey images (any numeric dtype).
        where: names the data in messages.
        raw_dtype: the dtype as stored (float data far outside [0, 1] gets a warning).
        per_image: each image will be normalised on its own (a constant image is then an error).
        names: per image, its origin (file name, index in the file) for messages.

    Returns:
        ``(min, max, warnings)`` over all the images.

    Raises:
        DatasetError: NaN or infinite values, all values equal, or (``per_image``) a constant
            image.
    """
    n = images.shape[0]

    def name(i: int) -> str:
        return names[i] if len(names) == n else f"image {i} of the subset"

    if images.dtype.kind == "f":
        finite = np.isfinite(images).reshape(n, -1).all(axis=1)
        if not finite.all():
            bad = int(np.count_nonzero(~np.isfinite(images)))
            first = int(np.flatnonzero(~finite)[0])
            raise DatasetError(f"{where}: {bad} NaN or infinite value{'s' if bad != 1 else ''} in"
                               f" {int(np.count_nonzero(~finite))} of the {n} images used"
                               f" (first: {name(first)})")
    low = images.min(axis=(1, 2)).astype(np.float64)
    high = images.max(axis=(1, 2)).astype(np.float64)
    lo, hi = float(low.min()), float(high.max())
    if hi <= lo:
        raise DatasetError(f"{where}: all values are equal ({lo:g}) in the {n} images used;"
                           " nothing to learn")
    warnings: list[str] = []
    flat = np.flatnonzero(high <= low)
    if flat.size:
        message = (f"{where}: {flat.size} constant image{'s' if flat.size > 1 else ''}"
                   f" (first: {name(int(flat[0]))})")
        if per_image:
            pronoun = "them" if flat.size > 1 else "it"
            raise DatasetError(f"{message} cannot be normalised per image; remove {pronoun} or"
                               " use dataset.normalize = \"global\"")
        warnings.append(f"{message}: blank after normalisation")
    if np.dtype(raw_dtype).kind == "f" and (lo < FAR_LOW or hi > FAR_HIGH):
        warnings.append(f"{where}: float values span [{lo:.4g}, {hi:.4g}], far outside [0, 1];"
                        " they are rescaled by dataset.normalize — check that this is intended")
    return lo, hi, warnings


def normalise(images: np.ndarray, mode: str, percentiles: tuple[float, float],
              where: str) -> tuple[np.ndarray, str, list[str]]:
    """Map grey images to [0, 1].

    Args:
        images: ``(n, H, W)``, finite (see :func:`check_values`).
        mode: ``"global"`` (min–max over all images), ``"per_image"`` (min–max of each image)
            or ``"percentile"`` (the ``percentiles`` of all values map to 0 and 1, clipped).
        percentiles: ``(low, high)`` in [0, 100], for ``"percentile"``.
        where: names the data in messages.

    Returns:
        ``(n, H, W)`` float32 in [0, 1], the step description and any warnings.

    Raises:
        DatasetError: the percentiles give equal values (mostly constant images).
    """
    out = np.empty(images.shape, dtype=np.float32)
    warnings: list[str] = []
    chunk = _block_size(images)
    if mode == "per_image":
        for start in _blocks(images):
            block = images[start: start + chunk].astype(np.float64)
            low = block.min(axis=(1, 2), keepdims=True)
            span = block.max(axis=(1, 2), keepdims=True) - low
            block -= low
            block /= np.where(span > 0, span, 1.0)
            out[start: start + chunk] = block
        return out, "normalise: per-image min–max → [0, 1]", warnings
    if mode == "percentile":
        p_lo, p_hi = percentiles
        lo, hi = (float(v) for v in np.percentile(images, [p_lo, p_hi]))
        if hi <= lo:
            raise DatasetError(f"{where}: the {p_lo:g}th and {p_hi:g}th percentiles are equal"
                               f" ({lo:g}); widen dataset.percentiles or use dataset.normalize"
                               " = \"global\"")
        step = f"normalise: percentiles {p_lo:g}–{p_hi:g} [{lo:.6g}, {hi:.6g}] → [0, 1], clipped"
    else:
        lo, hi = float(images.min()), float(images.max())
        step = f"normalise: global min–max [{lo:.6g}, {hi:.6g}] → [0, 1]"
    for start in _blocks(images):
        block = images[start: start + chunk].astype(np.float64)
        block -= lo
        block /= hi - lo
        np.clip(block, 0.0, 1.0, out=block)
        out[start: start + chunk] = block
    if mode == "global" and float(np.median(out.max(axis=(1, 2)))) < 0.1:
        warnings.append(f"{where}: most images stay below 0.1 after global min–max: a few"
                        " bright outliers set the range; consider dataset.normalize ="
                        " \"percentile\"")
    return out, step, warnings


def fit_size(images: np.ndarray, size: int, crop: str) -> tuple[np.ndarray, list[str]]:
    """Bring ``(n, H, W)`` images in [0, 1] to ``(n, size, size)``.

    Args:
        images: ``(n, H, W)`` float32.
        size: target H = W.
        crop: how a non-square image becomes square first: ``"center"`` (central square of side
            min(H, W)), ``"pad"`` (pad to max(H, W) with each image's minimum) or ``"resize"``
            (none: resized straight to size x size, changing the aspect ratio).

    Returns:
        The images (float32, in [0, 1]) and the step descriptions.
    """
    steps: list[str] = []
    h, w = images.shape[1:3]
    if h != w and crop == "center":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        images = images[:, top: top + side, left: left + side]
        steps.append(f"centre crop {shape_text((h, w))} → {shape_text((side, side))}")
    elif h != w and crop == "pad":
        side = max(h, w)
        top, left = (side - h) // 2, (side - w) // 2
        padded = np.empty((images.shape[0], side, side), dtype=np.float32)
        padded[:] = images.min(axis=(1, 2), keepdims=True)
        padded[:, top: top + h, left: left + w] = images
        images = padded
        steps.append(f"pad {shape_text((h, w))} → {shape_text((side, side))} with each image's"
                     " minimum")
    if images.shape[1:3] == (size, size):
        return np.ascontiguousarray(images, dtype=np.float32), steps
    from skimage.transform import resize

    before = images.shape[1:3]
    out = np.empty((images.shape[0], size, size), dtype=np.float32)
    chunk = _block_size(images)
    for start in _blocks(images):
        block = images[start: start + chunk].astype(np.float64)
        shape = (block.shape[0], size, size)
        out[start: start + chunk] = resize(block, shape, order=1, mode="reflect",
                                           anti_aliasing=size < max(before))
    np.clip(out, 0.0, 1.0, out=out)
    steps.append(f"resize {shape_text(before)} → {shape_text((size, size))} (bilinear"
                 f"{', anti-aliased' if size < max(before) else ''})")
    return out, steps


def subset(count: int, n: int, seed: int, what: str = "images") -> tuple[np.ndarray, str]:
    """A seeded random subset of ``min(n, count)`` distinct indices, in increasing order."""
    rng = np.random.default_rng(seed)
    k = min(n, count)
    order = np.sort(rng.choice(count, size=k, replace=False))
    if k == count:
        return order, f"all {count} {what} (dataset.n_images = {n})"
    return order, f"subset: {k} of {count} {what} (seed {seed})"


def balanced_subset(labels: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, str]:
    """A seeded class-balanced resample of ``n`` indices (increasing; repeats allowed).

    Each class gets ``n // K`` images (the remainder goes to randomly chosen classes), drawn
    without replacement when the class has enough, else all of it plus draws with replacement.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    quota = np.full(classes.size, n // classes.size)
    quota[rng.permutation(classes.size)[: n % classes.size]] += 1
    chosen, oversampled = [], []
    for c, q in zip(classes, quota, strict=True):
        members = np.flatnonzero(labels == c)
        if members.size >= q:
            chosen.append(rng.choice(members, size=int(q), replace=False))
        else:
            extra = rng.choice(members, size=int(q) - members.size, replace=True)
            chosen.append(np.concatenate([members, extra]))
            oversampled.append(f"class {int(c)} from {members.size}")
    order = np.sort(np.concatenate(chosen))
    text = (f"balance: {classes.size} classes × {n // classes.size}"
            f"{'–' + str(n // classes.size + 1) if n % classes.size else ''} images (seed {seed})")
    if oversampled:
        text += f", resampled with repeats: {', '.join(oversampled)}"
    return order, text


def label_warnings(labels: np.ndarray, where: str) -> list[str]:
    """A warning when some class has very few images (diagnostics will be noisy)."""
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() >= MIN_PER_CLASS:
        return []
    few = classes[counts.argmin()]
    return [f"{where}: only {int(counts.min())} image{'s' if counts.min() != 1 else ''} of"
            f" class {int(few)} ({classes.size} classes, {labels.size} images); accuracy and"
            " NMI diagnostics will be noisy"]
