"""The whole window driven like a person would: a tiny real campaign through the widgets."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from zbo_gui.core.config import config_from_dict
from zbo_gui.gui.main_window import MainWindow
from zbo_gui.workers.messages import RunState

from ..cli_helpers import tiny_config

WAIT_MS = 240_000


@pytest.fixture
def window(qtbot, tmp_path):
    from zbo_gui.workers.controller import CampaignController

    controller = CampaignController()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(controller, settings)
    win.confirm_close = False  # pytest-qt closes the window before this fixture's teardown
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert controller.shutdown(WAIT_MS), "the compute thread did not stop"


def _config(**bo):
    return config_from_dict(tiny_config(bo={"initial": 2, "budget": 3, **bo}))


def _wait_state(qtbot, win: MainWindow, *states: RunState) -> None:
    qtbot.waitUntil(lambda: win.state in states, timeout=WAIT_MS)


def test_a_whole_quick_campaign_through_the_window(window, qtbot, tmp_path) -> None:
    path = tmp_path / "walk.h5"
    window.new_campaign(str(path), _config())
    _wait_state(qtbot, window, RunState.IDLE)
    assert window.path == str(path) and window.act_start.isEnabled()
    window.act_start.trigger()  # schedule VAE, grid, then 3 evaluations
    _wait_state(qtbot, window, RunState.FINISHED)
    assert len(window.evaluations) == 3
    assert window.table.model.rowCount() == 3
    assert len(window.convergence.objectives()) == 3
    assert window.grid is not None and window.posterior is not None
    assert window.latent_map.heatmap_image() is not None

    # click on a feasible point of the map: the schedule view shows that point's schedule
    grid = window.grid
    index = int(np.flatnonzero(grid.feasible.ravel())[0])
    iy, ix = divmod(index, grid.x.size)
    window.latent_map.pointClicked.emit(float(grid.x[ix]), float(grid.y[iy]))
    np.testing.assert_allclose(window.schedule_view.selected_curve(), grid.decoded[index])
    assert "±" in window.schedule_view.title()

    # selecting a row shows that evaluation's schedule and manifolds
    window.table.select_evaluation(1)
    np.testing.assert_allclose(window.schedule_view.selected_curve(),
                               window.evaluations[1].proposal.schedule)
    assert window.manifold_view.n_tiles() == window.config.jrvae.classes

    # export the best schedule as CSV: columns epoch,beta_c,beta_d of the best evaluation
    out = tmp_path / "best.csv"
    assert window.export_schedule("csv", str(out))
    with out.open() as f:
        rows = list(csv.DictReader(f))
    best = window.best_evaluation()
    assert list(rows[0]) == ["epoch", "beta_c", "beta_d"]
    np.testing.assert_allclose([float(r["beta_c"]) for r in rows], best.proposal.schedule)

    # the file the window wrote opens again, with everything in it
    window.open_campaign(str(path))
    _wait_state(qtbot, window, RunState.FINISHED)
    qtbot.waitUntil(lambda: len(window.evaluations) == 3, timeout=WAIT_MS)
    assert window.recent_files()[0] == str(path)


def test_stop_in_the_middle_of_a_training(window, qtbot, tmp_path) -> None:
    config = config_from_dict(tiny_config(schedules={"n_epochs": 40},
                                          bo={"initial": 2, "budget": 3}))
    window.new_campaign(str(tmp_path / "stop.h5"), config)
    _wait_state(qtbot, window, RunState.IDLE)
    window.act_start.trigger()
    qtbot.waitUntil(lambda: window.state is RunState.RUNNING
                    and window.progress_bar.value() >= 2, timeout=WAIT_MS)
    assert window.act_stop.isEnabled()
    window.act_stop.trigger()
    _wait_state(qtbot, window, RunState.IDLE)
    assert len(window.evaluations) < 3 and window.act_start.isEnabled()


def test_closing_during_a_run_stops_and_joins_the_worker(qtbot, tmp_path) -> None:
    from zbo_gui.workers.controller import CampaignController

    controller = CampaignController()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(controller, settings)
    qtbot.addWidget(win)
    win.show()
    config = config_from_dict(tiny_config(schedules={"n_epochs": 40}))
    win.new_campaign(str(tmp_path / "close.h5"), config)
    _wait_state(qtbot, win, RunState.IDLE)
    win.act_start.trigger()
    qtbot.waitUntil(lambda: win.state is RunState.RUNNING and win.progress_bar.value() >= 1,
                    timeout=WAIT_MS)
    win.confirm_close = False  # the question is answered "yes"
    assert win.close()
    assert not controller.is_busy()
    assert settings.value("window/geometry") is not None  # the layout was remembered


def test_a_bad_file_in_the_open_path_is_reported_and_the_window_stays_usable(
        window, qtbot, tmp_path) -> None:
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"this is not an HDF5 file" * 10)
    before = bad.read_bytes()
    window.open_campaign(str(bad))
    qtbot.waitUntil(lambda: window.last_error != "", timeout=WAIT_MS)
    assert "broken.h5" in window.last_error
    assert bad.read_bytes() == before
    assert window.act_open.isEnabled() and window.act_new.isEnabled()
    good = tmp_path / "good.h5"
    window.new_campaign(str(good), _config())
    _wait_state(qtbot, window, RunState.IDLE)
    assert window.path == str(good)


# ---------------------------------------------------------------------------- New over a file
@pytest.fixture
def finished_campaign(tmp_path):
    """A finished tiny campaign made with the ``zbo`` command (6 evaluations)."""
    from ..cli_helpers import TINY_CONFIG, run_zbo, write_config

    config = write_config(tmp_path / "tiny.toml", TINY_CONFIG)
    path = tmp_path / "done.h5"
    result = run_zbo("run", config, "--out", path, "-q")
    assert result.returncode == 0, result.stderr
    return path


def _contents(path) -> list[tuple]:
    """What a campaign file holds: stages, and each evaluation's point and objective."""
    from zbo_gui.storage.campaign_file import STAGES, CampaignStore

    with CampaignStore.open(path) as store:
        store.verify()
        stages = [s for s in STAGES if store.has(s)]
        return [tuple(stages), *((e.index, tuple(e.proposal.z), e.objective)
                                 for e in store.read_evaluations())]


