"""The whole window driven as a person drives it: its actions, buttons, dialogs and the mouse,
with real (tiny) trainings on the compute thread.

Every request goes through the window's own controls (``QAction.trigger()``, mouse clicks, the
keyboard); file dialogs are answered with the file a person would pick and every other modal
dialog through its own widgets (``tests.gui.user``). An exception that reaches the Qt event loop
fails the test (pytest-qt).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from zbo_gui.core.config import config_from_dict, config_from_toml
from zbo_gui.core.schedules import ScheduleLibrary
from zbo_gui.gui.main_window import MainWindow
from zbo_gui.model.messages import RunState

from ..cli_helpers import tiny_config
from .user import (
    answer_file_dialogs,
    answer_modal,
    choose_in_combo,
    click_plot,
    drag_sketch,
    feasible_point,
    press_yes,
    type_into,
)

WAIT_MS = 240_000


def _window(qtbot, tmp_path, confirm_close: bool = False) -> MainWindow:
    from zbo_gui.workers.controller import CampaignController

    controller = CampaignController()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(controller, settings)
    win.confirm_close = confirm_close
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def window(qtbot, tmp_path):
    win = _window(qtbot, tmp_path)
    yield win
    win.confirm_close = False
    win.controller.stop()
    qtbot.waitUntil(lambda: not win.controller.is_busy(), timeout=WAIT_MS)
    win.close()
    assert win.controller.shutdown(WAIT_MS), "the compute thread did not stop"


def _wait_state(qtbot, win: MainWindow, *states: RunState) -> None:
    qtbot.waitUntil(lambda: win.model.state in states, timeout=WAIT_MS)


def _stored(path) -> tuple:
    """A campaign file's configuration, seed library and evaluations (read beside the window)."""
    from zbo_gui.storage.campaign_file import CampaignStore

    with CampaignStore.open(path) as store:
        schedules, families = store.read_seeds()
        return (config_from_toml(store.config_toml), ScheduleLibrary(schedules, families),
                store.read_evaluations())


def _rows(evaluations) -> list[tuple]:
    """Each evaluation's index, latent point, schedule and objective."""
    return [(e.index, tuple(e.proposal.z), tuple(e.proposal.schedule), e.objective)
            for e in evaluations]


def _same_library(a: ScheduleLibrary, b: ScheduleLibrary) -> bool:
    return a.families == b.families and np.array_equal(a.schedules, b.schedules)


def _settings_dialog(qtbot, preset: str | None = None, **fields: dict[str, str]):
    """An :func:`answer_modal` action for the Settings dialog: pick ``preset``, type each
    ``section={field: text}``, press OK."""
    def act(dialog) -> None:
        if preset is not None:
            choose_in_combo(qtbot, dialog.preset_combo, preset)
        for section, values in fields.items():
            for name, text in values.items():
                type_into(qtbot, dialog.forms[section].editor(name), text)
        assert dialog.ok_button.isEnabled(), dialog.errors()
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    return act


