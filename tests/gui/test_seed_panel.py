"""SeedPanel and SketchCanvas: generate, plot, undo, CSV import, and drawing with the mouse."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit

from zbo_gui.core.config import CampaignConfig, ScheduleConfig, quick_config
from zbo_gui.core.schedules import FAMILIES, Bounds, ScheduleLibrary, generate_library
from zbo_gui.gui.seed_panel import SeedPanel
from zbo_gui.gui.sketch_canvas import SketchCanvas
from zbo_gui.model.draft import DraftModel

from .user import drag_sketch

SMALL = ScheduleConfig(
    n_epochs=20, beta_lo=0.1, beta_hi=10.0,
    counts={"cooldown": 3, "segmented": 2, "periodic": 1, "cyclical": 1, "warmup": 1,
            "exponential": 1, "constant": 1},
)


def _panel(qtbot, schedules: ScheduleConfig, seed: int = 0) -> SeedPanel:
    widget = SeedPanel(DraftModel(CampaignConfig(seed=seed, schedules=schedules)))
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def panel(qtbot):
    return _panel(qtbot, SMALL, seed=3)


def _same(a: ScheduleLibrary, b: ScheduleLibrary) -> bool:
    return a.families == b.families and np.array_equal(a.schedules, b.schedules)


def test_generate_builds_library_with_families_and_one_curve_per_row(panel, qtbot) -> None:
    panel.count_spins["constant"].setValue(4)
    changed = []
    panel.draft.events.library.connect(changed.append)
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    library = changed[-1]
    assert library is panel.library() is panel.draft.library  # the draft's, what will run
    assert library.schedules.shape == (13, 20)
    assert library.families.count("constant") == 4 and library.families.count("cooldown") == 3
    assert set(library.families) == set(FAMILIES)
    assert np.all((library.schedules >= 0.1) & (library.schedules <= 10.0))
    assert panel.plotted_counts() == {f: library.families.count(f) for f in FAMILIES}
    items = panel.curve_items()
    assert len(items) == len(FAMILIES)  # one item per family
    assert all(f"{library.families.count(f)} {f}" in panel.summary.text() for f in FAMILIES)
    _, y = items["constant"].getData()
    assert np.count_nonzero(np.isnan(y)) == 4  # four rows, NaN-separated
    assert panel.plot.getPlotItem().getAxis("left").logMode  # β_hi / β_lo = 100 >= 10
    config = panel.schedule_config()
    assert config.counts["constant"] == 4 and config.n_epochs == 20
    assert config.beta_lo == 0.1 and config.beta_hi == 10.0
    assert panel.draft.config.schedules.counts["constant"] == 4


def test_undo_restores_the_previous_library_exactly(panel, qtbot) -> None:
    before = panel.library()
    panel.seed_spin.setValue(11)
    assert panel.draft.config.seed == 11  # the seed box is the campaign's seed
    panel.generate()
    assert not _same(before, panel.library())
    panel.remove([0, 1])
    assert len(panel.library()) == len(before) - 2
    panel.undo()
    with qtbot.waitActive(panel):
        panel.show()
        panel.activateWindow()
    qtbot.keyClick(panel.undo_button, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _same(before, panel.library())
    assert sum(panel.plotted_counts().values()) == len(before)
    assert not panel.undo()  # nothing left


def test_linear_bounds_give_a_linear_axis(qtbot) -> None:
    widget = _panel(qtbot, ScheduleConfig(n_epochs=10, beta_lo=1.0, beta_hi=5.0,
                                          counts={"constant": 4}))
    assert not widget.plot.getPlotItem().getAxis("left").logMode
    assert widget.plotted_counts() == {"constant": 4}


def test_csv_import_adds_rows_and_bad_csv_leaves_library_unchanged(panel, tmp_path) -> None:
    good = tmp_path / "mine.csv"
    good.write_text("# my schedules\n1,2,3,4\n5,5,5\n", encoding="utf-8")
    before = panel.library()
    assert panel.import_csv(good)
    library = panel.library()
    assert len(library) == len(before) + 2 and library.families[-2:] == ("csv", "csv")
    np.testing.assert_allclose(library.schedules[-1], 5.0)
    assert panel.schedule_config().csv_files == (str(good),)
    assert "Imported 2" in panel.message.text()

    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,x\n", encoding="utf-8")
    assert not panel.import_csv(bad)
    assert "bad.csv, line 1, column 3" in panel.message.text()
    assert _same(library, panel.library())
    assert panel.schedule_config().csv_files == (str(good),)

    panel.generate()  # regenerating keeps the imported rows
    assert panel.library().families[-2:] == ("csv", "csv")
    panel.undo()
    panel.undo()
    assert _same(before, panel.library()) and panel.schedule_config().csv_files == ()


def _type_into(qtbot, spin, text: str) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)


def test_beta_d_is_optimised_from_the_panel_and_the_library_becomes_pairs(panel, qtbot) -> None:
    panel.resize(1000, 900)
    with qtbot.waitExposed(panel):
        panel.show()
    before = panel.library()
    assert not before.pairs and not panel.beta_d_spins["beta_d_lo"].isVisible()
    qtbot.mouseClick(panel.beta_d_check, Qt.MouseButton.LeftButton)
    assert panel.beta_d_spins["beta_d_lo"].isVisible()
    assert panel.draft.config.schedules.joint  # the draft is what New campaign runs
    assert "β_d bounds" in panel.message.text()  # the library is stale until Generate
    _type_into(qtbot, panel.beta_d_spins["beta_d_lo"], "0.05")
    _type_into(qtbot, panel.beta_d_spins["beta_d_hi"], "2")
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    library = panel.library()
    assert library.pairs and library.schedules.shape == (10, 2, 20)
    np.testing.assert_array_equal(library.beta_c, before.schedules)  # β_c seeds unchanged
    assert library.schedules[:, 1].min() >= 0.05 and library.schedules[:, 1].max() <= 2.0
    assert "pairs" in panel.summary.text()
    # only constant β_d curves
    for family, spin in panel.beta_d_share_spins.items():
        spin.setValue(1 if family == "constant" else 0)
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert np.ptp(panel.library().schedules[:, 1], axis=1).max() == 0.0
    assert dict(panel.draft.config.schedules.beta_d_families) == {"constant": 1}
    # a sketch gets β_d curves too
    drag_sketch(qtbot, panel.sketch, [(e, 2.0) for e in range(20)])
    qtbot.mouseClick(panel.sketch.add_button, Qt.MouseButton.LeftButton)
    assert panel.library().schedules.shape[1:] == (2, 20)
    assert panel.library().families[-1] == "sketch"
    # a bad bound names itself and blocks Generate; undo and unchecking go back
    _type_into(qtbot, panel.beta_d_spins["beta_d_lo"], "5")
    assert "beta_d_lo must be < schedules.beta_d_hi" in panel.message.text()
    assert not panel.generate_button.isEnabled()
    _type_into(qtbot, panel.beta_d_spins["beta_d_lo"], "0.05")
    qtbot.mouseClick(panel.beta_d_check, Qt.MouseButton.LeftButton)
    assert not panel.draft.config.schedules.joint
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert not panel.library().pairs
    assert np.array_equal(panel.library().schedules[:10], before.schedules)


def test_invalid_bounds_show_the_config_message(panel, qtbot) -> None:
    hi = panel.form.editor("beta_hi")
    hi.selectAll()
    qtbot.keyClicks(hi, "0.05")
    assert "schedules.beta_lo must be < schedules.beta_hi" in panel.form.error_label(
        "beta_lo").text()
    assert not panel.generate_button.isEnabled()
    assert not panel.generate()


def test_sketch_with_the_mouse_edits_part_of_the_curve_and_adds_variants(panel, qtbot) -> None:
    panel.resize(1000, 700)
    with qtbot.waitExposed(panel):
        panel.show()
    canvas = panel.sketch
    assert canvas.curve() is None and canvas.bounds == Bounds(0.1, 10.0)
    # one stroke over the whole range: a decay from 8 down to 0.2 (log axis)
    drag_sketch(qtbot, canvas, [(e, 8.0 * (0.2 / 8.0) ** (e / 19)) for e in range(20)])
    first = canvas.curve()
    assert first is not None and first.shape == (20,)
    assert np.all((first >= 0.1) & (first <= 10.0))
    assert canvas.drawn_mask().all()
    np.testing.assert_allclose(first[[0, 10, 19]], [8.0, 8.0 * 0.025 ** (10 / 19), 0.2],
                               rtol=0.15)  # a pixel is about 1-2 % of a decade here
    # a second stroke over epochs 5..9 only, at β = 1 (and beyond the top bound: clipped)
    drag_sketch(qtbot, canvas, [(4.6, 1.0), (7, 1.0), (9.4, 1.0)])  # covers epochs 5..9
    second = canvas.curve()
    assert second is not None
    np.testing.assert_allclose(second[5:10], 1.0, rtol=0.1)
    np.testing.assert_array_equal(second[:5], first[:5])
    np.testing.assert_array_equal(second[10:], first[10:])
    drag_sketch(qtbot, canvas, [(0, 50.0), (1, 50.0)])
    assert canvas.curve()[0] == pytest.approx(10.0)

    canvas.k_spin.setValue(3)
    before = len(panel.library())
    with qtbot.waitSignal(canvas.sketchAdded) as blocker:
        qtbot.mouseClick(canvas.add_button, Qt.MouseButton.LeftButton)
    rows = blocker.args[0]
    assert rows.shape == (4, 20)
    np.testing.assert_array_equal(rows[0], canvas.curve())
    assert np.all((rows >= 0.1) & (rows <= 10.0)) and not np.array_equal(rows[1], rows[0])
    library = panel.library()
    assert len(library) == before + 4 and library.families[-4:] == ("sketch",) * 4
    assert panel.plotted_counts()["sketch"] == 4
    panel.undo()
    assert len(panel.library()) == before


def test_stroke_api_smooth_and_clear(qtbot) -> None:
    canvas = SketchCanvas(10, Bounds(1.0, 5.0), seed=1)
    qtbot.addWidget(canvas)
    canvas.stroke([(0.0, 1.0), (9.0, 5.0)])  # linear axis: view y is β
    np.testing.assert_allclose(canvas.curve(), np.linspace(1.0, 5.0, 10))
    canvas.stroke([(9.0, 1.0), (4.0, 1.0)])  # right to left: overwrites epochs 4..9
    curve = canvas.curve()
    np.testing.assert_allclose(curve[4:], 1.0)
    np.testing.assert_allclose(curve[:4], np.linspace(1.0, 5.0, 10)[:4])
    canvas.smooth()
    assert np.all(np.diff(canvas.curve()[3:6]) <= 0)
    canvas.set_range(20, Bounds(1.0, 5.0))
    assert canvas.curve().shape == (20,)
    assert canvas.variants().shape == (canvas.k_spin.value(), 20)
    canvas.clear()
    assert canvas.curve() is None and canvas.sketch() is None


def test_a_loaded_draft_shows_the_library_a_campaign_would_build(qtbot, tmp_path) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("1,2,3\n", encoding="utf-8")
    config = dataclasses.replace(quick_config().schedules, csv_files=(str(extra),))
    widget = _panel(qtbot, SMALL)
    widget.draft.load(CampaignConfig(seed=5, schedules=config))
    expected = generate_library(config.counts, config.n_epochs,
                                Bounds(config.beta_lo, config.beta_hi), 5)
    library = widget.library()
    assert library.families == (*expected.families, "csv")
    np.testing.assert_array_equal(library.schedules[:-1], expected.schedules)
    assert widget.schedule_config() == config and widget.seed() == 5
    assert widget.sketch.n_epochs == config.n_epochs
    widget.select(0)
    assert widget.remove_selected() and len(widget.library()) == len(library) - 1


def test_every_control_has_a_tooltip(panel) -> None:
    controls = [c for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)
                for c in panel.findChildren(kind) if not c.objectName().startswith("qt_")]
    assert len(controls) > 20
    assert [c.objectName() or type(c).__name__ for c in controls if not c.toolTip()] == []
    assert "u_start" in panel.family_docs["cooldown"].text()


def test_click_a_curve_to_select_and_remove_it(qtbot) -> None:
    widget = _panel(qtbot, ScheduleConfig(n_epochs=10, beta_lo=1.0, beta_hi=5.0,
                                          counts={"constant": 3, "cooldown": 2}), seed=2)
    widget.resize(1000, 700)
    with qtbot.waitExposed(widget):
        widget.show()
    library = widget.library()
    row = library.families.index("constant")
    beta = float(library.schedules[row, 0])
    vb = widget.plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QPointF(4.0, beta))
    pos = widget.plot.mapFromScene(scene)
    qtbot.mouseClick(widget.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert widget.selected() == row
    assert widget.remove_button.isEnabled()
    qtbot.mouseClick(widget.remove_button, Qt.MouseButton.LeftButton)
    assert len(widget.library()) == len(library) - 1
    assert widget.plotted_counts()["constant"] == 2
    assert len(widget.draft.library) == len(library) - 1  # removed from what will run


def test_an_open_campaign_is_shown_read_only_and_the_draft_comes_back(qtbot) -> None:
    from tests.gui.conftest import make_grid, opened_model
    from zbo_gui.model.messages import CampaignOpened

    campaign = opened_model()  # a half-made campaign: no seed library stored
    widget = SeedPanel(DraftModel(CampaignConfig(schedules=SMALL)), campaign)
    qtbot.addWidget(widget)
    draft_library = widget.library()
    widget.show_campaign(True)
    assert widget.campaign_view and not widget.generate_button.isEnabled()
    assert not widget.form.isEnabled() and not widget.seed_spin.isEnabled()
    assert widget.library() is None and widget.plotted_counts() == {}
    assert "No seed library" in widget.summary.text()
    # another campaign is opened while shown: the panel shows its seeds at once
    grid = make_grid()
    seeds = ScheduleLibrary(grid.seed_schedules, grid.seed_families)
    campaign.apply(CampaignOpened("/tmp/d.h5", CampaignConfig(), 0, ("dataset", "seeds"), seeds))
    assert widget.campaign_view and widget.library() is seeds
    assert sum(widget.plotted_counts().values()) == len(seeds)
    assert not widget.undo() and widget.draft.library is draft_library  # nothing edited
    widget.show_campaign(False)
    assert widget.generate_button.isEnabled() and _same(widget.library(), draft_library)
