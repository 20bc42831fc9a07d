"""Tests of the schedule export (CSV, JSON, NPY) and the training snippet."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zbo_gui.core.errors import ConfigError, ScheduleError
from zbo_gui.core.schedules import load_csv
from zbo_gui.storage import export
from zbo_gui.storage.export import (
    export_csv,
    export_json,
    export_npy,
    training_snippet,
    write_export,
)


@pytest.fixture
def schedule() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.concatenate([[1 / 3, 1e-7, 12345.678901234567], rng.random(7) * 5 + 0.01])


@pytest.fixture
def config() -> dict[str, Any]:
    return {
        "seed": 7,
        "dataset": {"source": "demo", "image_size": 16},
        "jrvae": {
            "classes": 4, "latent_dim": 2, "invariances": ["r"], "encoder_hidden": [128, 128],
            "decoder_hidden": [32, 32], "sampler": "bernoulli", "lr": 0.01, "batch_size": 25,
            "beta_d": 1.0, "device": "auto",
        },
    }


def test_csv_parses_back_exactly(tmp_path: Path, schedule: np.ndarray) -> None:
    path = tmp_path / "best.csv"
    export_csv(path, schedule, 0.5)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "beta_c", "beta_d"]
    assert len(rows) == len(schedule) + 1
    assert [int(r[0]) for r in rows[1:]] == list(range(len(schedule)))
    assert np.array_equal([float(r[1]) for r in rows[1:]], schedule)  # repr precision
    assert all(float(r[2]) == 0.5 for r in rows[1:])


def test_json_contains_schedule_objective_z_config(tmp_path: Path, schedule: np.ndarray,
                                                   config: dict[str, Any]) -> None:
    path = tmp_path / "best.json"
    z = np.array([0.25, -1.5])
    export_json(path, schedule, 1.0, objective=np.float64(0.75), z=z, which="best_evaluated",
                config=config, extra={"campaign": "c.h5", "evaluation": np.int64(4),
                                      "nan": float("nan")})
    document = json.loads(path.read_text())
    assert document["schedule"] == schedule.tolist()
    assert document["objective"] == 0.75 and document["z"] == [0.25, -1.5]
    assert document["beta_d"] == 1.0 and document["which"] == "best_evaluated"
    assert document["config"] == config
    assert document["extra"] == {"campaign": "c.h5", "evaluation": 4, "nan": None}


def test_npy_has_beta_c_and_beta_d_columns(tmp_path: Path, schedule: np.ndarray) -> None:
    path = tmp_path / "best.npy"
    export_npy(path, schedule, 2.0)
    table = np.load(path)
    assert table.shape == (len(schedule), 2) and table.dtype == np.float64
    assert np.array_equal(table[:, 0], schedule)
    assert np.all(table[:, 1] == 2.0)


def test_snippet_compiles_and_uses_the_schedule(config: dict[str, Any]) -> None:
    text = training_snippet("best schedule.csv", config)
    compile(text, "snippet", "exec")
    assert "'best schedule.csv'" in text and "images.npy" in text
    assert "scale_factor=[" in text
    assert "scale_factor=1" not in text
    calls = {node.func.attr: node for node in ast.walk(ast.parse(text))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    model = {k.arg: ast.literal_eval(k.value) for k in calls["jiVAE"].keywords
             if k.arg != "seed"}
    assert model == {
        "data_dim": (16, 16), "latent_dim": 2, "discrete_dim": 4, "invariances": ["r"],
        "hidden_dim_e": [128, 128], "hidden_dim_d": [32, 32], "sampler_d": "bernoulli",
    }
    trainer = {k.arg: k.value for k in calls["SVItrainer"].keywords}
    assert ast.literal_eval(trainer["lr"]) == 0.01
    assert ast.literal_eval(trainer["enumerate_parallel"]) is True
    assert "SEED = 7" in text and "batch_size=25" in text


def test_snippet_without_invariances(config: dict[str, Any]) -> None:
    config["jrvae"]["invariances"] = []
    text = training_snippet("s.csv", config)
    compile(text, "snippet", "exec")
    assert "invariances=None" in text


def test_snippet_needs_the_config_keys(config: dict[str, Any]) -> None:
    del config["jrvae"]["lr"]
    with pytest.raises(ConfigError, match="lr"):
        training_snippet("s.csv", config)


def test_write_export_csv_writes_the_training_script(tmp_path: Path, schedule: np.ndarray,
                                                     config: dict[str, Any]) -> None:
    path = tmp_path / "optimum.csv"
    written = write_export(path, "csv", schedule, 1.0, config=config)
    script = tmp_path / "optimum_train.py"
    assert written == [path, script]
    compile(script.read_text(), str(script), "exec")
    assert "'optimum.csv'" in script.read_text()


@pytest.mark.parametrize("fmt", ["json", "npy"])
def test_write_export_other_formats(tmp_path: Path, schedule: np.ndarray,
                                    config: dict[str, Any], fmt: str) -> None:
    path = tmp_path / f"optimum.{fmt}"
    assert write_export(path, fmt, schedule, 1.0, config=config, objective=0.5,
                        z=np.zeros(2), which="best_predicted") == [path]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_write_export_unknown_format(tmp_path: Path, schedule: np.ndarray,
                                     config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="'xlsx'"):
        write_export(tmp_path / "x.xlsx", "xlsx", schedule, 1.0, config=config)
    assert list(tmp_path.iterdir()) == []


def test_a_schedule_pair_exports_its_beta_d_curve_in_every_format(
        tmp_path: Path, schedule: np.ndarray, config: dict[str, Any]) -> None:
    pair = np.stack([schedule, schedule[::-1] / 10])
    write_export(tmp_path / "best.csv", "csv", pair, 1.0, config=config)
    with (tmp_path / "best.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert np.array_equal([float(r["beta_c"]) for r in rows], pair[0])
    assert np.array_equal([float(r["beta_d"]) for r in rows], pair[1])  # the curve, not 1.0
    assert np.array_equal(load_csv(tmp_path / "best.csv", len(schedule), pairs=True)[0], pair)
    snippet = (tmp_path / "best_train.py").read_text()
    assert "scale_factor=[beta_c[e], beta_d[e]]" in snippet and "best.csv" in snippet
    export_json(tmp_path / "best.json", pair, 1.0, objective=0.5, z=np.zeros(2),
                which="best_evaluated", config=config)
    document = json.loads((tmp_path / "best.json").read_text())
    assert np.array_equal(document["schedule"], pair[0])
    assert np.array_equal(document["beta_d"], pair[1])
    export_npy(tmp_path / "best.npy", pair, 1.0)
    assert np.array_equal(np.load(tmp_path / "best.npy"), pair.T)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.ones((3, 3)), r"\(N,\) array or a pair \(2, N\)"),
        (np.ones((2, 2, 3)), r"got shape \(2, 2, 3\)"),
        (np.array([]), "non-empty"),
        (np.array([[1.0, 2.0], [0.5, 0.0]]), "beta_d value at epoch 1 is 0.0"),
        (np.array([1.0, 2.0, np.nan]), "epoch 2 is nan"),
        (np.array([1.0, np.inf]), "epoch 1 is inf"),
        (np.array([1.0, 0.5, 0.0, 3.0]), "epoch 2 is 0.0"),
        (np.array([-1.0, 1.0]), "epoch 0 is -1.0"),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "json", "npy"])
def test_bad_schedules_raise_and_write_nothing(tmp_path: Path, config: dict[str, Any],
                                               bad: np.ndarray, message: str,
                                               fmt: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        write_export(tmp_path / f"x.{fmt}", fmt, bad, 1.0, config=config)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("beta_d", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_beta_d_raises(tmp_path: Path, schedule: np.ndarray, beta_d: float) -> None:
    with pytest.raises(ScheduleError, match="beta_d"):
        export_npy(tmp_path / "x.npy", schedule, beta_d)


def test_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, schedule: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "best.csv"
    path.write_text("old contents\n")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(export.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        export_csv(path, schedule, 1.0)
    assert path.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["best.csv"]


def test_float32_schedules_are_written_without_float32_noise(tmp_path: Path) -> None:
    """A schedule computed in float32 once exported ``0.10000000149011612``."""
    schedule = np.array([0.1, 2.3, 7.77, 1e-3, 0.5], dtype=np.float32)
    path = tmp_path / "best.csv"
    export_csv(path, schedule, 1.0)
    text = path.read_text()
    assert "0.10000000149011612" not in text
    assert text.splitlines()[1:3] == ["0,0.1,1.0", "1,2.3,1.0"]
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    back = np.array([float(r[1]) for r in rows], dtype=np.float32)
    assert np.array_equal(back, schedule)  # exact at the stored precision
    export_json(tmp_path / "best.json", schedule, 1.0, objective=0.5, z=np.zeros(2),
                which="best_evaluated", config={})
    document = json.loads((tmp_path / "best.json").read_text())
    assert document["schedule"][:3] == [0.1, 2.3, 7.77]
    assert np.array_equal(np.array(document["schedule"], dtype=np.float32), schedule)
