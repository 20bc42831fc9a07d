"""The draft's dataset loader: opens a source, prepares a preview, summarises what it holds.

:class:`DatasetLoader` lives in the GUI thread and writes what it finds to the draft (its
``dataset`` section on success, and a :class:`~zbo_gui.model.draft.DatasetPreview` always), so
the dataset panel shows files only through the model. Sources are opened lazily
(``core.data.open_images``): it reads a preview of :data:`PREVIEW_COUNT` images (through the same
preparation as a campaign: ``core.datasets.load_dataset`` on a subset of that size) and, for
sources up to :data:`SYNC_SCAN_BYTES`, the full summary (``core.data.inspect_file``). Larger
files and the demos are summarised on one background Python thread (no Qt object crosses it; a
timer polls the result), so the window never waits for a whole file.

A source that cannot be used gives an ``error`` in the preview (one line); the dataset chosen
before stays the draft's. Nothing raises.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer

from zbo_gui.core.config import DatasetConfig
from zbo_gui.core.data import (
    DatasetWarning,
    DataSummary,
    detect_format,
    image_candidates,
    inspect_file,
    open_images,
)
from zbo_gui.core.datasets import load_dataset
from zbo_gui.core.errors import DatasetError, ZboError
from zbo_gui.model.draft import DatasetPreview, DraftModel

#: Images of the preview.
PREVIEW_COUNT = 16
#: Sources up to this many stored bytes are summarised at once; larger ones in the background.
SYNC_SCAN_BYTES = 32 * 1024**2

_Job = tuple[Callable[[], DataSummary], tuple[Any, ...]]


def _quiet_load(config: DatasetConfig, seed: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return load_dataset(config, seed)


def _demo_summary(config: DatasetConfig, seed: int) -> DataSummary:
    """The full summary of a demo: generates the whole set (run in the background)."""
    return _quiet_load(config, seed).summary()


def _message(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, ZboError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _source_text(config: DatasetConfig) -> str:
    return config.source + (f"  [{config.key}]" if config.key else "")


class DatasetLoader(QObject):
    """Loads the draft's dataset preview (see the module docstring).

    Args:
        draft: the draft whose dataset it loads and previews.
        parent: the Qt parent.
    """

    def __init__(self, draft: DraftModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.draft = draft
        self._summary_key: tuple[Any, ...] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: tuple[concurrent.futures.Future[DataSummary], tuple[Any, ...]] | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(50)
        self._poll.timeout.connect(self._check_background)

    # ------------------------------------------------------------------ requests
    def open_path(self, path: str | Path, key: str = "") -> bool:
        """Open a file or folder; the format is detected and the array chosen when ambiguous.

        Args:
            path: the file or folder.
            key: the NPZ array, HDF5 dataset or TIFF series ("": ``images``, the only one, or
                the first candidate).

        Returns:
            Whether it opened (on failure the preview's ``error`` says why and the draft keeps
            its dataset).
        """
        try:
            fmt = detect_format(path, "auto")
            candidates = image_candidates(path, fmt)
            keys = [k for k, _ in candidates]
            if key:
                chosen = key
            elif len(candidates) <= 1:
                chosen = ""
            else:
                chosen = next((k for k in keys if k.rsplit("/", 1)[-1] == "images"), keys[0])
            config = dataclasses.replace(self.draft.config.dataset, source=str(path),
                                         key=chosen, format="auto", labels="")
        except (ZboError, OSError, ValueError) as exc:
            self._fail(exc)
            return False
        note = ""
        if len(candidates) > 1:
            note = (f"{len(candidates)} image arrays in the file; showing {chosen!r}. Choose"
                    " another in the list.")
        return self.apply(config, candidates=candidates, note=note)

    def use_demo(self, source: str = "demo") -> bool:
        """Use a built-in demo (``"demo"``: rotated digits; ``"particles"``)."""
        config = dataclasses.replace(self.draft.config.dataset, source=source, key="")
        return self.apply(config, candidates=[])

    def reload(self) -> bool:
        """Re-read the draft's dataset (after the seed or a preparation setting changed)."""
        return self.apply(self.draft.config.dataset,
                          candidates=list(self.draft.preview.candidates))

    def apply(self, config: DatasetConfig, candidates: list[tuple[str, str]] | None = None,
              note: str = "") -> bool:
        """Load ``config``'s preview and summary; make it the draft's only when both worked.

        Returns:
            Whether ``config`` is now the draft's dataset.
        """
        seed = self.draft.config.seed
        if candidates is None:
            try:
                fmt = "" if config.is_demo else detect_format(config.source, config.format)
                candidates = image_candidates(config.source, fmt) if fmt else []
            except (ZboError, OSError, ValueError):
                candidates = []
        try:
            preview_config = dataclasses.replace(
                config, n_images=min(PREVIEW_COUNT, config.n_images))
            images = _quiet_load(preview_config, seed).images
            summary, complete, job, key = self._summarise(config, seed)
            if summary is not None and summary.problems:
                raise DatasetError(f"{summary.source}: {'; '.join(summary.problems)}")
        except (ZboError, OSError, ValueError) as exc:
            self._fail(exc)
            return False
        self._summary_key = key
        if summary is None:  # same source: the summary shown stays
            summary, complete = self.draft.preview.summary, self.draft.preview.complete
        self.draft.set_dataset(config)
        self.draft.set_preview(DatasetPreview(
            source=_source_text(config), images=np.asarray(images, np.float32),
            summary=summary, complete=complete, candidates=tuple(candidates), message=note))
        if job is not None:
            self._start_background(*job)
        return True

    def wait_for_summary(self, timeout: float = 30.0) -> bool:
        """Block until a background summary is in the preview (for scripts and tests).

        Returns:
            Whether the summary is complete.
        """
        if self._pending is not None:
            concurrent.futures.wait([self._pending[0]], timeout=timeout)
            self._check_background()
        return self.draft.preview.complete

    def shutdown(self) -> None:
        """Stop polling and drop a running background summary (the thread ends by itself)."""
        self._poll.stop()
        if self._pending is not None:
            self._pending[0].cancel()
            self._pending = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # ------------------------------------------------------------------ internal
    def _fail(self, exc: BaseException) -> None:
        self.draft.set_preview(dataclasses.replace(self.draft.preview, error=_message(exc),
                                                   message=""))

    def _summarise(self, config: DatasetConfig, seed: int
                   ) -> tuple[DataSummary | None, bool, _Job | None, tuple[Any, ...]]:
        """``(summary now, complete?, background job, identity)``; None: unchanged source."""
        if config.is_demo:
            key: tuple[Any, ...] = ("demo", dataclasses.astuple(config), seed)
        else:
            key = ("file", config.source, config.format, config.key, config.labels)
        if key == self._summary_key:
            return None, False, None, key
        if config.is_demo:
            size = (config.image_size, config.image_size)
            quick = DataSummary(source=f"demo: {config.source}", format="prepared",
                                count=config.n_images, image_shape=size, dtype="float32",
                                value_range=None, nan_count=0, constant_images=0,
                                fingerprint="")
            return quick, False, (lambda: _demo_summary(config, seed), key), key
        with open_images(config.source, config.format, config.key) as raw:
            stored = raw.count * int(np.prod(raw.layout.image_shape)) * raw.dtype.itemsize
            quick = DataSummary(source=raw.where, format=raw.format, count=raw.count,
                                image_shape=tuple(raw.layout.image_shape), dtype=str(raw.dtype),
                                value_range=None, nan_count=0, constant_images=0,
                                fingerprint="", steps=(raw.describe(),))
        if stored <= SYNC_SCAN_BYTES:
            full = inspect_file(config.source, config.format, config.key, config.labels)
            return full, True, None, key
        path, fmt, k, labels = config.source, config.format, config.key, config.labels
        return quick, False, (lambda: inspect_file(path, fmt, k, labels), key), key

    def _start_background(self, job: Callable[[], DataSummary], key: tuple[Any, ...]) -> None:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="zbo-dataset-summary")
        if self._pending is not None:
            self._pending[0].cancel()
        self._pending = (self._executor.submit(job), key)
        self._poll.start()

    def _check_background(self) -> None:
        if self._pending is None:
            self._poll.stop()
            return
        future, key = self._pending
        if not future.done():
            return
        self._pending = None
        self._poll.stop()
        if future.cancelled() or key != self._summary_key:
            return  # a newer source replaced it
        exc = future.exception()
        if exc is not None:
            if isinstance(exc, ZboError | OSError | ValueError):
                self._fail(exc)
                return
            raise exc
        summary = future.result()
        error = f"{summary.source}: {'; '.join(summary.problems)}" if summary.problems else ""
        self.draft.set_preview(dataclasses.replace(self.draft.preview, summary=summary,
                                                   complete=True, error=error))
