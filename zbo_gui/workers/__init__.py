"""The compute thread and the controller that drives a campaign for the window.

Qt is allowed here, widgets are not. The public surface:

* :class:`CampaignController` (``workers.controller``): the GUI-facing object with Qt signals;
* :class:`ComputeWorker` and :class:`Job` (``workers.worker``): the generic compute thread;
* the messages the signals carry (``workers.messages``): Qt-free frozen dataclasses.

Names are imported lazily, so ``import zbo_gui.workers.messages`` (what the widgets need) loads
neither Qt nor the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zbo_gui.workers.controller import CampaignController
    from zbo_gui.workers.messages import (
        CampaignOpened,
        DatasetSnapshot,
        FinalModel,
        GridSnapshot,
        PosteriorSnapshot,
        RunProgress,
        RunState,
    )
    from zbo_gui.workers.worker import ComputeWorker, Job

_WHERE = {
    "CampaignController": "zbo_gui.workers.controller",
    "ComputeWorker": "zbo_gui.workers.worker",
    "Job": "zbo_gui.workers.worker",
    "CampaignOpened": "zbo_gui.workers.messages",
    "DatasetSnapshot": "zbo_gui.workers.messages",
    "FinalModel": "zbo_gui.workers.messages",
    "GridSnapshot": "zbo_gui.workers.messages",
    "PosteriorSnapshot": "zbo_gui.workers.messages",
    "RunProgress": "zbo_gui.workers.messages",
    "RunState": "zbo_gui.workers.messages",
}

__all__ = [
    "CampaignController",
    "CampaignOpened",
    "ComputeWorker",
    "DatasetSnapshot",
    "FinalModel",
    "GridSnapshot",
    "Job",
    "PosteriorSnapshot",
    "RunProgress",
    "RunState",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
