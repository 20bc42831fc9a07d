"""The window's models, Qt-free: what is shown (:class:`CampaignModel`, the open campaign) and
what will run (:class:`DraftModel`, the next campaign), with change events the views subscribe
to, and the messages the compute thread posts (``model.messages``). No Qt, no torch, no storage.
"""

from zbo_gui.model.campaign import BUSY, CampaignModel, Selection
from zbo_gui.model.draft import DraftModel, generated_library
from zbo_gui.model.events import EventEmitter, Events

__all__ = ["BUSY", "CampaignModel", "DraftModel", "EventEmitter", "Events", "Selection",
           "generated_library"]
