"""The window tests run on an offscreen screen of 1366×768: the smallest screen the window is
laid out for (a laptop at a microscope), so a test sees what fits there."""

from __future__ import annotations

import os
from pathlib import Path

SCREEN = Path(__file__).parent / "fixtures" / "screen-1366x768.json"

if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={SCREEN}"
