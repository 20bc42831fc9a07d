"""Export of an optimised KL-weight schedule: CSV, JSON or NPY, plus a runnable training script.

Every file is written to a temporary file in the destination folder and renamed into place
(``os.replace``), so a failed export never leaves half a file. An export never overwrites an
HDF5 file (a campaign file, a dataset: whatever its name), and its paths are checked before
anything is written (:func:`check_export_targets`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zbo_gui.core.errors import ConfigError, ScheduleError
from zbo_gui.core.schedules.pairs import split_pair
from zbo_gui.storage._files import publish, temporary_next_to
from zbo_gui.storage._paths import check_export

#: The formats :func:`write_export` knows.
FORMATS = ("csv", "json", "npy")
#: Column names of the CSV export.
CSV_COLUMNS = ("epoch", "beta_c", "beta_d")


def _check(schedule: Any, beta_d: float) -> tuple[np.ndarray, np.ndarray]:
    """The schedule's β_c and β_d curves, each ``(N,)`` float64, after checking them.

    Args:
        schedule: ``(N,)`` β_c per epoch, or a pair ``(2, N)`` (β_c, β_d).
        beta_d: the constant β_d of a ``(N,)`` schedule.

    Raises:
        ScheduleError: not ``(N,)`` or ``(2, N)``, empty, or a value that is not finite and > 0
            (the message names the curve, the epoch and the value), or a bad ``beta_d``.
    """
    if isinstance(beta_d, bool) or not isinstance(beta_d, int | float | np.floating | np.integer):
        raise ScheduleError(f"beta_d must be a number, got {beta_d!r}")
    if not (math.isfinite(beta_d) and beta_d > 0):
        raise ScheduleError(f"beta_d must be finite and > 0, got {float(beta_d)!r}")
    array = np.asarray(schedule, dtype=np.float64)
    try:
        curves = split_pair(array, float(beta_d))
    except ValueError:
        curves = (np.zeros(0),)
    if curves[0].size == 0:
        raise ScheduleError("the schedule must be a non-empty (N,) array or a pair (2, N),"
                            f" got shape {array.shape}")
    for name, curve in zip(("", "beta_d "), curves, strict=True):
        bad = np.flatnonzero(~(np.isfinite(curve) & (curve > 0)))
        if bad.size:
            epoch = int(bad[0])
            raise ScheduleError(
                f"the schedule's {name}value at epoch {epoch} is {float(curve[epoch])!r}; every"
                " value must be finite and > 0"
            )
    return curves


def _write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    tmp = temporary_next_to(path)
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _plain(obj: Any) -> Any:
    """``obj`` as strict JSON data: numpy to Python, tuples to lists, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


def shortest(value: float) -> float:
    """``value`` with the fewest digits that still round to it at its stored precision.

    Schedules are computed and stored in float32: ``0.1`` in float32 is
    ``0.10000000149011612`` in float64, noise a person should not read in an export. A value
    that float32 holds exactly becomes the shortest decimal that rounds to the same float32
    (``0.1``); any other value is kept as it is (it prints with ``repr`` precision).
    """
    value = float(value)
    single = np.float32(value)
    if math.isfinite(value) and float(single) == value:
        return float(str(single))
    return value


def csv_text(schedule: np.ndarray, beta_d: float) -> str:
    """The CSV export as text: header ``epoch,beta_c,beta_d``, one row per epoch from 0 (the
    ``beta_d`` column is the pair's β_d curve, or the constant ``beta_d``).

    Floats parse back exactly at their stored precision (see :func:`shortest`).
    """
    curve_c, curve_d = _check(schedule, beta_d)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for epoch, (c, d) in enumerate(zip(curve_c, curve_d, strict=True)):
        writer.writerow((epoch, repr(shortest(c)), repr(shortest(d))))
    return buffer.getvalue()


def export_csv(path: str | os.PathLike[str], schedule: np.ndarray, beta_d: float) -> None:
    """Write the schedule as CSV (columns ``epoch,beta_c,beta_d``).

    Args:
        path: the CSV file.
        schedule: ``(N,)`` β_c per epoch, or a pair ``(2, N)`` (β_c, β_d); finite and > 0.
        beta_d: the constant β_d of a ``(N,)`` schedule.

    Raises:
        ScheduleError: a bad schedule or ``beta_d``.
    """
    _write_atomic(path, csv_text(schedule, beta_d).encode("utf-8"))


