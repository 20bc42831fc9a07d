"""The schedule VAE: pyroVED's ``iVAE`` with a 2-D latent space, trained on the seed schedules.

Schedules are normalised into the unit interval before training with the bounds' own map
(``Bounds.to_unit``: log-scaled when β_hi/β_lo >= 10) and mapped back on decode. The decoder has
a *linear* output (``sigmoid_d=False``): a decoded value can leave [0, 1], which is exactly what
makes a latent point infeasible (its schedule leaves the bounds). The model always lives on the
CPU: it is small, and this keeps a campaign's latent space identical on every machine.

A training can hand out :class:`TrainingCheckpoint` objects every few epochs and be resumed from
one: the resumed training gives bit for bit the weights, losses and torch RNG continuation of an
uninterrupted one (same machine, same torch thread count).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zbo_gui.core.config import ScheduleVAEConfig
from zbo_gui.core.schedules import Bounds, PairBounds
from zbo_gui.core.types import Controls, Progress, TrainingDiverged

LATENT_DIM = 2
CHECKPOINT_FORMAT = 1  # meta["format"] of a TrainingCheckpoint


class CheckpointMismatch(ValueError):
    """A training checkpoint that cannot resume this training (another one's, or damaged)."""


@dataclass(frozen=True)
class TrainingCheckpoint:
    """The state of an unfinished schedule-VAE training after ``epoch`` epochs.

    Only plain numpy arrays and JSON values: a campaign file stores it as is (never pickle).

    Attributes:
        epoch: epochs completed, ``1 .. config.epochs - 1``.
        arrays: every tensor of the state (weights, Adam moments and steps, the torch RNG state)
            as a numpy array, keyed by flat names (non-empty, no ``/``, not ``.`` or ``..``).
            Copies: nothing writes to them after the checkpoint is made.
        meta: JSON-serialisable: the losses and seconds so far, the skeleton that rebuilds the
            state from ``arrays`` and the fingerprint of the training it belongs to.
    """

    epoch: int
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


def _array_name(path: tuple[Any, ...], taken: dict[str, np.ndarray]) -> str:
    """A flat, unique array name for a position in a nested state (no ``/``, not ``.``/``..``)."""
    name = ".".join(str(part) for part in path).replace("/", "|")
    if name in ("", ".", "..") or name in taken:
        name = f"{name}~{len(taken)}"
    return name


def _flatten(obj: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """Split a nested state into a JSON skeleton and flat arrays.

    Handles dicts (any JSON-scalar keys, ``int`` keys kept as ``int``), lists, tuples, torch
    tensors, numpy arrays and the scalars ``None``, ``bool``, ``int``, ``float``, ``str``.
    Scalars stay in the skeleton as they are; every container or array becomes a one-key dict
    (``{"dict": [[key, value], ...]}``, ``{"list": [...]}``, ``{"tuple": [...]}``,
    ``{"tensor"|"ndarray": name, "dtype": ..., "shape": [...]}``), so dicts in the skeleton are
    always tags. Arrays are copies, with the dtype and shape of the original.

    Args:
        obj: the nested state.

    Returns:
        ``(skeleton, arrays)``: ``json.dumps(skeleton)`` works; :func:`_unflatten` inverts it.

    Raises:
        TypeError: an object of another type, or a tensor numpy cannot hold (e.g. bfloat16).
    """
    import torch

    arrays: dict[str, np.ndarray] = {}

    def visit(node: Any, path: tuple[Any, ...]) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, dict):
            for key in node:
                if not (key is None or isinstance(key, bool | int | float | str)):
                    raise TypeError(f"cannot flatten a dict key of type {type(key).__name__}")
            return {"dict": [[key, visit(value, (*path, key))] for key, value in node.items()]}
        if isinstance(node, list | tuple):
            kind = "list" if isinstance(node, list) else "tuple"
            return {kind: [visit(value, (*path, i)) for i, value in enumerate(node)]}
        if isinstance(node, torch.Tensor):
            try:
                array = node.detach().cpu().numpy().copy()
            except TypeError as error:
                raise TypeError(f"cannot flatten a {node.dtype} tensor at {path}") from error
            kind = "tensor"
        elif isinstance(node, np.ndarray):
            array, kind = node.copy(), "ndarray"
        else:
            raise TypeError(f"cannot flatten an object of type {type(node).__name__} at {path}")
        name = _array_name(path, arrays)
        arrays[name] = array
        return {kind: name, "dtype": array.dtype.str, "shape": list(array.shape)}

    return visit(obj, ()), arrays


def _unflatten(skeleton: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Rebuild the nested state that :func:`_flatten` split (the arrays are copied).

    Args:
        skeleton: the skeleton, possibly after a ``json.dumps``/``json.loads`` round trip.
        arrays: the flat arrays, by name.

    Returns:
        The state: same containers, scalars, and tensors/arrays of the same dtype and shape.

    Raises:
        ValueError: the skeleton is malformed, or an array is missing or has another dtype or
            shape than it had.
    """
    import torch

    def visit(node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if not isinstance(node, dict):
            raise ValueError(f"malformed state skeleton node: {node!r}")
        if "dict" in node:
            return {key: visit(value) for key, value in node["dict"]}
        if "list" in node:
            return [visit(value) for value in node["list"]]
        if "tuple" in node:
            return tuple(visit(value) for value in node["tuple"])
        kind = "tensor" if "tensor" in node else "ndarray" if "ndarray" in node else None
        if kind is None:
            raise ValueError(f"malformed state skeleton node: {node!r}")
        name = node[kind]
        if name not in arrays:
            raise ValueError(f"the state lacks the array {name!r}")
        array = np.array(arrays[name], copy=True)
        if array.dtype.str != node["dtype"] or list(array.shape) != list(node["shape"]):
            raise ValueError(
                f"the array {name!r} is {array.dtype.str} {list(array.shape)}, "
                f"expected {node['dtype']} {list(node['shape'])}")
        return torch.from_numpy(array) if kind == "tensor" else array

    return visit(skeleton)


def _trained_what(unit: np.ndarray, bounds: Bounds, config: ScheduleVAEConfig,
                  seed: int) -> dict[str, Any]:
    """What a training is of, with a fingerprint: a checkpoint of another one is refused.

    Args:
        unit: the normalised schedules ``(S, N)`` (float32), exactly what is trained on.
        bounds: the β bounds.
        config: the settings.
        seed: the training seed.
    """
    what: dict[str, Any] = {
        "n_schedules": int(unit.shape[0]), "n_epochs": int(unit.shape[1]), "seed": int(seed),
        "beta_lo": float(bounds.lo), "beta_hi": float(bounds.hi), **_beta_d_bounds(bounds),
        "epochs": int(config.epochs), "lr": float(config.lr),
        "batch_size": int(config.batch_size), "hidden": [int(h) for h in config.hidden],
        "decoder_sig": float(config.decoder_sig),
    }
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(unit, dtype="<f4").tobytes())
    return {**what, "sha256": digest.hexdigest()}


def _beta_d_bounds(bounds: Bounds | PairBounds) -> dict[str, float]:
    """β_d's bounds, for a VAE of schedule pairs (empty for β_c schedules)."""
    if isinstance(bounds, PairBounds):
        return {"beta_d_lo": float(bounds.d.lo), "beta_d_hi": float(bounds.d.hi)}
    return {}


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
        bounds: the β bounds used to normalise schedules; :class:`PairBounds` for a VAE of
            schedule pairs ``(2, N)`` (β_c and β_d, each normalised on its own scale).
        n_epochs: N, the schedule length.
        config: the settings it was trained with.
        losses: per-epoch training loss.
        seconds: training wall time.
    """

    model: object
    bounds: Bounds | PairBounds
    n_epochs: int
    config: ScheduleVAEConfig
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def train(
        cls,
        schedules: np.ndarray,
        bounds: Bounds | PairBounds,
        config: ScheduleVAEConfig,
        seed: int,
        controls: Controls | None = None,
        *,
        resume: TrainingCheckpoint | None = None,
        checkpoint: Callable[[TrainingCheckpoint], None] | None = None,
        checkpoint_every: int = 0,
    ) -> ScheduleVAE:
        """Train on seed schedules ``(S, N)`` (β values inside ``bounds``), or on schedule
        pairs ``(S, 2, N)`` with :class:`PairBounds`.

        Progress is reported every epoch (stage ``"schedule_vae"``); the cancel flag is checked
        between epochs.

        Args:
            schedules: the seed schedules, ``(S, N)`` β values (``(S, 2, N)`` pairs).
            bounds: the β bounds (normalisation; :class:`PairBounds` for pairs).
            config: the settings.
            seed: the training seed.
            controls: progress sink and cancel flag.
            resume: continue this unfinished training from its checkpoint, with the weights,
                losses and RNG continuation an uninterrupted training has. Progress reports go
                on from ``resume.epoch + 1``.
            checkpoint: called with the training state after every ``checkpoint_every``-th epoch
                (counting finished epochs), except after the last one. Its arrays are copies.
            checkpoint_every: epochs between checkpoints; ``0`` (default) makes none.

        Raises:
            CheckpointMismatch: ``resume`` is a checkpoint of another training (other
                schedules, seed, bounds or settings) or is damaged; raised before training.
            ValueError: ``checkpoint_every`` is negative.
            TrainingDiverged: the loss became NaN or infinite.
            EvaluationCancelled: cancelled.
        """
        import torch
        from pyroved.trainers import SVItrainer
        from pyroved.utils import init_dataloader

        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
        controls = controls or Controls()
        start = time.perf_counter()
        unit_np = bounds.to_unit(np.asarray(schedules, np.float64)).astype(np.float32)
        what = _trained_what(unit_np, bounds, config, seed)
        unit = torch.from_numpy(unit_np)
        model = _build(unit.shape[1], config, seed)
        # the trainer clears pyro's param store and re-seeds torch: restore after it
        trainer = SVItrainer(model, lr=config.lr, seed=seed, device="cpu")
        loader = init_dataloader(unit, batch_size=config.batch_size, shuffle=True)
        vae = cls(model, bounds, int(unit.shape[1]) // _curves(bounds), config)
        first, seconds_before = 0, 0.0
        if resume is not None:
            first, seconds_before = _restore(resume, what, trainer, model, vae)
        for epoch in range(first, config.epochs):
            controls.check()
            trainer.step(loader)
            loss = float(trainer.loss_history["training_loss"][-1])
            if not np.isfinite(loss):
                raise TrainingDiverged(f"schedule VAE diverged at epoch {epoch + 1}: loss {loss}")
            vae.losses.append(loss)
            controls.report(Progress("schedule_vae", epoch + 1, config.epochs, loss,
                                     f"schedule VAE epoch {epoch + 1}/{config.epochs}"))
            done = epoch + 1
            if (checkpoint is not None and checkpoint_every > 0 and done % checkpoint_every == 0
                    and done < config.epochs):
                seconds = seconds_before + time.perf_counter() - start
                checkpoint(_capture(done, what, trainer, model, vae.losses, seconds))
        vae.seconds = seconds_before + time.perf_counter() - start
        return vae

    def encode(self, schedules: np.ndarray) -> np.ndarray:
        """Latent means of schedules: ``(S, N)`` β values (``(S, 2, N)`` pairs) → ``(S, 2)``."""
        import torch

        unit = self.bounds.to_unit(np.asarray(schedules, np.float64)).astype(np.float32)
        z_loc, _ = self.model.encode(torch.from_numpy(unit), batch_size=4096)
        return z_loc.numpy().astype(np.float64)

    def decode_unit(self, z: np.ndarray) -> np.ndarray:
        """Decoded schedules in unit space (not clipped): ``(m, 2)`` → ``(m, N)`` (``(m, 2N)``
        for pairs), one batch."""
        import torch

        z_t = torch.from_numpy(np.asarray(z, np.float32).reshape(-1, LATENT_DIM))
        return self.model.decode(z_t, batch_size=max(len(z_t), 1)).numpy().astype(np.float64)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decoded β schedules, clipped into the bounds: ``(m, 2)`` → ``(m, N)`` (``(m, 2, N)``
        for pairs)."""
        return self.bounds.from_unit(np.clip(self.decode_unit(z), 0.0, 1.0))

    def reconstruction_error(self, schedules: np.ndarray) -> float:
        """RMS error of encode → decode on ``(S, N)`` schedules (``(S, 2, N)`` pairs), in unit
        (normalised) space."""
        unit = self.bounds.to_unit(np.asarray(schedules, np.float64))
        recon = self.decode_unit(self.encode(schedules))
        return float(np.sqrt(np.mean((recon - unit) ** 2)))

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The weights as plain numpy arrays (a ``state_dict``), for the campaign file."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def meta(self) -> dict[str, object]:
        """What :meth:`from_state` needs besides the weights (JSON-serialisable)."""
        return {
            "beta_lo": self.bounds.lo, "beta_hi": self.bounds.hi, **_beta_d_bounds(self.bounds),
            "n_epochs": self.n_epochs,
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
        bounds: Bounds | PairBounds = Bounds(float(meta["beta_lo"]), float(meta["beta_hi"]))
        if "beta_d_lo" in meta:
            bounds = PairBounds(bounds, Bounds(float(meta["beta_d_lo"]),
                                               float(meta["beta_d_hi"])))
        model = _build(n_epochs * _curves(bounds), config, seed=0)
        model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()})
        return cls(model, bounds, n_epochs, config, list(meta["losses"]), float(meta["seconds"]))


def _curves(bounds: Bounds | PairBounds) -> int:
    """Curves per schedule: 2 for pairs (β_c, β_d), else 1."""
    return 2 if isinstance(bounds, PairBounds) else 1


def _capture(epoch: int, what: dict[str, Any], trainer: Any, model: Any, losses: list[float],
             seconds: float) -> TrainingCheckpoint:
    """The checkpoint of a training after ``epoch`` epochs (all arrays are copies).

    The state: the weights, pyro's per-parameter Adam states (moments and step counts) and the
    torch global RNG state (the DataLoader's shuffles and pyro's latent samples draw from it).
    Python's and numpy's global RNGs are not in it: neither pyro nor pyroVED touches them.
    """
    import torch

    # pyro makes the per-parameter optimisers in the order of a set of tensors (by id): sort
    optim = trainer.svi.optim.get_state()
    skeleton, arrays = _flatten({
        "model": model.state_dict(),
        "optim": {name: optim[name] for name in sorted(optim)},
        "torch_rng": torch.get_rng_state(),
    })
    meta = {
        "format": CHECKPOINT_FORMAT, "trained": what, "losses": [float(x) for x in losses],
        "seconds": float(seconds), "state": skeleton,
    }
    return TrainingCheckpoint(epoch, arrays, meta)


def _restore(resume: TrainingCheckpoint, what: dict[str, Any], trainer: Any, model: Any,
             vae: ScheduleVAE) -> tuple[int, float]:
    """Put a checkpoint's state into a freshly built model and trainer.

    Returns:
        ``(epochs done, seconds so far)``.

    Raises:
        CheckpointMismatch: the checkpoint is of another training or damaged.
    """
    import torch

    meta = resume.meta
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatch("not a schedule-VAE training checkpoint of format "
                         f"{CHECKPOINT_FORMAT}: meta format {_get(meta, 'format')!r}")
    theirs = meta.get("trained")
    if theirs != what:
        differ = sorted(k for k in what if not isinstance(theirs, dict) or theirs.get(k) != what[k])
        raise CheckpointMismatch("the checkpoint is of another schedule-VAE training (differs in "
                         f"{', '.join(differ)}); train from scratch")
    epoch = resume.epoch
    losses = meta.get("losses")
    if not (isinstance(epoch, int) and 0 < epoch < what["epochs"]):
        raise CheckpointMismatch(
            f"checkpoint epoch {epoch!r} is not within 1..{what['epochs'] - 1}")
    if not isinstance(losses, list) or len(losses) != epoch:
        raise CheckpointMismatch(f"checkpoint after {epoch} epochs has "
                         f"{len(losses) if isinstance(losses, list) else 'no'} losses")
    try:
        state = _unflatten(meta["state"], resume.arrays)
        model.load_state_dict(state["model"])  # in place: these parameters are the ones trained
        # consumed when pyro creates each parameter's Adam at the first step
        trainer.svi.optim.set_state(state["optim"])
        torch.set_rng_state(state["torch_rng"])  # after the trainer, which re-seeds torch
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointMismatch(f"damaged schedule-VAE training checkpoint: {error}") from error
    vae.losses.extend(float(x) for x in losses)
    trainer.loss_history["training_loss"].extend(vae.losses)
    trainer.current_epoch = epoch
    return epoch, float(meta.get("seconds", 0.0))


def _get(meta: Any, key: str) -> Any:
    return meta.get(key) if isinstance(meta, dict) else None
