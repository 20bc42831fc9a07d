"""Tests of the campaign configuration: validation, TOML round trip, presets, file loading."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from zbo_gui.core.config import (
    BOConfig,
    CampaignConfig,
    DatasetConfig,
    JrVAEConfig,
    ObjectiveConfig,
    ScheduleConfig,
    ScheduleVAEConfig,
    config_from_dict,
    config_from_toml,
    demo_config,
    load_config,
    quick_config,
    stored_config_from_toml,
)
from zbo_gui.core.errors import ConfigError, ZboError
from zbo_gui.core.schedules import Bounds, PairBounds

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "campaign.toml"


def _non_default() -> CampaignConfig:
    """A config that differs from the defaults in every section."""
    return CampaignConfig(
        seed=7,
        dataset=DatasetConfig(source="data/images.h5", key="/entry/data", digits=(2, 3),
                              n_images=50, image_size=20, max_rotation=30.0, format="hdf5",
                              labels="h5:/entry/labels", max_particles=6, crop="pad",
                              normalize="percentile", percentiles=(0.5, 99.5), balance=True),
        schedules=ScheduleConfig(n_epochs=30, beta_lo=0.001, beta_hi=0.05,
                                 counts={"cooldown": 5, "constant": 3}, csv_files=("a.csv",)),
        schedule_vae=ScheduleVAEConfig(epochs=200, lr=5e-4, batch_size=16, hidden=(64, 32),
                                       decoder_sig=0.2),
        jrvae=JrVAEConfig(classes=3, invariances=("r", "t"), encoder_hidden=(64,),
                          decoder_hidden=(16, 16), sampler="gaussian", device="cpu"),
        objective=ObjectiveConfig(kind="paper", manifold_d=5, weight=1.0, pairs=20,
                                  replicates=2),
        bo=BOConfig(initial=4, budget=9, acquisition="ucb", xi=0.1, kappa=1.5,
                    stop_tol=0.01, stop_patience=0),
    )


# ------------------------------------------------------------------------- defaults & presets


@pytest.mark.parametrize("make", [CampaignConfig, demo_config, quick_config])
def test_defaults_and_presets_are_valid_and_round_trip(make) -> None:
    config = make()
    assert isinstance(config, CampaignConfig)
    assert config.bo.budget >= config.bo.initial
    assert 0 < config.schedules.beta_lo < config.schedules.beta_hi
    assert config_from_toml(config.to_toml()) == config


def test_quick_preset_is_smaller_than_demo() -> None:
    quick, demo = quick_config(), demo_config()
    assert quick.schedules.n_epochs < demo.schedules.n_epochs
    assert quick.dataset.n_images < demo.dataset.n_images
    assert quick.bo.budget < demo.bo.budget
    # the demo preset follows DESIGN.md §2 ("D": digits {0,1,4,7}, β_d = 1, lr 1e-2, batch 25)
    assert demo.dataset.digits == (0, 1, 4, 7)
    assert demo.jrvae.beta_d == 1.0
    assert (demo.jrvae.lr, demo.jrvae.batch_size) == (1e-2, 25)


def test_round_trip_of_non_default_config() -> None:
    config = _non_default()
    text = config.to_toml()
    back = config_from_toml(text)
    assert back == config
    assert back.to_toml() == text
    assert back.schedules.counts == {"cooldown": 5, "constant": 3}  # not merged with defaults
    assert back.jrvae.invariances == ("r", "t")


def test_partial_toml_keeps_base_values() -> None:
    config = config_from_toml("seed = 3\n[bo]\nbudget = 40\n")
    assert config.seed == 3
    assert config.bo.budget == 40
    assert config.bo.initial == BOConfig().initial
    assert config.jrvae == JrVAEConfig()


# ---------------------------------------------------------------------------- invalid values


@pytest.mark.parametrize(
    ("toml", "field", "value"),
    [
        ("[schedules]\nbeta_lo = 0.0\n", "schedules.beta_lo", "0.0"),
        ("[schedules]\nbeta_lo = -1.0\n", "schedules.beta_lo", "-1.0"),
        ("[schedules]\nbeta_lo = 5.0\nbeta_hi = 2.0\n", "schedules.beta_lo", "5.0"),
        ("[schedules]\nbeta_lo = 2.0\nbeta_hi = 2.0\n", "schedules.beta_hi", "2.0"),
        ("[schedules]\nn_epochs = 1\n", "schedules.n_epochs", "1"),
        ("[jrvae]\nlr = -0.1\n", "jrvae.lr", "-0.1"),
        ("[schedule_vae]\nlr = -0.001\n", "schedule_vae.lr", "-0.001"),
        ('[bo]\nacquisition = "pi"\n', "bo.acquisition", "'pi'"),
        ('[objective]\nkind = "accuracy"\n', "objective.kind", "'accuracy'"),
        ("[objective]\ncollapse_share = 1.5\n", "objective.collapse_share", "1.5"),
        ("[objective]\ncollapse_share = -0.1\n", "objective.collapse_share", "-0.1"),
        ("[objective]\ncollapse_after = 0\n", "objective.collapse_after", "0"),
        ("[schedules.counts]\nlinear = 10\n", "schedules.counts", "'linear'"),
        ("[schedules.counts]\ncooldown = -2\n", "schedules.counts.cooldown", "-2"),
        ("[bo]\ninitial = 10\nbudget = 5\n", "bo.budget", "5"),
        ('[grid]\nsize = "100"\n', "grid.size", "'100'"),
        ("[grid]\nsize = 2.5\n", "grid.size", "2.5"),
        ("[jrvae]\nclasses = true\n", "jrvae.classes", "True"),
        ("[dataset]\ndigits = [1, 1]\n", "dataset.digits", "[1, 1]"),
        ("[dataset]\ndigits = [12]\n", "dataset.digits", "[12]"),
        ('[jrvae]\ninvariances = ["q"]\n', "jrvae.invariances", "'q'"),
        ('[jrvae]\ndevice = "tpu"\n', "jrvae.device", "'tpu'"),
        ("[jrvae]\nencoder_hidden = []\n", "jrvae.encoder_hidden", "()"),
        ("[bo]\nstop_patience = -1\n", "bo.stop_patience", "-1"),
        ('[bo]\nwarp = "sqrt"\n', "bo.warp", "'sqrt'"),
        ("seed = -4\n", "seed", "-4"),
        ('[dataset]\nsource = ""\n', "dataset.source", "''"),
        ('[dataset]\nformat = "png"\n', "dataset.format", "'png'"),
        ("[dataset]\nkey = 3\n", "dataset.key", "3"),
        ('[dataset]\nlabels = "h5:"\n', "dataset.labels", "'h5:'"),
        ("[dataset]\nmax_particles = 0\n", "dataset.max_particles", "0"),
        ('[dataset]\ncrop = "squash"\n', "dataset.crop", "'squash'"),
        ('[dataset]\nnormalize = "zscore"\n', "dataset.normalize", "'zscore'"),
        ("[dataset]\npercentiles = [99, 1]\n", "dataset.percentiles", "[99, 1]"),
        ("[dataset]\npercentiles = [1, 101]\n", "dataset.percentiles", "[1, 101]"),
        ("[dataset]\npercentiles = [1]\n", "dataset.percentiles", "[1]"),
        ("[dataset]\npatch_size = 2\n", "dataset.patch_size", "2"),
        ("[dataset]\npatch_size = -8\n", "dataset.patch_size", "-8"),
        ("[dataset]\npatch_stride = -1\n", "dataset.patch_stride", "-1"),
        ('[dataset]\npatch_mode = "atoms"\n', "dataset.patch_mode", "'atoms'"),
        ('[dataset]\nbalance = "yes"\n', "dataset.balance", "'yes'"),
        ('[dataset]\nlabels = "l.csv"\npatch_size = 32\n', "dataset.labels", "'l.csv'"),
        ('[dataset]\nsource = "particles"\nmax_particles = 9\nimage_size = 8\n',
         "dataset.image_size", "8"),
    ],
)
def test_invalid_value_names_field_and_value(toml: str, field: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_toml(toml)
    message = str(info.value)
    assert field in message
    assert value in message


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[optimiser]\nlr = 1.0\n", "optimiser"),
        ("[bo]\nbugdet = 30\n", "bo.bugdet"),
        ("[bo]\nbudget = \n", "invalid TOML"),
        ("bo = 3\n", "[bo]"),
        ("[schedules]\ncounts = 5\n", "schedules.counts"),
    ],
)
def test_structural_errors_are_config_errors(toml: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_toml(toml)
    assert needle in str(info.value)
    assert isinstance(info.value, ZboError)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ConfigError, match=r"bo\.budget"):
        BOConfig(initial=10, budget=3)
    with pytest.raises(ConfigError, match=r"schedule_vae\.decoder_sig"):
        ScheduleVAEConfig(decoder_sig=0.0)
    with pytest.raises(ConfigError, match=r"schedules\.counts"):
        ScheduleConfig(counts={"constant": 2, "warmup": 1})  # fewer than 4 seeds in all


def test_dataset_percentiles_become_floats() -> None:
    config = config_from_toml("[dataset]\npercentiles = [2, 98]\n")
    assert config.dataset.percentiles == (2.0, 98.0)
    assert all(isinstance(p, float) for p in config.dataset.percentiles)
    assert config_from_toml(config.to_toml()) == config


def test_config_is_frozen() -> None:
    config = CampaignConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3  # type: ignore[misc]


def test_config_from_dict_rejects_unknown_section() -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[gui\]"):
        config_from_dict({"gui": {"theme": "dark"}})


# ------------------------------------------------------------------------------- config files


def test_load_config_resolves_relative_dataset_path(tmp_path: Path) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    path = folder / "run.toml"
    path.write_text('seed = 2\n[dataset]\nsource = "data/images.npy"\n', encoding="utf-8")
    config = load_config(path)
    assert config.seed == 2
    assert Path(config.dataset.source) == (folder / "data" / "images.npy").resolve()
    assert Path(config.dataset.source).is_absolute()


def test_load_config_resolves_relative_labels_but_not_h5_labels(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[dataset]\nsource = "d/x.npy"\nlabels = "d/labels.csv"\n', encoding="utf-8")
    assert Path(load_config(path).dataset.labels) == (tmp_path / "d" / "labels.csv").resolve()
    path.write_text('[dataset]\nsource = "x.h5"\nlabels = "h5:/y"\n', encoding="utf-8")
    assert load_config(path).dataset.labels == "h5:/y"


def test_load_config_keeps_demo_and_absolute_sources(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text('[dataset]\nsource = "demo"\n', encoding="utf-8")
    assert load_config(path).dataset.source == "demo"
    path.write_text('[dataset]\nsource = "particles"\n', encoding="utf-8")
    assert load_config(path).dataset.source == "particles"
    absolute = (tmp_path / "elsewhere" / "x.npz").resolve()
    path.write_text(f'[dataset]\nsource = "{absolute.as_posix()}"\n', encoding="utf-8")
    assert Path(load_config(path).dataset.source) == absolute


def test_load_config_missing_or_bad_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_config(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[bo\nbudget = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ConfigError, match=r"binary\.toml"):
        load_config(binary)


def test_shipped_example_loads_and_documents_every_key() -> None:
    config = load_config(EXAMPLE)
    # the example spells out the demo preset's values ("a missing key keeps the default shown")
    assert config == demo_config()
    written = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    expected = demo_config().to_dict()
    assert written.keys() == expected.keys()
    for section, table in expected.items():
        if isinstance(table, dict):
            assert written[section].keys() == table.keys(), section
    # keys that are absent by default are documented as comments
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "# beta_d_lo = 0.1" in text and "# beta_d_hi = 10.0" in text


def test_beta_d_bounds_make_schedules_pairs_and_absent_keys_keep_the_constant() -> None:
    plain = config_from_toml("")
    assert not plain.schedules.joint and plain.schedules.bounds() == Bounds(0.1, 10.0)
    assert "beta_d_lo" not in plain.to_toml()
    joint = config_from_toml("[schedules]\nbeta_d_lo = 0.05\nbeta_d_hi = 5\n"
                             "[schedules.beta_d_families]\nconstant = 1\n")
    assert joint.schedules.joint
    assert joint.schedules.bounds() == PairBounds(Bounds(0.1, 10.0), Bounds(0.05, 5.0))
    assert dict(joint.schedules.beta_d_families) == {"constant": 1}  # the table replaces
    assert config_from_toml(joint.to_toml()) == joint
    for text, message in (
            ("beta_d_lo = 0.1", "schedules.beta_d_hi is missing"),
            ("beta_d_hi = 3", "schedules.beta_d_lo is missing"),
            ("beta_d_lo = 2\nbeta_d_hi = 1", "beta_d_lo must be < schedules.beta_d_hi"),
            ("beta_d_lo = 0\nbeta_d_hi = 1", "schedules.beta_d_lo"),
            ("beta_d_lo = 0.1\nbeta_d_hi = 1\nbeta_d_families = {constant = 0}",
             "schedules.beta_d_families"),
            ("beta_d_families = {spiral = 1}", "spiral")):
        with pytest.raises(ConfigError, match=message):
            config_from_toml("[schedules]\n" + text + "\n")


def test_a_stored_config_that_predates_the_warp_keeps_the_raw_objective() -> None:
    """A campaign file written before ``bo.warp`` existed resumes as it ran (GP of the raw
    objective); a user's config without the key gets today's default; a stored key is kept."""
    text = CampaignConfig().to_toml()
    old = "\n".join(line for line in text.splitlines() if not line.startswith("warp ="))
    assert "warp" not in old
    assert stored_config_from_toml(old).bo.warp == "none"
    assert config_from_toml(old).bo.warp == BOConfig().warp == "rank"
    assert stored_config_from_toml(text) == CampaignConfig()
    with pytest.raises(ConfigError, match="invalid TOML"):
        stored_config_from_toml("[bo\n")
