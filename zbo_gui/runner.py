"""The engine that the CLI and the GUI worker both drive: a campaign bound to its file.

:class:`CampaignRunner` prepares the stages of a campaign (dataset, seed schedules, schedule
VAE, latent grid), each computed once and stored in the campaign file, then evaluates proposals
one at a time, appending each evaluation to the file as soon as it ends. A runner opened on an
existing file skips the stages already stored and continues the evaluations, so a campaign
killed at any moment resumes losing at most the evaluation in flight.

Synchronous and thread-free: the caller passes :class:`Controls` (progress sink, cancel flag).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zbo_gui import __version__
from zbo_gui.core.campaign import Campaign, StopReason
from zbo_gui.core.config import CampaignConfig, stored_config_from_toml
from zbo_gui.core.datasets import ImageSet, load_dataset
from zbo_gui.core.errors import CampaignError, CampaignFileError, ConfigError, ScheduleError
from zbo_gui.core.faults import crash_point
from zbo_gui.core.latent_grid import LatentGrid, build_grid
from zbo_gui.core.objective import JrVAEObjective, Objective
from zbo_gui.core.resources import check_memory, raw_layout
from zbo_gui.core.schedule_vae import CheckpointMismatch, ScheduleVAE, TrainingCheckpoint
from zbo_gui.core.schedules import ScheduleLibrary, configured_library
from zbo_gui.core.types import (
    Controls,
    Evaluation,
    EvaluationCancelled,
    Pending,
    Progress,
    Proposal,
    UserPoints,
)
from zbo_gui.execution import task
from zbo_gui.execution.pool import Executor, InlineExecutor, start_executor
from zbo_gui.execution.task import Request, TaskResult, WorkerProgress
from zbo_gui.storage.campaign_file import (
    CampaignDraft,
    CampaignStore,
    check_new_campaign_path,
)

log = logging.getLogger(__name__)

#: Seconds the run loop waits for a finished evaluation before it looks at everything else.
WAIT_SECONDS = 0.1
#: The stage name of the schedule VAE's training checkpoints in the campaign file.
VAE_STAGE = "schedule_vae"
#: About this many checkpoints are written during a schedule-VAE training.
VAE_CHECKPOINTS = 10


@dataclass(frozen=True)
class RunEnd:
    """How :meth:`CampaignRunner.run` ended.

    Attributes:
        reason: the campaign's stop reason (budget, converged, exhausted) when it ended by
            itself; None otherwise.
        paused: it ended because a pause was requested.
    """

    reason: StopReason | None = None
    paused: bool = False


def replicate_seed(campaign_seed: int, index: int, replicate: int) -> int:
    """The training seed of replicate ``replicate`` of evaluation ``index`` (31-bit, stable)."""
    state = np.random.SeedSequence([campaign_seed, index, replicate]).generate_state(1)[0]
    return int(state) & 0x7FFFFFFF


def seed_library(config: CampaignConfig) -> ScheduleLibrary:
    """The campaign's seed schedules: the generated families, then every CSV file's curves
    (:func:`~zbo_gui.core.schedules.configured_library`).

    Raises:
        ScheduleError: a CSV file is missing or holds a bad value (the message names the file,
            the line and the value).
    """
    sc = config.schedules
    return configured_library(sc.counts, sc.n_epochs, sc.bounds(), config.seed, sc.csv_files,
                              sc.beta_d_families)


def checked_library(library: ScheduleLibrary, config: CampaignConfig) -> ScheduleLibrary:
    """``library`` after checking that it fits ``config`` (N epochs, at least 4 schedules).

    Raises:
        ScheduleError: naming what does not fit.
    """
    n = config.schedules.n_epochs
    if library.n_epochs != n:
        raise ScheduleError(f"the seed library has schedules of {library.n_epochs} epochs,"
                            f" but schedules.n_epochs is {n}: generate the library again")
    if library.pairs != config.schedules.joint:
        have = "pairs (β_c, β_d)" if library.pairs else "β_c schedules"
        want = ("pairs: β_d bounds are set" if config.schedules.joint
                else "β_c schedules: no β_d bounds are set")
        raise ScheduleError(f"the seed library holds {have}, but the configuration wants {want};"
                            " generate the library again")
    if len(library) < 4:
        raise ScheduleError(f"the seed library has {len(library)} schedules; a schedule VAE"
                            " needs at least 4")
    return library


def check_device(config: CampaignConfig) -> None:
    """Refuse ``jrvae.device = "cuda"`` where no CUDA device is available."""
    if config.jrvae.device == "cuda":
        from zbo_gui.core.jrvae import resolve_device

        resolve_device("cuda")


class CampaignRunner:
    """A campaign bound to its HDF5 file.

    Use :meth:`create` (or :meth:`draft`) for a new campaign and :meth:`open` to resume one;
    then :meth:`prepare` and :meth:`run` (or :meth:`next_proposal` / :meth:`evaluate` one at a
    time).

    Args:
        store: the open, writable campaign file.
        config: the campaign configuration (the one stored in the file).
        objective: what scores a schedule; default: the jrVAE objective of the config.
    """

    def __init__(self, store: CampaignStore, config: CampaignConfig,
                 objective: Objective | None = None) -> None:
        self.store = store
        self.config = config
        self.bounds = config.schedules.bounds()
        self._objective = objective
        self.data: ImageSet | None = None
        self.library: ScheduleLibrary | None = None
        self.vae: ScheduleVAE | None = None
        self.grid: LatentGrid | None = None
        self.campaign: Campaign | None = None

    # ------------------------------------------------------------ open/create
    @classmethod
    def draft(cls, path: str | Path, config: CampaignConfig, *, overwrite: bool = False,
              objective: Objective | None = None, data: ImageSet | None = None,
              library: ScheduleLibrary | None = None,
              controls: Controls | None = None) -> NewCampaign:
        """Check everything, then build a new campaign's first stages beside ``path``.

        In this order, each failing with one line that names the problem, before any file is
        written: the output path (:func:`check_new_campaign_path`), the device, the memory the
        configuration needs (:func:`~zbo_gui.core.resources.check_memory`), the dataset (loaded
        unless ``data`` is given) and every seed schedule (CSV files included, unless
        ``library`` is given). Then the campaign file is built under a temporary name with its
        dataset and seed stages; nothing at ``path`` changes until :meth:`NewCampaign.publish`.

        Args:
            path: the campaign file to create.
            config: the configuration (relative paths already resolved).
            overwrite: replace an existing campaign file at ``path`` (only a campaign file).
            objective: what scores a schedule (default: the config's jrVAE objective).
            data: the already loaded dataset of ``config.dataset``.
            library: the seed library to use as it is (the window's draft: generated,
                imported, sketched, edited); default: built from ``config``.
            controls: progress sink and cancel flag (checked between the steps).
        """
        controls = controls or Controls()
        path = Path(path)
        check_new_campaign_path(path, overwrite)
        check_device(config)
        layout = raw_layout(config.dataset)  # the file's headers only
        raw_shape, itemsize = layout if layout is not None else (None, 4)
        check_memory(config, raw_shape, raw_itemsize=itemsize)
        if data is None:
            controls.report(Progress("dataset", 0, 1, message="loading the dataset"))
            data = load_dataset(config.dataset, config.seed)
        library = seed_library(config) if library is None else checked_library(library, config)
        controls.check()
        draft = CampaignStore.draft(path, config.to_toml(), __version__, overwrite=overwrite)
        try:
            draft.store.write_dataset(data.images, data.labels, data.fingerprint, data.source)
            draft.store.write_seeds(library.schedules, library.families)
            controls.check()
        except BaseException:
            draft.discard()
            raise
        return NewCampaign(draft, config, objective, data, library)

    @classmethod
    def create(cls, path: str | Path, config: CampaignConfig, *, overwrite: bool = False,
               objective: Objective | None = None, data: ImageSet | None = None,
               library: ScheduleLibrary | None = None,
               controls: Controls | None = None) -> CampaignRunner:
        """Start a new campaign file at ``path`` (see :meth:`draft`) and open it."""
        with cls.draft(path, config, overwrite=overwrite, objective=objective, data=data,
                       library=library, controls=controls) as new:
            return new.publish()

    @classmethod
    def open(cls, path: str | Path, objective: Objective | None = None) -> CampaignRunner:
        """Open an existing campaign file for resuming.

        Takes the writer lease and checks every checksum of the file (see
        :meth:`check_resources` for the machine's side).
        """
        store = CampaignStore.open(path, writable=True)
        try:
            store.verify(checkpoints=False)  # a damaged checkpoint is only trained again
            try:
                config = stored_config_from_toml(store.config_toml)
            except ConfigError as exc:
                raise CampaignFileError(
                    f"{path}: the stored configuration is invalid: {exc}") from None
        except BaseException:
            store.close()
            raise
        return cls(store, config, objective)

    def check_resources(self) -> None:
        """Refuse to run here when the device is missing or the memory too small (call before
        :meth:`prepare`; only reading a campaign back needs neither)."""
        check_device(self.config)
        check_memory(self.config)

    def close(self) -> None:
        """Close the campaign file."""
        self.store.close()

    def __enter__(self) -> CampaignRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- stages
    def prepare(self, controls: Controls | None = None) -> Campaign:
        """Compute (or read back) dataset, seeds, schedule VAE and grid; build the campaign.

        Each stage is stored as soon as it is computed; an interrupted schedule-VAE training
        continues from its latest checkpoint in the file.
        """
        controls = controls or Controls()
        cfg = self.config
        if self.store.has("dataset"):
            images, labels, _, source = self.store.read_dataset()
            self.data = ImageSet(images, labels, source)
        else:  # a file begun by an older version, before new files got their first stages
            if self.data is None:
                controls.report(Progress("dataset", 0, 1, message="loading the dataset"))
                self.data = load_dataset(cfg.dataset, cfg.seed)
            self.store.write_dataset(self.data.images, self.data.labels, self.data.fingerprint,
                                     self.data.source)
        if self.store.has("seeds"):
            schedules, families = self.store.read_seeds()
            self.library = ScheduleLibrary(schedules, families)
        else:
            self.library = seed_library(cfg)
            self.store.write_seeds(self.library.schedules, self.library.families)
        if self.store.has("schedule_vae"):
            try:
                self.vae = ScheduleVAE.from_state(*self.store.read_schedule_vae())
            except (KeyError, ValueError, TypeError, RuntimeError) as exc:
                what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
                raise CampaignFileError(
                    f"{self.store.path}: the stored schedule VAE cannot be rebuilt ({what})"
                ) from None
        else:
            self.vae = self._train_schedule_vae(controls)
        if self.store.has("grid"):
            self.grid = self.store.read_grid()
        else:
            controls.report(Progress("grid", 0, 1, message="decoding the latent grid"))
            self.grid = build_grid(self.vae, self.library.schedules, cfg.grid.size,
                                   cfg.grid.margin, cfg.grid.tolerance)
            self.store.write_grid(self.grid)
        self.campaign = Campaign(self.grid, cfg.bo, cfg.seed, self.store.read_evaluations())
        return self.campaign

    def _train_schedule_vae(self, controls: Controls) -> ScheduleVAE:
        """Train (or go on training from the file's checkpoint) the schedule VAE and store it."""
        cfg, library = self.config, self.library
        assert library is not None
        resume = None
        try:
            stored = self.store.read_checkpoint(VAE_STAGE)
        except CampaignFileError as exc:  # a damaged checkpoint only costs the time it saved
            log.warning("ignoring the schedule VAE checkpoint: %s", exc)
            stored = None
        if stored is not None:
            resume = TrainingCheckpoint(*stored)
        every = max(1, cfg.schedule_vae.epochs // VAE_CHECKPOINTS)

        def save(state: TrainingCheckpoint) -> None:
            self.store.write_checkpoint(VAE_STAGE, state.epoch, state.arrays, state.meta)
            crash_point("schedule_vae")

        def train(start: TrainingCheckpoint | None) -> ScheduleVAE:
            return ScheduleVAE.train(library.schedules, self.bounds, cfg.schedule_vae, cfg.seed,
                                     controls, resume=start, checkpoint=save,
                                     checkpoint_every=every)

        if resume is not None:
            log.info("schedule VAE resumed from its checkpoint at epoch %d", resume.epoch)
        try:
            vae = train(resume)
        except CheckpointMismatch as exc:
            log.warning("the schedule VAE checkpoint does not fit (%s); training anew", exc)
            vae = train(None)
        meta = vae.meta()
        meta["reconstruction_rms"] = vae.reconstruction_error(library.schedules)
        self.store.write_schedule_vae(vae.state_arrays(), meta)
        self.store.clear_checkpoint(VAE_STAGE)
        return vae

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

    def seeds(self, ticket: int) -> tuple[int, ...]:
        """The training seeds of the evaluation submitted as number ``ticket`` (one per
        replicate)."""
        return tuple(replicate_seed(self.config.seed, ticket, r)
                     for r in range(self.config.objective.replicates))

    def evaluate(self, proposal: Proposal, controls: Controls | None = None) -> Evaluation:
        """Evaluate a proposal here, in this thread, with R seeds; append it to the file and
        tell the campaign.

        A training that diverges (or fails numerically) becomes a FAILED evaluation, stored
        with its message; one stopped as collapsed (``objective.collapse_share``) a COLLAPSED
        one scored 0; cancellation raises ``EvaluationCancelled`` and stores nothing.
        """
        assert self.campaign is not None
        ticket = len(self.campaign.evaluations)
        result = task.evaluate(self.objective, Request(ticket, proposal.schedule,
                                                       self.seeds(ticket)), controls or Controls())
        return self._record(proposal, result)

    def _record(self, proposal: Proposal, result: TaskResult) -> Evaluation:
        campaign = self.campaign
        assert campaign is not None
        evaluation = Evaluation(len(campaign.evaluations), proposal, result.status,
                                result.objective, result.replicates, result.message,
                                result.started, result.seconds, result.worker)
        self.store.append_evaluation(evaluation)
        campaign.tell(evaluation)
        return evaluation

    def start_executor(self) -> Executor:
        """Where this campaign's evaluations train (``[execution]``): Dask worker processes,
        or this thread when ``execution.workers`` is 0. The caller closes it."""
        return start_executor(self.config.execution, self.objective)

    def run(self, controls: Controls | None = None, *, points: UserPoints | None = None,
            pause: threading.Event | None = None, until_done: bool = True,
            on_proposal: Callable[[Proposal], None] | None = None,
            on_evaluation: Callable[[Evaluation], None] | None = None,
            on_refused: Callable[[str], None] | None = None,
            on_progress: Callable[[WorkerProgress], None] | None = None,
            executor: Executor | None = None) -> RunEnd:
        """The run loop (the CLI's and the window's): evaluate until the campaign stops.

        Whenever a worker is free, it gets the next proposal: first the evaluations a killed
        run left in flight (recorded in the file), then the points a person queued (each
        becomes a ``USER`` proposal; one the campaign refuses — infeasible, already evaluated —
        goes to ``on_refused``), then the campaign's own, asked for given the points in
        flight. The evaluations in flight are recorded in the file whenever one starts or
        ends; each finished one is appended as soon as it ends, in the order they end.

        Args:
            controls: progress sink and cancel flag. A cancel stops every training in flight
                at its next epoch and stores none of them.
            points: the queue of latent points chosen by a person.
            pause: when set, no new proposal of the campaign's own is started; the run ends
                once the trainings in flight have finished.
            until_done: False: evaluate only the queued points, then end.
            on_proposal: called with each proposal as it is submitted.
            on_evaluation: called with each evaluation, once it is stored.
            on_refused: called with the reason a queued point was refused.
            on_progress: called with every epoch report of every training in flight
                (default: with one worker, the reports go to ``controls`` as
                :class:`Progress`).
            executor: where to train (default: :meth:`start_executor`, closed at the end).

        Returns:
            How the run ended.

        Raises:
            EvaluationCancelled: cancelled (the evaluations in flight are not stored).
        """
        controls = controls or Controls()
        campaign = self.campaign if self.campaign is not None else self.prepare(controls)
        controls.check()
        own = executor is None
        if executor is None:
            executor = self.start_executor()
        flight = _Flight(self.store, executor, on_proposal)

        def progress(report: WorkerProgress) -> None:
            flight.started_on(report)
            if on_progress is not None:
                on_progress(report)
            elif executor.capacity == 1 and report.total > 0:
                controls.report(Progress("evaluation", report.step, report.total, report.loss,
                                         f"epoch {report.step}/{report.total}"))

        if isinstance(executor, InlineExecutor):
            executor.attach(controls, progress)
        try:
            evaluated = campaign.evaluated
            for lost in self.store.read_pending():  # a killed run's: submitted again
                if not evaluated[lost.proposal.grid_index]:  # (unless stored before the kill)
                    flight.submit(lost.proposal, lost.ticket, self.seeds(lost.ticket))
            end: RunEnd | None = None
            while True:
                controls.check()
                while end is None and len(flight.pending) < executor.capacity:
                    proposal = self._user_proposal(points, on_refused)
                    if proposal is None and not until_done:
                        end = RunEnd()
                    elif proposal is None and pause is not None and pause.is_set():
                        end = RunEnd(paused=True)
                    elif proposal is None:
                        proposal = campaign.ask(flight.proposals())
                        if proposal is None and not flight.pending:
                            assert campaign.stop_reason is not None
                            return RunEnd(reason=campaign.stop_reason)
                    if proposal is None:
                        break
                    ticket = len(campaign.evaluations) + len(flight.pending)
                    flight.submit(proposal, ticket, self.seeds(ticket))
                if not flight.pending and end is not None:
                    return end
                for result in executor.wait(WAIT_SECONDS):
                    evaluation = self._record(flight.pending[result.ticket].proposal, result)
                    flight.end(result.ticket)  # after the append: a kill between loses nothing
                    if on_evaluation is not None:
                        on_evaluation(evaluation)
                for report in executor.progress():
                    progress(report)
        except EvaluationCancelled:
            executor.cancel()
            flight.forget()
            raise
        finally:
            if own:
                executor.close()

    def _user_proposal(self, points: UserPoints | None,
                       on_refused: Callable[[str], None] | None) -> Proposal | None:
        assert self.campaign is not None
        while points is not None and (z := points.pop()) is not None:
            try:
                return self.campaign.propose_point(z)
            except CampaignError as exc:
                log.warning("user point refused: %s", exc)
                if on_refused is not None:
                    on_refused(str(exc))
        return None


class _Flight:
    """The evaluations in flight of a run, mirrored in the campaign file."""

    def __init__(self, store: CampaignStore, executor: Executor,
                 on_proposal: Callable[[Proposal], None] | None) -> None:
        self.store = store
        self.executor = executor
        self.on_proposal = on_proposal
        self.pending: dict[int, Pending] = {}

    def proposals(self) -> list[Proposal]:
        """The points in flight, oldest first."""
        return [p.proposal for p in self.pending.values()]

    def submit(self, proposal: Proposal, ticket: int, seeds: tuple[int, ...]) -> None:
        """Record ``proposal`` as in flight, then send it to a worker."""
        self.pending[ticket] = Pending(ticket, proposal, time.time())
        self.store.write_pending(list(self.pending.values()))
        if self.on_proposal is not None:
            self.on_proposal(proposal)
        self.executor.submit(Request(ticket, proposal.schedule, seeds))

    def started_on(self, report: WorkerProgress) -> None:
        """Record which worker trains an evaluation, once known."""
        pending = self.pending.get(report.ticket)
        if pending is not None and report.worker and pending.worker != report.worker:
            self.pending[report.ticket] = dataclasses.replace(pending, worker=report.worker)
            self.store.write_pending(list(self.pending.values()))

    def end(self, ticket: int) -> None:
        """Take evaluation ``ticket`` out of flight (once it is stored)."""
        del self.pending[ticket]
        self.store.write_pending(list(self.pending.values()))

    def forget(self) -> None:
        """Nothing is in flight any more (a stopped run)."""
        self.pending.clear()
        self.store.write_pending([])


class NewCampaign:
    """A new campaign whose first stages are written under a temporary name (see
    :meth:`CampaignRunner.draft`): :meth:`publish` puts it in place, :meth:`discard` (or leaving
    a ``with`` block without publishing) forgets it; the target is untouched until then."""

    def __init__(self, draft: CampaignDraft, config: CampaignConfig, objective: Objective | None,
                 data: ImageSet, library: ScheduleLibrary) -> None:
        self._draft = draft
        self.config = config
        self.data = data
        self.library = library
        self._objective = objective

    @property
    def path(self) -> Path:
        """The campaign file this becomes."""
        return self._draft.target

    def publish(self) -> CampaignRunner:
        """Rename the new file over the target (replacing an old campaign) and open it."""
        store = self._draft.publish()
        runner = CampaignRunner(store, self.config, self._objective)
        runner.data, runner.library = self.data, self.library
        return runner

    def discard(self) -> None:
        """Delete the temporary file; the target stays as it was."""
        self._draft.discard()

    def __enter__(self) -> NewCampaign:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
