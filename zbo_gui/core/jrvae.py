"""Training pyroVED's jiVAE (the jrVAE of the paper) with a β_c schedule (and, optionally, a
β_d schedule beside it).

One training at a time per process: pyro's parameter store and torch's RNG are global
(DESIGN.md §3). The model and the trainer are both given the seed (``SVItrainer`` re-seeds torch
itself, default 1, which would otherwise make every training identical).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zbo_gui.core.config import JrVAEConfig
from zbo_gui.core.faults import crash_point
from zbo_gui.core.schedules.pairs import split_pair
from zbo_gui.core.types import Controls, Progress, TrainingDiverged

#: pyro raises when a KL scale is exactly 0; schedules are clamped to at least this value.
MIN_SCALE = 1e-6


def resolve_device(name: str) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is present, else ``"cpu"``; other names unchanged."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        from zbo_gui.core.errors import ConfigError

        raise ConfigError("jrvae.device is 'cuda' but no CUDA device is available")
    return name


@dataclass
class TrainedJrVAE:
    """A trained jiVAE and its training record.

    Attributes:
        model: the pyroVED ``jiVAE`` (on ``device``).
        loss_curve: ``(N,)`` training loss per epoch (per image).
        seconds: wall time of the training.
        device: the torch device it trained on.
    """

    model: object
    loss_curve: np.ndarray
    seconds: float
    device: str


def scale_pairs(schedule: np.ndarray, beta_d: float) -> tuple[np.ndarray, np.ndarray]:
    """The KL weights per epoch, each ``(N,)`` and at least :data:`MIN_SCALE`: from a β_c
    schedule ``(N,)`` and the constant ``beta_d``, or from a pair of curves ``(2, N)``.

    Raises:
        ValueError: another shape.
    """
    beta_c, beta_d_curve = split_pair(schedule, beta_d)
    return np.maximum(beta_c, MIN_SCALE), np.maximum(beta_d_curve, MIN_SCALE)


def build_jrvae(image_shape: tuple[int, int], config: JrVAEConfig, seed: int, device: str):
    """A fresh, seeded pyroVED ``jiVAE`` for images of ``image_shape`` (H, W)."""
    from pyroved.models import jiVAE

    return jiVAE(
        tuple(image_shape),
        latent_dim=config.latent_dim,
        discrete_dim=config.classes,
        invariances=list(config.invariances) or None,
        hidden_dim_e=list(config.encoder_hidden),
        hidden_dim_d=list(config.decoder_hidden),
        sampler_d=config.sampler,
        seed=seed,
        device=device,
    )


def train_jrvae(
    images: np.ndarray,
    schedule: np.ndarray,
    config: JrVAEConfig,
    seed: int,
    controls: Controls | None = None,
    stage: str = "evaluation",
    on_epoch: Callable[[int, Any], None] | None = None,
) -> TrainedJrVAE:
    """Train a fresh jiVAE for N epochs with ``scale_factor=[β_c[e], β_d[e]]``.

    Args:
        images: ``(n, H, W)`` float32 in [0, 1].
        schedule: ``(N,)`` β_c per epoch, with β_d the constant ``config.beta_d``; or ``(2, N)``
            β_c and β_d per epoch (both clamped to at least :data:`MIN_SCALE`).
        config: jiVAE and optimiser settings (β_d is ``config.beta_d``).
        seed: seeds the model's initialisation and the trainer (mini-batch order).
        controls: progress sink (one report per epoch) and cancel flag (checked between epochs).
        stage: the ``stage`` name put in progress reports.
        on_epoch: called after each epoch with ``(epochs done, model)`` (e.g. to watch the
            class usage); whatever it raises ends the training.

    Returns:
        The trained model and its per-epoch loss.

    Raises:
        TrainingDiverged: the loss became NaN/infinite (or pyro rejected a NaN parameter).
        EvaluationCancelled: the cancel flag was set.
    """
    import torch
    from pyroved.trainers import SVItrainer
    from pyroved.utils import init_dataloader

    controls = controls or Controls()
    device = resolve_device(config.device)
    beta_c, beta_d = scale_pairs(schedule, config.beta_d)
    n_epochs = int(beta_c.shape[0])
    start = time.perf_counter()
    model = build_jrvae(images.shape[1:], config, seed, device)
    trainer = SVItrainer(model, lr=config.lr, enumerate_parallel=True, seed=seed, device=device)
    loader = init_dataloader(torch.from_numpy(np.ascontiguousarray(images, np.float32)),
                             batch_size=config.batch_size, shuffle=True)
    losses = np.full(n_epochs, np.nan)
    for epoch in range(n_epochs):
        controls.check()
        scale = [float(beta_c[epoch]), float(beta_d[epoch])]
        try:
            trainer.step(loader, scale_factor=scale)
        except ValueError as exc:  # pyro's distribution checks reject NaN parameters
            # pyro appends tensor dumps and trace shapes: keep the first line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise TrainingDiverged(f"training diverged at epoch {epoch + 1}: {first}") from exc
        loss = float(trainer.loss_history["training_loss"][-1])
        losses[epoch] = loss
        if not math.isfinite(loss):
            raise TrainingDiverged(f"training diverged at epoch {epoch + 1}: loss is {loss}")
        controls.report(
            Progress(stage, epoch + 1, n_epochs, loss, f"epoch {epoch + 1}/{n_epochs}")
        )
        if on_epoch is not None:
            on_epoch(epoch + 1, model)
        crash_point("training")
    return TrainedJrVAE(model, losses, time.perf_counter() - start, device)


def class_manifolds(model, d: int) -> np.ndarray:
    """Decode each discrete class's learned manifold.

    Args:
        model: a trained jiVAE.
        d: grid size of each manifold.

    Returns:
        ``(K, d*d, H, W)`` float32 in [0, 1] (``model.manifold2d(d, disc_idx=k, plot=False)``).
    """
    grids = [
        model.manifold2d(d, disc_idx=k, plot=False).detach().cpu().numpy()
        for k in range(model.discrete_dim)
    ]
    return np.clip(np.stack(grids).astype(np.float32), 0.0, 1.0)


def class_assignments(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The discrete class the encoder assigns to each image: ``(n, H, W)`` → ``(n,)`` int64."""
    import torch

    _, _, classes = model.encode(
        torch.from_numpy(np.ascontiguousarray(images, np.float32)), batch_size=batch_size
    )
    return classes.cpu().numpy().astype(np.int64)
