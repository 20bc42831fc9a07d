"""Fixtures of the compute-thread tests: a controller torn down cleanly, tiny campaign files.

Every controller is shut down (its ``QThread`` stopped and waited for) in teardown: Qt aborts
the whole test process when a running ``QThread`` is destroyed (DESIGN.md §5).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from zbo_gui.core.config import CampaignConfig, config_from_dict
from zbo_gui.model.messages import CampaignOpened

from ..cli_helpers import tiny_config

#: Generous waits (ms): the suite may run niced on a loaded 2-core machine.
WAIT_MS = 240_000
#: Model events recorded by :class:`Recorder`.
EVENTS = ("state", "opened", "dataset", "grid", "posterior", "proposal", "evaluations",
          "progress", "final", "finished", "error", "notice")


def tiny(**sections: dict[str, Any]) -> CampaignConfig:
    """The tiny test campaign (``tests.cli_helpers.TINY_CONFIG``) with sections overridden."""
    return config_from_dict(tiny_config(**sections))


def slow(**bo: Any) -> CampaignConfig:
    """A tiny campaign whose trainings last 30 epochs (to stop or pause one in the middle)."""
    return tiny(schedules={"n_epochs": 30}, bo={"initial": 2, "budget": 3, **bo})


class Recorder:
    """Records every event of a controller's campaign model, in order (on the GUI thread).

    ``opened`` records a :class:`CampaignOpened` rebuilt from the model (the event carries the
    path); a ``proposal`` or ``progress`` of None (cleared) is not recorded.
    """

    def __init__(self, controller: Any) -> None:
        self.model = controller.model
        self.events: dict[str, list[Any]] = {name: [] for name in EVENTS}
        for name in EVENTS:
            self.model.events.emitter(name).connect(functools.partial(self._add, name))

    def _add(self, name: str, value: Any) -> None:
        if name == "opened":
            if value is None:
                return
            model = self.model
            value = CampaignOpened(value, model.config, model.n_stored, model.stages)
        elif name in ("proposal", "progress") and value is None:
            return
        self.events[name].append(value)

    def __getitem__(self, name: str) -> list[Any]:
        return self.events[name]

    @contextmanager
    def expect(self, qtbot: Any, name: str, check: Callable[[Any], bool] | None = None,
               timeout: int = WAIT_MS) -> Iterator[list[Any]]:
        """Wait, after the block, for a new ``name`` event (for which ``check`` holds); the
        yielded list then holds its value."""
        start = len(self.events[name])
        got: list[Any] = []

        def arrived() -> bool:
            for value in self.events[name][start:]:
                if check is None or check(value):
                    got.append(value)
                    return True
            return False

        yield got
        qtbot.waitUntil(arrived, timeout=timeout)


@pytest.fixture
def controller(qtbot) -> Iterator[Any]:
    from zbo_gui.workers.controller import CampaignController

    ctl = CampaignController()
    yield ctl
    assert ctl.shutdown(WAIT_MS), "the compute thread did not stop"


@pytest.fixture
def recorder(controller) -> Recorder:
    return Recorder(controller)


def _headless(path: Path, config: CampaignConfig, evaluations: int | None) -> Path:
    """A campaign file prepared (and evaluated) without Qt, on this thread."""
    from zbo_gui.runner import CampaignRunner

    with CampaignRunner.create(path, config) as runner:
        campaign = runner.prepare()
        if evaluations is None:
            runner.run()
        else:
            for _ in range(evaluations):
                runner.evaluate(campaign.ask())
    return path


@pytest.fixture(scope="session")
def finished_source(tmp_path_factory) -> Path:
    """A tiny campaign run to its budget (read-only source: copy it before use)."""
    return _headless(tmp_path_factory.mktemp("finished") / "finished.h5", tiny(), None)


@pytest.fixture(scope="session")
def prepared_source(tmp_path_factory) -> Path:
    """A :func:`slow` campaign with its stages stored and no evaluation (copy before use)."""
    return _headless(tmp_path_factory.mktemp("prepared") / "prepared.h5", slow(), 0)


@pytest.fixture
def finished_file(finished_source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(finished_source, tmp_path / "finished.h5"))


@pytest.fixture
def prepared_file(prepared_source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(prepared_source, tmp_path / "prepared.h5"))
