"""Files the window writes from the open campaign, at once on the GUI thread (they are small):
the best schedule (CSV, JSON or NPY) with the campaign's own configuration, and the guard that
keeps any export off the campaign file and its inputs.

The controller calls these and turns a :class:`~zbo_gui.core.errors.ZboError` into an error on
the model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zbo_gui.core.errors import ZboError
from zbo_gui.model.campaign import CampaignModel


def protected_paths(model: CampaignModel) -> list[str]:
    """What no export may overwrite: the open campaign's file and its inputs."""
    if model.path is None or model.config is None:
        return []
    return [model.path, *model.config.input_files()]


def check_target(model: CampaignModel, path: str | os.PathLike[str]) -> None:
    """Refuse an export onto the campaign, its inputs, any HDF5 file or into a missing folder.

    Raises:
        ZboError: naming the refused path.
    """
    from zbo_gui.storage.export import check_writable

    try:
        check_writable(path, protected_paths(model))
    except OSError as exc:
        raise ZboError(str(exc)) from exc


def exported_schedule(model: CampaignModel, which: str
                      ) -> tuple[np.ndarray, np.ndarray, float, dict]:
    """The schedule an export writes and what goes with it.

    Args:
        which: ``"evaluated"`` (the best evaluated schedule) or ``"predicted"`` (the maximum of
            the GP's posterior mean over the feasible grid).

    Returns:
        ``(schedule (N,), z (2,), objective, extra)``: extra holds the evaluation's index, or
        the prediction's standard deviation.

    Raises:
        ZboError: nothing to export yet.
    """
    if which == "evaluated":
        best = model.best_evaluated()
        if best is None:
            raise ZboError("no successful evaluation to export yet")
        return best.proposal.schedule, best.proposal.z, best.objective, {
            "evaluation": best.index}
    posterior, grid = model.posterior, model.grid
    if posterior is None or grid is None or posterior.best_index < 0:
        raise ZboError("the GP needs at least 2 successful evaluations")
    index = posterior.best_index
    mean, std = model.predicted(index) or (float("nan"), float("nan"))
    z = np.array([grid.x[index % grid.x.size], grid.y[index // grid.x.size]])
    return np.asarray(grid.decoded[index], np.float64), z, mean, {"predicted_std": std}


def export_schedule(model: CampaignModel, path: str | os.PathLike[str], fmt: str,
                    which: str = "evaluated") -> list[Path]:
    """Write the open campaign's best schedule in ``fmt`` (``csv``, ``json``, ``npy``) with
    *its* configuration (never the draft's).

    Returns:
        The files written (a CSV comes with its training script).

    Raises:
        ZboError: no campaign is open, nothing to export, or a refused or unwritable path.
    """
    from zbo_gui.storage.export import write_export

    config = model.config
    if config is None or model.path is None:
        raise ZboError("no campaign is open")
    schedule, z, objective, extra = exported_schedule(model, which)
    try:
        return write_export(path, fmt, schedule, config.jrvae.beta_d, objective=objective, z=z,
                            which=which, config=config.to_dict(), extra=extra,
                            protected=protected_paths(model))
    except OSError as exc:
        raise ZboError(str(exc)) from exc