# ---------------------------------------------------------------------------- the walk
def test_the_walk_from_a_plain_window(window, qtbot, tmp_path, monkeypatch) -> None:
    """Digits demo → Settings (tiny preset, budget 3) → seed panel (seed, remove, sketch) →
    New campaign → Start → click the map → export: the file holds what the panels showed."""
    win = window
    assert win.model.state is RunState.EMPTY and not win.inputs.campaign_shown
    assert win.act_new.isEnabled() and not win.act_start.isEnabled()

    # the dataset: the digits demo
    win.inputs.tabs.setCurrentIndex(0)
    qtbot.mouseClick(win.dataset_panel.demo_buttons["demo"], Qt.MouseButton.LeftButton)
    assert win.draft.config.dataset.source == "demo"

    # Settings: the tiny preset, 2 initial points and a budget of 3
    answered = answer_modal(_settings_dialog(qtbot, "tiny", bo={"initial": "2", "budget": "3"}))
    win.act_settings.trigger()
    assert answered, "the Settings dialog did not open"
    draft = win.draft.config
    assert (draft.bo.initial, draft.bo.budget) == (2, 3)
    assert draft.dataset.image_size == 8 and draft.schedules.n_epochs == 6

    # the seed panel: change the seed and generate, remove a schedule, add a sketch
    panel = win.seed_panel
    win.inputs.tabs.setCurrentIndex(1)
    qtbot.waitExposed(panel)
    type_into(qtbot, panel.seed_spin, "7")
    assert win.draft.config.seed == 7
    before = panel.library()
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    generated = panel.library()
    assert len(generated) == len(before) and not _same_library(generated, before)
    row = generated.families.index("constant")
    click_plot(qtbot, panel.plot, 2.0, float(generated.schedules[row, 2]))
    assert panel.selected() is not None
    removed = panel.selected()
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert len(panel.library()) == len(generated) - 1
    canvas = panel.sketch
    n = canvas.n_epochs
    drag_sketch(qtbot, canvas, [(e, 5.0 * (0.2 / 5.0) ** (e / (n - 1))) for e in range(n)])
    qtbot.mouseClick(canvas.add_button, Qt.MouseButton.LeftButton)
    shown = panel.library()
    sketches = shown.families.count("sketch")
    assert sketches == canvas.k_spin.value() + 1
    assert len(shown) == len(generated) - 1 + sketches
    kept = [i for i in range(len(generated)) if i != removed]
    np.testing.assert_array_equal(shown.schedules[:len(kept)], generated.schedules[kept])
    shown_config = win.draft.config

    # New campaign, through its action
    path = tmp_path / "walk.h5"
    answer_file_dialogs(monkeypatch, save=str(path))
    win.act_new.trigger()
    _wait_state(qtbot, win, RunState.IDLE)
    assert win.model.path == str(path) and win.act_start.isEnabled()
    assert win.inputs.campaign_shown and panel.campaign_view
    assert not panel.generate_button.isEnabled() and not panel.sketch.isEnabled()
    assert _same_library(panel.library(), shown)  # now the campaign's, read-only
    config, library, _ = _stored(path)
    assert config == shown_config
    assert _same_library(library, shown)

    # Start: the inputs fold away during the run, the campaign ends at its budget
    folded: list[bool] = []
    win.model.events.state.connect(
        lambda s: folded.append(not win.docks["inputs"].isVisible()) if win.model.busy else None)
    win.act_start.trigger()
    _wait_state(qtbot, win, RunState.FINISHED)
    assert folded and all(folded)
    assert win.docks["inputs"].isVisible()
    assert len(win.model.evaluations) == 3 and win.table.model.rowCount() == 3
    assert "Finished" in win.status_label.text()

    # click the map: the schedule view shows the decoded schedule of that point, with σ
    grid = win.model.grid
    evaluated = {e.proposal.grid_index for e in win.model.evaluations}
    index, x, y = next(p for p in (feasible_point(grid, k) for k in range(grid.x.size ** 2))
                       if p[0] not in evaluated)
    click_plot(qtbot, win.latent_map.plot_widget(), x, y)
    assert win.model.selection is not None
    assert win.model.grid_index(*win.model.selection.z) == index
    np.testing.assert_allclose(win.schedule_view.selected_curve(), grid.decoded[index])
    assert "±" in win.schedule_view.title()

    # right-click it: "Evaluate this point next" trains it, and the campaign rests finished
    click_plot(qtbot, win.latent_map.plot_widget(), x, y, Qt.MouseButton.RightButton)
    menu = win.latent_map.context_menu
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    action = next(a for a in menu.actions() if a.text() == "Evaluate this point next")
    action.trigger()
    menu.hide()
    qtbot.waitUntil(lambda: len(win.model.evaluations) == 4 and not win.model.busy,
                    timeout=WAIT_MS)
    chosen = win.model.evaluations[3]
    assert chosen.proposal.grid_index == index and chosen.proposal.source.value == "user"
    assert win.model.state is RunState.FINISHED and win.table.model.rowCount() == 4

    # export the best schedule as CSV: the campaign's schedule and β_d, without float noise
    out = tmp_path / "best.csv"
    answer_file_dialogs(monkeypatch, save=str(out))
    win.act_export_csv.trigger()
    with out.open() as f:
        rows = list(csv.DictReader(f))
    best = win.model.best_evaluated()
    assert list(rows[0]) == ["epoch", "beta_c", "beta_d"]
    np.testing.assert_allclose([float(r["beta_c"]) for r in rows], best.proposal.schedule,
                               rtol=1e-6)
    assert {float(r["beta_d"]) for r in rows} == {config.jrvae.beta_d}
    assert all(len(r["beta_c"]) <= 12 for r in rows)  # no float32 noise

    # the file holds everything, and its configuration is still what the panels showed
    stored, library, evaluations = _stored(path)
    assert stored == shown_config and _same_library(library, shown)
    assert [e.index for e in evaluations] == [0, 1, 2, 3]


