"""The jrVAE objective: published formula, usage weighting, diagnostics, real trainings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from zbo_gui.core.config import JrVAEConfig, ObjectiveConfig
from zbo_gui.core.datasets import rotated_digits
from zbo_gui.core.objective import (
    JrVAEObjective,
    between_class,
    combine,
    dssim,
    label_diagnostics,
    usage_weights,
    within_class,
)
from zbo_gui.core.types import Controls


def _shapes(k: int, m: int, size: int = 12, seed: int = 0) -> np.ndarray:
    """Hand-built manifolds ``(k, m, size, size)``: class c is a bar at angle c, moving with p."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - size / 2
    out = np.zeros((k, m, size, size))
    for c, p in itertools.product(range(k), range(m)):
        angle = np.pi * c / k
        dist = np.abs(np.cos(angle) * yy - np.sin(angle) * xx - (p - m / 2) * 0.4)
        out[c, p] = np.exp(-(dist**2) / 2) + 0.02 * rng.random((size, size))
    return np.clip(out, 0, 1)


def _reference_dssim(a: np.ndarray, b: np.ndarray) -> float:
    return (1 - structural_similarity(a, b, data_range=1.0, win_size=7)) / 2


def test_paper_objective_reproduces_the_published_formula() -> None:
    manifolds = _shapes(3, 4)
    d = between_class(manifolds)
    expected_l1 = sum(
        np.mean([_reference_dssim(manifolds[i, p], manifolds[j, p]) for p in range(4)])
        for i, j in itertools.combinations(range(3), 2)
    )
    s = within_class(manifolds, pairs=50, rng=np.random.default_rng(0))
    value, l1, l2 = combine("paper", d, s, np.full(3, 1 / 3), w=1.0)
    assert l1 == pytest.approx(expected_l1, rel=1e-12)
    assert l2 == pytest.approx(s.sum(), rel=1e-12)
    assert value == pytest.approx(expected_l1 - s.sum(), rel=1e-12)
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0)


def test_within_class_uses_distinct_pairs() -> None:
    # With two positions the only distinct pair is (0, 1): a term that ever compared an image
    # with itself would come out lower than DSSIM(M[0], M[1]).
    manifolds = _shapes(2, 2)
    s = within_class(manifolds, pairs=25, rng=np.random.default_rng(3))
    for c in range(2):
        assert s[c] == pytest.approx(_reference_dssim(manifolds[c, 0], manifolds[c, 1]))
    # Identical images at every position: no dissimilarity within a class.
    flat = np.repeat(manifolds[:, :1], 5, axis=1)
    assert np.allclose(within_class(flat, 30, np.random.default_rng(0)), 0.0, atol=1e-12)


def test_dssim_of_identical_and_small_images() -> None:
    a = _shapes(1, 1, size=5)[0, 0]
    assert dssim(a, a) == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < dssim(a, 1.0 - a) <= 1.0


def test_usage_objective_equals_paper_when_balanced_and_zero_when_collapsed() -> None:
    manifolds = _shapes(4, 4)
    d = between_class(manifolds)
    s = within_class(manifolds, 20, np.random.default_rng(1))
    balanced = np.full(4, 0.25)
    paper = combine("paper", d, s, balanced, w=0.5)
    usage = combine("usage", d, s, balanced, w=0.5)
    assert usage == pytest.approx(paper, rel=1e-12)
    collapsed = np.array([0.0, 1.0, 0.0, 0.0])
    value, l1, _ = combine("usage", d, s, collapsed, w=0.0)
    assert l1 == 0.0 and value == 0.0
    # Any imbalance lowers ℓ1 below the balanced value when all D_ij are equal.
    equal_d = np.ones((4, 4)) - np.eye(4)
    skewed = combine("usage", equal_d, s, np.array([0.55, 0.15, 0.15, 0.15]), 0.0)[1]
    assert skewed < combine("usage", equal_d, s, balanced, 0.0)[1] == pytest.approx(6.0)


def test_dead_class_counts_as_unused() -> None:
    usage = np.array([50, 50, 0])
    intensity = np.array([0.2, 0.01, 0.2])  # class 1 decodes to near-black images
    weights = usage_weights(usage, intensity, data_intensity=0.2)
    assert weights.tolist() == [0.5, 0.0, 0.0]


