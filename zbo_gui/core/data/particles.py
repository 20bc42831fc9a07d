"""The second built-in demo: synthetic "particles" images with a known particle count.

Each image holds 1 to K elliptical particles (random positions without overlap, sizes, aspect
ratios, orientations and brightness) on a random background with Gaussian noise; its label is
the particle count. It stands in for the paper's plasmonic-nanoparticle counting task, with the
answers known.
"""

from __future__ import annotations

import math

import numpy as np

from zbo_gui.core.errors import DatasetError

#: Particle semi-major axis (before a random factor in [0.75, 1]) = SCALE · image_size / √K.
SCALE = 0.3
#: Fewest pixels of semi-major axis a particle may have.
MIN_RADIUS = 1.5


def min_image_size(max_particles: int) -> int:
    """The smallest ``image_size`` that fits ``max_particles`` particles of ≥ MIN_RADIUS px."""
    return math.ceil(MIN_RADIUS * math.sqrt(max_particles) / SCALE)


def _place(rng: np.random.Generator, radii: np.ndarray, size: int) -> np.ndarray | None:
    """Centres ``(k, 2)`` so that particles neither touch each other nor the border."""
    centres = np.empty((radii.size, 2))
    for i, r in enumerate(radii):
        for _ in range(200):
            c = rng.uniform(r + 1.0, size - r - 1.0, size=2)
            gaps = np.hypot(*(centres[:i] - c).T) - (radii[:i] + r)
            if i == 0 or gaps.min() >= 1.5:
                centres[i] = c
                break
        else:
            return None
    return centres


def _render(rng: np.random.Generator, count: int, size: int, radius: float,
            noise: bool) -> np.ndarray:
    for _ in range(50):
        a = radius * rng.uniform(0.75, 1.0, size=count)
        centres = _place(rng, a, size)
        if centres is not None:
            break
    else:
        raise DatasetError(f"cannot place {count} particles in a {size}x{size} image;"
                           " raise dataset.image_size")
    b = a * rng.uniform(0.55, 1.0, size=count)
    theta = rng.uniform(0.0, np.pi, size=count)
    amplitude = rng.uniform(0.7, 1.0, size=count)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    image = np.zeros((size, size))
    for (cy, cx), ai, bi, t, amp in zip(centres, a, b, theta, amplitude, strict=True):
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(t) + dy * np.sin(t)) / ai
        v = (-dx * np.sin(t) + dy * np.cos(t)) / bi
        r = np.hypot(u, v)
        edge = np.clip((1.0 - r) * bi + 0.5, 0.0, 1.0)  # a one-pixel soft edge
        dome = 0.8 + 0.2 * np.sqrt(np.clip(1.0 - r**2, 0.0, 1.0))
        image = np.maximum(image, amp * edge * dome)
    if noise:
        image += rng.uniform(0.0, 0.1)
        image += rng.normal(0.0, rng.uniform(0.02, 0.06), size=image.shape)
    return np.clip(image, 0.0, 1.0)


def particle_images(n_images: int, image_size: int, max_particles: int, seed: int,
                    noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic particle images, labelled by their particle count.

    Counts 1..K are balanced (each appears ``n_images / K`` times, in a random order).

    Args:
        n_images: number of images.
        image_size: H = W (at least :func:`min_image_size` of K).
        max_particles: K, the most particles in an image.
        seed: seeds everything.
        noise: add background and Gaussian noise (off: clean images, for tests).

    Returns:
        ``(images, labels)``: ``(n, image_size, image_size)`` float32 in [0, 1] and ``(n,)``
        int64 particle counts in 1..K.

    Raises:
        DatasetError: the image is too small for K particles.
    """
    if image_size < min_image_size(max_particles):
        raise DatasetError(f"dataset.image_size {image_size} is too small for"
                           f" {max_particles} particles (need >= {min_image_size(max_particles)})")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_images) % max_particles + 1).astype(np.int64)
    radius = SCALE * image_size / math.sqrt(max_particles)
    images = np.empty((n_images, image_size, image_size), dtype=np.float32)
    for i, count in enumerate(labels):
        images[i] = _render(rng, int(count), image_size, radius, noise)
    return images, labels
