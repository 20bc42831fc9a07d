"""The draft of the next campaign: exactly what New campaign will run. Qt-free.

The dataset panel, the seed panel and the Settings dialog edit this model, never the open
campaign. It holds the whole :class:`~zbo_gui.core.config.CampaignConfig` and the actual
:class:`~zbo_gui.core.schedules.ScheduleLibrary` — generated, imported from CSV files, sketched,
with rows removed — which New campaign hands to the runner as objects (no file round trip), so
the campaign file holds exactly the seeds the panel showed.

Every change to the library (generate, CSV import, an added sketch, removed rows) first pushes
the previous library on a small undo stack. Generating keeps the rows imported from CSV files
and the sketches (resampled to the new N) and redraws the generated families with the draft's
seed.

The draft also holds what its dataset looks like (:class:`DatasetPreview`: a few prepared
images and the source's summary), which the dataset loader (``workers.dataset_preview``) fills
in, so the dataset panel shows data only through the model.

Events: ``config`` (the configuration changed: the new :class:`CampaignConfig`), ``library``
(the seed library changed: the new :class:`ScheduleLibrary`), ``preview`` (the dataset preview
changed: the new :class:`DatasetPreview`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zbo_gui.core.config import (
    CampaignConfig,
    DatasetConfig,
    ScheduleConfig,
    demo_config,
)
from zbo_gui.core.errors import ScheduleError
from zbo_gui.core.schedules import (
    EXTRA_FAMILIES,
    Bounds,
    ScheduleLibrary,
    beta_d_rng,
    configured_library,
    fill_beta_d,
    generate_library,
    load_csv,
    open_pairs,
)
from zbo_gui.model.events import Events

if TYPE_CHECKING:  # the readers are loaded with the first dataset, not with the window
    from zbo_gui.core.data import DataSummary

#: How many previous libraries undo can restore.
UNDO_DEPTH = 20


@dataclasses.dataclass(frozen=True)
class DatasetPreview:
    """What the draft's dataset looks like.

    Attributes:
        source: the ``dataset.source`` (and ``key``) it describes.
        images: ``(k, H, W)`` float32 preview images as prepared for training, or None.
        summary: what the source holds as stored, or None before it was read.
        complete: whether ``summary`` covers the whole source (False while it is scanned).
        candidates: ``(key, description)`` of the image arrays of a file that has several.
        error: why the source (or a setting) cannot be used; "" when it can.
        message: a note for the person (e.g. which of several arrays is shown).
    """

    source: str = ""
    images: np.ndarray | None = None
    summary: DataSummary | None = None
    complete: bool = False
    candidates: tuple[tuple[str, str], ...] = ()
    error: str = ""
    message: str = ""


#: What the generated rows of a library were drawn with: N, the bounds, the counts, the seed.
_Drawn = tuple[int, float, float, tuple[tuple[str, int], ...], int,
               tuple[float, float] | None, tuple[tuple[str, int], ...]]


@dataclasses.dataclass(frozen=True)
class _Undo:
    library: ScheduleLibrary
    csv_files: tuple[str, ...]
    drawn: _Drawn
    config: CampaignConfig | None = None  # the whole configuration, for an undone load()


def generated_library(config: CampaignConfig) -> ScheduleLibrary:
    """The library ``config`` describes: the one ``zbo run`` builds
    (:func:`~zbo_gui.core.schedules.configured_library`).

    Raises:
        ScheduleError: a CSV file cannot be read or holds a bad value; no schedule at all.
    """
    sc = config.schedules
    return configured_library(sc.counts, sc.n_epochs, sc.bounds(), config.seed, sc.csv_files,
                              sc.beta_d_families)


def _resampled(library: ScheduleLibrary, rows: list[int], n_epochs: int,
               pairs: bool) -> np.ndarray:
    """Rows of ``library`` resampled to ``n_epochs``: ``(k, N)``, or ``(k, 2, N)`` pairs for
    ``pairs`` (β_d NaN, for the caller to draw, where the library had none)."""
    old = library.schedules[rows].reshape(len(rows), -1, library.n_epochs)
    x_old = np.linspace(0.0, 1.0, library.n_epochs)
    x_new = np.linspace(0.0, 1.0, n_epochs)
    new = np.array([[np.interp(x_new, x_old, curve) for curve in row] for row in old])
    if not pairs:
        return new[:, 0]
    return open_pairs(new[:, 0]) if new.shape[1] == 1 else new


class DraftModel:
    """The next campaign's configuration and seed library (see the module docstring).

    Args:
        config: the configuration to start from (default: the demo preset).
    """

    def __init__(self, config: CampaignConfig | None = None) -> None:
        self.events = Events("config", "library", "preview")
        self._config = config or demo_config()
        self._preview = DatasetPreview()
        self._library = generated_library(self._config)
        self._drawn = self._drawn_key(self._config)
        self._undo: list[_Undo] = []

    # ------------------------------------------------------------------ reading
    @property
    def config(self) -> CampaignConfig:
        """The configuration New campaign uses (its ``schedules.csv_files`` list the imports)."""
        return self._config

    @property
    def library(self) -> ScheduleLibrary:
        """The seed library New campaign uses, row for row."""
        return self._library

    @property
    def preview(self) -> DatasetPreview:
        """What the dataset looks like (set by the dataset loader)."""
        return self._preview

    def set_preview(self, preview: DatasetPreview) -> None:
        """The dataset loader's latest findings."""
        self._preview = preview
        self.events.preview(preview)

    @property
    def stale(self) -> bool:
        """Whether N, the bounds, a family count or the seed changed since the library was
        drawn: the library no longer is what the configuration says (press Generate)."""
        return self._drawn_key(self._config) != self._drawn

    def stale_reason(self) -> str:
        """What changed since the library was drawn ("" when nothing did), e.g. ``"seed 0 →
        7"``."""
        now, then = self._drawn_key(self._config), self._drawn
        names = ("N", "β lo", "β hi", "family counts", "seed", "β_d bounds", "β_d families")

        def shown(name: str, value: object) -> object:
            if name != "β_d bounds":
                return value
            return "off" if value is None else "[{:g}, {:g}]".format(*value)

        parts = []
        for name, a, b in zip(names, then, now, strict=True):
            if a != b:
                parts.append(name if name in ("family counts", "β_d families")
                             else f"{name} {shown(name, a)} → {shown(name, b)}")
        return ", ".join(parts)

    @property
    def can_undo(self) -> bool:
        """Whether a library change can be undone."""
        return bool(self._undo)

    @staticmethod
    def _drawn_key(config: CampaignConfig) -> _Drawn:
        sc = config.schedules
        counts = tuple(sorted((k, int(v)) for k, v in sc.counts.items() if int(v)))
        d_bounds = (sc.beta_d_lo, sc.beta_d_hi) if sc.joint else None
        d_shares = (tuple(sorted((k, int(v)) for k, v in sc.beta_d_families.items() if int(v)))
                    if sc.joint else ())
        return (sc.n_epochs, sc.beta_lo, sc.beta_hi, counts, int(config.seed), d_bounds,
                d_shares)

    # ------------------------------------------------------------------ configuration
    def set_config(self, config: CampaignConfig) -> None:
        """Replace the configuration (the library stays; see :attr:`stale`)."""
        if config != self._config:
            self._config = config
            self.events.config(config)

    def set_dataset(self, dataset: DatasetConfig) -> None:
        """Replace the dataset section."""
        self.set_config(self._config.replace(dataset=dataset))

    def set_classes(self, classes: int) -> None:
        """Set ``jrvae.classes`` (the dataset panel's field)."""
        jrvae = dataclasses.replace(self._config.jrvae, classes=int(classes))
        self.set_config(self._config.replace(jrvae=jrvae))

    def set_schedules(self, schedules: ScheduleConfig) -> None:
        """Replace N, the bounds and the family counts (the CSV file list is the draft's)."""
        kept = dataclasses.replace(schedules, csv_files=self._config.schedules.csv_files)
        self.set_config(self._config.replace(schedules=kept))

    def set_seed(self, seed: int) -> None:
        """Set the campaign seed (the next Generate draws the library with it)."""
        self.set_config(self._config.replace(seed=int(seed)))

    def set_settings(self, settings: CampaignConfig) -> None:
        """Take the Settings dialog's sections (schedule VAE, grid, jrVAE, objective, BO,
        execution) and seed; the dataset and the schedules stay the draft's."""
        self.set_config(self._config.replace(
            seed=settings.seed, schedule_vae=settings.schedule_vae, grid=settings.grid,
            jrvae=settings.jrvae, objective=settings.objective, bo=settings.bo,
            execution=settings.execution))

    def load(self, config: CampaignConfig, library: ScheduleLibrary | None = None) -> None:
        """Start the draft from ``config`` (e.g. an open campaign's) and its library (default:
        built from the config: its generated families and CSV files). Undo restores the
        previous draft, configuration included.

        Raises:
            ScheduleError: without ``library``, a CSV file of ``config`` cannot be read.
        """
        library = library if library is not None else generated_library(config)
        self._push_undo(whole=True)
        self._config = config
        self._drawn = self._drawn_key(config)
        self.events.config(config)
        self._set_library(library, tuple(config.schedules.csv_files), undoable=False)

    # ------------------------------------------------------------------ library
    def generate(self) -> ScheduleLibrary:
        """Draw the generated families anew with the draft's seed, counts, N and bounds; keep
        the CSV rows and the sketches (resampled to N).

        Raises:
            ScheduleError: nothing would remain (every count 0 and no other rows).
        """
        sc = self._config.schedules
        parts: list[np.ndarray] = []
        families: list[str] = []
        if sum(sc.counts.values()) > 0:
            generated = generate_library(sc.counts, sc.n_epochs,
                                         Bounds(sc.beta_lo, sc.beta_hi), self._config.seed)
            parts.append(open_pairs(generated.schedules) if sc.joint else generated.schedules)
            families += generated.families
        extra = [i for i, f in enumerate(self._library.families) if f in EXTRA_FAMILIES]
        if extra:
            parts.append(_resampled(self._library, extra, sc.n_epochs, sc.joint))
            families += [self._library.families[i] for i in extra]
        if not parts:
            raise ScheduleError("the library would be empty: set a count above 0")
        library = ScheduleLibrary(self._paired(np.concatenate(parts), 0), tuple(families))
        self._set_library(library, sc.csv_files)
        self._drawn = self._drawn_key(self._config)
        return library

    def import_csv(self, path: str | Path) -> int:
        """Add the schedules of a CSV file (resampled to N) as family ``csv``.

        Returns:
            How many schedules were added.

        Raises:
            ScheduleError: the file cannot be read or holds a bad value (nothing changes).
        """
        sc = self._config.schedules
        curves = self._paired(load_csv(path, sc.n_epochs, pairs=sc.joint), len(self._library))
        library = self._library.concat(ScheduleLibrary(curves, ("csv",) * len(curves)))
        name = str(path)
        files = self._config.schedules.csv_files
        self._set_library(library, files if name in files else (*files, name))
        return len(curves)

    def outside_bounds(self, curves: np.ndarray) -> int:
        """How many of ``curves`` ``(k, N)`` (pairs: ``(k, 2, N)``, each curve against its
        own bounds) leave the draft's bounds somewhere."""
        sc = self._config.schedules
        curves = np.asarray(curves, dtype=np.float64)
        rows = curves.reshape(len(curves), -1, curves.shape[-1])
        bounds = [(sc.beta_lo, sc.beta_hi), (sc.beta_d_lo, sc.beta_d_hi)][: rows.shape[1]]
        out = np.zeros(len(curves), dtype=bool)
        for k, (lo, hi) in enumerate(bounds):
            if lo is not None:
                out |= ((rows[:, k] < lo) | (rows[:, k] > hi)).any(axis=1)
        return int(out.sum())

    def _paired(self, schedules: np.ndarray, salt: int) -> np.ndarray:
        """``schedules`` with NaN β_d curves drawn from the β_d families (stream ``salt``);
        unchanged when β_d is not optimised."""
        sc = self._config.schedules
        if not sc.joint:
            return schedules
        return fill_beta_d(schedules, sc.bounds(), sc.beta_d_families,
                           beta_d_rng(self._config.seed, salt))

    def add_sketch(self, rows: np.ndarray) -> None:
        """Add a sketched curve and its variants ``(K + 1, N)`` (β_c) as family ``sketch``;
        when β_d is optimised too, each gets a β_d curve drawn from the β_d families.

        Raises:
            ScheduleError: rows of another length than N, or bad values.
        """
        rows = np.asarray(rows, dtype=np.float64)
        if self._config.schedules.joint and rows.ndim == 2:
            rows = self._paired(open_pairs(rows), len(self._library))
        part = ScheduleLibrary(rows, ("sketch",) * len(rows))
        if part.n_epochs != self._library.n_epochs:
            raise ScheduleError(f"a sketch of {part.n_epochs} epochs does not fit a library of"
                                f" {self._library.n_epochs}")
        self._set_library(self._library.concat(part), self._config.schedules.csv_files)

    def remove(self, rows: Sequence[int]) -> int:
        """Remove library rows by index; returns how many were removed.

        Raises:
            ScheduleError: every row would go (a library needs at least one schedule).
        """
        drop = {int(r) for r in rows if 0 <= int(r) < len(self._library)}
        keep = [i for i in range(len(self._library)) if i not in drop]
        if not drop:
            return 0
        if not keep:
            raise ScheduleError("the library needs at least one schedule")
        library = ScheduleLibrary(self._library.schedules[keep],
                                  tuple(self._library.families[i] for i in keep))
        self._set_library(library, self._config.schedules.csv_files)
        return len(drop)

    def undo(self) -> bool:
        """Restore the library (with its CSV file list and what it was drawn with) before its
        last change; after a :meth:`load`, the whole previous draft."""
        if not self._undo:
            return False
        state = self._undo.pop()
        if state.config is not None:
            self._config = state.config
            self.events.config(state.config)
        self._drawn = state.drawn
        self._set_library(state.library, state.csv_files, undoable=False)
        return True

    def _push_undo(self, whole: bool = False) -> None:
        self._undo.append(_Undo(self._library, self._config.schedules.csv_files, self._drawn,
                                self._config if whole else None))
        del self._undo[:-UNDO_DEPTH]

    def _set_library(self, library: ScheduleLibrary, csv_files: Sequence[str],
                     undoable: bool = True) -> None:
        if undoable:
            self._push_undo()
        csv_files = tuple(csv_files)
        if csv_files != self._config.schedules.csv_files:
            schedules = dataclasses.replace(self._config.schedules, csv_files=csv_files)
            self._config = self._config.replace(schedules=schedules)
            self.events.config(self._config)
        self._library = library
        self.events.library(library)
