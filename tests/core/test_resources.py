"""Memory estimates and the refusal of configurations that cannot fit (``core.resources``)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import TINY_CONFIG
from zbo_gui.core.config import (
    CampaignConfig,
    config_from_dict,
    demo_config,
    quick_config,
)
from zbo_gui.core.errors import ConfigError
from zbo_gui.core.resources import (
    SAFETY_FRACTION,
    MemoryItem,
    available_memory,
    check_memory,
    estimate_memory,
    format_bytes,
    peak_memory,
    raw_layout,
)

GB = 10**9
FIGURE = re.compile(r"\d+(\.\d+)? [kMGTPE]B")


def _with(config: CampaignConfig, section: str, **values: object) -> CampaignConfig:
    return config.replace(**{section: dataclasses.replace(getattr(config, section), **values)})


def _machine_memory() -> int:
    """This machine's available memory (24 GB where the OS does not say)."""
    return available_memory() or 24 * GB


def _item(items: list[MemoryItem], what: str) -> MemoryItem:
    return next(i for i in items if i.what == what)


HUGE = {
    "grid.size": ("grid", {"size": 30000}),
    "objective.manifold_d": ("objective", {"manifold_d": 5000}),
    "dataset.image_size": ("dataset", {"image_size": 100000}),
}


@pytest.mark.parametrize("field", list(HUGE))
def test_huge_configs_are_refused_in_milliseconds(field: str) -> None:
    section, values = HUGE[field]
    config = _with(demo_config(), section, **values)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        check_memory(config)
    elapsed = time.perf_counter() - start
    message = str(caught.value)
    value = next(iter(values.values()))
    assert message.startswith(f"{field} = {value} needs about ")
    assert f"lower {field}" in message
    assert FIGURE.search(message) and " GB of memory are available" in message
    assert "\n" not in message
    assert elapsed < 0.05


def test_refusal_imports_no_torch() -> None:
    """The check runs before anything heavy: a fresh process refuses without importing torch."""
    code = (
        "import sys\n"
        "from zbo_gui.core.config import demo_config, GridConfig\n"
        "from zbo_gui.core.errors import ConfigError\n"
        "from zbo_gui.core.resources import check_memory\n"
        "try:\n"
        "    check_memory(demo_config().replace(grid=GridConfig(size=30000)))\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=Path(__file__).parents[2])
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("grid.size = 30000 needs about")
    assert lines[-1] == "False"


@pytest.mark.parametrize("preset", ["demo", "quick", "tiny"])
def test_presets_pass_comfortably(preset: str) -> None:
    config = {"demo": demo_config, "quick": quick_config,
              "tiny": lambda: config_from_dict(TINY_CONFIG)}[preset]()
    items = check_memory(config)
    assert [i.what for i in items][:3] == ["libraries", "dataset load", "schedule VAE training"]
    peak, _ = peak_memory(items)
    assert peak < 1.5 * GB  # mostly the libraries
    assert peak < 0.5 * _machine_memory()
    check_memory(config, available=2 * GB)  # fits a small machine too


def test_small_available_memory_refuses_naming_the_largest_item() -> None:
    config = _with(demo_config(), "grid", size=600)  # ≈ 1 GB for the grid decode
    items = estimate_memory(config, device="cpu")
    largest = max(items, key=lambda i: i.nbytes)
    assert largest.what == "latent grid decode"
    with pytest.raises(ConfigError) as caught:
        check_memory(config, available=2**30)
    message = str(caught.value)
    assert message.startswith("grid.size = 600 needs about")
    assert f"about {format_bytes(largest.nbytes)} for the latent grid decode" in message
    assert "but only 1.07 GB of memory are available" in message
    check_memory(config, available=4 * GB)


def test_refusal_names_the_manifolds_when_they_dominate() -> None:
    config = _with(demo_config(), "objective", manifold_d=300)
    items = estimate_memory(config, device="cpu")
    largest = max(items, key=lambda i: max(i.nbytes, i.kept))
    assert largest.field == "objective.manifold_d"
    with pytest.raises(ConfigError, match=r"^objective\.manifold_d = 300 needs about [\d.]+ GB"
                       rf" for the {largest.what} \("):
        check_memory(config, available=2 * GB)


def test_refusal_names_what_an_earlier_phase_keeps() -> None:
    """A big image set is kept under every later phase: the message blames the dataset."""
    config = _with(demo_config(), "dataset", n_images=200_000)  # 200 k × 16² × 4 B ≈ 205 MB
    items = estimate_memory(config, device="cpu")
    with pytest.raises(ConfigError) as caught:
        check_memory(config, available=int(1.1 * GB))
    message = str(caught.value)
    kept = format_bytes(_item(items, "dataset load").kept)
    assert message.startswith(f"dataset.n_images = 200000 needs about {kept} for the dataset"
                              " load (200000 images × 16² pixels × 4 B")
    assert "; the peak (during the " in message and "lower dataset.n_images" in message


def test_peak_adds_what_earlier_phases_keep() -> None:
    items = [MemoryItem("a", "", 100, "", kept=10), MemoryItem("b", "", 50, "", kept=20),
             MemoryItem("c", "", 65, ""), MemoryItem("g", "", 500, "", device="cuda")]
    assert peak_memory(items) == (100, items[0])
    items[2] = MemoryItem("c", "", 95, "")
    assert peak_memory(items) == (125, items[2])  # 10 + 20 + 95
    assert peak_memory(items, "cuda") == (500, items[3])


@pytest.mark.parametrize(("section", "name", "what", "values"), [
    ("grid", "size", "latent grid decode", [20, 50, 100, 300, 1000]),
    ("dataset", "image_size", "dataset load", [8, 16, 28, 64, 256]),
    ("objective", "manifold_d", "class manifolds", [2, 8, 30, 100]),
])
def test_estimates_grow_monotonically(section: str, name: str, what: str,
                                      values: list[int]) -> None:
    phase, total = [], []
    for value in values:
        items = estimate_memory(_with(demo_config(), section, **{name: value}), device="cpu")
        phase.append(_item(items, what).nbytes)
        total.append(peak_memory(items)[0])
    assert phase == sorted(phase) and len(set(phase)) == len(phase)
    assert total == sorted(total)


def test_file_dataset_estimate_follows_the_raw_images() -> None:
    config = _with(demo_config(), "dataset", source="/data/frames.npy", image_size=64)

    def load(**kwargs: object) -> int:
        return _item(estimate_memory(config, device="cpu", **kwargs), "dataset load").nbytes

    small = load(raw_shape=(5000, 64, 64))
    assert load(raw_shape=(5000, 512, 512)) > 10 * small
    assert load(raw_shape=(5000, 512, 512), raw_itemsize=8) > load(raw_shape=(5000, 512, 512))
    assert load(raw_shape=(100, 64, 64)) < small  # only 100 images to read
    assert "raw size not given" in _item(estimate_memory(config, device="cpu"),
                                         "dataset load").detail


def test_raw_layout_reads_headers_only(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "frames.npy"
    np.save(path, np.zeros((7, 40, 30, 3), dtype=np.uint16))
    config = _with(demo_config(), "dataset", source=str(path), image_size=16)
    assert raw_layout(demo_config().dataset) is None
    assert raw_layout(config.dataset) == ((7, 40, 90), 2)
    shape, itemsize = raw_layout(config.dataset)
    items = check_memory(config, shape, raw_itemsize=itemsize)
    assert "7 images of 40×90" in _item(items, "dataset load").detail


def test_cuda_training_is_a_gpu_item() -> None:
    config = quick_config()
    cpu = estimate_memory(config, device="cpu")
    gpu = estimate_memory(config, device="cuda")
    assert {i.device for i in cpu} == {"host"}
    on_gpu = {i.what for i in gpu if i.device == "cuda"}
    assert on_gpu == {"one jiVAE training", "manifold decoding"}
    assert _item(gpu, "CUDA runtime").kept > 0
    peak, phase = peak_memory(gpu, "cuda")
    assert phase is not None and peak == max(i.nbytes for i in gpu if i.device == "cuda")


def test_items_are_frozen_and_named_by_toml_fields() -> None:
    items = estimate_memory(demo_config(), device="cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        items[0].nbytes = 0  # type: ignore[misc]
    sections = {f.name for f in dataclasses.fields(CampaignConfig)}
    for item in items:
        assert item.nbytes > 0 and item.detail
        for name in (item.field, *item.also):
            if name:
                section, _, key = name.partition(".")
                assert section in sections and hasattr(getattr(demo_config(), section), key)


def test_available_memory_is_plausible() -> None:
    available = available_memory()
    if not Path("/proc/meminfo").exists():
        assert available is None
        return
    total = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))) * 1024
    assert available is not None and 0 < available <= total


