"""Typed errors of the engine.

Every error a *user* can cause (a bad config value, a bad file, bad data) is a subclass of
:class:`ZboError`; the command line prints its message on one line and exits non-zero, and the GUI
shows it in a dialog. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ZboError(Exception):
    """Base class of every error caused by the user's input; its message names the bad value."""


class ConfigError(ZboError, ValueError):
    """An invalid configuration value (the message names the field and the value)."""


class ScheduleError(ZboError, ValueError):
    """An invalid schedule or schedule library (non-finite, non-positive, wrong length, ...)."""


class DatasetError(ZboError, ValueError):
    """A dataset that cannot be used (missing file, wrong shape, NaN values, ...)."""


class AmbiguousDataError(DatasetError):
    """A file holds several image arrays (or TIFF series) and ``dataset.key`` chose none.

    Attributes:
        choices: the keys that would choose one (array names, dataset paths, series numbers).
    """

    def __init__(self, message: str, choices: tuple[str, ...]) -> None:
        super().__init__(message)
        self.choices = choices


class CampaignFileError(ZboError):
    """A campaign file that cannot be read or written (corrupt, truncated, wrong format)."""


class CampaignError(ZboError):
    """A campaign operation that is not possible in the campaign's current state."""
