"""Time and memory of loading a 10,000-image 64x64 stack from TIFF and from chunked HDF5.

Usage::

    python benchmarks/data_loading.py [--images 10000] [--repeats 3] [--keep DIR]

(with ``zbo_gui`` importable: installed, or ``PYTHONPATH=.`` from the repository root).

It writes, in a temporary folder, the same uint16 stack (synthetic particle images scaled to
0..4000) as an uncompressed TIFF stack (tifffile) and as a chunked (16 images per chunk),
gzip-compressed HDF5 dataset, then loads each through ``load_dataset`` in a fresh Python process
per case: the whole stack at 64x64, and the demo-sized subset of 800 images at 16x16. Each case
reports the median load time, the tracemalloc peak (Python and numpy allocations) and the
growth of the peak resident set size (VmHWM, reset after the warm-up; it also sees the C
libraries' buffers).
``inspect_file`` (the block-wise summary behind ``zbo inspect-data``) is timed too. The table is
printed and written to ``benchmarks/results/data_loading.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from _report import write_json

SIDE = 64

#: Runs in a fresh interpreter: warm up the imports, then measure one load.
_CHILD = textwrap.dedent("""
    import json, statistics, sys, time, tracemalloc, warnings
    from zbo_gui.core.config import DatasetConfig
    from zbo_gui.core.data import inspect_file
    from zbo_gui.core.datasets import load_dataset
    import skimage.transform

    source, n_images, image_size, repeats, what = (sys.argv[1], int(sys.argv[2]),
                                                   int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    warnings.simplefilter("ignore")
    load_dataset(DatasetConfig(source=source, n_images=2, image_size=16), 1)  # warm-up
    config = DatasetConfig(source=source, n_images=n_images, image_size=image_size)

    def status(field):
        with open("/proc/self/status") as lines:
            return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(field + ":"))

    def reset_peak():  # VmHWM restarts from the current RSS (ru_maxrss survives exec)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def once():
        if what == "inspect":
            return inspect_file(source)
        return load_dataset(config, 0)

    reset_peak()
    rss0 = status("VmRSS")
    tracemalloc.start()
    result = once()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss1 = status("VmHWM")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    shape = [result.count, *result.image_shape] if what == "inspect" else list(
        result.images.shape)
    print(json.dumps({"seconds": statistics.median(times), "traced_peak_bytes": peak,
                      "rss_growth_bytes": rss1 - rss0, "shape": shape}))
""")


def write_files(folder: Path, n: int) -> dict[str, Path]:
    """The same stack as a TIFF stack and a chunked, compressed HDF5 dataset."""
    import h5py
    import tifffile

    from zbo_gui.core.data import particle_images

    images, _ = particle_images(n, SIDE, 4, seed=0)
    stack = np.rint(images * 4000).astype(np.uint16)
    paths = {"tiff": folder / "stack.tif", "hdf5": folder / "stack.h5"}
    tifffile.imwrite(paths["tiff"], stack, photometric="minisblack")
    with h5py.File(paths["hdf5"], "w") as f:
        f.create_dataset("images", data=stack, chunks=(16, SIDE, SIDE), compression="gzip",
                         compression_opts=4, shuffle=True)
    return paths


def measure(source: Path, n_images: int, image_size: int, repeats: int, what: str
            ) -> dict[str, float]:
    """One case in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(source), str(n_images), str(image_size),
         str(repeats), what], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(n: int, repeats: int, keep: Path | None) -> dict[str, object]:
    """Write the files, measure every case, return the report."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths = write_files(folder, n)
        written = time.perf_counter() - t0
        sizes = {fmt: path.stat().st_size for fmt, path in paths.items()}
        rows = []
        for fmt, path in paths.items():
            for what, n_images, image_size in (("load", n, SIDE), ("load", 800, 16),
                                               ("inspect", n, SIDE)):
                result = measure(path, n_images, image_size, repeats, what)
                rows.append({"format": fmt, "case": what, "n_images": min(n_images, n),
                             "image_size": image_size, "file_bytes": sizes[fmt], **result})
    return {
        "benchmark": "data_loading",
        "images": n, "image_shape": [SIDE, SIDE], "dtype": "uint16",
        "raw_bytes": n * SIDE * SIDE * 2, "write_seconds": written, "repeats": repeats,
        "hdf5_layout": "chunks 16x64x64, gzip level 4, shuffle",
        "tiff_layout": "one uncompressed page per image",
        "rows": rows,
    }


def table(report: dict[str, object]) -> str:
    """The report as a text table."""
    mib = 1024**2
    lines = [f"{report['images']} images {SIDE}x{SIDE} uint16 ({report['raw_bytes'] / mib:.0f}"
             f" MiB raw); median of {report['repeats']}; load average"
             f" {os.getloadavg()[0]:.2f}",
             f"{'format':<6} {'case':<8} {'images':>6} {'size':>5} {'file MiB':>9}"
             f" {'seconds':>8} {'traced MiB':>10} {'RSS +MiB':>9}"]
    for row in report["rows"]:  # type: ignore[union-attr]
        lines.append(f"{row['format']:<6} {row['case']:<8} {row['n_images']:>6}"
                     f" {row['image_size']:>5} {row['file_bytes'] / mib:>9.1f}"
                     f" {row['seconds']:>8.3f} {row['traced_peak_bytes'] / mib:>10.1f}"
                     f" {row['rss_growth_bytes'] / mib:>9.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    report = run(args.images, args.repeats, args.keep)
    print(table(report))
    print(f"wrote {write_json('data_loading', report)}")


if __name__ == "__main__":
    main()