def export_json(
    path: str | os.PathLike[str], schedule: np.ndarray, beta_d: float, *, objective: float,
    z: np.ndarray, which: str, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None,
) -> None:
    """Write the schedule and its provenance as JSON.

    The object has the keys ``format`` (``"zbo-schedule"``), ``which`` (e.g.
    ``"best_evaluated"`` or ``"best_predicted"``), ``objective`` (null when not finite), ``z``
    (the latent point), ``beta_d`` (a number, or for a schedule pair the β_d curve, a list),
    ``schedule`` (β_c per epoch), ``config`` and ``extra``.

    Args:
        path: the JSON file.
        schedule: ``(N,)`` β_c per epoch, or a pair ``(2, N)`` (β_c, β_d); finite and > 0.
        beta_d: the constant β_d of a ``(N,)`` schedule.
        objective: the schedule's objective (observed or predicted).
        z: ``(2,)`` the schedule's point in the latent space.
        which: which optimum this is.
        config: the campaign configuration as a nested dict.
        extra: anything else worth keeping (e.g. the campaign file's path).

    Raises:
        ScheduleError: a bad schedule or ``beta_d``.
    """
    curve_c, curve_d = _check(schedule, beta_d)
    pair = np.ndim(schedule) == 2
    document = {
        "format": "zbo-schedule",
        "which": which,
        "objective": _plain(float(objective)),
        "z": _plain(np.asarray(z, dtype=np.float64).ravel()),
        "beta_d": [shortest(v) for v in curve_d] if pair else shortest(beta_d),
        "schedule": [shortest(v) for v in curve_c],
        "config": _plain(config),
        "extra": _plain(extra or {}),
    }
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    _write_atomic(path, text.encode("utf-8"))


def export_npy(path: str | os.PathLike[str], schedule: np.ndarray, beta_d: float) -> None:
    """Write the schedule as an ``(N, 2)`` float64 ``.npy`` array: columns β_c, β_d (the
    pair's β_d curve, or the constant ``beta_d``).

    Raises:
        ScheduleError: a bad schedule or ``beta_d``.
    """
    table = np.column_stack(_check(schedule, beta_d))
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    _write_atomic(path, buffer.getvalue())


def training_snippet(schedule_file: str, config: Mapping[str, Any]) -> str:
    """A short, runnable Python script that trains pyroVED's jiVAE with an exported CSV schedule.

    The script reads the user's images from the placeholder ``images.npy`` (``(n, H, W)`` in
    [0, 1]) and the schedule file from its own folder, and trains with
    ``scale_factor=[beta_c[e], beta_d[e]]`` at every epoch.

    Args:
        schedule_file: the CSV file's name (as written next to the script).
        config: the campaign configuration as a nested dict; reads ``config["jrvae"]``
            (``classes``, ``latent_dim``, ``invariances``, ``encoder_hidden``,
            ``decoder_hidden``, ``sampler``, ``lr``, ``batch_size``), ``config["dataset"]
            ["image_size"]`` and ``config["seed"]`` (default 0).

    Raises:
        ConfigError: a key the script needs is missing from ``config``.
    """
    try:
        jr = config["jrvae"]
        size = int(config["dataset"]["image_size"])
        settings = {
            "classes": int(jr["classes"]), "latent_dim": int(jr["latent_dim"]),
            "invariances": [str(v) for v in jr["invariances"]],
            "encoder_hidden": [int(v) for v in jr["encoder_hidden"]],
            "decoder_hidden": [int(v) for v in jr["decoder_hidden"]],
            "sampler": str(jr["sampler"]), "lr": float(jr["lr"]),
            "batch_size": int(jr["batch_size"]),
        }
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"the training script needs the config key {exc}") from None
    seed = int(config.get("seed", 0))
    invariances = settings["invariances"] or None
    return f'''"""Train pyroVED's jiVAE with the KL-weight schedule exported by zbo-gui."""

import csv
from pathlib import Path

import numpy as np
import pyroved as pv
import torch

SCHEDULE_FILE = Path(__file__).with_name({schedule_file!r})
IMAGES_FILE = "images.npy"  # replace with your images: (n, {size}, {size}) floats in [0, 1]
SEED = {seed}

with open(SCHEDULE_FILE, newline="") as f:
    rows = list(csv.DictReader(f))
beta_c = [float(row["beta_c"]) for row in rows]
beta_d = [float(row["beta_d"]) for row in rows]

images = np.load(IMAGES_FILE).astype(np.float32)
if images.ndim != 3 or images.shape[1:] != ({size}, {size}):
    raise SystemExit(f"expected images of shape (n, {size}, {size}), got {{images.shape}}")
torch.manual_seed(SEED)
loader = pv.utils.init_dataloader(torch.from_numpy(images), batch_size={settings["batch_size"]})

model = pv.models.jiVAE(
    data_dim=({size}, {size}),
    latent_dim={settings["latent_dim"]},
    discrete_dim={settings["classes"]},
    invariances={invariances!r},
    hidden_dim_e={settings["encoder_hidden"]!r},
    hidden_dim_d={settings["decoder_hidden"]!r},
    sampler_d={settings["sampler"]!r},
    seed=SEED,
)
trainer = pv.trainers.SVItrainer(
    model, lr={settings["lr"]!r}, enumerate_parallel=True, seed=SEED
)
for e in range(len(beta_c)):
    trainer.step(loader, scale_factor=[beta_c[e], beta_d[e]])
    trainer.print_statistics()

model.save_weights("jivae_trained")  # writes jivae_trained.pt
'''


