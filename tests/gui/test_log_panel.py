"""LogPanel and QtLogHandler: records from another thread arrive in the GUI thread."""

from __future__ import annotations

import logging
import threading

import pytest

from zbo_gui.gui.log_panel import LogPanel, QtLogHandler


@pytest.fixture
def logger() -> logging.Logger:
    log = logging.getLogger("zbo_gui.tests.log_panel")
    previous = log.level
    yield log
    log.setLevel(previous)


@pytest.fixture
def panel(qtbot, logger):
    widget = LogPanel(max_lines=5)
    qtbot.addWidget(widget)
    widget.attach(logger)
    yield widget
    widget.detach()


def test_record_from_a_worker_thread_is_shown(qtbot, panel, logger) -> None:
    receivers: list[int] = []
    panel.handler.recordEmitted.connect(lambda _text, _level: receivers.append(
        threading.get_ident()))
    worker = threading.Thread(target=logger.info, args=("evaluation %d finished", 3))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: "evaluation 3 finished" in panel.text(), timeout=2000)
    assert receivers == [threading.get_ident()]  # delivered in the GUI thread
    assert "INFO" in panel.text()


def test_level_filter_and_attach_lowers_logger_level(qtbot, panel, logger) -> None:
    assert logger.getEffectiveLevel() <= logging.INFO  # attach made INFO reach the panel
    logger.debug("hidden debug")
    logger.warning("a warning")
    qtbot.waitUntil(lambda: "a warning" in panel.text(), timeout=2000)
    assert "hidden debug" not in panel.text()
    panel.set_level(logging.ERROR)
    assert "a warning" not in panel.text()  # re-filtered
    logger.error("an error")
    qtbot.waitUntil(lambda: "an error" in panel.text(), timeout=2000)
    panel.set_level(logging.WARNING)
    assert "a warning" in panel.text() and "an error" in panel.text()
    with pytest.raises(ValueError, match="level must be one of"):
        panel.set_level(5)


def test_keeps_at_most_max_lines(qtbot, panel, logger) -> None:
    for i in range(12):
        logger.info("line %d", i)
    qtbot.waitUntil(lambda: "line 11" in panel.text(), timeout=2000)
    lines = panel.text().splitlines()
    assert len(lines) == 5 and lines[0].endswith("line 7")
    assert panel.line_count() == 5
    panel.clear()
    assert panel.text() == "" and panel.line_count() == 0


def test_detach_stops_records_and_restores_level(qtbot, logger) -> None:
    logger.setLevel(logging.WARNING)
    panel = LogPanel()
    qtbot.addWidget(panel)
    panel.attach(logger)
    assert logger.level == logging.INFO
    panel.detach()
    assert logger.level == logging.WARNING
    assert panel.handler not in logger.handlers
    logger.warning("after detach")
    qtbot.wait(20)
    assert "after detach" not in panel.text()


def test_handler_alone_formats_records(qtbot) -> None:
    handler = QtLogHandler(fmt="%(levelname)s|%(message)s")
    with qtbot.waitSignal(handler.recordEmitted) as blocker:
        handler.handle(logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("!",),
                                         None))
    assert blocker.args == ["ERROR|boom !", logging.ERROR]
