"""β_c and β_d in one latent space, end to end with real tiny trainings: seeds → schedule VAE →
grid → campaign file → ``zbo info``/``zbo export``; and a β_c campaign of the previous file
format (3) opens and resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np

from zbo_gui.core.config import config_from_dict
from zbo_gui.core.latent_grid import feasibility
from zbo_gui.core.schedules import PairBounds, load_csv
from zbo_gui.runner import CampaignRunner
from zbo_gui.storage.campaign_file import FORMAT_VERSION, CampaignStore

from .cli_helpers import run_zbo, tiny_config

BETA_D = (0.1, 10.0)


def _csv_columns(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return (np.array([float(r["beta_c"]) for r in rows]),
            np.array([float(r["beta_d"]) for r in rows]))


def test_schedule_pairs_survive_seeds_vae_grid_file_and_export(tmp_path: Path) -> None:
    config = config_from_dict(tiny_config(
        schedules={"beta_d_lo": BETA_D[0], "beta_d_hi": BETA_D[1]},
        bo={"initial": 3, "budget": 5}))
    n = config.schedules.n_epochs
    path = tmp_path / "joint.h5"
    with CampaignRunner.create(path, config) as runner:
        runner.prepare()
        library, vae, grid = runner.library, runner.vae, runner.grid
        # seeds: pairs whose β_d curves lie in β_d's bounds, stored as pairs
        assert library.pairs and library.schedules.shape == (9, 2, n)
        beta_d = library.schedules[:, 1]
        assert beta_d.min() >= BETA_D[0] and beta_d.max() <= BETA_D[1]
        assert np.ptp(beta_d.mean(axis=1)) > 1.0  # different β_d levels, not one constant
        np.testing.assert_array_equal(runner.store.read_seeds()[0], library.schedules)
        # one 2-D latent space of both curves; the grid decodes pairs inside both bounds
        assert isinstance(vae.bounds, PairBounds)
        assert vae.encode(library.schedules).shape == (9, 2)
        unit = vae.decode_unit(grid.points)
        assert unit.shape == (grid.points.shape[0], 2 * n)
        np.testing.assert_array_equal(grid.feasible,
                                      feasibility(unit, config.grid.tolerance))
        assert grid.decoded.shape == (grid.points.shape[0], 2, n)
        assert grid.decoded[:, 1].min() >= BETA_D[0] * (1 - 1e-6)
        assert grid.decoded[:, 1].max() <= BETA_D[1] * (1 + 1e-6)
        for _ in range(2):
            evaluation = runner.evaluate(runner.next_proposal())
            assert evaluation.succeeded, evaluation.message
            np.testing.assert_array_equal(evaluation.proposal.schedule,
                                          grid.decoded[evaluation.proposal.grid_index])
    # the file keeps the pairs, and the campaign resumes with the stored pair VAE
    done = run_zbo("resume", path, "-q")
    assert done.returncode == 0, done.stderr
    assert "and β_d in [0.1, 10] optimised together" in done.stderr
    assert done.stderr.count("| β_d ") == 3  # each evaluation's line names its β_d curve
    with CampaignStore.open(path) as store:
        evaluations = store.read_evaluations()
        assert store.format_version == FORMAT_VERSION
    assert len(evaluations) == 5
    assert all(e.proposal.schedule.shape == (2, n) for e in evaluations)
    info = json.loads(run_zbo("info", path, "--json").stdout)
    for row, evaluation in zip(info["rows"], evaluations, strict=True):
        curve = evaluation.proposal.schedule[1]
        assert row["beta_d"] == [float(curve[0]), float(curve[-1])]
    text = run_zbo("info", path).stdout
    assert "β_d first→last" in text
    # the export's beta_d column is the best evaluation's β_d curve; it reads back as a seed
    exported = run_zbo("export", path, "--format", "csv", "-o", tmp_path / "best.csv")
    assert exported.returncode == 0, exported.stderr
    best = evaluations[info["best_index"]].proposal.schedule
    beta_c, beta_d = _csv_columns(tmp_path / "best.csv")
    np.testing.assert_allclose(beta_c, best[0], rtol=1e-6)
    np.testing.assert_allclose(beta_d, best[1], rtol=1e-6)
    np.testing.assert_allclose(load_csv(tmp_path / "best.csv", n, pairs=True)[0], best,
                               rtol=1e-6)
    snippet = (tmp_path / "best_train.py").read_text()
    assert "scale_factor=[beta_c[e], beta_d[e]]" in snippet


def test_a_beta_c_campaign_of_format_3_opens_resumes_and_keeps_its_constant_beta_d(
        tmp_path: Path) -> None:
    config = config_from_dict(tiny_config(bo={"initial": 3, "budget": 5}))
    path = tmp_path / "v3.h5"
    with CampaignRunner.create(path, config) as runner:
        runner.prepare()
        for _ in range(2):
            runner.evaluate(runner.next_proposal())
    with h5py.File(path, "r+", locking=False) as f:  # a β_c campaign's file is as v3 wrote it
        assert f["seeds/schedules"].ndim == 2
        f.attrs["format_version"] = 3
    info = json.loads(run_zbo("info", path, "--json").stdout)
    assert info["format_version"] == FORMAT_VERSION and info["evaluations"] == 2
    done = run_zbo("resume", path, "-q")
    assert done.returncode == 0, done.stderr
    info = json.loads(run_zbo("info", path, "--json").stdout)
    assert info["evaluations"] == 5
    assert all(row["beta_d"] == [1.0, 1.0] for row in info["rows"])  # jrvae.beta_d
    with h5py.File(path, "r", locking=False) as f:
        assert int(f.attrs["format_version"]) == FORMAT_VERSION
    exported = run_zbo("export", path, "--format", "csv", "-o", tmp_path / "best.csv")
    assert exported.returncode == 0, exported.stderr
    _, beta_d = _csv_columns(tmp_path / "best.csv")
    assert np.all(beta_d == 1.0)