def test_format_bytes() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(23.4e9) == "23.4 GB"
    assert format_bytes(2.59e12) == "2.59 TB"
    assert format_bytes(2.5e18) == "2.5 EB"


_MEASURE = r"""
import ctypes, gc, json, resource, sys
import numpy as np
import torch
torch.set_num_threads(1)
from zbo_gui.core.config import ScheduleVAEConfig, config_from_dict
from zbo_gui.core.latent_grid import build_grid
from zbo_gui.core.schedule_vae import ScheduleVAE
from zbo_gui.core.schedules import Bounds, generate_library

config = config_from_dict(json.loads(sys.argv[1]))
sc = config.schedules
bounds = Bounds(sc.beta_lo, sc.beta_hi)
library = generate_library(sc.counts, sc.n_epochs, bounds, 0)
vae = ScheduleVAE.train(library.schedules, bounds, ScheduleVAEConfig(epochs=2), 0)
build_grid(vae, library.schedules, 10, 0.15, 0.02)  # first-call costs outside the measure

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

gc.collect()
try:
    ctypes.CDLL("libc.so.6").malloc_trim(0)
except OSError:
    pass
before = status("VmRSS:")
try:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS
except OSError:
    pass
grid = build_grid(vae, library.schedules, config.grid.size, config.grid.margin,
                  config.grid.tolerance)
print(json.dumps({"increase": status("VmHWM:") - before}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_grid_estimate_matches_measured_peak() -> None:
    """A real grid decode (400² points × 50 epochs) in a fresh process, against the estimate."""
    config = _with(demo_config(), "grid", size=400)
    assert config.schedules.n_epochs == 50
    estimate = _item(estimate_memory(config, device="cpu"), "latent grid decode").nbytes
    assert estimate < 0.5 * SAFETY_FRACTION * _machine_memory()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(config.to_dict())], capture_output=True,
        text=True, timeout=120, check=True, cwd=Path(__file__).parents[2],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])["increase"]
    assert 0.5 * measured <= estimate <= 3 * measured, (estimate, measured)