def export_paths(path: str | os.PathLike[str], fmt: str) -> list[Path]:
    """The files an export in format ``fmt`` writes: ``path``, and for CSV the training
    script ``<stem>_train.py`` beside it."""
    path = Path(path)
    if fmt == "csv":
        return [path, path.with_name(f"{path.stem}_train.py")]
    return [path]


def check_export_targets(path: str | os.PathLike[str], fmt: str,
                         protected: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Refuse, before anything is read or written, an export that would write into a missing
    folder or onto a folder, an HDF5 file or a ``protected`` file (the campaign's own).

    Raises:
        CampaignFileError: one line naming the path and the problem.
        ConfigError: an unknown format.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    for target in export_paths(path, fmt):
        check_writable(target, protected)


def check_writable(path: str | os.PathLike[str],
                   protected: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Refuse to write any exported file (a table, a picture) onto a folder, an HDF5 file or a
    ``protected`` file, or into a missing folder.

    Raises:
        CampaignFileError: one line naming the path and the problem.
    """
    check_export(Path(path), [Path(p) for p in protected])


def write_export(
    path: str | os.PathLike[str], fmt: str, schedule: np.ndarray, beta_d: float, *,
    config: Mapping[str, Any], objective: float = float("nan"), z: np.ndarray | None = None,
    which: str = "best", extra: Mapping[str, Any] | None = None,
    protected: Sequence[str | os.PathLike[str]] = (),
) -> list[Path]:
    """Export in the format ``fmt`` (``"csv"``, ``"json"`` or ``"npy"``).

    A CSV export also writes ``<stem>_train.py`` (see :func:`training_snippet`) next to the
    CSV. The keyword arguments are those of :func:`export_json` (``objective``, ``z``,
    ``which`` and ``extra`` are used only by the JSON format; ``z`` defaults to ``[]``), and
    ``protected``: files the export must never overwrite (see :func:`check_export_targets`).

    Returns:
        The paths written.

    Raises:
        ConfigError: an unknown format (the message names it), or a config that lacks a key
            the training script needs.
        ScheduleError: a bad schedule or ``beta_d``.
        CampaignFileError: a path the export may not write (see :func:`check_export_targets`).
    """
    path = Path(path)
    check_export_targets(path, fmt, protected)
    if fmt == "csv":
        text = csv_text(schedule, beta_d)
        snippet = training_snippet(path.name, config)
        script = path.with_name(f"{path.stem}_train.py")
        _write_atomic(path, text.encode("utf-8"))
        _write_atomic(script, snippet.encode("utf-8"))
        return [path, script]
    if fmt == "json":
        export_json(
            path, schedule, beta_d, objective=objective,
            z=np.zeros(0) if z is None else z, which=which, config=config, extra=extra,
        )
        return [path]
    if fmt == "npy":
        export_npy(path, schedule, beta_d)
        return [path]
    raise ConfigError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