def _answer_dialogs(monkeypatch, *, save: str = "", open_: str = "") -> None:
    """The file dialogs answer ``save`` / ``open_`` (a person picking these files)."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (save, "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (open_, "")))


def test_new_campaign_over_an_open_file_with_a_bad_seed_csv_keeps_it(
        window, qtbot, tmp_path, monkeypatch, finished_campaign) -> None:
    from PySide6.QtCore import Qt

    path = str(finished_campaign)
    before = _contents(finished_campaign)
    _answer_dialogs(monkeypatch, open_=path)
    window.act_open.trigger()
    _wait_state(qtbot, window, RunState.FINISHED)
    qtbot.waitUntil(lambda: len(window.evaluations) == 6, timeout=WAIT_MS)

    seeds = tmp_path / "seeds.csv"
    seeds.write_text("2.0,1.5,1.0\n", encoding="utf-8")
    _answer_dialogs(monkeypatch, open_=str(seeds))
    qtbot.mouseClick(window.seed_panel.import_button, Qt.MouseButton.LeftButton)
    assert str(seeds) in window.seed_panel.schedule_config().csv_files
    seeds.write_text("2.0,-1.5,1.0\n", encoding="utf-8")  # changed on disk meanwhile

    _answer_dialogs(monkeypatch, save=path)  # "replace it?" — yes
    window.act_new.trigger()
    qtbot.waitUntil(lambda: window.last_error != "", timeout=WAIT_MS)
    _wait_state(qtbot, window, RunState.FINISHED, RunState.IDLE)
    assert "seeds.csv" in window.last_error and "-1.5" in window.last_error
    assert _contents(finished_campaign) == before  # (its bytes: the window holds its lease)
    assert window.path == path and len(window.evaluations) == 6  # still shown, still open
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["done.h5", "tiny.toml", "seeds.csv", "settings.ini"])

    seeds.write_text("2.0,1.5,1.0\n", encoding="utf-8")  # fixed: now New replaces the file
    window.last_error = ""
    window.act_new.trigger()
    qtbot.waitUntil(lambda: window.path == path and window.state is RunState.IDLE
                    and not window.evaluations, timeout=WAIT_MS)
    assert window.last_error == ""
    from zbo_gui.storage.campaign_file import CampaignStore

    with CampaignStore.open(path) as store:  # a reader, beside the window that holds it
        assert store.n_evaluations == 0 and store.has("seeds")
        assert store.read_seeds()[1].count("csv") == 1


def test_export_from_the_window_never_writes_onto_the_campaign(
        window, qtbot, monkeypatch, finished_campaign) -> None:
    path = str(finished_campaign)
    _answer_dialogs(monkeypatch, open_=path)
    window.act_open.trigger()
    qtbot.waitUntil(lambda: len(window.evaluations) == 6, timeout=WAIT_MS)
    before = _contents(finished_campaign)
    _answer_dialogs(monkeypatch, save=path)  # the person picks the campaign file itself
    window.act_export_json.trigger()
    assert "never overwrites" in window.last_error and path in window.last_error
    assert _contents(finished_campaign) == before
