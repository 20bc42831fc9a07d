"""The feasible latent grid: a G x G grid over the encoded seed cloud, decoded in one batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LatentGrid:
    """A G x G grid in the schedule VAE's 2-D latent space and its decoded schedules.

    Point ``k`` of the flat arrays is at row ``k // G`` (y axis) and column ``k % G`` (x axis),
    so ``mask.reshape(G, G)`` is an image with rows along y.

    Attributes:
        x: ``(G,)`` increasing x coordinates.
        y: ``(G,)`` increasing y coordinates.
        points: ``(G*G, 2)`` the (x, y) coordinates of every point.
        decoded: ``(G*G, N)`` the decoded β schedule of every point.
        feasible: ``(G*G,)`` bool, whether the decoded schedule satisfies the constraints.
        seed_z: ``(S, 2)`` the encoded seed schedules (latent means).
    """

    x: np.ndarray
    y: np.ndarray
    points: np.ndarray
    decoded: np.ndarray
    feasible: np.ndarray
    seed_z: np.ndarray

    @property
    def size(self) -> int:
        """G, the number of points along each axis."""
        return int(self.x.shape[0])


def grid_axes(seed_z: np.ndarray, size: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Axes of a ``size x size`` grid covering the seed cloud ``(S, 2)`` plus ``margin``.

    The margin is a fraction of each axis's extent of the cloud (at least 0.1 latent units).

    Returns:
        ``x`` ``(size,)`` and ``y`` ``(size,)``, increasing.
    """
    lo, hi = seed_z.min(axis=0), seed_z.max(axis=0)
    pad = np.maximum((hi - lo) * margin, 0.1)
    return (np.linspace(lo[0] - pad[0], hi[0] + pad[0], size),
            np.linspace(lo[1] - pad[1], hi[1] + pad[1], size))


def feasibility(decoded_unit: np.ndarray, tolerance: float) -> np.ndarray:
    """Whether decoded schedules satisfy the constraints.

    A schedule is feasible when every value is finite and inside the bounds up to ``tolerance``
    (a fraction of the bound's range in unit space, i.e. ``-tol <= u <= 1 + tol``). Clipping a
    feasible schedule into the bounds then gives β values that are finite, > 0 and in bounds.

    Args:
        decoded_unit: ``(m, N)`` decoded schedules in unit (normalised) space.
        tolerance: allowed excursion outside [0, 1].

    Returns:
        ``(m,)`` bool.
    """
    finite = np.all(np.isfinite(decoded_unit), axis=1)
    with np.errstate(invalid="ignore"):
        inside = np.all((decoded_unit >= -tolerance) & (decoded_unit <= 1.0 + tolerance), axis=1)
    return finite & inside


def build_grid(vae, seed_schedules: np.ndarray, size: int, margin: float,
               tolerance: float) -> LatentGrid:
    """Encode the seeds, lay the grid, decode every grid point in one batch, mark feasibility.

    Args:
        vae: a trained :class:`~zbo_gui.core.schedule_vae.ScheduleVAE`.
        seed_schedules: ``(S, N)`` the seed library's β values.
        size: G.
        margin: see :func:`grid_axes`.
        tolerance: see :func:`feasibility`.
    """
    seed_z = vae.encode(seed_schedules)
    x, y = grid_axes(seed_z, size, margin)
    xx, yy = np.meshgrid(x, y)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    unit = vae.decode_unit(points)
    feasible = feasibility(unit, tolerance)
    decoded = vae.bounds.from_unit(np.clip(np.nan_to_num(unit, nan=0.0), 0.0, 1.0))
    return LatentGrid(x, y, points, decoded.astype(np.float32), feasible, seed_z)