def test_a_campaign_of_beta_c_and_beta_d_from_the_window(window, qtbot, tmp_path,
                                                        monkeypatch) -> None:
    """Seed panel: optimise β_d → New campaign → Start → the map, the schedule view, the
    table and the export all show both curves."""
    win = window
    qtbot.mouseClick(win.dataset_panel.demo_buttons["demo"], Qt.MouseButton.LeftButton)
    answer_modal(_settings_dialog(qtbot, "tiny", bo={"initial": "2", "budget": "3"}))
    win.act_settings.trigger()
    panel = win.seed_panel
    win.inputs.tabs.setCurrentIndex(1)
    qtbot.waitExposed(panel)
    qtbot.mouseClick(panel.beta_d_check, Qt.MouseButton.LeftButton)
    type_into(qtbot, panel.beta_d_spins["beta_d_lo"], "0.1")
    type_into(qtbot, panel.beta_d_spins["beta_d_hi"], "10")
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert panel.library().pairs
    path = tmp_path / "joint.h5"
    answer_file_dialogs(monkeypatch, save=str(path))
    win.act_new.trigger()
    _wait_state(qtbot, win, RunState.IDLE)
    win.act_start.trigger()
    _wait_state(qtbot, win, RunState.FINISHED)
    n = win.draft.config.schedules.n_epochs
    assert all(e.proposal.schedule.shape == (2, n) for e in win.model.evaluations)
    # click the map: both curves of the decoded pair, each with its σ band
    grid = win.model.grid
    assert grid.beta_d_bounds == (0.1, 10.0) and grid.decoded.shape[1:] == (2, n)
    index, x, y = feasible_point(grid, 0)
    click_plot(qtbot, win.latent_map.plot_widget(), x, y)
    view = win.schedule_view
    assert view.shows_beta_d()
    np.testing.assert_allclose(view.selected_curve(0), grid.decoded[index][0])
    np.testing.assert_allclose(view.selected_curve(1), grid.decoded[index][1])
    assert view.band(0) is not None and view.band(1) is not None
    # the table's β_d column and a click on a row
    column = [win.table.model.index(r, 8).data() for r in range(3)]
    curves = [e.proposal.schedule[1] for e in win.model.evaluations]
    assert column == [f"{c[0]:.3g}" if f"{c[0]:.3g}" == f"{c[-1]:.3g}"
                      else f"{c[0]:.3g}→{c[-1]:.3g}" for c in curves]
    table = win.table.view
    win.docks["table"].raise_()
    rect = table.visualRect(win.table.proxy.mapFromSource(win.table.model.index(1, 0)))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert win.model.selection.evaluation == 1
    np.testing.assert_allclose(view.selected_curve(1), curves[1])
    # export: the beta_d column is the best schedule's β_d curve
    out = tmp_path / "best.csv"
    answer_file_dialogs(monkeypatch, save=str(out))
    win.act_export_csv.trigger()
    with out.open() as f:
        rows = list(csv.DictReader(f))
    best = win.model.best_evaluated().proposal.schedule
    np.testing.assert_allclose([float(r["beta_d"]) for r in rows], best[1], rtol=1e-6)
    config, library, _ = _stored(path)
    assert config.schedules.joint and library.pairs


