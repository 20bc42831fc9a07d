"""Cut one large image (or each frame of a few) into patches of ``patch_size x patch_size``.

``grid``: a regular tiling with a stride (``stride < size`` overlaps). ``blobs``: patches centred
on bright blobs found by scikit-image's Laplacian-of-Gaussian detector (particles); ``peaks``:
centred on local maxima of the lightly smoothed image (atomic columns). Features closer to the
border than half a patch are dropped (counted in the step description).
"""

from __future__ import annotations

import numpy as np

from zbo_gui.core.data.base import shape_text
from zbo_gui.core.errors import DatasetError


def check_patch_size(shape: tuple[int, ...], size: int, where: str) -> None:
    """Refuse a patch larger than the image.

    Raises:
        DatasetError: ``size`` exceeds the image's height or width.
    """
    if size > min(shape[:2]):
        raise DatasetError(f"{where}: dataset.patch_size {size} is larger than the image"
                           f" ({shape_text(shape[:2])})")


def grid_positions(shape: tuple[int, ...], size: int, stride: int) -> np.ndarray:
    """Top-left corners ``(k, 2)`` (y, x) of a regular tiling with ``stride``."""
    ys = np.arange(0, shape[0] - size + 1, stride)
    xs = np.arange(0, shape[1] - size + 1, stride)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([yy.ravel(), xx.ravel()], axis=1).astype(np.int64)


def _unit(frame: np.ndarray) -> np.ndarray:
    """The frame scaled to [0, 1] by its 0.5 and 99.5 percentiles (robust to hot pixels)."""
    frame = frame.astype(np.float64)
    lo, hi = np.percentile(frame, [0.5, 99.5])
    if hi <= lo:
        lo, hi = float(frame.min()), float(frame.max())
    if hi <= lo:
        return np.zeros(frame.shape, dtype=np.float64)
    return np.clip((frame - lo) / (hi - lo), 0.0, 1.0)


def feature_centres(frame: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Centres ``(k, 2)`` (y, x) of the bright features of a grey frame.

    Args:
        frame: ``(H, W)`` grey image.
        size: the patch size; sets the feature scales searched (blob σ from size/16 to
            size/4; peaks at least size/4 apart).
        mode: ``"blobs"`` (``skimage.feature.blob_log``) or ``"peaks"``
            (``skimage.feature.peak_local_max`` after a Gaussian blur).
    """
    from skimage.feature import blob_log, peak_local_max
    from skimage.filters import gaussian

    image = _unit(frame)
    if mode == "blobs":
        min_sigma = max(1.0, size / 16)
        max_sigma = max(min_sigma + 0.5, size / 4)
        blobs = blob_log(image, min_sigma=min_sigma, max_sigma=max_sigma, num_sigma=4,
                         threshold=0.05, overlap=0.5)
        return np.rint(blobs[:, :2]).astype(np.int64).reshape(-1, 2)
    smooth = gaussian(image, sigma=max(1.0, size / 16))
    peaks = peak_local_max(smooth, min_distance=max(1, size // 4), threshold_rel=0.2,
                           exclude_border=False)
    return np.asarray(peaks, dtype=np.int64).reshape(-1, 2)


def feature_positions(frame: np.ndarray, size: int, mode: str) -> tuple[np.ndarray, int]:
    """Top-left corners of patches centred on features, and how many fell off the border.

    Returns:
        ``(positions, dropped)``: ``(k, 2)`` corners (y, x) inside the frame; features whose
        patch would leave the frame are dropped.
    """
    centres = feature_centres(frame, size, mode)
    corners = centres - size // 2
    inside = ((corners >= 0).all(axis=1) & (corners[:, 0] + size <= frame.shape[0])
              & (corners[:, 1] + size <= frame.shape[1]))
    corners = corners[inside]
    order = np.lexsort((corners[:, 1], corners[:, 0]))  # reading order: rows, then columns
    return corners[order], int(np.count_nonzero(~inside))


def cut(frame: np.ndarray, positions: np.ndarray, size: int) -> np.ndarray:
    """The patches ``(k, size, size)`` (or with a colour axis) at the given top-left corners."""
    out = np.empty((positions.shape[0], size, size, *frame.shape[2:]), dtype=frame.dtype)
    for i, (y, x) in enumerate(positions):
        out[i] = frame[y: y + size, x: x + size]
    return out
