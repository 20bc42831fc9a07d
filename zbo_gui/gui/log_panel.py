"""The log panel: the application's log records, from any thread, in a read-only text view.

:class:`QtLogHandler` is a :class:`logging.Handler` that formats a record in the thread that
logs it and hands the text to the GUI thread through a queued Qt signal, so a worker thread never
touches a widget.
"""

from __future__ import annotations

import collections
import logging

from PySide6 import QtCore, QtGui, QtWidgets

#: Levels offered by the level filter: (text, level).
LEVELS: tuple[tuple[str, int], ...] = (
    ("Debug", logging.DEBUG),
    ("Info", logging.INFO),
    ("Warning", logging.WARNING),
    ("Error", logging.ERROR),
)
DEFAULT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_ERROR_COLOR = QtGui.QColor(220, 50, 47)
_WARNING_COLOR = QtGui.QColor(203, 120, 0)


class _LogBridge(QtCore.QObject):
    """The QObject that carries a formatted record across threads (lives in the GUI thread)."""

    recordEmitted = QtCore.Signal(str, int)


class QtLogHandler(logging.Handler):
    """A logging handler that emits ``recordEmitted(text, levelno)`` with each formatted record.

    Create it in the GUI thread; records may then be logged from any thread: receivers in the
    GUI thread get them through a queued connection.
    """

    def __init__(self, level: int = logging.NOTSET, fmt: str = DEFAULT_FORMAT) -> None:
        """Create the handler.

        Args:
            level: the handler's level.
            fmt: the ``logging.Formatter`` format.
        """
        super().__init__(level)
        self.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
        self.bridge = _LogBridge()

    @property
    def recordEmitted(self) -> QtCore.SignalInstance:
        """The signal ``(text: str, levelno: int)`` emitted for each record."""
        return self.bridge.recordEmitted

    def emit(self, record: logging.LogRecord) -> None:
        """Format ``record`` and emit it (called by ``logging`` in the logging thread)."""
        try:
            text = self.format(record)
            self.bridge.recordEmitted.emit(text, record.levelno)
        except Exception:  # logging's contract: report through handleError, never raise
            self.handleError(record)


class LogPanel(QtWidgets.QWidget):
    """Read-only view of the log, with a level filter and at most ``max_lines`` records.

    Call :meth:`attach` to start receiving records of a logger (``zbo_gui`` by default) and
    :meth:`detach` before the panel goes away.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None, max_lines: int = 2000,
                 level: int = logging.INFO) -> None:
        """Create the panel.

        Args:
            parent: the parent widget.
            max_lines: the most records kept (older ones are dropped).
            level: the initial level filter.

        Raises:
            ValueError: if ``max_lines < 1``.
        """
        super().__init__(parent)
        if max_lines < 1:
            raise ValueError(f"max_lines must be >= 1, got {max_lines}")
        self._records: collections.deque[tuple[int, str]] = collections.deque(maxlen=max_lines)
        self._handler = QtLogHandler(level)
        self._handler.recordEmitted.connect(self._on_record)
        self._logger: logging.Logger | None = None
        self._previous_logger_level: int | None = None

        self._text = QtWidgets.QPlainTextEdit()
        self._text.setReadOnly(True)
        self._text.setMaximumBlockCount(max_lines)
        self._text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self._text.setFont(QtGui.QFontDatabase.systemFont(
            QtGui.QFontDatabase.SystemFont.FixedFont))
        self._text.setToolTip("Messages of the application (newest at the bottom)")

        self._level_combo = QtWidgets.QComboBox()
        for text, value in LEVELS:
            self._level_combo.addItem(text, value)
        self._level_combo.setCurrentIndex(self._level_combo.findData(level))
        self._level_combo.setToolTip("Show messages of this level and above")
        self._level_combo.currentIndexChanged.connect(self._on_level_changed)

        self._clear_button = QtWidgets.QPushButton("Clear")
        self._clear_button.setToolTip("Remove all messages from the panel")
        self._clear_button.clicked.connect(self.clear)

        controls = QtWidgets.QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        label = QtWidgets.QLabel("Level:")
        label.setBuddy(self._level_combo)
        controls.addWidget(label)
        controls.addWidget(self._level_combo)
        controls.addStretch(1)
        controls.addWidget(self._clear_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self._text, 1)

    # ------------------------------------------------------------------------------ public
    @property
    def handler(self) -> QtLogHandler:
        """The handler feeding the panel."""
        return self._handler

    def attach(self, logger: logging.Logger | None = None) -> None:
        """Start showing the records of ``logger`` (default: the ``zbo_gui`` logger).

        When the logger's effective level is above the panel's filter, its level is lowered to
        the filter (restored by :meth:`detach`), so the records the panel offers reach it.

        Args:
            logger: the logger to listen to.
        """
        self.detach()
        logger = logging.getLogger("zbo_gui") if logger is None else logger
        self._logger = logger
        self._previous_logger_level = logger.level
        logger.addHandler(self._handler)
        self._lower_logger_level()

    def detach(self) -> None:
        """Stop showing records (removes the handler; restores the logger's level)."""
        if self._logger is None:
            return
        self._logger.removeHandler(self._handler)
        if self._previous_logger_level is not None:
            self._logger.setLevel(self._previous_logger_level)
        self._logger = None
        self._previous_logger_level = None

    def level(self) -> int:
        """The level filter (a ``logging`` level)."""
        return int(self._level_combo.currentData())

    def set_level(self, level: int) -> None:
        """Show records of ``level`` and above.

        Args:
            level: one of ``logging.DEBUG``, ``INFO``, ``WARNING``, ``ERROR``.

        Raises:
            ValueError: for another level.
        """
        index = self._level_combo.findData(level)
        if index < 0:
            raise ValueError(f"level must be one of {[v for _, v in LEVELS]}, got {level}")
        self._level_combo.setCurrentIndex(index)

    def text(self) -> str:
        """The text shown."""
        return self._text.toPlainText()

    def line_count(self) -> int:
        """Number of records kept."""
        return len(self._records)

    def clear(self) -> None:
        """Remove every record."""
        self._records.clear()
        self._text.clear()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Detach from the logger when the panel is closed."""
        self.detach()
        super().closeEvent(event)

    # ---------------------------------------------------------------------------- internal
    def _lower_logger_level(self) -> None:
        logger = self._logger
        if logger is not None and logger.getEffectiveLevel() > self.level():
            logger.setLevel(self.level())

    def _on_level_changed(self, _index: int) -> None:
        self._handler.setLevel(self.level())
        self._lower_logger_level()
        self._text.clear()
        for levelno, text in self._records:
            if levelno >= self.level():
                self._append(text, levelno)

    def _on_record(self, text: str, levelno: int) -> None:
        self._records.append((levelno, text))
        if levelno >= self.level():
            self._append(text, levelno)

    def _append(self, text: str, levelno: int) -> None:
        fmt = QtGui.QTextCharFormat()
        if levelno >= logging.ERROR:
            fmt.setForeground(_ERROR_COLOR)
        elif levelno >= logging.WARNING:
            fmt.setForeground(_WARNING_COLOR)
        elif levelno < logging.INFO:
            fmt.setForeground(self.palette().color(QtGui.QPalette.ColorRole.PlaceholderText))
        bar = self._text.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        cursor = QtGui.QTextCursor(self._text.document())
        cursor.movePosition(QtGui.QTextCursor.MoveOperation.End)
        if not self._text.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(text, fmt)
        if at_bottom:
            bar.setValue(bar.maximum())


__all__ = ["LEVELS", "LogPanel", "QtLogHandler"]
