"""The workers view: what each worker process does (worker, state, evaluation, epoch e/N,
device), where the trainings run and the Dask dashboard's link; and the status-bar button that
sums it up beside the progress bar and raises the view."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.model.campaign import CampaignModel

#: The table's columns.
COLUMNS = ("worker", "state", "evaluation", "epoch", "loss", "device")


def workers_summary(model: CampaignModel) -> str:
    """``"2 workers · 1 training"`` (empty before a run has workers)."""
    count = model.execution.workers
    if count == 0:
        return ""
    training = sum(w.training for w in model.workers.values())
    noun = "worker" if count == 1 else "workers"
    return f"{count} {noun} · {training} training"


class WorkersView(QWidget):
    """The table of workers and the line above it (see the module docstring)."""

    def __init__(self, model: CampaignModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.where_label = QLabel()
        self.where_label.setObjectName("workers_where")
        self.where_label.setTextFormat(Qt.TextFormat.RichText)
        self.where_label.setOpenExternalLinks(True)
        self.where_label.setToolTip("Where the trainings run; the link opens the Dask dashboard"
                                    " (task stream, worker memory and CPU) in a browser")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("workers_table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setToolTip("Each worker process and the training it runs now")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.where_label)
        layout.addWidget(self.table, 1)
        model.events.workers.connect(lambda _: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Show the model's workers."""
        info = self.model.execution
        if info.workers == 0:
            self.where_label.setText("No workers yet: they start with the first run.")
        else:
            link = (f' · <a href="{info.dashboard}">Dask dashboard</a>' if info.dashboard
                    else "")
            noun = "training" if info.workers == 1 else "trainings"
            self.where_label.setText(f"{info.workers} {noun} at once on {info.where}{link}")
        rows = sorted(self.model.workers.values(), key=lambda w: w.worker)
        self.table.setRowCount(len(rows))
        for r, w in enumerate(rows):
            epoch = f"{w.step}/{w.total}" if w.training and w.total else ""
            loss = f"{w.loss:.4g}" if w.training and math.isfinite(w.loss) else ""
            values = (w.worker, "training" if w.training else "idle",
                      f"#{w.evaluation}" if w.training and w.evaluation else "", epoch, loss,
                      w.device)
            for c, text in enumerate(values):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)


class WorkersButton(QToolButton):
    """The status bar's summary of the workers; a click raises the workers view."""

    def __init__(self, model: CampaignModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setObjectName("workers_button")
        self.setAutoRaise(True)
        self.setToolTip("The worker processes that train evaluations; click for each one's"
                        " evaluation, epoch and device")
        model.events.workers.connect(lambda _: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Show the summary (hidden before a run has workers)."""
        text = workers_summary(self.model)
        self.setText(text)
        self.setVisible(bool(text))
