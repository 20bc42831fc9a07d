"""Memory a campaign will need, estimated from its configuration before anything is allocated.

A configuration such as ``grid.size = 30000`` or ``objective.manifold_d = 5000`` would otherwise
grow until the kernel's OOM killer ends the process (or numpy refuses a multi-TiB array).
:func:`check_memory` refuses it in milliseconds, without importing torch, with a one-line
:class:`~zbo_gui.core.errors.ConfigError` that names the field, the figures and what to lower.

The phases of a campaign run one after another in one process (``runner.CampaignRunner``):
libraries → dataset load → schedule VAE → latent grid decode → GP maps → per evaluation: one
jiVAE training, then its manifolds. What a phase leaves behind (the images, the decoded grid,
the posterior maps, the manifold thumbnails of every evaluation, the trained model) stays while
the later phases run, so each :class:`MemoryItem` carries both the increase while it runs
(``nbytes``) and what it keeps (``kept``); the peak of the campaign is
``max_i(Σ_{j<i} kept_j + nbytes_i)`` (:func:`peak_memory`). With ``jrvae.device`` on CUDA the
training and the manifold decoding are GPU items, compared with the GPU's free memory.

The formulas follow the code (what is alive at each phase's peak), with constants fitted to
the measurements below:

* grid decode (``latent_grid.build_grid``, G² points in one batch): ≈ 40 B per point and epoch
  (the float32 decode and its float64 copy, the feasibility masks, ``nan_to_num``/``clip``
  copies, the float64 temporaries of ``Bounds.from_unit``), counted 45; plus ≈ 600 B per point
  (mesh grids, points, the latent batch, torch's ``DataLoader`` collating one sample per point,
  the decoder's layers).
* GP maps (``surrogate.grid_posterior``, chunked): ≈ 16 float64 arrays of G² (inputs, mean,
  variance, σ, the LogEI temporaries) and the campaign's space-filling design.
* one jiVAE training (``jrvae.train_jrvae``, ``enumerate_parallel``): the spatial decoder runs
  its MLP for every image × class × pixel and autograd keeps the layers' outputs for the
  backward pass: batch × classes × H·W × (1.5·(w₀ + Σ wᵢ) + 2·max wᵢ + 32) floats; plus the
  weights with gradients and two Adam moments (the encoder's first layer is H·W × e₀).
* manifolds (``jrvae.class_manifolds``, ``objective.score``): pyroVED decodes batches of 100
  latent points (≈ 5·max wᵢ floats per point × pixel), the decoded classes pile up, then
  ``np.stack``/``astype``/``clip`` and the thumbnails' temporaries copy the K × d² × H·W float32
  images (counted 6 times, for heap fragmentation); the campaign keeps every evaluation's uint8
  thumbnails (``bo.budget`` × ``objective.replicates`` × K × d² × H·W bytes).
* dataset load: the demos build the images one at a time; a file costs per raw pixel the pages
  read (memory-mapped files count), the subset copy, the NaN mask and the float32 normalised
  copy, then float64 blocks of 4 Mi pixels while resizing.

Measured on this 2-core machine (no GPU, torch 2.14.1, 2026-12-01): the increase of the peak
RSS of each phase in a fresh process (``malloc_trim``, ``/proc/self/clear_refs`` = 5, then
``VmHWM``; training for one epoch: the peak is reached in the first batch), against the
estimate, in MB. "campaign" is the process's whole peak RSS (libraries included) against
:func:`peak_memory` of the phases run. Configs are the demo preset with the changes shown.

==================================  ============  ============  ============  ============
config                              dataset       grid / GP     training      manifolds
==================================  ============  ============  ============  ============
demo (campaign 907 / 977)           4.9 / 8.8     30 / 37,      40 / 74       17 / 44
                                                  15 / 18
quick_config (874 / 955)            3.8 / 8.2     11 / 12,      11 / 54       5.7 / 34
                                                  8.5 / 17
tests' TINY_CONFIG (868 / 949)      3.1 / 8.0     1.9 / 8.8,    4.2 / 49      4.1 / 32
                                                  7.2 / 16
grid.size 300 (1086 / 1168)         ..            230 / 267,    ..            ..
                                                  19 / 28
grid.size 400 (test)                ..            357 / 469     ..            ..
grid.size 500 (1506 / 1630)         ..            650 / 729,    ..            ..
                                                  36 / 49
grid.size 1000 (3435 / 3791)        ..            2579 / 2890,  ..            ..
                                                  116 / 145
grid 1000, N 200, budget 100        ..            8580 / 9640,  ..            ..
(9437 / 10541)                                    117 / 147
manifold_d 30 (901 / 975)           ..            ..            41 / 74       21–63 / 56
manifold_d 100 (1005 / 1194)        ..            ..            46 / 74       143–287 / 293
image_size 28 (969 / 1028)          6.6 / 10.5    ..            111 / 126     28–53 / 68
image_size 64, d 30 (1179 / 1364)   17 / 21       ..            311 / 451     235 / 394
28², K 10, dec [128,128], batch     5.1 / 8.6     ..            2067 / 2761   106–364 / 166
100, n 200 (2922 / 3662)
28², no invariance (871 / 956)      6.7 / 10.5    ..            12 / 53       8.2 / 36
28², ['r','t'], batch 100           6.7 / 10.5    ..            233 / 352     46 / 68
particles, 32² (857 / 921)          3.5 / 11      ..            ..            ..
npy uint8 2000×128² → 32²           159 / 218     ..            ..            ..
npy float32 1000×256² → 64²         724 / 818     ..            ..            ..
==================================  ============  ============  ============  ============

Below ≈ 50 MB the fixed costs (pyro, kernels, scikit-image) dominate and the ratio says little.
Repeated runs of the same config vary by up to 2.5× in the manifolds phase (glibc keeps freed
blocks of < 32 MB in a fragmented heap after a large training): the ranges above; the
campaign's peak is then the training's. The libraries (0.81 GB RSS increase, 0.84 GB absolute)
are counted as 0.9 GB. Nothing was measured on a GPU: :data:`CUDA_HOST_BYTES` is a guess.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

from zbo_gui.core.config import CampaignConfig, DatasetConfig
from zbo_gui.core.errors import ConfigError

__all__ = [
    "SAFETY_FRACTION",
    "MemoryItem",
    "available_memory",
    "check_memory",
    "cuda_available_memory",
    "estimate_memory",
    "format_bytes",
    "peak_memory",
    "raw_layout",
]

#: A campaign may use at most this fraction of the available memory.
SAFETY_FRACTION = 0.9

#: RSS of the interpreter once numpy, torch, pyro, pyroVED, gpytorch, BoTorch, scikit-image,
#: scikit-learn and h5py are imported (measured 0.84 GB with the CUDA build of torch 2.14.1).
LIBRARIES_BYTES = 900 * 10**6
#: Host memory the CUDA runtime adds when the jiVAE trains on a GPU (context, kernels, cuBLAS).
#: Not measured here (no GPU on this machine): a deliberately generous guess.
CUDA_HOST_BYTES = 1500 * 10**6
#: Fixed cost of a pyro training besides the arrays counted (trace, optimiser, allocator).
TRAINING_OVERHEAD = 48 * 10**6
#: Fixed cost of decoding and scoring the first manifolds (kernels, scikit-image's SSIM).
MANIFOLD_OVERHEAD = 32 * 10**6
#: ``pyroved`` decodes a manifold (``manifold2d``) in batches of this many latent points.
MANIFOLD_BATCH = 100

# Bytes per grid point and epoch (G² × N) and per grid point (G², plus 4 per schedule-VAE
# hidden unit) at the grid decode's peak; what the grid keeps per point besides N × 4 B.
_GRID_PER_VALUE = 45
_GRID_PER_POINT = 120
_GRID_KEPT_PER_POINT = 17
_GRID_FIXED = 8 * 10**6
# Bytes per grid point at the GP maps' peak, and what the campaign keeps per point.
_GP_PER_POINT = 128
_GP_KEPT_PER_POINT = 32
_GP_FIXED = 16 * 10**6
# Floats per image × class × pixel of the spatial decoder in training, besides 1.5·(w₀ + Σ wᵢ)
# and 2·max wᵢ (fitted to the measurements in the table above).
_TRAIN_PIXEL_FLOATS = 32
# Floats per latent point × pixel when decoding a manifold batch, besides 5·max width.
_DECODE_PIXEL_FLOATS = 16
# Pixels per block of the dataset's blockwise steps (``data.preprocess.BLOCK_PIXELS``).
_BLOCK_PIXELS = 4 * 1024**2

#: The configuration fields that drive each phase, and the demo preset's size of each (for
#: :func:`_item`: the field most above its demo size is the one a message names).
_DEMO_SCALE: dict[str, float] = {
    "grid.size": 100.0**2, "schedules.n_epochs": 50.0, "dataset.image_size": 16.0**2,
    "dataset.n_images": 800.0, "jrvae.batch_size": 25.0, "jrvae.classes": 4.0,
    "jrvae.decoder_hidden": 64.0, "objective.manifold_d": 8.0**2, "bo.budget": 20.0,
    "objective.replicates": 1.0, "schedule_vae.hidden": 256.0,
}


@dataclass(frozen=True)
class MemoryItem:
    """The memory one phase of a campaign needs.

    Attributes:
        what: the phase in words, e.g. ``"latent grid decode"``.
        field: the configuration field that drives it most, as spelled in TOML
            (``"grid.size"``); ``""`` for a fixed cost (the libraries).
        nbytes: the increase of memory while the phase runs, at its peak.
        detail: how ``nbytes`` is made up, e.g. ``"100² points × 50 epochs × 45 B + …"``.
        kept: bytes the phase leaves allocated for the rest of the campaign (the images, the
            decoded grid, ...); counted under every later phase.
        device: ``"host"`` (RAM) or ``"cuda"`` (GPU memory).
        also: the other fields that drive it (a message suggests them too).
    """

    what: str
    field: str
    nbytes: int
    detail: str
    kept: int = 0
    device: str = "host"
    also: tuple[str, ...] = ()


def format_bytes(n: float) -> str:
    """``1.234e9`` → ``"1.23 GB"`` (decimal units: B, kB, MB, GB, TB, PB, EB)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(value) < 999.5:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1000.0
    return f"{value:.3g} EB"