def test_label_diagnostics_match_hungarian_accuracy_and_nmi() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    permuted = np.array([2, 2, 2, 0, 0, 0, 1, 1, 1, 1])  # perfect clustering, renamed
    acc, nmi = label_diagnostics(permuted, labels)
    assert acc == 1.0 and nmi == pytest.approx(1.0)
    one_class = np.zeros(10, dtype=np.int64)
    acc, nmi = label_diagnostics(one_class, labels)
    assert acc == pytest.approx(0.4) and nmi == pytest.approx(0.0)


@pytest.fixture(scope="module")
def tiny_digits():
    return rotated_digits((0, 1, 4), 240, 12, 45.0, seed=0)


def _tiny_jrvae(beta_d: float) -> JrVAEConfig:
    return JrVAEConfig(classes=3, beta_d=beta_d, encoder_hidden=(64, 64), decoder_hidden=(16, 16))


def test_collapsed_jrvae_scores_below_a_healthy_one(tiny_digits) -> None:
    """Real trainings: a tiny β_d collapses the discrete latent onto one class."""
    schedule = np.ones(25)
    config = ObjectiveConfig(manifold_d=5, pairs=20)
    healthy = JrVAEObjective(tiny_digits.images, tiny_digits.labels, _tiny_jrvae(1.0), config)(
        schedule, 2, Controls())
    collapsed = JrVAEObjective(tiny_digits.images, tiny_digits.labels, _tiny_jrvae(0.01), config)(
        schedule, 2, Controls())
    assert collapsed.class_usage.max() >= 0.9 * len(tiny_digits.images)
    assert (healthy.class_usage > 0.1 * len(tiny_digits.images)).sum() >= 2
    assert healthy.value > collapsed.value
    assert healthy.accuracy > collapsed.accuracy
    # The published ℓ1 of the collapsed model is not reduced; the default removes its credit.
    paper = JrVAEObjective(tiny_digits.images, tiny_digits.labels, _tiny_jrvae(0.01),
                           ObjectiveConfig(kind="paper", manifold_d=5, pairs=20))
    rescored = paper.score(collapsed.manifolds.astype(np.float32) / 255.0,
                           np.full(len(tiny_digits.images), int(collapsed.class_usage.argmax())), 2)
    assert rescored.l1 > collapsed.l1
    # Diagnostics are recorded with the result.
    assert healthy.loss_curve.shape == (25,) and np.isfinite(healthy.loss_curve).all()
    assert healthy.manifolds.shape == (3, 25, 12, 12) and healthy.manifolds.dtype == np.uint8
    assert healthy.class_intensity.shape == (3,) and healthy.class_usage.sum() == 240


def test_training_calls_on_epoch_with_the_model_and_stops_when_it_raises(tiny_digits) -> None:
    """The hook a collapse watch uses: called after every epoch; what it raises ends training."""
    from zbo_gui.core.jrvae import class_assignments, train_jrvae

    images = tiny_digits.images[:60]
    seen: list[tuple[int, int]] = []

    def watch(epoch: int, model) -> None:
        seen.append((epoch, len(class_assignments(model, images[:10]))))
        if epoch == 3:
            raise StopIteration("collapsed")

    with pytest.raises(StopIteration, match="collapsed"):
        train_jrvae(images, np.ones(6), _tiny_jrvae(1.0), seed=0, on_epoch=watch)
    assert seen == [(1, 10), (2, 10), (3, 10)]  # epochs 4-6 never ran


def test_a_beta_d_curve_beside_beta_c_trains_with_both(tiny_digits) -> None:
    """A schedule pair ``(2, N)``: the same training as ``(N,)`` with the constant β_d when its
    β_d row is that constant, a different one when β_d changes over the epochs."""
    from zbo_gui.core.jrvae import scale_pairs, train_jrvae

    images, config = tiny_digits.images[:60], _tiny_jrvae(0.7)
    beta_c = np.linspace(2.0, 0.5, 4)
    alone = train_jrvae(images, beta_c, config, seed=3)
    paired = train_jrvae(images, np.vstack([beta_c, np.full(4, 0.7)]), config, seed=3)
    np.testing.assert_array_equal(alone.loss_curve, paired.loss_curve)
    ramp = train_jrvae(images, np.vstack([beta_c, np.linspace(0.1, 3.0, 4)]), config, seed=3)
    assert ramp.loss_curve[0] != alone.loss_curve[0]  # β_d weighs in from the first epoch
    c, d = scale_pairs(np.vstack([beta_c, np.zeros(4)]), 1.0)
    assert np.all(d > 0) and np.array_equal(c, beta_c)  # pyro refuses a KL scale of 0
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        scale_pairs(np.ones((3, 4)), 1.0)
