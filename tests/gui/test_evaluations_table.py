"""EvaluationsTable: columns, numeric sorting with NaN last, selection mapping, tint, CSV."""

from __future__ import annotations

import csv
import math

import pytest
from PySide6 import QtCore

from tests.gui.conftest import make_evaluation
from zbo_gui.gui.evaluations_table import COLUMNS, EvaluationsTable

OBJECTIVE = COLUMNS.index("objective")
USAGE = COLUMNS.index("class usage")
BETA_D = COLUMNS.index("β_d")
DISPLAY = QtCore.Qt.ItemDataRole.DisplayRole


@pytest.fixture
def table(qtbot, model, evaluations) -> EvaluationsTable:
    widget = EvaluationsTable(model)
    qtbot.addWidget(widget)
    widget.resize(900, 300)
    for ev in evaluations[:5]:
        model.apply(ev)
    widget.show()
    qtbot.waitExposed(widget)
    for ev in evaluations[5:]:  # rows arriving while the table is shown
        model.apply(ev)
    return widget


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def test_columns_and_cells(table) -> None:
    model = table.model
    assert model.columnCount() == len(COLUMNS) == 12
    assert model.rowCount() == 7
    assert [model.headerData(c, QtCore.Qt.Orientation.Horizontal) for c in range(12)] == list(
        COLUMNS)
    row = [model.index(4, c).data(DISPLAY) for c in range(12)]
    assert row[:4] == ["5", "you", "succeeded", "★ 0.55"]  # ★: the best, as on the map
    assert row[4] == "0.65" and row[6] == "0.8" and row[7] == "0.6"
    assert row[BETA_D] == "1"  # β_c schedules: the constant jrvae.beta_d
    assert row[USAGE] == "90% / 10% / 0%"
    assert row[10] == "12.5"
    failed = [model.index(2, c).data(DISPLAY) for c in range(12)]
    assert failed[2] == "failed" and failed[OBJECTIVE] == ""
    assert failed[11] == "training diverged: loss is NaN"
    # failed rows are tinted, user rows bold, others plain
    assert model.index(2, 0).data(QtCore.Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(0, 0).data(QtCore.Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(4, 3).data(QtCore.Qt.ItemDataRole.FontRole).bold()
    assert model.index(3, 3).data(QtCore.Qt.ItemDataRole.FontRole) is None
    assert model.headerData(3, QtCore.Qt.Orientation.Horizontal,
                            QtCore.Qt.ItemDataRole.ToolTipRole)


def test_the_beta_d_column_shows_a_pairs_curve_first_to_last_and_sorts_by_its_mean(
        qtbot, model) -> None:
    import dataclasses

    import numpy as np

    widget = EvaluationsTable(model)
    qtbot.addWidget(widget)
    for k, (first, last) in enumerate(((0.2, 0.5), (3.0, 3.0), (0.05, 8.0))):
        ev = make_evaluation(k, (0.1 * k, 0.0), 0.1 + k / 10)
        beta_c = ev.proposal.schedule
        pair = np.stack([beta_c, np.geomspace(first, last, beta_c.size)])
        model.apply(dataclasses.replace(
            ev, proposal=dataclasses.replace(ev.proposal, schedule=pair)))
    assert widget.displayed_column(BETA_D, DISPLAY) == ["0.2→0.5", "3", "0.05→8"]
    widget.view.sortByColumn(BETA_D, QtCore.Qt.SortOrder.AscendingOrder)
    assert widget.displayed_column(0, DISPLAY) == ["1", "3", "2"]  # means 0.32, 0.63, 3
    rows = widget.model.csv_rows()
    assert rows[2][BETA_D] == "0.05 8.0"


def test_sorting_is_numeric_with_nan_last(table, model) -> None:
    table.view.sortByColumn(OBJECTIVE, QtCore.Qt.SortOrder.AscendingOrder)
    values = table.displayed_column(OBJECTIVE)
    assert values[:5] == [0.1, 0.2, 0.3, 0.35, 0.55] and all(_is_nan(v) for v in values[5:])
    table.view.sortByColumn(OBJECTIVE, QtCore.Qt.SortOrder.DescendingOrder)
    values = table.displayed_column(OBJECTIVE)
    assert values[:5] == [0.55, 0.35, 0.3, 0.2, 0.1] and all(_is_nan(v) for v in values[5:])
    # numeric, not lexical: 10 sorts after 9 in the "#" column
    for i in range(7, 11):
        model.apply(make_evaluation(i, (0.0, 0.0), 0.01 * i))
    table.view.sortByColumn(0, QtCore.Qt.SortOrder.AscendingOrder)
    assert table.displayed_column(0, DISPLAY) == [str(i) for i in range(1, 12)]
    # class usage sorts by the smallest share: the dead class comes first
    table.view.sortByColumn(USAGE, QtCore.Qt.SortOrder.AscendingOrder)
    assert table.displayed_column(USAGE, DISPLAY)[0] == "90% / 10% / 0%"


def test_selection_maps_through_the_proxy(qtbot, table, model) -> None:
    table.view.sortByColumn(OBJECTIVE, QtCore.Qt.SortOrder.DescendingOrder)
    # the top row is now evaluation index 4 (objective 0.55); click it
    rect = table.view.visualRect(table.proxy.index(0, OBJECTIVE))
    qtbot.mouseClick(table.view.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=rect.center())
    assert table.selected_evaluation() == 4
    assert model.selection is not None and model.selection.evaluation == 4  # on the model
    rect = table.view.visualRect(table.proxy.index(1, OBJECTIVE))
    qtbot.mouseClick(table.view.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=rect.center())
    assert model.selection.evaluation == 1  # objective 0.35
    assert table.select_evaluation(6)
    assert model.selection.evaluation == 6 and table.selected_evaluation() == 6
    assert not table.select_evaluation(99)


def test_the_star_follows_the_best_and_a_new_campaign_empties_the_table(table, model) -> None:
    from zbo_gui.core.config import CampaignConfig
    from zbo_gui.model.messages import CampaignOpened

    model.apply(make_evaluation(7, (1.0, -0.5), 0.7))
    assert table.model.rowCount() == 8
    assert table.model.index(7, OBJECTIVE).data(DISPLAY) == "★ 0.7"
    assert table.model.index(4, OBJECTIVE).data(DISPLAY) == "0.55"
    model.apply(CampaignOpened("/tmp/other.h5", CampaignConfig(), 0, ()))
    assert table.model.rowCount() == 0


def test_export_csv(table, tmp_path) -> None:
    table.view.sortByColumn(OBJECTIVE, QtCore.Qt.SortOrder.DescendingOrder)
    path = table.export_csv(tmp_path / "evaluations.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(COLUMNS)
    assert len(rows) == 8
    assert rows[1][:4] == ["5", "user", "succeeded", "0.55"]  # displayed order
    assert rows[1][USAGE] == "90 10 0"
    assert rows[-1][OBJECTIVE] == "" and rows[-1][2] == "failed"
    assert float(rows[2][4]) == pytest.approx(0.45)  # full precision