def _item(what: str, sizes: dict[str, float], nbytes: float, detail: str, kept: float = 0,
          device: str = "host") -> MemoryItem:
    """A MemoryItem whose ``field`` is the driver most above its demo size (see ``sizes``).

    Args:
        sizes: each driving field and its size in this configuration, in the units of
            :data:`_DEMO_SCALE`; the first one wins ties.
    """
    ratios = {name: size / _DEMO_SCALE[name] for name, size in sizes.items()}
    field = max(ratios, key=lambda name: ratios[name])  # first of equal ratios
    also = tuple(name for name in sizes if name != field)
    return MemoryItem(what, field, int(nbytes), detail, int(kept), device, also)


def _layer_params(dims: list[int]) -> int:
    """Weights and biases of a chain of linear layers ``dims[0] → dims[1] → …``."""
    return sum(a * b + b for a, b in itertools.pairwise(dims))


def _images_used(config: CampaignConfig, raw_shape: tuple[int, int, int] | None) -> int:
    ds = config.dataset
    if ds.is_demo or raw_shape is None or ds.patch_size or ds.balance:
        return ds.n_images
    return min(ds.n_images, int(raw_shape[0]))


def _dataset_item(config: CampaignConfig, raw_shape: tuple[int, int, int] | None,
                  raw_itemsize: int, n: int) -> MemoryItem:
    """Loading: the raw frames read, their float32 normalised copy, resizing, the result."""
    ds = config.dataset
    size, s2 = ds.image_size, ds.image_size**2
    sizes = {"dataset.image_size": float(s2), "dataset.n_images": float(n)}
    final = n * s2 * 4
    if ds.is_demo:
        # per image, float64: the demo digit resized and rotated, or a particle image drawn
        per_pixel = 24 if ds.source == "demo" else 128
        detail = (f"{n} images × {size}² pixels × 4 B + one {size}² image × {per_pixel} B"
                  " while it is made")
        return _item("dataset load", sizes, final + per_pixel * s2 + 8 * 10**6, detail, final)
    raw_hw = (int(raw_shape[1]) * int(raw_shape[2])) if raw_shape is not None else s2
    shown = (f"{raw_shape[1]}×{raw_shape[2]}" if raw_shape is not None
             else f"{size}² (raw size not given)")
    frame = 0
    if ds.patch_size:
        # one frame at a time, as float64 copies for the feature detection
        frame = raw_hw * 8 * (12 if ds.patch_mode != "grid" else 2)
        raw_hw, shown = ds.patch_size**2, f"{ds.patch_size}² patches of {shown} frames"
    # per raw pixel: the pages read (memory-mapped files count too), the subset copy, the
    # NaN mask and the float32 normalised copy; then blocks of 4 Mi pixels in float64 (the
    # block, the anti-aliasing filter's copy, resize's output) and the resized images
    per_pixel = 2 * raw_itemsize + 5
    block = min(n, max(1, _BLOCK_PIXELS // max(1, raw_hw)))
    blocks = 3 * 8 * (min(n * raw_hw, _BLOCK_PIXELS) + block * s2)
    nbytes = n * raw_hw * per_pixel + final + blocks + frame + 16 * 10**6
    detail = (f"{n} images of {shown} × {per_pixel} B read and normalised + {n} × {size}² × 4 B"
              f" + float64 blocks of {block} images × 24 B a pixel")
    return _item("dataset load", sizes, nbytes, detail, final)


def _schedule_vae_item(config: CampaignConfig) -> MemoryItem:
    sv, n_epochs = config.schedule_vae, config.schedules.n_epochs
    seeds = sum(config.schedules.counts.values()) + 64 * len(config.schedules.csv_files)
    params = _layer_params([n_epochs, *sv.hidden, 4]) + _layer_params([2, *sv.hidden, n_epochs])
    batch = min(sv.batch_size, max(seeds, 1))
    acts = batch * (2 * sum(sv.hidden) + 4 * n_epochs) * 4 * 4
    nbytes = 16 * 10**6 + params * 16 + acts + seeds * n_epochs * 8 * 4
    detail = (f"{params} weights × 16 B (gradients, Adam) + batch {batch} × layers"
              f" {list(sv.hidden)} + pyro's fixed cost")
    return _item("schedule VAE training", {"schedule_vae.hidden": float(sum(sv.hidden))},
                 nbytes, detail, params * 4)


def _grid_item(config: CampaignConfig) -> MemoryItem:
    g, n_epochs = config.grid.size, config.schedules.n_epochs
    m, per_point = g * g, _GRID_PER_POINT + 4 * max(config.schedule_vae.hidden)
    nbytes = m * (n_epochs * _GRID_PER_VALUE + per_point) + _GRID_FIXED
    kept = m * (n_epochs * 4 + _GRID_KEPT_PER_POINT)
    detail = (f"{g}² points × {n_epochs} epochs × {_GRID_PER_VALUE} B + {g}² × {per_point} B,"
              " decoded in one batch")
    return _item("latent grid decode", {"grid.size": float(m), "schedules.n_epochs":
                                        float(n_epochs)}, nbytes, detail, kept)


def _gp_item(config: CampaignConfig) -> MemoryItem:
    g, budget = config.grid.size, config.bo.budget
    m, chunk = g * g, min(2048, g * g)
    # per chunk, gpytorch builds batched cross-covariances of chunk × evaluations
    nbytes = m * _GP_PER_POINT + chunk * (budget + 1) * 16 + _GP_FIXED
    detail = (f"{g}² points × {_GP_PER_POINT} B (mean, σ, acquisition, temporaries) + chunks of"
              f" {chunk} points × {budget} evaluations")
    return _item("GP maps", {"grid.size": float(m)}, nbytes, detail, m * _GP_KEPT_PER_POINT)


def _thumbnails_item(config: CampaignConfig) -> MemoryItem:
    ob, k, size = config.objective, config.jrvae.classes, config.dataset.image_size
    count = config.bo.budget * ob.replicates
    nbytes = count * k * ob.manifold_d**2 * size * size
    detail = (f"{count} evaluations × {k} classes × {ob.manifold_d}² images × {size}² pixels"
              " × 1 B (uint8, kept by the campaign)")
    sizes = {"objective.manifold_d": float(ob.manifold_d**2), "dataset.image_size":
             float(size * size), "bo.budget": float(config.bo.budget), "objective.replicates":
             float(ob.replicates), "jrvae.classes": float(k)}
    return _item("manifolds of all evaluations", sizes, nbytes, detail, nbytes)


def _coords(config: CampaignConfig) -> int:
    """pyroVED's coordinate latents: one for 'r' and 's' each, two for 't'."""
    inv = config.jrvae.invariances
    return len(inv) + (1 if "t" in inv else 0)


def _training_items(config: CampaignConfig, n: int, device: str) -> list[MemoryItem]:
    jr, size = config.jrvae, config.dataset.image_size
    pixels, k, batch, coord = size * size, jr.classes, min(jr.batch_size, n), _coords(config)
    enc = _layer_params([pixels, *jr.encoder_hidden]) + 3 * _layer_params(
        [jr.encoder_hidden[-1], max(jr.latent_dim + coord, k)])
    wd = list(jr.decoder_hidden)
    if coord:
        dec = (2 + jr.latent_dim + k) * wd[0] + _layer_params([wd[0], *wd, 1])
        floats = (3 * (wd[0] + sum(wd))) // 2 + 2 * max(wd) + _TRAIN_PIXEL_FLOATS
        acts = batch * k * pixels * floats * 4
        how = (f"batch {batch} × {k} classes × {size}² pixels × {floats} floats × 4 B"
               f" (spatial decoder {wd}, kept for the backward pass)")
    else:
        dec = _layer_params([jr.latent_dim + k, *wd, pixels])
        acts = batch * k * (3 * sum(wd) + 8 * pixels) * 4
        how = f"batch {batch} × {k} classes × ({size}² × 8 + 3 × {sum(wd)}) floats × 4 B"
    params = enc + dec
    enc_acts = batch * (pixels + 3 * sum(jr.encoder_hidden)) * 4 * 2
    nbytes = acts + enc_acts + params * 16 + TRAINING_OVERHEAD
    sizes = {"jrvae.batch_size": float(batch), "dataset.image_size": float(pixels),
             "jrvae.classes": float(k), "jrvae.decoder_hidden": float(sum(wd))}
    items = [_item("one jiVAE training", sizes, nbytes,
                   f"{how} + {params} weights × 16 B (gradients, Adam)", params * 4,
                   "cuda" if device == "cuda" else "host")]
    if device == "cuda":
        items.insert(0, MemoryItem("CUDA runtime", "jrvae.device", CUDA_HOST_BYTES,
                                   "context, kernels and libraries on the host",
                                   CUDA_HOST_BYTES))
    return items


def _manifold_items(config: CampaignConfig, device: str | None) -> list[MemoryItem]:
    """Decoding K manifolds of d² images, then the float32 copies (stack, astype, clip).

    ``device`` None leaves the decoding out (it may run on the GPU).
    """
    jr, d, size = config.jrvae, config.objective.manifold_d, config.dataset.image_size
    pixels, k, width = size * size, jr.classes, max(jr.decoder_hidden)
    one_class = d * d * pixels * 4
    batch = min(MANIFOLD_BATCH, d * d)
    floats = (5 * width if _coords(config) else 0) + _DECODE_PIXEL_FLOATS
    decode = batch * pixels * floats * 4
    # float32 copies: the per-class tensors, stack, astype, clip, then the thumbnails'
    # temporaries; and heap fragmentation (measured 3.5–7 copies); plus pyroved's latent grid,
    # built as one Python tensor per point
    arrays = 6 * k * one_class + d * d * 1500 + MANIFOLD_OVERHEAD
    detail = (f"{k} classes × {d}² images × {size}² pixels × 4 B × 6 copies + {d}² latent"
              " points × 1.5 kB")
    sizes = {"objective.manifold_d": float(d * d), "dataset.image_size": float(pixels),
             "jrvae.classes": float(k)}
    items = [_item("class manifolds", sizes, arrays, detail)]
    if device is None:
        return items
    decode_detail = (f"batches of {batch} latent points × {size}² pixels × {floats} floats"
                     f" × 4 B (decoder {list(jr.decoder_hidden)})")
    decode_sizes = {"dataset.image_size": float(pixels), "jrvae.decoder_hidden":
                    float(sum(jr.decoder_hidden))}
    if device == "cuda":
        items.append(_item("manifold decoding", decode_sizes, decode, decode_detail,
                           device="cuda"))
    else:  # on the host the decoded classes pile up beside the decoder's batches
        items.insert(0, _item("manifold decoding", decode_sizes,
                              decode + (k + 1) * one_class + MANIFOLD_OVERHEAD,
                              decode_detail + f" + the {k} decoded classes"))
    return items


def _cuda_present() -> bool:
    """Whether an NVIDIA driver is visible (cheap: no torch import)."""
    gpus = Path("/proc/driver/nvidia/gpus")
    try:
        return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists()
    except OSError:
        return False


def _resolve_device(name: str) -> str:
    """``jrvae.device`` → ``"cuda"`` or ``"cpu"``; torch is imported only where a GPU may be."""
    if name == "cpu":
        return "cpu"
    if name == "auto" and "torch" not in sys.modules and not _cuda_present():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _phases(config: CampaignConfig, raw_shape: tuple[int, int, int] | None,
            device: str | None, raw_itemsize: int = 4) -> list[MemoryItem]:
    """The phases in order; ``device`` None leaves out those that may run on a GPU."""
    n = _images_used(config, raw_shape)
    items = [
        MemoryItem("libraries", "", LIBRARIES_BYTES,
                   "Python, numpy, torch, pyro, gpytorch, BoTorch, scikit-image, h5py",
                   LIBRARIES_BYTES),
        _dataset_item(config, raw_shape, raw_itemsize, n),
        _schedule_vae_item(config),
        _grid_item(config),
        _gp_item(config),
        _thumbnails_item(config),
    ]
    if device is not None:
        items += _training_items(config, n, device)
    return items + _manifold_items(config, device)


def raw_layout(dataset: DatasetConfig) -> tuple[tuple[int, int, int], int] | None:
    """``(count, H, W)`` and the bytes per value of a file dataset's stored images.

    Read from the file's headers (``zbo_gui.core.data.open_images`` is lazy: no pixel is
    read), for :func:`estimate_memory`'s ``raw_shape`` and ``raw_itemsize``; colour images
    give ``W × C`` as W. None for the built-in demos.

    Raises:
        DatasetError: the source cannot be opened as images (the message names it).
    """
    if dataset.is_demo:
        return None
    from zbo_gui.core.data import open_images

    with open_images(dataset.source, dataset.format, dataset.key) as raw:
        h, w, *channels = (int(s) for s in raw.layout.image_shape)
        return (int(raw.count), h, w * (channels[0] if channels else 1)), raw.dtype.itemsize


def estimate_memory(config: CampaignConfig, raw_shape: tuple[int, int, int] | None = None,
                    *, raw_itemsize: int = 4, device: str | None = None) -> list[MemoryItem]:
    """The peak memory of each phase of a campaign, in the order the phases run.

    Args:
        config: the campaign configuration.
        raw_shape: ``(count, H, W)`` of the images as stored in a file dataset (see
            :func:`raw_layout`; colour images: ``W × C`` as W); None when unknown (the raw
            images are then taken to be ``image_size²``). Ignored by the built-in demos.
        raw_itemsize: bytes per stored value of the file (:func:`raw_layout`; 1 for uint8,
            8 for float64).
        device: where the jiVAE trains, ``"cpu"`` or ``"cuda"``; None resolves
            ``config.jrvae.device`` (torch is imported only when a GPU may be present).

    Returns:
        One :class:`MemoryItem` per phase: libraries, dataset load, schedule VAE training,
        latent grid decode, GP maps, the manifolds kept for all evaluations, (the CUDA
        runtime,) one jiVAE training, the manifold decoding and the class manifolds of one
        evaluation. With CUDA, the training and the manifold decoding are ``"cuda"`` items.
    """
    if device is None:
        device = _resolve_device(config.jrvae.device)
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return _phases(config, raw_shape, device, raw_itemsize)


def peak_memory(items: list[MemoryItem], device: str = "host") -> tuple[int, MemoryItem | None]:
    """The peak of phases run one after another, each on top of what earlier ones kept.

    Args:
        items: phases in the order they run (as :func:`estimate_memory` gives them).
        device: ``"host"`` or ``"cuda"``: only the items that live there count. On the GPU
            nothing is kept between phases.

    Returns:
        ``(peak, item)``: the peak in bytes and the phase where it happens (None without items).
    """
    peak, where, kept = 0, None, 0
    for item in items:
        if item.device != device:
            continue
        total = (kept if device == "host" else 0) + item.nbytes
        if where is None or total > peak:
            peak, where = total, item
        kept += item.kept
    return peak, where


def _read_int(path: Path) -> int | None:
    """An integer file (``memory.max`` and friends); None when absent or ``max``."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _inactive_file(folder: Path, key: str) -> int:
    """Reclaimable page cache of a cgroup (``memory.stat``'s ``key``), 0 when unknown."""
    try:
        for line in (folder / "memory.stat").read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except (OSError, UnicodeDecodeError):
        pass
    return 0


def _limits_room(root: Path, own: str, names: tuple[str, str, str]) -> list[int]:
    """``limit − (usage − inactive page cache)`` of the cgroup ``own`` under ``root`` and of
    each ancestor that has a limit (``names``: the limit and usage files, the stat key)."""
    limit_name, usage_name, cache_key = names
    rooms: list[int] = []
    folder = root / own.strip("/")
    while folder == root or root in folder.parents:
        limit = _read_int(folder / limit_name)
        if limit is not None and limit < 1 << 60:  # v1 writes a huge number for "no limit"
            usage = _read_int(folder / usage_name) or 0
            rooms.append(limit - max(usage - _inactive_file(folder, cache_key), 0))
        if folder == root:
            break
        folder = folder.parent
    return rooms


def _cgroup_room() -> int | None:
    """What the cgroup memory limits of this process still allow, or None without a limit.

    cgroup v2: ``memory.max − memory.current``; cgroup v1: ``memory.limit_in_bytes −
    memory.usage_in_bytes``; the usage without the inactive page cache (reclaimable, as
    container runtimes count it); of the process's cgroup and every ancestor (the least wins).
    """
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    rooms: list[int] = []
    for line in lines:
        _, controllers, own = [*line.split(":", 2), "", ""][:3]
        if controllers == "" and line.startswith("0::"):
            rooms += _limits_room(Path("/sys/fs/cgroup"), own,
                                  ("memory.max", "memory.current", "inactive_file"))
        elif "memory" in controllers.split(","):
            rooms += _limits_room(Path("/sys/fs/cgroup/memory"), own, (
                "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"))
    return max(min(rooms), 0) if rooms else None


def available_memory() -> int | None:
    """Bytes of memory available to this process now, or None when unknown.

    Linux: ``MemAvailable`` of ``/proc/meminfo``, lowered to what a cgroup memory limit still
    allows (a container's limit). None elsewhere: the check is then skipped.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            found = [line.split() for line in meminfo if line.startswith("MemAvailable:")]
    except OSError:
        return None
    if not found:
        return None
    available = int(found[0][1]) * 1024
    room = _cgroup_room()
    return available if room is None else min(available, room)


def cuda_available_memory() -> int | None:
    """Free memory of the current CUDA device (``torch.cuda.mem_get_info``), or None."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, _ = torch.cuda.mem_get_info()
    return int(free)


def _value(config: CampaignConfig, name: str) -> object:
    section, _, key = name.partition(".")
    value = getattr(getattr(config, section), key)
    return list(value) if isinstance(value, tuple) else value


def _refusal(config: CampaignConfig, items: list[MemoryItem], device: str,
             available: int) -> ConfigError | None:
    """The error for ``items`` on ``device`` (None when they fit).

    The message names the largest item at the peak: the phase where it happens, or what an
    earlier phase keeps (e.g. the decoded grid under a training), whichever is larger.
    """
    peak, phase = peak_memory(items, device)
    if phase is None or peak <= SAFETY_FRACTION * available:
        return None
    shares = [(phase.nbytes, phase)]
    if device == "host":
        for item in items:
            if item is phase:
                break
            if item.device == "host" and item.kept:
                shares.append((item.kept, item))
    named_shares = [s for s in shares if s[1].field] or shares
    figure, named = max(named_shares, key=lambda share: share[0])
    during = "" if named is phase else f" (during the {phase.what})"
    rest = (f"; the peak{during} is about {format_bytes(peak)}" if peak > figure else "")
    head = (f"{named.field} = {_value(config, named.field)}" if named.field
            else "this configuration")
    also = f" (or {', '.join(named.also)})" if named.also else ""
    lower = f"; lower {named.field}{also}" if named.field else ""
    memory = "GPU memory" if device == "cuda" else "memory"
    return ConfigError(
        f"{head} needs about {format_bytes(figure)} for the {named.what} ({named.detail})"
        f"{rest}, but only {format_bytes(available)} of {memory} are available (a campaign may"
        f" use {SAFETY_FRACTION:.0%}){lower}"
    )


def check_memory(config: CampaignConfig, raw_shape: tuple[int, int, int] | None = None,
                 available: int | None = None, *, raw_itemsize: int = 4,
                 cuda_available: int | None = None) -> list[MemoryItem]:
    """Refuse a configuration whose peak memory exceeds what the machine has.

    The phases run one after another, each on top of what the earlier ones keep (the images
    stay throughout, the decoded grid from its decode on, ...): see :func:`peak_memory`. The
    peak must stay within :data:`SAFETY_FRACTION` of the available memory. The phases that do
    not depend on the device are checked first, without importing torch, so that a huge grid,
    image size or manifold is refused in milliseconds; then ``jrvae.device`` is resolved and
    the whole estimate checked, on the GPU too when the jiVAE trains there.

    Args:
        config: the campaign configuration.
        raw_shape: ``(count, H, W)`` of a file dataset's stored images (see
            :func:`estimate_memory`).
        available: bytes of host memory available; None measures it (:func:`available_memory`;
            when that is unknown too, the host check is skipped).
        raw_itemsize: bytes per stored value of a file dataset (see :func:`estimate_memory`).
        cuda_available: bytes of free GPU memory; None asks torch when training on CUDA.

    Returns:
        The estimate (:func:`estimate_memory`) when it fits.

    Raises:
        ConfigError: the peak does not fit; one line naming the field to lower, the phase, the
            figures and the memory available.
    """
    if available is None:
        available = available_memory()
    if available is not None:
        error = _refusal(config, _phases(config, raw_shape, None, raw_itemsize), "host",
                         available)
        if error is not None:
            raise error
    device = _resolve_device(config.jrvae.device)
    items = _phases(config, raw_shape, device, raw_itemsize)
    if available is not None:
        error = _refusal(config, items, "host", available)
        if error is not None:
            raise error
    if device == "cuda":
        free = cuda_available if cuda_available is not None else cuda_available_memory()
        error = None if free is None else _refusal(config, items, "cuda", free)
        if error is not None:
            raise error
    return items
