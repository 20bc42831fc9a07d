"""Change events of the window's models, without Qt (the pattern of napari's evented models).

A model owns an :class:`Events` group: one :class:`EventEmitter` per kind of change. Views
connect callbacks to the emitters they show; the model emits after it changed. Callbacks run
synchronously in the thread that changed the model (the GUI thread: the controller applies
everything the compute thread posts there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Callback = Callable[[Any], None]


class EventEmitter:
    """Calls its connected callbacks, in connection order, with one value.

    Args:
        name: what changed (for error messages and debugging).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callback] = []

    def connect(self, callback: Callback) -> Callback:
        """Call ``callback(value)`` on every emission; returns it (usable as a decorator)."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callback | None = None) -> None:
        """Forget ``callback`` (every callback when None)."""
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def __call__(self, value: Any = None) -> None:
        """Emit ``value`` to every callback; one that raises does not keep the value from the
        others, and the first exception is raised again after all of them ran."""
        first: BaseException | None = None
        for callback in tuple(self._callbacks):
            try:
                callback(value)
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first


class Events:
    """A named group of emitters: ``Events("grid", "posterior").grid.connect(...)``."""

    def __init__(self, *names: str) -> None:
        self._names = names
        for name in names:
            setattr(self, name, EventEmitter(name))

    @property
    def names(self) -> tuple[str, ...]:
        """The emitters' names."""
        return self._names

    def emitter(self, name: str) -> EventEmitter:
        """The emitter called ``name``."""
        if name not in self._names:
            raise KeyError(f"no event {name!r} (known: {', '.join(self._names)})")
        return getattr(self, name)
