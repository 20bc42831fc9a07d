"""The engine that the CLI and the GUI worker both drive: a campaign bound to its file.

:class:`CampaignRunner` prepares the stages of a campaign (dataset, seed schedules, schedule
VAE, latent grid), each computed once and stored in the campaign file, then evaluates proposals
one at a time, appending each evaluation to the file as soon as it ends. A runner opened on an
existing file skips the stages already stored and continues the evaluations, so a campaign
killed at any moment resumes losing at most the evaluation in flight.

Synchronous and thread-free: the caller passes :class:`Controls` (progress sink, cancel flag).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zbo_gui import __version__
from zbo_gui.core.campaign import Campaign, StopReason
from zbo_gui.core.config import CampaignConfig, config_from_toml
from zbo_gui.core.datasets import ImageSet, load_dataset
from zbo_gui.core.errors import CampaignFileError, ConfigError
from zbo_gui.core.latent_grid import LatentGrid, build_grid
from zbo_gui.core.objective import JrVAEObjective, Objective
from zbo_gui.core.schedule_vae import ScheduleVAE
from zbo_gui.core.schedules import Bounds, ScheduleLibrary, generate_library, load_csv
from zbo_gui.core.types import (
    Controls,
    Evaluation,
    EvaluationStatus,
    ObjectiveResult,
    Progress,
    Proposal,
    TrainingDiverged,
)
from zbo_gui.storage.campaign_file import CampaignStore

log = logging.getLogger(__name__)

#: Failures of one training that become a FAILED evaluation (the campaign goes on).
TRAINING_FAILURES = (TrainingDiverged, FloatingPointError, RuntimeError, ValueError)


def replicate_seed(campaign_seed: int, index: int, replicate: int) -> int:
    """The training seed of replicate ``replicate`` of evaluation ``index`` (31-bit, stable)."""
    state = np.random.SeedSequence([campaign_seed, index, replicate]).generate_state(1)[0]
    return int(state) & 0x7FFFFFFF


class CampaignRunner:
    """A campaign bound to its HDF5 file.

    Use :meth:`create` for a new campaign and :meth:`open` to resume one; then :meth:`prepare`
    and :meth:`run` (or :meth:`next_proposal` / :meth:`evaluate` one at a time).

    Args:
        store: the open, writable campaign file.
        config: the campaign configuration (the one stored in the file).
        objective: what scores a schedule; default: the jrVAE objective of the config.
    """

    def __init__(self, store: CampaignStore, config: CampaignConfig,
                 objective: Objective | None = None) -> None:
        self.store = store
        self.config = config
        self.bounds = Bounds(config.schedules.beta_lo, config.schedules.beta_hi)
        self._objective = objective
        self.data: ImageSet | None = None
        self.library: ScheduleLibrary | None = None
        self.vae: ScheduleVAE | None = None
        self.grid: LatentGrid | None = None
        self.campaign: Campaign | None = None

    # ------------------------------------------------------------ open/create
    @classmethod
    def create(cls, path: str | Path, config: CampaignConfig, *, overwrite: bool = False,
               objective: Objective | None = None, data: ImageSet | None = None
               ) -> CampaignRunner:
        """Start a new campaign file at ``path`` (refuses to replace one unless ``overwrite``).

        ``data``, when given, is the already loaded dataset of ``config.dataset``.
        """
        store = CampaignStore.create(path, config.to_toml(), __version__, overwrite=overwrite)
        runner = cls(store, config, objective)
        runner.data = data
        return runner

    @classmethod
    def open(cls, path: str | Path, objective: Objective | None = None) -> CampaignRunner:
        """Open an existing campaign file for resuming."""
        store = CampaignStore.open(path, writable=True)
        try:
            config = config_from_toml(store.config_toml)
        except ConfigError as exc:
            store.close()
            raise CampaignFileError(f"{path}: the stored configuration is invalid: {exc}") from None
        return cls(store, config, objective)

    def close(self) -> None:
        """Close the campaign file."""
        self.store.close()

    def __enter__(self) -> CampaignRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- stages
    def prepare(self, controls: Controls | None = None) -> Campaign:
        """Compute (or read back) dataset, seeds, schedule VAE and grid; build the campaign."""
        controls = controls or Controls()
        cfg = self.config
        if self.store.has("dataset"):
            images, labels, _, source = self.store.read_dataset()
            self.data = ImageSet(images, labels, source)
        else:
            if self.data is None:
                controls.report(Progress("dataset", 0, 1, message="loading the dataset"))
                self.data = load_dataset(cfg.dataset, cfg.seed)
            self.store.write_dataset(self.data.images, self.data.labels, self.data.fingerprint,
                                     self.data.source)
        if self.store.has("seeds"):
            schedules, families = self.store.read_seeds()
            self.library = ScheduleLibrary(schedules, families)
        else:
            self.library = self._seed_library()
            self.store.write_seeds(self.library.schedules, self.library.families)
        if self.store.has("schedule_vae"):
            self.vae = ScheduleVAE.from_state(*self.store.read_schedule_vae())
        else:
            self.vae = ScheduleVAE.train(self.library.schedules, self.bounds, cfg.schedule_vae,
                                         cfg.seed, controls)
            meta = self.vae.meta()
            meta["reconstruction_rms"] = self.vae.reconstruction_error(self.library.schedules)
            self.store.write_schedule_vae(self.vae.state_arrays(), meta)
        if self.store.has("grid"):
            self.grid = self.store.read_grid()
        else:
            controls.report(Progress("grid", 0, 1, message="decoding the latent grid"))
            self.grid = build_grid(self.vae, self.library.schedules, cfg.grid.size,
                                   cfg.grid.margin, cfg.grid.tolerance)
            self.store.write_grid(self.grid)
        self.campaign = Campaign(self.grid, cfg.bo, cfg.seed, self.store.read_evaluations())
        return self.campaign

    def _seed_library(self) -> ScheduleLibrary:
        sc = self.config.schedules
        library = generate_library(sc.counts, sc.n_epochs, self.bounds, self.config.seed)
        for path in sc.csv_files:
            curves = load_csv(path, sc.n_epochs)
            library = library.concat(ScheduleLibrary(curves, ("csv",) * len(curves)))
        return library

    @property
    def objective(self) -> Objective:
        """The objective in use (built from the config on first use)."""
        if self._objective is None:
            if self.data is None:
                raise ConfigError("the dataset is not loaded yet; call prepare() first")
            self._objective = JrVAEObjective(self.data.images, self.data.labels,
                                             self.config.jrvae, self.config.objective)
        return self._objective

    # ------------------------------------------------------------ evaluations
    def next_proposal(self) -> Proposal | None:
        """The campaign's next proposal (None when over; see ``campaign.stop_reason``)."""
        if self.campaign is None:
            raise ConfigError("the campaign is not prepared yet; call prepare() first")
        return self.campaign.ask()

    def evaluate(self, proposal: Proposal, controls: Controls | None = None) -> Evaluation:
        """Evaluate a proposal with R seeds, append it to the file and tell the campaign.

        A training that diverges (or fails numerically) becomes a FAILED evaluation, stored
        with its message; cancellation raises ``EvaluationCancelled`` and stores nothing.
        """
        controls = controls or Controls()
        campaign = self.campaign
        assert campaign is not None
        index = len(campaign.evaluations)
        started, t0 = time.time(), time.perf_counter()
        results: list[ObjectiveResult] = []
        status, message = EvaluationStatus.SUCCEEDED, ""
        try:
            for r in range(self.config.objective.replicates):
                seed = replicate_seed(self.config.seed, index, r)
                results.append(self.objective(proposal.schedule, seed, controls))
        except TRAINING_FAILURES as exc:
            status, message = EvaluationStatus.FAILED, f"{type(exc).__name__}: {exc}"
            # a divergence is an expected outcome; other failures keep their traceback
            log.warning("evaluation %d failed: %s", index, message,
                        exc_info=not isinstance(exc, TrainingDiverged))
        succeeded = status is EvaluationStatus.SUCCEEDED
        value = float(np.mean([r.value for r in results])) if succeeded else float("nan")
        evaluation = Evaluation(index, proposal, status, value, tuple(results), message,
                                started, time.perf_counter() - t0)
        self.store.append_evaluation(evaluation)
        campaign.tell(evaluation)
        return evaluation

    def run(self, controls: Controls | None = None,
            on_evaluation: Callable[[Evaluation], None] | None = None) -> StopReason:
        """Evaluate proposals until the campaign stops; returns why it stopped."""
        campaign = self.prepare(controls)
        while (proposal := campaign.ask()) is not None:
            evaluation = self.evaluate(proposal, controls)
            if on_evaluation is not None:
                on_evaluation(evaluation)
        assert campaign.stop_reason is not None
        return campaign.stop_reason
