"""Campaign configuration: frozen dataclasses, validated early, read from and written to TOML.

Every field is checked in ``__post_init__``; a bad value raises :class:`ConfigError` whose message
names the field as it is spelled in the TOML file (``section.field``) and the value given, e.g.
``jrvae.lr must be > 0, got -0.1``. The TOML layout mirrors the dataclasses one to one: the
top-level keys are ``seed`` and one table per section (see ``examples/campaign.toml``).

Two presets ship with the engine (DESIGN.md §2): :func:`demo_config` ("D": digits {0,1,4,7},
800 images, 50 epochs; learns on a CPU in ≈1 min per training) and :func:`quick_config` (a smoke
preset that finishes a whole campaign in well under 3 minutes on a 2-core CPU; it need not learn).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from zbo_gui.core.data.base import CROP_MODES, NORMALIZE_MODES, PATCH_MODES
from zbo_gui.core.data.base import FORMATS as DATA_FORMATS
from zbo_gui.core.data.particles import min_image_size
from zbo_gui.core.errors import ConfigError
from zbo_gui.core.schedules import FAMILIES as SEED_FAMILIES
from zbo_gui.core.schedules import Bounds, PairBounds

OBJECTIVE_KINDS = ("usage", "paper")
ACQUISITION_KINDS = ("logei", "ei", "ucb")
WARP_KINDS = ("rank", "log", "none")
PENDING_KINDS = ("believer", "liar")
SAMPLERS = ("bernoulli", "continuous_bernoulli", "gaussian")
INVARIANCES = ("r", "t", "s")
DEVICES = ("auto", "cpu", "cuda")
CLUSTERS = ("local", "slurm")


def _fail(name: str, value: Any, requirement: str) -> ConfigError:
    return ConfigError(f"{name} {requirement}, got {value!r}")


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(name, value, f"must be an integer >= {minimum}")


def _positive_float(name: str, value: Any, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise _fail(name, value, "must be a finite number >= 0" if allow_zero else "must be > 0")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _fail(name, value, f"must be one of {', '.join(choices)}")


def _int_list(name: str, value: Any) -> None:
    if not isinstance(value, tuple) or not value:
        raise _fail(name, value, "must be a non-empty list of integers")
    for v in value:
        _positive_int(name, v)


#: Built-in demo sources of ``dataset.source``.
DEMO_SOURCES = ("demo", "particles")


@dataclass(frozen=True)
class DatasetConfig:
    """Which images the jrVAE evaluations train on, and how they are prepared.

    The built-in demos ignore the file-only fields (``format`` to ``balance``).

    Attributes:
        source: ``"demo"`` (rotated scikit-learn digits), ``"particles"`` (synthetic images of
            1 to ``max_particles`` particles, labelled by count) or a path: an ``.npy``/``.npz``
            file, an HDF5 file, a TIFF stack, a PNG/JPEG image, or a folder of images.
        key: which array of the file: an NPZ array name, an HDF5 dataset path
            (``/entry/data``) or a TIFF series number; "" takes the only candidate (or one
            named ``images``) and lists them when there are several.
        digits: the digit classes of the rotated-digits demo.
        n_images: size of the seeded evaluation subset (all images when there are fewer).
        image_size: images are brought to ``image_size x image_size`` (see ``crop``).
        max_rotation: digits demo only: rotations drawn uniformly in ±max_rotation degrees.
        format: ``"auto"`` (a folder, the extension, or the file's first bytes) or one of
            ``npy``, ``npz``, ``hdf5``, ``tiff``, ``folder``, ``image``.
        labels: optional labels, diagnostics only: "" (an NPZ ``labels`` array if present),
            a path to an ``.npy`` or ``.csv`` file (one label per image, in file order), or
            ``h5:/path`` for a dataset inside the same HDF5 file. Not with patches.
        max_particles: particles demo only: K, the most particles per image (labels 1..K).
        crop: how non-square images reach ``image_size``: ``"resize"`` (straight, changing
            the aspect ratio), ``"center"`` (central square, then resize) or ``"pad"`` (pad to
            a square with each image's minimum, then resize).
        normalize: to [0, 1] by ``"global"`` min–max, ``"per_image"`` min–max, or
            ``"percentile"`` (the two ``percentiles`` of all values map to 0 and 1, clipped).
        percentiles: ``[low, high]`` in [0, 100] for ``normalize = "percentile"``.
        patch_size: 0 (off), or cut each image (one large image of particles or atoms) into
            ``patch_size x patch_size`` patches; they are then resized to ``image_size``.
        patch_stride: grid stride in pixels (0: ``patch_size``, no overlap).
        patch_mode: ``"grid"`` (regular tiling), ``"blobs"`` (centred on Laplacian-of-Gaussian
            blobs: particles) or ``"peaks"`` (centred on local maxima: atomic columns).
        balance: draw the subset with equal counts per class (needs labels); small classes are
            resampled with repeats.
    """

    source: str = "demo"
    key: str = ""
    digits: tuple[int, ...] = (0, 1, 4, 7)
    n_images: int = 800
    image_size: int = 16
    max_rotation: float = 60.0
    format: str = "auto"
    labels: str = ""
    max_particles: int = 4
    crop: str = "resize"
    normalize: str = "global"
    percentiles: tuple[float, ...] = (1.0, 99.0)
    patch_size: int = 0
    patch_stride: int = 0
    patch_mode: str = "grid"
    balance: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise _fail("dataset.source", self.source,
                        "must be 'demo', 'particles' or a file or folder path")
        if not isinstance(self.digits, tuple) or not self.digits:
            raise _fail("dataset.digits", self.digits, "must be a non-empty list of digits 0-9")
        if len(set(self.digits)) != len(self.digits) or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 9 for d in self.digits
        ):
            raise _fail("dataset.digits", list(self.digits), "must be distinct digits 0-9")
        _positive_int("dataset.n_images", self.n_images, 2)
        _positive_int("dataset.image_size", self.image_size, 4)
        _positive_float("dataset.max_rotation", self.max_rotation, allow_zero=True)
        for name in ("key", "labels"):
            if not isinstance(getattr(self, name), str):
                raise _fail(f"dataset.{name}", getattr(self, name), "must be a string")
        if self.labels.startswith("h5:") and not self.labels[3:].strip("/ "):
            raise _fail("dataset.labels", self.labels, "must name a dataset after 'h5:'")
        _choice("dataset.format", self.format, DATA_FORMATS)
        _positive_int("dataset.max_particles", self.max_particles, 1)
        _choice("dataset.crop", self.crop, CROP_MODES)
        _choice("dataset.normalize", self.normalize, NORMALIZE_MODES)
        self._check_percentiles()
        _positive_int("dataset.patch_size", self.patch_size, 0)
        if 0 < self.patch_size < 4:
            raise _fail("dataset.patch_size", self.patch_size, "must be 0 (off) or >= 4")
        _positive_int("dataset.patch_stride", self.patch_stride, 0)
        _choice("dataset.patch_mode", self.patch_mode, PATCH_MODES)
        if not isinstance(self.balance, bool):
            raise _fail("dataset.balance", self.balance, "must be true or false")
        if self.labels and self.patch_size:
            raise ConfigError(f"dataset.labels ({self.labels!r}) cannot be combined with"
                              f" dataset.patch_size ({self.patch_size}): labels are per image,"
                              " not per patch")
        if self.source == "particles" and self.image_size < min_image_size(self.max_particles):
            raise ConfigError(
                f"dataset.image_size must be >= {min_image_size(self.max_particles)} for"
                f" dataset.max_particles = {self.max_particles}, got {self.image_size}")

    def _check_percentiles(self) -> None:
        p = self.percentiles
        ok = isinstance(p, tuple) and len(p) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in p)
        if not ok or not 0 <= p[0] < p[1] <= 100:
            shown = list(p) if isinstance(p, tuple) else p
            raise _fail("dataset.percentiles", shown, "must be [low, high] with"
                        " 0 <= low < high <= 100")
        object.__setattr__(self, "percentiles", (float(p[0]), float(p[1])))

    @property
    def is_demo(self) -> bool:
        """True for a built-in demo source (``"demo"`` or ``"particles"``)."""
        return self.source in DEMO_SOURCES

    def with_paths_from(self, folder: str | Path) -> DatasetConfig:
        """A copy whose relative ``source`` and ``labels`` paths are taken from ``folder``."""
        changes: dict[str, str] = {}
        if not self.is_demo and not Path(self.source).is_absolute():
            changes["source"] = str((Path(folder) / self.source).resolve())
        if self.labels and not self.labels.startswith("h5:") and not Path(
                self.labels).is_absolute():
            changes["labels"] = str((Path(folder) / self.labels).resolve())
        return dataclasses.replace(self, **changes) if changes else self


@dataclass(frozen=True)
class ScheduleConfig:
    """The schedule space: length N, bounds [β_lo, β_hi] and the seed library.

    Attributes:
        n_epochs: N, the number of jrVAE epochs (one β value per epoch).
        beta_lo: lower bound of β_c (> 0).
        beta_hi: upper bound of β_c (> beta_lo). Log-scaled when beta_hi / beta_lo >= 10.
        counts: number of seed schedules per family (see ``core.schedules``).
        csv_files: extra seed schedules imported from CSV files (resampled to N).
        beta_d_lo: lower bound of β_d; with ``beta_d_hi`` it makes every schedule a pair
            (β_c, β_d) per epoch, both optimised in one latent space. Absent (None, the
            default): β_d is the constant ``jrvae.beta_d``.
        beta_d_hi: upper bound of β_d (> beta_d_lo). Log-scaled when beta_d_hi / beta_d_lo >= 10.
        beta_d_families: relative shares of the families the seeds' β_d curves are drawn from
            (used only with β_d bounds): the S seeds get β_d curves in these proportions,
            paired at random with their β_c curves.
    """

    n_epochs: int = 50
    beta_lo: float = 0.1
    beta_hi: float = 10.0
    counts: Mapping[str, int] = field(
        default_factory=lambda: {
            "cooldown": 24, "segmented": 16, "periodic": 10, "cyclical": 10,
            "warmup": 10, "exponential": 10, "constant": 10,
        }
    )
    csv_files: tuple[str, ...] = ()
    beta_d_lo: float | None = None
    beta_d_hi: float | None = None
    beta_d_families: Mapping[str, int] = field(
        default_factory=lambda: {"constant": 4, "cooldown": 2, "warmup": 2, "exponential": 1,
                                 "segmented": 1}
    )

    @property
    def joint(self) -> bool:
        """Whether schedules are pairs (β_c, β_d): β_d bounds are set."""
        return self.beta_d_lo is not None

    def bounds(self) -> Bounds | PairBounds:
        """The bounds of a schedule: β_c's, or :class:`PairBounds` of β_c and β_d."""
        c = Bounds(self.beta_lo, self.beta_hi)
        return PairBounds(c, Bounds(self.beta_d_lo, self.beta_d_hi)) if self.joint else c

    def __post_init__(self) -> None:
        _positive_int("schedules.n_epochs", self.n_epochs, 2)
        if (self.beta_d_lo is None) != (self.beta_d_hi is None):
            missing = "beta_d_hi" if self.beta_d_hi is None else "beta_d_lo"
            raise ConfigError(f"schedules.{missing} is missing: set both beta_d_lo and"
                              " beta_d_hi (optimise β_d) or neither (β_d = jrvae.beta_d)")
        pairs = ("beta_d_lo", "beta_d_hi") if self.joint else ()
        for name in ("beta_lo", "beta_hi", *pairs):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value <= 0:
                raise _fail(f"schedules.{name}", value, "must be a finite number > 0")
        if self.beta_lo >= self.beta_hi:
            raise ConfigError(
                f"schedules.beta_lo must be < schedules.beta_hi, got beta_lo={self.beta_lo!r}"
                f" and beta_hi={self.beta_hi!r}"
            )
        if self.joint and self.beta_d_lo >= self.beta_d_hi:
            raise ConfigError(
                f"schedules.beta_d_lo must be < schedules.beta_d_hi, got"
                f" beta_d_lo={self.beta_d_lo!r} and beta_d_hi={self.beta_d_hi!r}"
            )
        for family, share in self.beta_d_families.items():
            _choice("schedules.beta_d_families", family, SEED_FAMILIES)
            _positive_int(f"schedules.beta_d_families.{family}", share, 0)
        if self.joint and sum(self.beta_d_families.values()) == 0:
            raise _fail("schedules.beta_d_families", dict(self.beta_d_families),
                        "must give at least one family a share > 0")
        for family, count in self.counts.items():
            _choice("schedules.counts", family, SEED_FAMILIES)
            _positive_int(f"schedules.counts.{family}", count, 0)
        if not isinstance(self.csv_files, tuple) or not all(
                isinstance(p, str) and p.strip() for p in self.csv_files):
            raise _fail("schedules.csv_files", self.csv_files, "must be a list of file paths")
        if sum(self.counts.values()) + len(self.csv_files) < 4:
            raise _fail("schedules.counts", dict(self.counts), "must give >= 4 seed schedules")

    def with_paths_from(self, folder: str | Path) -> ScheduleConfig:
        """A copy whose relative ``csv_files`` are taken from ``folder``."""
        paths = tuple(p if Path(p).is_absolute() else str((Path(folder) / p).resolve())
                      for p in self.csv_files)
        return dataclasses.replace(self, csv_files=paths) if paths != self.csv_files else self


@dataclass(frozen=True)
class ScheduleVAEConfig:
    """The 2-D schedule VAE (pyroVED ``iVAE`` on normalised schedules)."""

    epochs: int = 1000
    lr: float = 1e-3
    batch_size: int = 32
    hidden: tuple[int, ...] = (128, 128)
    decoder_sig: float = 0.1

    def __post_init__(self) -> None:
        _positive_int("schedule_vae.epochs", self.epochs)
        _positive_float("schedule_vae.lr", self.lr)
        _positive_int("schedule_vae.batch_size", self.batch_size)
        _int_list("schedule_vae.hidden", self.hidden)
        _positive_float("schedule_vae.decoder_sig", self.decoder_sig)


@dataclass(frozen=True)
class GridConfig:
    """The feasible latent grid: ``size x size`` points over the seed cloud plus a margin."""

    size: int = 100
    margin: float = 0.15
    tolerance: float = 0.02

    def __post_init__(self) -> None:
        _positive_int("grid.size", self.size, 4)
        _positive_float("grid.margin", self.margin, allow_zero=True)
        _positive_float("grid.tolerance", self.tolerance, allow_zero=True)


@dataclass(frozen=True)
class JrVAEConfig:
    """The jrVAE (pyroVED ``jiVAE``) trained once per evaluation; DESIGN.md §2 preset "D"."""

    classes: int = 4
    latent_dim: int = 2
    invariances: tuple[str, ...] = ("r",)
    encoder_hidden: tuple[int, ...] = (128, 128)
    decoder_hidden: tuple[int, ...] = (32, 32)
    sampler: str = "bernoulli"
    lr: float = 1e-2
    batch_size: int = 25
    beta_d: float = 1.0
    device: str = "auto"

    def __post_init__(self) -> None:
        _positive_int("jrvae.classes", self.classes, 2)
        _positive_int("jrvae.latent_dim", self.latent_dim, 2)
        if not isinstance(self.invariances, tuple) or len(set(self.invariances)) != len(
            self.invariances
        ):
            raise _fail("jrvae.invariances", self.invariances, "must be a list of distinct letters")
        for inv in self.invariances:
            _choice("jrvae.invariances", inv, INVARIANCES)
        _int_list("jrvae.encoder_hidden", self.encoder_hidden)
        _int_list("jrvae.decoder_hidden", self.decoder_hidden)
        _choice("jrvae.sampler", self.sampler, SAMPLERS)
        _positive_float("jrvae.lr", self.lr)
        _positive_int("jrvae.batch_size", self.batch_size)
        _positive_float("jrvae.beta_d", self.beta_d)
        _choice("jrvae.device", self.device, DEVICES)


@dataclass(frozen=True)
class ObjectiveConfig:
    """How a trained jrVAE is scored (see ``core.objective`` for the formulas).

    Attributes:
        kind: ``"usage"`` (default; counts classes by how many images the encoder assigns to
            them, so a collapsed model scores low) or ``"paper"`` (the published ℓ1 − w·ℓ2).
        manifold_d: each class manifold is a ``d x d`` grid of decoded images.
        weight: w, the weight of the within-class term ℓ2.
        pairs: random distinct position pairs per class for ℓ2.
        replicates: R, trainings per schedule with different seeds; the objective is their mean.
        collapse_share: stop a training early, as COLLAPSED, when one class holds at least this
            share of a fixed probe of images at a check (every few epochs) from epoch
            ``collapse_after`` on; 0 never stops (the default: on the tabular benchmark every
            such rule also stopped trainings that would have ended healthy).
        collapse_after: the first epoch at which a collapse may stop a training.
    """

    kind: str = "usage"
    manifold_d: int = 8
    weight: float = 0.0
    pairs: int = 100
    replicates: int = 1
    collapse_share: float = 0.0
    collapse_after: int = 15

    def __post_init__(self) -> None:
        _choice("objective.kind", self.kind, OBJECTIVE_KINDS)
        _positive_int("objective.manifold_d", self.manifold_d, 2)
        _positive_float("objective.weight", self.weight, allow_zero=True)
        _positive_int("objective.pairs", self.pairs)
        _positive_int("objective.replicates", self.replicates)
        _positive_float("objective.collapse_share", self.collapse_share, allow_zero=True)
        if self.collapse_share > 1:
            raise _fail("objective.collapse_share", self.collapse_share,
                        "must be between 0 (never stop) and 1")
        _positive_int("objective.collapse_after", self.collapse_after)


@dataclass(frozen=True)
class BOConfig:
    """Bayesian optimisation in the schedule VAE's latent space.

    Attributes:
        initial: points of the initial design (spread over the feasible region).
        budget: total number of evaluations, initial design included.
        acquisition: ``"logei"`` (default), ``"ei"`` or ``"ucb"``.
        warp: the outcome the GP models, for an objective that is ≈ 0 for most schedules with
            rare, noisy peaks: ``"rank"`` (default), the normal scores of its ranks; ``"log"``,
            log(objective + 0.01); ``"none"``, the objective itself.
        xi: EI/LogEI exploration margin, in units of the observed objective.
        kappa: UCB exploration weight.
        stop_tol: convergence: stop when max EI < stop_tol · std(y) ...
        stop_patience: ... for this many consecutive BO iterations (0, the default, disables
            the rule: on a flat, noisy landscape max EI is small everywhere and the rule
            stopped campaigns before the good region was found; docs/benchmarks.md §1c).
        pending: how a proposal treats the points still in flight (several workers): as if
            each had scored the GP's mean there (``"believer"``, Kriging believer, default) or
            the lowest objective seen (``"liar"``, constant liar); docs/benchmarks.md §1c.
    """

    initial: int = 6
    budget: int = 20
    acquisition: str = "logei"
    warp: str = "rank"
    xi: float = 0.0
    kappa: float = 2.0
    stop_tol: float = 1e-3
    stop_patience: int = 0
    pending: str = "believer"

    def __post_init__(self) -> None:
        _positive_int("bo.initial", self.initial, 2)
        _positive_int("bo.budget", self.budget, 2)
        if self.budget < self.initial:
            raise ConfigError(
                f"bo.budget must be >= bo.initial, got budget={self.budget} and"
                f" initial={self.initial}"
            )
        _choice("bo.acquisition", self.acquisition, ACQUISITION_KINDS)
        _choice("bo.warp", self.warp, WARP_KINDS)
        _positive_float("bo.xi", self.xi, allow_zero=True)
        _positive_float("bo.kappa", self.kappa, allow_zero=True)
        _positive_float("bo.stop_tol", self.stop_tol, allow_zero=True)
        _positive_int("bo.stop_patience", self.stop_patience, 0)
        _choice("bo.pending", self.pending, PENDING_KINDS)


@dataclass(frozen=True)
class ExecutionConfig:
    """Where the trainings run (not science: changing it never changes a result's seed).

    Attributes:
        workers: trainings at once, each in its own worker process (Dask distributed); 1, the
            default, is one local worker process, which keeps every evaluation out of the
            window's process; 0 trains in the calling process (no Dask; for debugging).
        threads_per_worker: torch threads of each training; 0, the default: cores ÷ workers
            (at least 1).
        scheduler: the address of an existing Dask scheduler (``"tcp://host:8786"``); empty,
            the default: the tool starts a cluster of its own and closes it at the end.
        cluster: ``"local"`` (worker processes on this machine; one GPU each where there are
            several) or ``"slurm"`` (one SLURM job per worker through dask-jobqueue).
        queue: SLURM partition (``#SBATCH -p``).
        account: SLURM account (``#SBATCH -A``).
        memory: memory per SLURM job (``"16GB"``).
        walltime: wall time per SLURM job (``"04:00:00"``).
        gpus: GPUs per SLURM job (``#SBATCH --gres=gpu:N``; 0: none).
        job_extra: more ``#SBATCH`` directives, e.g. ``["--constraint=a100"]``.
    """

    workers: int = 1
    threads_per_worker: int = 0
    scheduler: str = ""
    cluster: str = "local"
    queue: str = ""
    account: str = ""
    memory: str = "8GB"
    walltime: str = "04:00:00"
    gpus: int = 0
    job_extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _positive_int("execution.workers", self.workers, 0)
        _positive_int("execution.threads_per_worker", self.threads_per_worker, 0)
        _choice("execution.cluster", self.cluster, CLUSTERS)
        if not isinstance(self.scheduler, str) or (
                self.scheduler and "://" not in self.scheduler):
            raise _fail("execution.scheduler", self.scheduler,
                        "must be empty or a scheduler address such as tcp://host:8786")
        if self.scheduler and self.cluster == "slurm":
            raise ConfigError("execution.scheduler and execution.cluster = \"slurm\" exclude"
                              " each other: give one")
        if self.workers == 0 and (self.scheduler or self.cluster != "local"):
            raise ConfigError("execution.workers = 0 trains in this process: it takes no"
                              " scheduler and no cluster")
        for name in ("queue", "account", "memory", "walltime"):
            if not isinstance(getattr(self, name), str):
                raise _fail(f"execution.{name}", getattr(self, name), "must be a string")
        _positive_int("execution.gpus", self.gpus, 0)
        if not isinstance(self.job_extra, tuple) or not all(
                isinstance(v, str) for v in self.job_extra):
            raise _fail("execution.job_extra", self.job_extra, "must be a list of strings")

    def threads(self, cores: int) -> int:
        """Torch threads per training on a machine with ``cores`` cores."""
        if self.threads_per_worker:
            return self.threads_per_worker
        return max(1, cores // max(1, self.workers))


_SECTIONS: dict[str, type] = {
    "dataset": DatasetConfig,
    "schedules": ScheduleConfig,
    "schedule_vae": ScheduleVAEConfig,
    "grid": GridConfig,
    "jrvae": JrVAEConfig,
    "objective": ObjectiveConfig,
    "bo": BOConfig,
    "execution": ExecutionConfig,
}


@dataclass(frozen=True)
class CampaignConfig:
    """The whole configuration of a campaign; stored verbatim (as TOML) in the campaign file."""

    seed: int = 0
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    schedules: ScheduleConfig = field(default_factory=ScheduleConfig)
    schedule_vae: ScheduleVAEConfig = field(default_factory=ScheduleVAEConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    jrvae: JrVAEConfig = field(default_factory=JrVAEConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    bo: BOConfig = field(default_factory=BOConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)

    def __post_init__(self) -> None:
        _positive_int("seed", self.seed, 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists instead of tuples), as written to TOML."""
        out: dict[str, Any] = {"seed": self.seed}
        for name in _SECTIONS:
            section = dataclasses.asdict(getattr(self, name))
            out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        out["schedules"]["counts"] = dict(self.schedules.counts)
        out["schedules"]["beta_d_families"] = dict(self.schedules.beta_d_families)
        for key in ("beta_d_lo", "beta_d_hi"):  # absent: β_d is jrvae.beta_d (TOML has no null)
            if out["schedules"][key] is None:
                del out["schedules"][key]
        return out

    def to_toml(self) -> str:
        """The configuration as TOML text (round-trips through :func:`config_from_toml`)."""
        return tomli_w.dumps(self.to_dict())

    def replace(self, **sections: Any) -> CampaignConfig:
        """A copy with whole sections (or ``seed``) replaced."""
        return dataclasses.replace(self, **sections)

    def input_files(self) -> list[Path]:
        """The user's files this configuration reads: the dataset (file or folder), a labels
        file and the seed CSV files."""
        ds = self.dataset
        files = [] if ds.is_demo else [Path(ds.source)]
        if ds.labels and not ds.labels.startswith("h5:"):
            files.append(Path(ds.labels))
        return files + [Path(p) for p in self.schedules.csv_files]


def _build_section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{name}] must be a table, got {table!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"unknown key {name}.{unknown[0]} (known keys: {', '.join(sorted(known))})"
        )
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    for key in ("counts", "beta_d_families"):
        if key in kwargs and not isinstance(kwargs[key], Mapping):
            raise _fail(f"schedules.{key}", kwargs[key], "must be a table of family = count")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # e.g. a value of a type that cannot be compared
        raise ConfigError(f"[{name}]: {exc}") from None


def config_from_dict(data: Mapping[str, Any], base: CampaignConfig | None = None) -> CampaignConfig:
    """Build a config from a nested dict; missing sections and keys keep ``base``'s values.

    Raises:
        ConfigError: unknown section or key, or an invalid value (the message names it).
    """
    base = base or CampaignConfig()
    unknown = sorted(set(data) - set(_SECTIONS) - {"seed"})
    if unknown:
        raise ConfigError(
            f"unknown section [{unknown[0]}] (known: seed, {', '.join(_SECTIONS)})"
        )
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        if name in data:
            merged = dataclasses.asdict(getattr(base, name))
            if not isinstance(data[name], Mapping):
                raise ConfigError(f"[{name}] must be a table, got {data[name]!r}")
            if name == "schedules":
                for key in ("counts", "beta_d_families"):
                    if key in data[name]:
                        merged[key] = {}
            merged.update(data[name])
            sections[name] = _build_section(name, cls, merged)
    if "seed" in data:
        sections["seed"] = data["seed"]
    return dataclasses.replace(base, **sections)


def _parse_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}") from None


def config_from_toml(text: str, base: CampaignConfig | None = None) -> CampaignConfig:
    """Parse TOML text into a :class:`CampaignConfig` (see :func:`config_from_dict`)."""
    return config_from_dict(_parse_toml(text), base)


#: Keys added after campaign files were first written, with the value that reproduces how a
#: campaign stored without them ran.
_PREDATED = {"bo": {"warp": "none"}}


def stored_config_from_toml(text: str) -> CampaignConfig:
    """A campaign file's stored configuration (see :func:`config_from_toml`).

    A key that the stored text lacks because the file predates it takes the value under which
    that campaign ran (``bo.warp = "none"``), not today's default, so the campaign resumes
    exactly as it would have.
    """
    data = _parse_toml(text)
    for section, keys in _PREDATED.items():
        table = data.setdefault(section, {})
        if isinstance(table, dict):  # not a table: config_from_dict names the problem
            for key, value in keys.items():
                table.setdefault(key, value)
    return config_from_dict(data)


def load_config(path: str | Path, base: CampaignConfig | None = None) -> CampaignConfig:
    """Read a TOML config file; its relative paths (``dataset.source``, ``dataset.labels``,
    ``schedules.csv_files``) are taken from the file's folder, not the current one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    config = config_from_toml(text, base)
    return config.replace(dataset=config.dataset.with_paths_from(path.parent),
                          schedules=config.schedules.with_paths_from(path.parent))


def demo_config() -> CampaignConfig:
    """Default demo preset "D" (DESIGN.md §2): learns on a CPU, ≈1 min per evaluation."""
    return CampaignConfig()


def quick_config() -> CampaignConfig:
    """Smoke preset: a whole campaign in well under 3 minutes on a 2-core CPU."""
    base = CampaignConfig()
    return base.replace(
        dataset=DatasetConfig(digits=(0, 1, 4), n_images=300, image_size=12),
        schedules=ScheduleConfig(
            n_epochs=12,
            counts={"cooldown": 8, "segmented": 6, "periodic": 4, "cyclical": 4,
                    "warmup": 4, "exponential": 4, "constant": 4},
        ),
        schedule_vae=ScheduleVAEConfig(epochs=300),
        grid=GridConfig(size=60),
        jrvae=JrVAEConfig(classes=3, encoder_hidden=(64, 64), decoder_hidden=(16, 16)),
        objective=ObjectiveConfig(manifold_d=6, pairs=50),
        bo=BOConfig(initial=5, budget=8),
    )


def tiny_config() -> CampaignConfig:
    """Set-up check preset: seconds per training (120 images 8×8, 6 epochs, 6 trainings).

    It checks that everything runs end to end; it learns nothing.
    """
    base = CampaignConfig()
    return base.replace(
        dataset=DatasetConfig(digits=(0, 1), n_images=120, image_size=8),
        schedules=ScheduleConfig(
            n_epochs=6, counts={"cooldown": 3, "segmented": 2, "constant": 2, "warmup": 2}),
        schedule_vae=ScheduleVAEConfig(epochs=60),
        grid=GridConfig(size=30),
        jrvae=JrVAEConfig(classes=2, encoder_hidden=(32,), decoder_hidden=(8,)),
        objective=ObjectiveConfig(manifold_d=3, pairs=10),
        bo=BOConfig(initial=3, budget=6, stop_patience=0),
    )
