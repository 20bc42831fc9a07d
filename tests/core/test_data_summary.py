"""The dataset summary (``inspect_file``, ``ImageSet.summary``) and ``zbo inspect-data``."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli_helpers import assert_user_error, run_zbo
from zbo_gui.cli import main
from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.data import inspect_file
from zbo_gui.core.data import summary as summary_module
from zbo_gui.core.datasets import load_dataset
from zbo_gui.core.errors import DatasetError


def test_inspect_describes_the_stored_data(tmp_path: Path) -> None:
    raw = np.random.default_rng(0).integers(5, 900, size=(30, 12, 10)).astype(np.uint16)
    raw[7] = 3  # one constant image
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("entry/data", data=raw, chunks=(4, 12, 10), compression="gzip")
        f.create_dataset("entry/dark", data=raw[:2])
        f.create_dataset("entry/y", data=np.arange(30) % 3)
    info = inspect_file(path, key="/entry/data", labels="h5:/entry/y")
    assert (info.count, info.image_shape, info.dtype) == (30, (12, 10), "uint16")
    assert info.value_range == (3.0, float(raw.max()))
    assert (info.nan_count, info.constant_images) == (0, 1)
    assert info.labels == {0: 10, 1: 10, 2: 10}
    assert info.others == ("/entry/dark (2, 12, 10) uint16",)
    assert info.problems == () and info.warnings == ("1 constant image",)
    assert info.source == f"{path}[/entry/data]" and info.format == "hdf5"
    # the same bytes give the same fingerprint, whatever the block size
    small_blocks = summary_module.INSPECT_BLOCK_BYTES
    try:
        summary_module.INSPECT_BLOCK_BYTES = 500
        assert inspect_file(path, key="/entry/data").fingerprint == info.fingerprint
    finally:
        summary_module.INSPECT_BLOCK_BYTES = small_blocks
    text = info.to_text()
    assert "images       30 × 12×10 uint16" in text and "3 classes" in text
    assert json.loads(json.dumps(info.to_dict()))["labels"] == {"0": 10, "1": 10, "2": 10}


def test_inspect_reports_nan_and_single_images(tmp_path: Path) -> None:
    raw = np.random.default_rng(0).random((4, 6, 6))
    raw[1, 2, 2] = np.nan
    raw[3, 0, 0] = np.inf
    np.save(tmp_path / "nan.npy", raw)
    info = inspect_file(tmp_path / "nan.npy")
    assert info.nan_count == 2 and info.problems == ("2 NaN or infinite values",)
    assert info.value_range == (float(np.nanmin(raw[np.isfinite(raw)])),
                                float(raw[np.isfinite(raw)].max()))
    np.save(tmp_path / "one.npy", raw[0])
    single = inspect_file(tmp_path / "one.npy")
    assert single.count == 1 and single.problems == ()
    assert any("patch_size" in w for w in single.warnings)
    with pytest.raises(DatasetError, match="not found"):
        inspect_file(tmp_path / "missing.tif")


def test_summary_of_a_loaded_set(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).random((20, 8, 8)))
    data = load_dataset(DatasetConfig(source=str(path), n_images=5, image_size=4), seed=0)
    info = data.summary()
    assert (info.count, info.image_shape, info.dtype, info.format) == (5, (4, 4), "float32",
                                                                       "prepared")
    assert info.fingerprint == data.fingerprint and info.steps == data.steps
    assert 0.0 <= info.value_range[0] <= info.value_range[1] <= 1.0


# ------------------------------------------------------------------------------------ CLI


def test_inspect_data_command_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture
                                            ) -> None:
    path = tmp_path / "set.npz"
    np.savez(path, a=np.random.default_rng(0).random((5, 6, 6)), b=np.ones((2, 3, 3)))
    assert main(["inspect-data", str(path), "--key", "a"]) == 0
    out = capsys.readouterr().out
    assert "images       5 × 6×6 float64" in out and "other array  b (2, 3, 3) float64" in out
    assert main(["inspect-data", str(path), "--key", "a", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 5 and info["image_shape"] == [6, 6] and len(info["fingerprint"]) == 64


def test_inspect_data_command_refuses_bad_data(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "set.npz"
    np.savez(path, a=np.ones((5, 6, 6)), b=np.ones((2, 3, 3)))
    assert main(["inspect-data", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zbo: error: ") and "several arrays" in err and "\n" not in err
    assert main(["inspect-data", str(path), "--key", "a"]) == 2  # constant: described, refused
    captured = capsys.readouterr()
    assert "all values are equal" in captured.err and "images       5 × 6×6" in captured.out


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "empty file"), (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order'", "NPY")],
)
def test_inspect_data_subprocess_one_line_exit_2(tmp_path: Path, content: bytes,
                                                 needle: str) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(content)
    result = run_zbo("inspect-data", path, timeout=120)
    assert_user_error(result, "bad.npy", needle)


def test_every_format_through_a_config_file(tmp_path: Path) -> None:
    """What ``zbo run CONFIG.toml`` loads before anything else (relative paths from the file)."""
    import tifffile
    from PIL import Image

    from zbo_gui.core.config import load_config

    raw = np.random.default_rng(0).integers(0, 255, size=(6, 8, 8)).astype(np.uint8)
    data = tmp_path / "data"
    (data / "crops").mkdir(parents=True)
    np.save(data / "x.npy", raw)
    np.savez(data / "x.npz", images=raw)
    with h5py.File(data / "x.h5", "w") as f:
        f.create_dataset("entry/images", data=raw, chunks=(2, 8, 8), compression="gzip")
    tifffile.imwrite(data / "x.tif", raw, photometric="minisblack")
    for i, image in enumerate(raw):
        Image.fromarray(image).save(data / "crops" / f"{i}.png")
    Image.fromarray(np.hstack(list(raw))).save(data / "wide.png")
    sources = {"data/x.npy": "", "data/x.npz": "", "data/x.h5": "", "data/x.tif": "",
               "data/crops": "", "data/wide.png": "patch_size = 8\n"}
    fingerprints = set()
    for source, extra in sources.items():
        toml = tmp_path / "run.toml"
        toml.write_text(f'[dataset]\nsource = "{source}"\nimage_size = 8\n{extra}',
                        encoding="utf-8")
        config = load_config(toml)
        loaded = load_dataset(config.dataset, config.seed)
        assert loaded.images.shape == (6, 8, 8), source
        fingerprints.add(loaded.fingerprint)
    assert len(fingerprints) == 1  # the same images, whichever format carried them


def test_run_refuses_bad_data_in_one_line(tmp_path: Path) -> None:
    from tests.cli_helpers import tiny_config, write_config

    raw = np.random.default_rng(0).random((10, 8, 8))
    raw[4, 4, 4] = np.nan
    np.save(tmp_path / "nan.npy", raw)
    config = write_config(tmp_path / "bad.toml", tiny_config(dataset={"source": "nan.npy"}))
    out = tmp_path / "camp.h5"
    result = run_zbo("run", config, "--out", out, timeout=240)
    assert_user_error(result, "nan.npy", "1 NaN or infinite value in")
    assert not out.exists()