def test_the_mouse_wheel_scrolls_the_seed_panel_without_editing_its_fields(window,
                                                                          qtbot) -> None:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    win = window
    win.inputs.tabs.setCurrentIndex(1)
    scroll = win.inputs.tabs.currentWidget()
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0  # the panel is taller than its tab
    spin = win.seed_panel.count_spins["cyclical"]
    before, position = spin.value(), bar.value()

    def turn() -> None:
        centre = QPointF(spin.rect().center())
        event = QWheelEvent(centre, QPointF(spin.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                            QPoint(0, -120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(spin, event)

    turn()
    assert spin.value() == before and bar.value() > position  # scrolled, not edited
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    turn()
    assert spin.value() == before - 1  # a field being edited takes the wheel


# ---------------------------------------------------------------------------- the draft
def test_settings_edit_the_draft_never_the_open_campaign(window, qtbot, tmp_path,
                                                          monkeypatch, finished_campaign) -> None:
    win = window
    answer_file_dialogs(monkeypatch, open_=str(finished_campaign))
    win.act_open.trigger()
    qtbot.waitUntil(lambda: len(win.model.evaluations) == 6 and not win.model.busy,
                    timeout=WAIT_MS)
    campaign = win.model.config
    assert win.inputs.campaign_shown
    assert win.dataset_panel.campaign_view and not win.dataset_panel.open_button.isEnabled()

    answered = answer_modal(_settings_dialog(qtbot, jrvae={"beta_d": "2.5"}))
    win.act_settings.trigger()
    assert answered
    assert win.draft.config.jrvae.beta_d == 2.5
    assert win.model.config == campaign and campaign.jrvae.beta_d != 2.5
    # the export writes the campaign's β_d and configuration, not the draft's
    out = tmp_path / "best.json"
    answer_file_dialogs(monkeypatch, save=str(out))
    win.act_export_json.trigger()
    document = json.loads(out.read_text())
    assert document["beta_d"] == campaign.jrvae.beta_d
    assert document["config"] == json.loads(json.dumps(campaign.to_dict()))
    assert document["schedule"] == pytest.approx(
        win.model.best_evaluated().proposal.schedule.tolist(), rel=1e-6)

    # "Next campaign" shows the draft, editable; "Open campaign" the campaign, read-only
    qtbot.mouseClick(win.inputs.draft_button, Qt.MouseButton.LeftButton)
    assert not win.seed_panel.campaign_view and win.seed_panel.generate_button.isEnabled()
    qtbot.mouseClick(win.inputs.campaign_button, Qt.MouseButton.LeftButton)
    assert win.seed_panel.campaign_view and not win.seed_panel.generate_button.isEnabled()

    # Edit as new: the draft becomes the campaign's configuration and seed library
    win.act_edit_as_new.trigger()
    assert win.draft.config == campaign
    grid = win.model.grid
    assert _same_library(win.draft.library,
                         ScheduleLibrary(grid.seed_schedules, grid.seed_families))
    assert not win.seed_panel.campaign_view and win.seed_panel.generate_button.isEnabled()
    qtbot.mouseClick(win.seed_panel.generate_button, Qt.MouseButton.LeftButton)
    assert win.model.grid is grid  # the open campaign is untouched


def test_new_campaign_takes_the_draft_only_when_it_is_what_would_run(window, qtbot, tmp_path,
                                                                      monkeypatch) -> None:
    """A seed typed without Generate is refused, naming it; a dataset edit still waiting for
    the typing pause is applied first."""
    win = window
    win.draft.load(config_from_dict(tiny_config()))
    path = tmp_path / "new.h5"
    asked: list[str] = []

    def pick(*_args, **_kwargs) -> tuple[str, str]:
        asked.append("save")
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(pick))
    win.inputs.tabs.setCurrentIndex(1)
    old_seed = win.draft.config.seed
    type_into(qtbot, win.seed_panel.seed_spin, str(old_seed + 5))
    assert "press Generate" in win.seed_panel.message.text()
    win.act_new.trigger()
    assert f"seed {old_seed} → {old_seed + 5}" in win.last_error
    assert "press Generate" in win.last_error
    assert not asked and not path.exists() and win.model.state is RunState.EMPTY

    qtbot.mouseClick(win.seed_panel.generate_button, Qt.MouseButton.LeftButton)
    assert not win.draft.stale and "press Generate" not in win.seed_panel.message.text()
    win.inputs.tabs.setCurrentIndex(0)
    type_into(qtbot, win.dataset_panel.form.editor("n_images"), "100")
    win.act_new.trigger()  # at once: before the panel's typing pause has ended
    _wait_state(qtbot, win, RunState.IDLE)
    config, library, _ = _stored(path)
    assert asked == ["save"] and config.dataset.n_images == 100
    assert config.seed == old_seed + 5 and _same_library(library, win.draft.library)


# ---------------------------------------------------------------------------- run controls
def test_start_pause_start_stop_through_the_run_actions(window, qtbot, tmp_path,
                                                        monkeypatch) -> None:
    win = window
    win.draft.load(config_from_dict(tiny_config(schedules={"n_epochs": 16},
                                                bo={"initial": 2, "budget": 4})))
    answer_file_dialogs(monkeypatch, save=str(tmp_path / "run.h5"))
    win.act_new.trigger()
    _wait_state(qtbot, win, RunState.IDLE)
    stages: list[str] = []
    win.model.events.progress.connect(
        lambda p: stages.append(win.eta_label.text()) if p is not None else None)

    win.act_start.trigger()
    qtbot.waitUntil(lambda: win.model.state is RunState.RUNNING
                    and win.model.progress is not None and win.model.progress.evaluation == 1
                    and win.model.progress.step >= 2, timeout=WAIT_MS)
    assert any(text.startswith("training the schedule VAE") for text in stages), stages[:5]
    assert any("evaluation 1/4 · epoch" in text and "ETA" in text for text in stages)
    assert not win.act_new.isEnabled() and not win.act_settings.isEnabled()

    win.act_pause.trigger()
    assert win.model.state is RunState.PAUSING
    _wait_state(qtbot, win, RunState.PAUSED)
    assert win.status_label.text().startswith("Paused")
    assert len(win.model.evaluations) == 1 and win.act_start.isEnabled()
    assert win.docks["inputs"].isVisible()

    win.act_start.trigger()
    qtbot.waitUntil(lambda: len(win.model.evaluations) == 2 and win.model.progress is not None
                    and win.model.progress.step >= 2, timeout=WAIT_MS)
    win.act_stop.trigger()
    _wait_state(qtbot, win, RunState.IDLE)
    assert len(win.model.evaluations) == 2
    assert len(_stored(tmp_path / "run.h5")[2]) == 2


def test_closing_during_a_run_says_so_stays_responsive_and_closes(qtbot, tmp_path,
                                                                   monkeypatch) -> None:
    win = _window(qtbot, tmp_path, confirm_close=True)
    controller = win.controller
    win.draft.load(config_from_dict(tiny_config(schedules={"n_epochs": 20},
                                                bo={"initial": 2, "budget": 3})))
    path = tmp_path / "close.h5"
    answer_file_dialogs(monkeypatch, save=str(path))
    win.act_new.trigger()
    _wait_state(qtbot, win, RunState.IDLE)
    win.act_start.trigger()
    qtbot.waitUntil(lambda: len(win.model.evaluations) == 1 and win.model.progress is not None
                    and win.model.progress.step >= 3, timeout=WAIT_MS)

    answered = answer_modal(press_yes(qtbot))
    win.act_quit.trigger()
    assert answered, "no question was asked"
    # at once: still open, saying that it stops, the file's lease still held
    assert win.isVisible() and win.closing
    assert win.status_label.text().startswith("Stopping — finishing epoch")
    assert win.status_label.isVisible() and win.statusBar().currentMessage() == ""  # shown
    assert not win.act_start.isEnabled()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=WAIT_MS)
    assert not controller.is_busy() and controller.closed
    assert len(_stored(path)[2]) == 1  # the finished evaluation is in the file
    assert win.settings.value("window/geometry") is not None  # the layout was remembered


# ---------------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def finished_source(tmp_path_factory):
    """A finished tiny campaign made with the ``zbo`` command (6 evaluations; copy it)."""
    from ..cli_helpers import TINY_CONFIG, run_zbo, write_config

    folder = tmp_path_factory.mktemp("finished")
    config = write_config(folder / "tiny.toml", TINY_CONFIG)
    path = folder / "done.h5"
    result = run_zbo("run", config, "--out", path, "-q")
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def finished_campaign(finished_source, tmp_path):
    import shutil

    return tmp_path / shutil.copy(finished_source, tmp_path / "done.h5").name


def test_every_file_action_on_a_finished_campaign(window, qtbot, tmp_path, monkeypatch,
                                                   finished_campaign) -> None:
    win = window
    path = str(finished_campaign)
    answer_file_dialogs(monkeypatch, open_=path)
    win.act_open.trigger()
    qtbot.waitUntil(lambda: len(win.model.evaluations) == 6 and not win.model.busy,
                    timeout=WAIT_MS)
    assert win.model.state is RunState.FINISHED and not win.act_start.isEnabled()
    assert win.windowTitle().endswith("done.h5")
    best = win.model.best_evaluated()

    # exports of the best schedule
    for fmt, action in (("csv", win.act_export_csv), ("json", win.act_export_json),
                        ("npy", win.act_export_npy)):
        out = tmp_path / f"best.{fmt}"
        answer_file_dialogs(monkeypatch, save=str(out))
        action.trigger()
        assert out.stat().st_size > 0, fmt
    assert (tmp_path / "best_train.py").is_file()
    npy = np.load(tmp_path / "best.npy")
    np.testing.assert_array_equal(npy[:, 0], best.proposal.schedule)

    # the table and the pictures
    table = tmp_path / "table.csv"
    answer_file_dialogs(monkeypatch, save=str(table))
    win.act_export_table.trigger()
    with table.open() as f:
        assert len(list(csv.reader(f))) == 1 + 6
    for name, action in win.act_export_pictures.items():
        out = tmp_path / f"{name}.png"
        answer_file_dialogs(monkeypatch, save=str(out))
        action.trigger()
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    answer_file_dialogs(monkeypatch, save=path)  # onto the campaign: refused
    win.act_export_table.trigger()
    assert "never overwrites" in win.last_error

    # the final model, through its action
    win.act_final.trigger()
    _wait_state(qtbot, win, RunState.TRAINING_FINAL)
    _wait_state(qtbot, win, RunState.FINISHED)
    assert win.model.final is not None
    assert win.manifold_view.title().startswith("final model")
    assert win.manifold_view.n_tiles() == win.model.config.jrvae.classes

    # Save as: the copy is opened and continues there
    copy = tmp_path / "copy.h5"
    answer_file_dialogs(monkeypatch, save=str(copy))
    win.act_save_as.trigger()
    qtbot.waitUntil(lambda: win.model.path == str(copy) and not win.model.busy,
                    timeout=WAIT_MS)
    assert len(win.model.evaluations) == 6 and win.model.final is not None

    # Open recent: the newest first; a file that failed to open never enters the menu
    recent = [a.text() for a in win.recent_menu.actions()]
    assert recent[:2] == [str(copy), path]
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not an HDF5 file" * 10)
    answer_file_dialogs(monkeypatch, open_=str(bad))
    win.last_error = ""
    win.act_open.trigger()
    qtbot.waitUntil(lambda: win.last_error != "", timeout=WAIT_MS)
    assert "broken.h5" in win.last_error and win.model.path == str(copy)
    assert str(bad) not in [a.text() for a in win.recent_menu.actions()]
    win.recent_menu.actions()[1].trigger()
    qtbot.waitUntil(lambda: win.model.path == path and not win.model.busy, timeout=WAIT_MS)
    assert win.last_error == "" and win.statusBar().currentMessage() == ""

    # the View menu hides and shows each dock
    for dock in win.docks.values():
        toggle = dock.toggleViewAction()
        visible = dock.isVisible()
        toggle.trigger()
        assert dock.isVisible() is not visible
        toggle.trigger()
        assert dock.isVisible() is visible


def test_the_menus_hold_exactly_the_tested_actions(window) -> None:
    """A new action needs a test through its trigger (this list names where each is)."""
    tested = {
        "New campaign…", "Open campaign…", "Open recent", "Save campaign as…",
        "Edit as new campaign", "Export best schedule as CSV…", "Export best schedule as JSON…",
        "Export best schedule as NPY…", "Export picture (PNG)", "Latent map…", "Schedule…",
        "Convergence…", "Manifolds…", "Export evaluations table (CSV)…", "Quit", "Start",
        "Pause", "Stop", "Train final model", "Settings…",
    }
    found = set()

    def walk(menu) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            if action.menu() is not None and action.menu() is not window.recent_menu:
                walk(action.menu())
            found.add(action.text().replace("&", ""))

    for action in window.menuBar().actions():
        if action.text().replace("&", "") != "View":  # the docks' own toggles
            walk(action.menu())
    assert found == tested


def test_new_campaign_over_the_open_file_that_fails_keeps_it(
        window, qtbot, tmp_path, monkeypatch, finished_campaign) -> None:
    """A bad CSV never reaches the draft; a dataset gone by the time of New is refused in one
    line and the open campaign stays open and unchanged; fixed, New replaces it with exactly
    the draft (its library as it was, without re-reading any CSV)."""
    win = window
    path = str(finished_campaign)
    before = _stored(finished_campaign)
    answer_file_dialogs(monkeypatch, open_=path)
    win.act_open.trigger()
    qtbot.waitUntil(lambda: len(win.model.evaluations) == 6 and not win.model.busy,
                    timeout=WAIT_MS)
    qtbot.mouseClick(win.inputs.draft_button, Qt.MouseButton.LeftButton)

    seeds = tmp_path / "seeds.csv"
    seeds.write_text("2.0,-1.5,1.0\n", encoding="utf-8")
    library = win.draft.library
    answer_file_dialogs(monkeypatch, open_=str(seeds))
    qtbot.mouseClick(win.seed_panel.import_button, Qt.MouseButton.LeftButton)
    assert "seeds.csv, line 1, column 2" in win.seed_panel.message.text()
    assert win.draft.library is library
    seeds.write_text("2.0,1.5,1.0\n", encoding="utf-8")
    qtbot.mouseClick(win.seed_panel.import_button, Qt.MouseButton.LeftButton)
    assert win.draft.library.families[-1] == "csv"

    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).random((150, 8, 8)).astype(np.float32))
    answer_file_dialogs(monkeypatch, open_=str(images))
    qtbot.mouseClick(win.dataset_panel.open_button, Qt.MouseButton.LeftButton)
    assert win.draft.config.dataset.source == str(images)
    moved = images.with_suffix(".away")
    images.rename(moved)  # gone by the time of New
    answer_file_dialogs(monkeypatch, save=path)  # "replace it?" — yes
    win.last_error = ""
    win.act_new.trigger()
    qtbot.waitUntil(lambda: win.last_error != "", timeout=WAIT_MS)
    _wait_state(qtbot, win, RunState.FINISHED)
    assert "images.npy" in win.last_error and "\n" not in win.last_error
    assert win.model.path == path and len(win.model.evaluations) == 6
    after = _stored(finished_campaign)
    assert after[0] == before[0] and _same_library(after[1], before[1])
    assert _rows(after[2]) == _rows(before[2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["done.h5", "seeds.csv", "images.away", "settings.ini"])

    moved.rename(images)
    seeds.write_text("garbage\n", encoding="utf-8")  # the draft holds its rows already
    win.last_error = ""
    win.act_new.trigger()
    qtbot.waitUntil(lambda: win.model.path == path and not win.model.evaluations
                    and win.model.state is RunState.IDLE, timeout=WAIT_MS)
    assert win.last_error == ""
    config, library, evaluations = _stored(finished_campaign)
    assert config == win.draft.config and evaluations == []
    assert _same_library(library, win.draft.library)


def test_export_from_the_window_never_writes_onto_the_campaign(
        window, qtbot, monkeypatch, finished_campaign) -> None:
    path = str(finished_campaign)
    answer_file_dialogs(monkeypatch, open_=path)
    window.act_open.trigger()
    qtbot.waitUntil(lambda: len(window.model.evaluations) == 6 and not window.model.busy,
                    timeout=WAIT_MS)
    before = finished_campaign.stat().st_size, _rows(_stored(finished_campaign)[2])
    answer_file_dialogs(monkeypatch, save=path)  # the person picks the campaign file itself
    window.act_export_json.trigger()
    assert "never overwrites" in window.last_error and path in window.last_error
    assert (finished_campaign.stat().st_size, _rows(_stored(finished_campaign)[2])) == before


# ---------------------------------------------------------------------------- layout
def _geometries(win: MainWindow) -> dict:
    shown = {name: dock.geometry() for name, dock in win.docks.items() if dock.isVisible()}
    return {**shown, "map": win.latent_map.geometry(), "window": win.geometry()}


def test_the_window_fits_the_screen_and_nothing_moves_when_data_arrive(window, qtbot) -> None:
    """Data arriving (a campaign, its grid and GP, evaluations, the final model) once resized
    the docks under the mouse and grew the window past the screen."""
    from PySide6.QtWidgets import QApplication

    from zbo_gui.model.messages import CampaignOpened, FinalModel

    from .conftest import make_evaluations, make_grid, make_posterior

    win = window
    screen = win.screen().availableGeometry()
    assert screen.contains(win.frameGeometry()), (screen, win.frameGeometry())
    qtbot.wait(100)  # the first start's dock shares are set once laid out
    map_width = win.latent_map.width()
    assert map_width >= max(d.width() for n, d in win.docks.items()
                            if d.isVisible() and n not in ("convergence", "table", "log"))
    # the narrow inputs dock stacks each panel (settings above plots): nothing is cut off
    # sideways, the tabs scroll down instead
    for index, panel in enumerate((win.dataset_panel, win.seed_panel)):
        win.inputs.tabs.setCurrentIndex(index)
        QApplication.processEvents()
        assert panel.splitter.orientation() is Qt.Orientation.Vertical
        scroll = win.inputs.tabs.currentWidget()
        assert not scroll.horizontalScrollBar().isVisible(), type(panel).__name__
    win.inputs.tabs.setCurrentIndex(0)
    model = win.model
    model.apply(CampaignOpened("/tmp/c.h5", win.draft.config, 0, ()))
    QApplication.processEvents()
    before = _geometries(win)
    grid = make_grid()
    model.apply(grid)
    model.apply(make_posterior(grid))
    rng = np.random.default_rng(1)
    for evaluation in make_evaluations():
        model.apply(evaluation)
        QApplication.processEvents()
        assert _geometries(win) == before
    model.apply(FinalModel(schedule=np.ones(12), which="evaluated",
                           manifolds=rng.integers(0, 255, (6, 36, 24, 24), dtype=np.uint8),
                           loss_curve=np.ones(12), class_usage=np.arange(6)))
    QApplication.processEvents()
    assert _geometries(win) == before
    assert win.manifold_view.n_tiles() == 6
    tile = win.manifold_view._items[0][1].sceneBoundingRect()
    assert min(tile.width(), tile.height()) >= 40  # readable tiles, not 12 px


# ---------------------------------------------------------------------------- workers
def test_two_workers_from_the_settings_dialog_train_at_once_and_show(window, qtbot, tmp_path,
                                                                     monkeypatch) -> None:
    """Settings → Compute: 2 workers → New → Start: both points in flight ringed on the map,
    the workers view lists both workers training, the status bar sums them up with a link to
    the Dask dashboard; Stop ends both trainings and keeps nothing of them."""
    win = window
    win.draft.load(config_from_dict(tiny_config(schedules={"n_epochs": 150},
                                                bo={"initial": 3, "budget": 6})))
    answered = answer_modal(_settings_dialog(qtbot, execution={"workers": "2"}))
    win.act_settings.trigger()
    assert answered and win.draft.config.execution.workers == 2
    answer_file_dialogs(monkeypatch, save=str(tmp_path / "two.h5"))
    win.act_new.trigger()
    _wait_state(qtbot, win, RunState.IDLE)
    win.act_start.trigger()

    def both_training() -> bool:
        workers = win.model.workers.values()
        return (sum(w.training and w.step >= 2 for w in workers) == 2
                and len(win.model.pending) == 2)

    qtbot.waitUntil(both_training, timeout=WAIT_MS)
    x, _ = win.latent_map.proposal_item.getData()
    assert len(x) == 2  # both points in flight are ringed
    table = win.workers_view.table
    assert table.rowCount() == 2
    assert [table.item(r, 1).text() for r in range(2)] == ["training", "training"]
    assert all(table.item(r, 3).text().endswith("/150") for r in range(2))
    assert {table.item(r, 5).text() for r in range(2)} == {"cpu"}
    button = win.status.workers_button
    assert button.isVisible() and button.text() == "2 workers · 2 training"
    assert 'href="http' in win.workers_view.where_label.text()  # the dashboard's link
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not win.docks["workers"].visibleRegion().isEmpty()

    win.act_stop.trigger()
    _wait_state(qtbot, win, RunState.IDLE)
    assert win.model.pending == () and not any(w.training for w in win.model.workers.values())
    assert len(win.model.evaluations) == 0 and len(_stored(tmp_path / "two.h5")[2]) == 0
