"""Objectives: how a β schedule is scored (maximised by the campaign).

The jrVAE objective (DESIGN.md §1.4) trains a fresh jiVAE with the schedule and scores its learned
class manifolds ``M_k`` (k = 1..K, each ``d*d`` decoded images) with the structural dissimilarity
``DSSIM(a, b) = (1 - SSIM(a, b)) / 2``:

* ``D_ij = mean_p DSSIM(M_i[p], M_j[p])``: between classes i and j at the same grid position p;
* ``S_k  = mean_(p,q) DSSIM(M_k[p], M_k[q])``: within class k over random distinct pairs p != q.

**"paper"** (the published form): ``ℓ1 = Σ_{i<j} D_ij``, ``ℓ2 = Σ_k S_k``, objective ``ℓ1 − w·ℓ2``.
It rewards collapse: when the encoder puts every image in one class, the unused classes decode
to near-empty images that differ from the used one everywhere, so ℓ1 is highest (DESIGN.md §2).

**"usage"** (the default) weights each class by the share of the evaluation images the encoder
assigns to it, ``u_k = n_k / n``, and counts a class as unused (``u_k := 0``) when its manifold is
dead (mean intensity below ``DEAD_FRACTION`` of the data's mean intensity)::

    ℓ1 = Σ_{i<j} K² u_i u_j D_ij        ℓ2 = Σ_k K u_k S_k        objective = ℓ1 − w·ℓ2

With balanced usage (u_k = 1/K) both equal the paper's terms; a collapsed model (one class used)
scores ℓ1 = 0, and K² Σ_{i<j} u_i u_j = K² (1 − Σ u_k²) / 2 is largest for balanced usage, so
the objective favours models that really use their classes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from zbo_gui.core.config import JrVAEConfig, ObjectiveConfig
from zbo_gui.core.faults import crash_point
from zbo_gui.core.types import Controls, ObjectiveResult, TrainingCollapsed

#: A class whose manifold's mean intensity is below this fraction of the data's is "dead".
DEAD_FRACTION = 0.25
#: The collapse watch encodes this many fixed images ...
PROBE = 120
#: ... every this many epochs.
COLLAPSE_EVERY = 5


class Objective(Protocol):
    """Anything that scores a schedule. Implement it to plug another objective into a campaign."""

    def __call__(self, schedule: np.ndarray, seed: int, controls: Controls) -> ObjectiveResult:
        """Score ``schedule`` ``(N,)``; larger is better. Seeded; cancellable through controls."""
        ...


def dssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural dissimilarity ``(1 - SSIM) / 2`` of two images ``(H, W)`` in [0, 1]."""
    from skimage.metrics import structural_similarity

    win = min(7, *a.shape)
    win -= 1 - win % 2  # odd window, at most the image size
    return float((1.0 - structural_similarity(a, b, data_range=1.0, win_size=win)) / 2.0)


def between_class(manifolds: np.ndarray) -> np.ndarray:
    """``D``: ``(K, d*d, H, W)`` manifolds → ``(K, K)`` symmetric mean DSSIM at equal positions."""
    k = manifolds.shape[0]
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = np.mean(
                [dssim(a, b) for a, b in zip(manifolds[i], manifolds[j], strict=True)]
            )
    return out


