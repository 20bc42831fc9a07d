"""Crash points: where the crash tests kill a campaign with SIGKILL, at an exact moment.

A real ``kill -9`` from outside lands at random moments; some moments that matter last
milliseconds (between the rows of an evaluation and its count). With the environment variable
``ZBO_KILL_AT=<point>[@<n>]`` the process sends itself SIGKILL the ``n``-th time (default the
first) it reaches ``<point>``: no clean-up, no flush, exactly what a kill leaves on disk. The
points, in the order a campaign meets them: ``dataset`` (the images are written, the stage is
not complete), ``seeds``, ``schedule_vae`` (a training checkpoint was just written), ``grid``,
``training`` (after an epoch of an evaluation's training), ``scoring`` (a trained model, before
its manifolds are scored) and ``append`` (an evaluation's replicate rows are written, its row
count not yet bumped). Without the variable, :func:`crash_point` only counts.
"""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Callable
from functools import cache

#: The names of the crash points (see the module docstring).
POINTS = ("dataset", "seeds", "schedule_vae", "grid", "training", "scoring", "append")
_ENV = "ZBO_KILL_AT"
_seen: dict[str, int] = {}


@cache
def _target() -> tuple[str, int] | None:
    """The point of ``ZBO_KILL_AT`` (read once); a malformed value is ignored with a warning."""
    spec = os.environ.get(_ENV, "").strip()
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    if name not in POINTS or (nth and not nth.isdigit()):
        warnings.warn(f"{_ENV}={spec!r} ignored: expected one of {', '.join(POINTS)},"
                      " optionally followed by @<n>", stacklevel=3)
        return None
    return name, int(nth or 1)


def crash_point(name: str, before: Callable[[], None] | None = None) -> None:
    """Kill this process with SIGKILL if ``ZBO_KILL_AT`` names this point and visit.

    Args:
        name: one of :data:`POINTS`.
        before: called just before the kill (e.g. an HDF5 flush, so that the kill leaves on
            disk what was written so far, as when the library had flushed it by itself).
    """
    assert name in POINTS, name
    _seen[name] = _seen.get(name, 0) + 1
    target = _target()
    if target is not None and target == (name, _seen[name]):
        if before is not None:
            before()
        os.kill(os.getpid(), signal.SIGKILL)
