"""Change events of the window's models, without Qt (the pattern of napari's evented models).

A model owns an :class:`Events` group: one :class:`EventEmitter` per kind of change. Views
connect callbacks to the emitters they show; the model emits after it changed. Callbacks run
synchronously in the thread that changed the model (the GUI thread: the controller applies
everything the compute thread posts there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
        self._blocked = 0

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

    @property
    def callbacks(self) -> tuple[Callback, ...]:
        """The connected callbacks."""
        return tuple(self._callbacks)

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """Emit nothing inside the block."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1

    def __call__(self, value: Any = None) -> None:
        """Emit ``value``."""
        if self._blocked:
            return
        for callback in tuple(self._callbacks):
            callback(value)


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
