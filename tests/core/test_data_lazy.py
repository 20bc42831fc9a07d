"""Files larger than the memory the loader may use are read lazily: only the subset is loaded.

The HDF5 test builds a chunked, compressed dataset of 218 MB (13,312 images of 64×64 float32)
chunk by chunk, then loads 100 images in a fresh process whose address space is capped at its
current size plus 120 MB (RLIMIT_AS), with tracemalloc and the peak RSS (VmHWM) as second
witnesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.datasets import load_dataset

N, SIDE = 13_312, 64
DATASET_BYTES = N * SIDE * SIDE * 4
HEADROOM = 120 * 1024**2  # < DATASET_BYTES: reading it all could not fit

_CHILD = textwrap.dedent("""
    import json, resource, sys, tracemalloc
    from zbo_gui.core.config import DatasetConfig
    from zbo_gui.core.datasets import load_dataset
    import skimage.transform  # imported before the measurement

    def status(field):
        with open("/proc/self/status") as lines:
            return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(field + ":"))

    def reset_peak():  # VmHWM restarts from the current RSS (ru_maxrss survives exec)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    path, headroom = sys.argv[1], int(sys.argv[2])
    config = DatasetConfig(source=path, key="/images", n_images=100, image_size=16)
    load_dataset(DatasetConfig(source=path, key="/images", n_images=2, image_size=16), 1)
    limit = status("VmSize") + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    reset_peak()
    before = status("VmRSS")
    tracemalloc.start()
    data = load_dataset(config, 0)
    peak = tracemalloc.get_traced_memory()[1]
    after = status("VmHWM")
    print(json.dumps({"shape": list(data.images.shape), "traced_peak": peak,
                      "rss_growth": after - before, "steps": list(data.steps)}))
""")


@pytest.fixture(scope="module")
def big_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lazy") / "big.h5"
    pattern = (np.arange(SIDE * SIDE, dtype=np.float32).reshape(SIDE, SIDE) % 17) / 17
    with h5py.File(path, "w") as f:
        dataset = f.create_dataset("images", shape=(N, SIDE, SIDE), dtype="f4",
                                   chunks=(16, SIDE, SIDE), compression="gzip",
                                   compression_opts=1)
        for start in range(0, N, 256):
            ids = np.arange(start, start + 256, dtype=np.float32)[:, None, None]
            dataset[start: start + 256] = pattern + ids / N  # written chunk by chunk
    return path


def test_hdf5_larger_than_allowed_memory_is_read_lazily(big_h5: Path) -> None:
    assert DATASET_BYTES > 200 * 1024**2 > HEADROOM
    done = subprocess.run([sys.executable, "-c", _CHILD, str(big_h5), str(HEADROOM)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["shape"] == [100, 16, 16]
    assert report["traced_peak"] < DATASET_BYTES / 10, report
    assert report["rss_growth"] < DATASET_BYTES / 4, report
    assert "subset: 100 of 13312 images (seed 0)" in report["steps"]


def test_tiff_and_npy_subsets_read_only_what_is_used(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 60000, size=(2000, 96, 96)).astype(np.uint16)
    total = frames.nbytes  # 37 MB
    tifffile.imwrite(tmp_path / "stack.tif", frames, photometric="minisblack")
    np.save(tmp_path / "stack.npy", frames)
    del frames
    for name in ("stack.tif", "stack.npy"):
        config = DatasetConfig(source=str(tmp_path / name), n_images=10, image_size=32)
        load_dataset(config, 0)  # warm up imports
        tracemalloc.start()
        try:
            data = load_dataset(config, 0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert data.images.shape == (10, 32, 32)
        assert peak < total / 10, (name, peak, total)
