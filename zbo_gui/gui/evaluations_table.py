"""The table of evaluations: one row per evaluated schedule, sortable, exportable as CSV.

Its Qt model reads the rows from the :class:`~zbo_gui.model.CampaignModel` (row ``i`` is
evaluation ``i``); it keeps only how many rows the view was told about, so that rows are
inserted by Qt's protocol when the campaign model announces an evaluation.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from zbo_gui.core.schedules import first_last, split_pair
from zbo_gui.core.types import Evaluation, ProposalSource
from zbo_gui.model.campaign import CampaignModel

#: Column headers, in order.
COLUMNS: tuple[str, ...] = (
    "#", "source", "status", "objective", "ℓ1", "ℓ2", "accuracy", "NMI", "β_d",
    "class usage", "time (s)", "message",
)
_HEADER_TIPS: tuple[str, ...] = (
    "Evaluation number (1-based, in the order they were run)",
    "Who chose the point: the initial design, the acquisition function, or you",
    "Whether the training finished (failed: e.g. the loss diverged)",
    "Objective (maximised), mean over the replicates",
    "Between-class dissimilarity of the learned manifolds (mean over replicates)",
    "Within-class dissimilarity of the learned manifolds (mean over replicates)",
    "Accuracy of the discrete latent against the labels (diagnostic only; needs labels)",
    "Normalised mutual information of the discrete latent and the labels (diagnostic only)",
    "β_d of the schedule, first → last epoch (the constant jrvae.beta_d when only β_c is"
    " optimised); sorts by its geometric mean",
    "Share of the images the encoder assigns to each class (first replicate); "
    "sorts by the smallest share, so dead classes come first",
    "Wall time of the whole evaluation, in seconds",
    "Failure message",
)
#: The role holding the value a column sorts by (a float, NaN when missing, or a str).
SORT_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
#: The role holding the evaluation index of a row (any column).
INDEX_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2
_FAILED_TINT = QtGui.QColor(220, 50, 47, 60)  # translucent red: reads on light and dark bases
_COLLAPSED_TINT = QtGui.QColor(110, 110, 110, 60)  # translucent grey: stopped, scored 0
_NUMERIC = frozenset({0, 3, 4, 5, 6, 7, 8, 9, 10})
_BETA_D, _USAGE, _SECONDS, _MESSAGE = 8, 9, 10, 11


def _mean_of(evaluation: Evaluation, name: str) -> float:
    values = [float(getattr(r, name)) for r in evaluation.replicates]
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _usage(evaluation: Evaluation) -> np.ndarray:
    if not evaluation.replicates:
        return np.zeros(0)
    return np.asarray(evaluation.replicates[0].class_usage, dtype=float)


def _fmt(value: float, digits: int = 4) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}g}"


class EvaluationsModel(QtCore.QAbstractTableModel):
    """Table model over the evaluations of a :class:`CampaignModel` (row ``i``: evaluation
    ``i``).

    Roles: ``DisplayRole`` (text), ``SORT_ROLE`` (float or str to sort by, NaN when missing),
    ``INDEX_ROLE`` (the evaluation's index), ``BackgroundRole`` (failed rows tinted),
    ``FontRole`` (rows chosen by the user in bold), ``ToolTipRole``.

    Args:
        campaign: the campaign model.
        parent: the Qt parent.
    """

    def __init__(self, campaign: CampaignModel, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.campaign = campaign
        self._shown = len(campaign.evaluations)  # rows the views know of
        campaign.events.evaluations.connect(self._on_added)
        campaign.events.opened.connect(self._on_reset)

    def _on_added(self, _evaluation: Evaluation) -> None:
        total = len(self.campaign.evaluations)
        if total > self._shown:
            self.beginInsertRows(QtCore.QModelIndex(), self._shown, total - 1)
            self._shown = total
            self.endInsertRows()
        best = self.campaign.best_evaluated()  # the ★ moves
        if best is not None and self._shown:
            self.dataChanged.emit(self.index(0, 3), self.index(self._shown - 1, 3))

    def _on_reset(self, _path: str | None) -> None:
        self.beginResetModel()
        self._shown = len(self.campaign.evaluations)
        self.endResetModel()

    def evaluation(self, row: int) -> Evaluation:
        """The evaluation shown in model row ``row``."""
        return self.campaign.evaluations[row]

    def row_of(self, index: int) -> int | None:
        """The model row of the evaluation with ``Evaluation.index == index``, or None."""
        return index if 0 <= index < self._shown else None

    # ------------------------------------------------------------------------- Qt interface
    def rowCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        """Number of evaluations (0 under any valid parent: the model is flat)."""
        if parent is not None and parent.isValid():
            return 0
        return self._shown

    def columnCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        """Number of columns (0 under any valid parent)."""
        if parent is not None and parent.isValid():
            return 0
        return len(COLUMNS)

    def headerData(self, section: int, orientation: QtCore.Qt.Orientation,
                   role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> object:
        """Column titles and their tooltips."""
        if orientation != QtCore.Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS[section]
        return None

    def data(self, index: QtCore.QModelIndex,
             role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> object:
        """The cell's value for ``role`` (see the class docstring)."""
        if not index.isValid() or not 0 <= index.row() < self._shown:
            return None
        ev = self.campaign.evaluations[index.row()]
        column = index.column()
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self._text(ev, column)
        if role == SORT_ROLE:
            return self._value(ev, column)
        if role == INDEX_ROLE:
            return ev.index
        if role == QtCore.Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        if role == QtCore.Qt.ItemDataRole.BackgroundRole and not ev.succeeded:
            return QtGui.QBrush(_COLLAPSED_TINT if ev.observed else _FAILED_TINT)
        if role == QtCore.Qt.ItemDataRole.FontRole and ev.proposal.source is ProposalSource.USER:
            font = QtGui.QFont()
            font.setBold(True)
            return font
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(ev, column)
        return None

    # ---------------------------------------------------------------------------- cells
    def _beta_d(self, ev: Evaluation) -> np.ndarray:
        """The evaluation's β_d curve ``(N,)`` (constant when only β_c is optimised)."""
        config = self.campaign.config
        return split_pair(ev.proposal.schedule, config.jrvae.beta_d if config else 1.0)[1]

    def _value(self, ev: Evaluation, column: int) -> float | str:
        """The raw value of a cell: a float (NaN when missing) or a str."""
        match column:
            case 0:
                return float(ev.index + 1)
            case 1:
                return ev.proposal.source.value
            case 2:
                return ev.status.value
            case 3:
                return float(ev.objective) if ev.observed else float("nan")
            case 4:
                return _mean_of(ev, "l1")
            case 5:
                return _mean_of(ev, "l2")
            case 6:
                return _mean_of(ev, "accuracy")
            case 7:
                return _mean_of(ev, "nmi")
            case 8:
                return float(np.exp(np.mean(np.log(self._beta_d(ev)))))
            case 9:
                usage = _usage(ev)
                total = usage.sum()
                return float(usage.min() / total) if usage.size and total > 0 else float("nan")
            case 10:
                return float(ev.seconds)
            case 11:
                return ev.message
        return ""

    def _text(self, ev: Evaluation, column: int) -> str:
        if column == 0:
            return str(ev.index + 1)
        if column == 1:
            return "you" if ev.proposal.source is ProposalSource.USER else ev.proposal.source.value
        if column == 3 and ev is self.campaign.best_evaluated():
            return f"★ {_fmt(float(ev.objective))}"  # ★: best, as on the map
        if column == _BETA_D:
            return first_last(self._beta_d(ev))
        if column == _USAGE:
            usage = _usage(ev)
            total = usage.sum()
            if usage.size == 0 or total <= 0:
                return ""
            return " / ".join(f"{100 * u / total:.0f}%" for u in usage)
        if column == _SECONDS:
            return f"{ev.seconds:.1f}"
        if column == _MESSAGE:
            lines = ev.message.strip().splitlines()
            return lines[0] if lines else ""
        value = self._value(ev, column)
        return _fmt(value) if isinstance(value, float) else str(value)

    def _tooltip(self, ev: Evaluation, column: int) -> str:
        if column == _MESSAGE and ev.message:
            return ev.message
        if column == _USAGE and ev.replicates:
            lines = [f"seed {r.seed}: " + ", ".join(str(int(u)) for u in r.class_usage)
                     for r in ev.replicates]
            return "images per class\n" + "\n".join(lines)
        if column == 1 and ev.proposal.source is ProposalSource.USER:
            return "You chose this point (“Evaluate this point next”)"
        if column == 3 and ev is self.campaign.best_evaluated():
            return "★ the best evaluated schedule (the star on the latent map)"
        return _HEADER_TIPS[column]

    def csv_rows(self) -> list[list[str]]:
        """The rows as CSV fields, in model order.

        Numbers are at full precision and missing ones empty; "class usage" holds the images
        per class of the first replicate separated by spaces; "β_d" the first and last value
        of the β_d curve separated by a space; "message" is the whole message.
        """
        rows = []
        for ev in self.campaign.evaluations[:self._shown]:
            fields = []
            for column in range(len(COLUMNS)):
                value = self._value(ev, column)
                if column == 0:
                    fields.append(str(ev.index + 1))
                elif column == _BETA_D:
                    fields.append(" ".join(repr(float(v)) for v in self._beta_d(ev)[[0, -1]]))
                elif column == _USAGE:
                    fields.append(" ".join(str(int(u)) for u in _usage(ev)))
                elif isinstance(value, float):
                    fields.append(repr(value) if math.isfinite(value) else "")
                else:
                    fields.append(value)
            rows.append(fields)
        return rows


class EvaluationsSortProxy(QtCore.QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE`: numbers numerically, missing values (NaN) last either way."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        """Create the proxy.

        Args:
            parent: the Qt parent.
        """
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)

    def lessThan(self, left: QtCore.QModelIndex,
                 right: QtCore.QModelIndex) -> bool:
        """Numeric comparison with NaN after every number in both sort orders."""
        a = left.data(SORT_ROLE)
        b = right.data(SORT_ROLE)
        if isinstance(a, float) and isinstance(b, float):
            a_nan, b_nan = math.isnan(a), math.isnan(b)
            if a_nan or b_nan:
                if a_nan and b_nan:
                    return left.row() < right.row()
                descending = self.sortOrder() == QtCore.Qt.SortOrder.DescendingOrder
                # Qt reverses lessThan in descending order; flip so NaN stays at the bottom
                return b_nan != descending
            if a == b:
                return left.row() < right.row()
            return a < b
        return str(a).casefold() < str(b).casefold()


class EvaluationsTable(QtWidgets.QWidget):
    """A sortable table of the evaluations of a :class:`CampaignModel`.

    Failed rows are tinted red; rows of points you chose are bold ("you" in "source"); the best
    objective carries a ★, as the best point on the latent map. Selecting a row selects that
    evaluation on the campaign model (the schedule and manifold views follow).

    Args:
        campaign: the campaign model.
        parent: the parent widget.
    """

    def __init__(self, campaign: CampaignModel, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.campaign = campaign
        self.model = EvaluationsModel(campaign, self)
        self.proxy = EvaluationsSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = QtWidgets.QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, QtCore.Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.view.setToolTip("Every evaluation; click a header to sort, a row to inspect it")
        self.view.setCornerButtonEnabled(False)  # "select all" makes no sense for one row
        for button in self.view.findChildren(QtWidgets.QAbstractButton):
            button.setToolTip("Evaluations")
        self.view.selectionModel().currentRowChanged.connect(self._on_current_row)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def select_evaluation(self, index: int) -> bool:
        """Select (and scroll to) the row of the evaluation with ``Evaluation.index == index``.

        Args:
            index: the evaluation index.

        Returns:
            Whether such a row exists.
        """
        row = self.model.row_of(index)
        if row is None:
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.view.selectRow(proxy_index.row())
        self.view.scrollTo(proxy_index)
        return True

    def selected_evaluation(self) -> int | None:
        """The ``Evaluation.index`` of the selected row, or None."""
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        return int(rows[0].data(INDEX_ROLE))

    def displayed_column(self, column: int, role: int = SORT_ROLE) -> list[object]:
        """The values of ``column`` in display (sorted) order, for ``role``."""
        return [self.proxy.index(row, column).data(role) for row in range(self.proxy.rowCount())]

    def export_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (header row, then rows in the displayed order).

        Numbers are written at full precision; missing values are empty fields.

        Args:
            path: the file to write.

        Returns:
            The path written.
        """
        path = Path(path)
        by_row = self.model.csv_rows()
        order = [self.proxy.mapToSource(self.proxy.index(r, 0)).row()
                 for r in range(self.proxy.rowCount())]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(by_row[r] for r in order)
        return path

    def _on_current_row(self, current: QtCore.QModelIndex, _previous: QtCore.QModelIndex) -> None:
        if current.isValid():
            index = int(current.data(INDEX_ROLE))
            self.campaign.select_evaluation(index)


__all__ = ["COLUMNS", "EvaluationsModel", "EvaluationsSortProxy", "EvaluationsTable"]