def within_class(manifolds: np.ndarray, pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``S``: ``(K, M, H, W)`` → ``(K,)`` mean DSSIM over ``pairs`` random distinct position pairs.

    Each pair is drawn independently (``p`` uniform, ``q = p + r mod M`` with ``r`` in 1..M-1), so
    ``p != q`` always and no pair is reused by construction.
    """
    k, m = manifolds.shape[:2]
    out = np.zeros(k)
    for c in range(k):
        p = rng.integers(0, m, size=pairs)
        q = (p + rng.integers(1, m, size=pairs)) % m
        out[c] = np.mean([dssim(manifolds[c, a], manifolds[c, b])
                          for a, b in zip(p, q, strict=True)])
    return out


def usage_weights(usage: np.ndarray, intensity: np.ndarray, data_intensity: float) -> np.ndarray:
    """``u``: ``(K,)`` class counts → shares of the images, with dead classes set to 0."""
    shares = usage / max(int(usage.sum()), 1)
    dead = intensity < DEAD_FRACTION * data_intensity
    return np.where(dead, 0.0, shares)


def combine(
    kind: str, d_between: np.ndarray, s_within: np.ndarray, weights: np.ndarray, w: float
) -> tuple[float, float, float]:
    """The objective from its parts.

    Args:
        kind: ``"paper"`` or ``"usage"`` (see the module docstring for the formulas).
        d_between: ``(K, K)`` between-class DSSIM matrix D.
        s_within: ``(K,)`` within-class DSSIM S.
        weights: ``(K,)`` usage shares u (ignored by ``"paper"``).
        w: the weight of ℓ2.

    Returns:
        ``(objective, ℓ1, ℓ2)``.
    """
    k = d_between.shape[0]
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    if kind == "paper":
        l1 = float(d_between[upper].sum())
        l2 = float(s_within.sum())
    else:
        l1 = float((k * k * np.outer(weights, weights) * d_between)[upper].sum())
        l2 = float((k * weights * s_within).sum())
    return l1 - w * l2, l1, l2


def label_diagnostics(assigned: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy (Hungarian matching of classes to labels) and NMI; diagnostics only.

    Args:
        assigned: ``(n,)`` discrete latent class per image.
        labels: ``(n,)`` true labels.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import normalized_mutual_info_score

    _, lab = np.unique(labels, return_inverse=True)
    _, cls = np.unique(assigned, return_inverse=True)
    table = np.zeros((cls.max() + 1, lab.max() + 1), dtype=np.int64)
    np.add.at(table, (cls, lab), 1)
    rows, cols = linear_sum_assignment(-table)
    accuracy = float(table[rows, cols].sum() / len(labels))
    return accuracy, float(normalized_mutual_info_score(labels, assigned))


def to_thumbnails(manifolds: np.ndarray) -> np.ndarray:
    """Manifolds in [0, 1] → uint8 (0..255) of the same shape, for storage and display."""
    return np.round(np.clip(manifolds, 0.0, 1.0) * 255.0).astype(np.uint8)


def probe_images(images: np.ndarray) -> np.ndarray:
    """The fixed probe a watch encodes: :data:`PROBE` of the ``(n, H, W)`` images (seeded)."""
    count = min(PROBE, len(images))
    return images[np.random.default_rng(0).choice(len(images), count, replace=False)]


def collapse_watch(images: np.ndarray, classes: int, config: ObjectiveConfig):
    """The ``on_epoch`` hook that stops a collapsing training (None when
    ``config.collapse_share`` is 0): every :data:`COLLAPSE_EVERY` epochs from
    ``config.collapse_after`` on, it encodes a fixed probe of :data:`PROBE` images and raises
    :class:`~zbo_gui.core.types.TrainingCollapsed` when one class holds at least
    ``collapse_share`` of them.

    Args:
        images: ``(n, H, W)`` the evaluation images (the probe is a fixed subset).
        classes: K, the jrVAE's classes.
        config: the scoring settings.
    """
    from zbo_gui.core.jrvae import class_assignments

    if config.collapse_share <= 0:
        return None
    probe = probe_images(images)

    def watch(epoch: int, model) -> None:
        if epoch < config.collapse_after or epoch % COLLAPSE_EVERY:
            return
        usage = np.bincount(class_assignments(model, probe), minlength=classes)
        if usage.max() >= config.collapse_share * usage.sum():
            raise TrainingCollapsed(epoch, usage)

    return watch


class JrVAEObjective:
    """The jrVAE objective: train a fresh jiVAE with the schedule, score its class manifolds.

    Args:
        images: ``(n, H, W)`` float32 in [0, 1], the evaluation subset.
        labels: ``(n,)`` labels or None; used for accuracy/NMI diagnostics only.
        jrvae: jiVAE and optimiser settings.
        objective: scoring settings (kind, d, w, pairs).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        jrvae: JrVAEConfig,
        objective: ObjectiveConfig,
    ) -> None:
        self.images = images
        self.labels = labels
        self.jrvae = jrvae
        self.config = objective
        self.data_intensity = float(images.mean())

    def __call__(self, schedule: np.ndarray, seed: int, controls: Controls,
                 on_epoch: Callable[[int, Any], None] | None = None) -> ObjectiveResult:
        """Train with ``schedule`` and ``seed``; return the score and its diagnostics.

        ``schedule``: ``(N,)`` β_c per epoch (β_d the constant ``jrvae.beta_d``), or ``(2, N)``
        β_c and β_d per epoch.

        ``on_epoch(epochs done, model)`` watches the training too (after the collapse watch).
        """
        from zbo_gui.core.jrvae import class_assignments, class_manifolds, train_jrvae

        watches = [w for w in (collapse_watch(self.images, self.jrvae.classes, self.config),
                               on_epoch) if w is not None]

        def watch(epoch: int, model: Any) -> None:
            for each in watches:
                each(epoch, model)

        trained = train_jrvae(self.images, schedule, self.jrvae, seed, controls,
                              on_epoch=watch if watches else None)
        crash_point("scoring")
        start = time.perf_counter()
        manifolds = class_manifolds(trained.model, self.config.manifold_d)
        assigned = class_assignments(trained.model, self.images)
        result = self.score(manifolds, assigned, seed)
        return dataclasses.replace(
            result, loss_curve=trained.loss_curve, train_seconds=trained.seconds,
            score_seconds=time.perf_counter() - start,
        )

    def score(self, manifolds: np.ndarray, assigned: np.ndarray, seed: int) -> ObjectiveResult:
        """Score class manifolds ``(K, d*d, H, W)`` given the class of each image ``(n,)``."""
        k = manifolds.shape[0]
        usage = np.bincount(assigned, minlength=k).astype(np.int64)
        intensity = manifolds.reshape(k, -1).mean(axis=1).astype(np.float64)
        d_between = between_class(manifolds)
        s_within = within_class(manifolds, self.config.pairs, np.random.default_rng(seed))
        weights = usage_weights(usage, intensity, self.data_intensity)
        value, l1, l2 = combine(self.config.kind, d_between, s_within, weights, self.config.weight)
        accuracy = nmi = float("nan")
        if self.labels is not None:
            accuracy, nmi = label_diagnostics(assigned, self.labels)
        return ObjectiveResult(
            value=value, seed=seed, l1=l1, l2=l2, class_usage=usage, class_intensity=intensity,
            accuracy=accuracy, nmi=nmi, manifolds=to_thumbnails(manifolds),
        )
