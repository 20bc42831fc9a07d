"""The schedule VAE: pyroVED's ``iVAE`` with a 2-D latent space, trained on the seed schedules.

Schedules are normalised into the unit interval before training with the bounds' own map
(``Bounds.to_unit``: log-scaled when β_hi/β_lo >= 10) and mapped back on decode. The decoder has
a *linear* output (``sigmoid_d=False``): a decoded value can leave [0, 1], which is exactly what
makes a latent point infeasible (its schedule leaves the bounds). The model always lives on the
CPU: it is small, and this keeps a campaign's latent space identical on every machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from zbo_gui.core.config import ScheduleVAEConfig
from zbo_gui.core.schedules import Bounds
from zbo_gui.core.types import Controls, Progress, TrainingDiverged

LATENT_DIM = 2


def _build(n_epochs: int, config: ScheduleVAEConfig, seed: int):
    from pyroved.models import iVAE

    return iVAE(
        (n_epochs,),
        latent_dim=LATENT_DIM,
        hidden_dim_e=list(config.hidden),
        hidden_dim_d=list(config.hidden),
        sampler_d="gaussian",
        sigmoid_d=False,
        decoder_sig=config.decoder_sig,
        seed=seed,
        device="cpu",
    )


@dataclass
class ScheduleVAE:
    """A trained schedule VAE with its normalisation.

    Attributes:
        model: the pyroVED ``iVAE`` (CPU).
        bounds: the β bounds used to normalise schedules.
        n_epochs: N, the schedule length.
        config: the settings it was trained with.
        losses: per-epoch training loss.
        seconds: training wall time.
    """

    model: object
    bounds: Bounds
    n_epochs: int
    config: ScheduleVAEConfig
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def train(
        cls,
        schedules: np.ndarray,
        bounds: Bounds,
        config: ScheduleVAEConfig,
        seed: int,
        controls: Controls | None = None,
    ) -> ScheduleVAE:
        """Train on seed schedules ``(S, N)`` (β values inside ``bounds``).

        Progress is reported every epoch (stage ``"schedule_vae"``); the cancel flag is checked
        between epochs.

        Raises:
            TrainingDiverged: the loss became NaN or infinite.
            EvaluationCancelled: cancelled.
        """
        import torch
        from pyroved.trainers import SVItrainer
        from pyroved.utils import init_dataloader

        controls = controls or Controls()
        start = time.perf_counter()
        unit = bounds.to_unit(np.asarray(schedules, np.float64)).astype(np.float32)
        unit = torch.from_numpy(unit)
        model = _build(unit.shape[1], config, seed)
        trainer = SVItrainer(model, lr=config.lr, seed=seed, device="cpu")
        loader = init_dataloader(unit, batch_size=config.batch_size, shuffle=True)
        vae = cls(model, bounds, int(unit.shape[1]), config)
        for epoch in range(config.epochs):
            controls.check()
            trainer.step(loader)
            loss = float(trainer.loss_history["training_loss"][-1])
            if not np.isfinite(loss):
                raise TrainingDiverged(f"schedule VAE diverged at epoch {epoch + 1}: loss {loss}")
            vae.losses.append(loss)
            controls.report(Progress("schedule_vae", epoch + 1, config.epochs, loss,
                                     f"schedule VAE epoch {epoch + 1}/{config.epochs}"))
        vae.seconds = time.perf_counter() - start
        return vae

    def encode(self, schedules: np.ndarray) -> np.ndarray:
        """Latent means of schedules: ``(S, N)`` β values → ``(S, 2)``."""
        import torch

        unit = self.bounds.to_unit(np.asarray(schedules, np.float64)).astype(np.float32)
        z_loc, _ = self.model.encode(torch.from_numpy(unit), batch_size=4096)
        return z_loc.numpy().astype(np.float64)

    def decode_unit(self, z: np.ndarray) -> np.ndarray:
        """Decoded schedules in unit space (not clipped): ``(m, 2)`` → ``(m, N)``, one batch."""
        import torch

        z_t = torch.from_numpy(np.asarray(z, np.float32).reshape(-1, LATENT_DIM))
        return self.model.decode(z_t, batch_size=max(len(z_t), 1)).numpy().astype(np.float64)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decoded β schedules, clipped into the bounds: ``(m, 2)`` → ``(m, N)``."""
        return self.bounds.from_unit(np.clip(self.decode_unit(z), 0.0, 1.0))

    def reconstruction_error(self, schedules: np.ndarray) -> float:
        """RMS error of encode → decode on ``(S, N)`` schedules, in unit (normalised) space."""
        unit = self.bounds.to_unit(np.asarray(schedules, np.float64))
        recon = self.decode_unit(self.encode(schedules))
        return float(np.sqrt(np.mean((recon - unit) ** 2)))

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The weights as plain numpy arrays (a ``state_dict``), for the campaign file."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def meta(self) -> dict[str, object]:
        """What :meth:`from_state` needs besides the weights (JSON-serialisable)."""
        return {
            "beta_lo": self.bounds.lo, "beta_hi": self.bounds.hi, "n_epochs": self.n_epochs,
            "epochs": self.config.epochs, "lr": self.config.lr,
            "batch_size": self.config.batch_size, "hidden": list(self.config.hidden),
            "decoder_sig": self.config.decoder_sig, "losses": list(self.losses),
            "seconds": self.seconds,
        }

    @classmethod
    def from_state(cls, weights: dict[str, np.ndarray], meta: dict[str, object]) -> ScheduleVAE:
        """Rebuild a trained schedule VAE from :meth:`state_arrays` and :meth:`meta`."""
        import torch

        config = ScheduleVAEConfig(
            epochs=int(meta["epochs"]), lr=float(meta["lr"]),
            batch_size=int(meta["batch_size"]), hidden=tuple(meta["hidden"]),
            decoder_sig=float(meta["decoder_sig"]),
        )
        n_epochs = int(meta["n_epochs"])
        model = _build(n_epochs, config, seed=0)
        model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()})
        bounds = Bounds(float(meta["beta_lo"]), float(meta["beta_hi"]))
        return cls(model, bounds, n_epochs, config, list(meta["losses"]), float(meta["seconds"]))
