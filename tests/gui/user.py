"""What a person does with the window, for the tests: click, drag, answer dialogs.

File dialogs are the platform's static functions (``QFileDialog.getSaveFileName``); a test
answers them by replacing those functions with the file a person would pick. Every other modal
dialog (Settings, questions) is answered by acting on it while its ``exec()`` runs, through its
own widgets (:func:`answer_modal`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget


def answer_file_dialogs(monkeypatch: Any, *, save: str = "", open_: str = "") -> None:
    """The file dialogs answer ``save`` / ``open_`` (a person picking these files)."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (save, "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (open_, "")))


def answer_modal(act: Callable[[QWidget], None], timeout_ms: int = 20_000) -> list[QWidget]:
    """Run ``act(dialog)`` on the next modal dialog once it shows (call before opening it).

    Returns:
        A list that holds the dialog once it was answered.
    """
    answered: list[QWidget] = []
    waited = [0]

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or not dialog.isVisible():
            waited[0] += 20
            if waited[0] < timeout_ms:
                QTimer.singleShot(20, poll)
            return
        answered.append(dialog)
        try:
            act(dialog)
        except BaseException:
            # close it, or its exec() waits for ever; the error then fails the test
            # (pytest-qt fails a test on an exception raised in the event loop)
            dialog.reject() if isinstance(dialog, QDialog) else dialog.close()
            raise

    QTimer.singleShot(0, poll)
    return answered


def press_yes(qtbot: Any) -> Callable[[QWidget], None]:
    """An :func:`answer_modal` action: click the question's Yes button."""
    def act(box: QWidget) -> None:
        assert isinstance(box, QMessageBox), type(box)
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    return act


def plot_point(plot: Any, x: float, y: float) -> QPoint:
    """The viewport pixel of view point ``(x, y)`` of a pyqtgraph ``PlotWidget``."""
    QApplication.processEvents()  # pending layout changes move the axes
    scene = plot.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y))
    return plot.mapFromScene(scene)


def click_plot(qtbot: Any, plot: Any, x: float, y: float,
               button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    """Click view point ``(x, y)`` of a ``PlotWidget``."""
    qtbot.mouseClick(plot.viewport(), button, pos=plot_point(plot, x, y))


def drag_sketch(qtbot: Any, canvas: Any, points: list[tuple[float, float]]) -> None:
    """Draw a stroke through ``(epoch, β)`` points on a sketch canvas with the left button."""
    viewport = canvas.plot.viewport()

    def at(epoch: float, beta: float) -> QPoint:
        pos = canvas.widget_pos(epoch, beta)
        return QPoint(round(pos.x()), round(pos.y()))

    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=at(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(viewport, at(*point))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=at(*points[-1]))


def type_into(qtbot: Any, editor: QWidget, text: str) -> None:
    """Select what an editor holds and type ``text`` over it (then Tab away)."""
    editor.setFocus()
    editor.selectAll()  # type: ignore[attr-defined]
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Tab)


def choose_in_combo(qtbot: Any, combo: Any, data: str) -> None:
    """Pick the item whose data is ``data`` with the keyboard, as a person would."""
    target = combo.findData(data)
    assert target >= 0, f"no item {data!r}"
    combo.setFocus()
    key = Qt.Key.Key_Down if target > combo.currentIndex() else Qt.Key.Key_Up
    while combo.currentIndex() != target:
        qtbot.keyClick(combo, key)


def feasible_point(grid: Any, nth: int = 0) -> tuple[int, float, float]:
    """The flat index and ``(x, y)`` of the ``nth`` feasible grid point, from the middle."""
    flat = np.flatnonzero(grid.feasible.ravel())
    index = int(flat[(len(flat) // 2 + nth) % len(flat)])
    iy, ix = divmod(index, grid.x.size)
    return index, float(grid.x[ix]), float(grid.y[iy])
