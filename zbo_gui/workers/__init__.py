"""The compute thread and the controller that drives a campaign for the window.

Qt is allowed here, widgets are not: :class:`CampaignController` (``workers.controller``)
queues jobs on the compute thread (``workers.worker``) and applies what they post to the
window's models (``zbo_gui.model``). Names are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zbo_gui.workers.controller import CampaignController
    from zbo_gui.workers.worker import ComputeWorker, Job

_WHERE = {
    "CampaignController": "zbo_gui.workers.controller",
    "ComputeWorker": "zbo_gui.workers.worker",
    "Job": "zbo_gui.workers.worker",
}

__all__ = ["CampaignController", "ComputeWorker", "Job"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
