"""The campaign as the compute thread drives it: one runner, its jobs and what they post.

Qt-free. Every method of :class:`CampaignSession` runs on the compute thread (as the body of a
:class:`~zbo_gui.workers.worker.Job`): it owns the :class:`~zbo_gui.runner.CampaignRunner` and
its HDF5 file, so every engine call happens on that one thread (one pyro training per process,
DESIGN.md §3). It reports by posting frozen messages (``model.messages``, core
``Evaluation``/``Proposal``, :class:`RunState`) and returns an :class:`Outcome`. The run loop
is the runner's (:meth:`CampaignRunner.run`), shared with the ``zbo`` command.

The controller shares two thread-safe objects with a running job: the pause ``Event`` and the
:class:`~zbo_gui.core.types.UserPoints` queue ("evaluate this point next").
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable

import numpy as np

# Imported here, on the compute thread, by the first job (creating or opening a campaign): the
# C extensions of torchvision/pyro hold the GIL while they load (~0.3 s), which would otherwise
# freeze the window once in the middle of the first training.
import pyroved.models  # noqa: F401

from zbo_gui.core.campaign import Campaign
from zbo_gui.core.config import CampaignConfig
from zbo_gui.core.datasets import ImageSet, load_dataset
from zbo_gui.core.errors import CampaignError
from zbo_gui.core.schedules import ScheduleLibrary
from zbo_gui.core.types import (
    Controls,
    Evaluation,
    EvaluationCancelled,
    Progress,
    Proposal,
    UserPoints,
)
from zbo_gui.execution.pool import Executor
from zbo_gui.execution.task import WorkerProgress
from zbo_gui.model.messages import (
    CampaignClosed,
    CampaignOpened,
    DatasetSnapshot,
    ExecutionInfo,
    FinalModel,
    GridSnapshot,
    Notice,
    PosteriorSnapshot,
    RunState,
    WorkerActivity,
)
from zbo_gui.runner import CampaignRunner
from zbo_gui.storage.campaign_file import STAGES, same_file
from zbo_gui.workers.jobs import EtaProgress, Outcome, Post

log = logging.getLogger(__name__)

#: Images in a :class:`DatasetSnapshot` preview.
PREVIEW_IMAGES = 64
#: Name of the final model's result group in the campaign file.
FINAL_RESULT = "final_model"
#: ``dataset.n_images`` that means "every image of the file".
ALL_IMAGES = 2**31 - 1
#: The name the workers view gives the compute thread (``execution.workers = 0``).
LOCAL_WORKER = "this process"
#: ``which`` values of :meth:`CampaignSession.train_final`.
FINAL_CHOICES = ("evaluated", "predicted")


def dataset_snapshot(data: ImageSet, fingerprint: str | None = None) -> DatasetSnapshot:
    """A preview of the first :data:`PREVIEW_IMAGES` images (copies)."""
    k = min(PREVIEW_IMAGES, data.images.shape[0])
    labels = None if data.labels is None else np.array(data.labels[:k], dtype=np.int64)
    return DatasetSnapshot(
        images=np.array(data.images[:k], dtype=np.float32), labels=labels,
        count=int(data.images.shape[0]), source=data.source,
        fingerprint=fingerprint if fingerprint is not None else data.fingerprint,
    )


def full_dataset_config(config: CampaignConfig) -> CampaignConfig:
    """The config that loads the whole dataset rather than the campaign's seeded subset.

    A file or folder: every image in it (not class-balanced). The digits demo: every digit of
    the chosen classes once, or the campaign's count when it asked for more rotated copies than
    there are digits. Another built-in generator: the campaign's images are its whole dataset.
    """
    ds = config.dataset
    if ds.source == "demo":
        from zbo_gui.core.datasets import bundled_digits

        available = int(np.isin(bundled_digits()[1], ds.digits).sum())
        changes: dict[str, object] = {"n_images": max(ds.n_images, available)}
    elif os.path.exists(ds.source):
        changes = {"n_images": ALL_IMAGES}  # a subset takes min(n_images, images available)
        if getattr(ds, "balance", False):
            changes["balance"] = False
    else:
        return config
    return config.replace(dataset=dataclasses.replace(ds, **changes))


class _Shown:
    """Feeds the progress bar with one training at a time: the one it shows until that
    training's last epoch, then whichever reports next (each with its own ETA tracker)."""

    def __init__(self, tracker: Callable[[int], EtaProgress]) -> None:
        self._tracker = tracker
        self._ticket: int | None = None
        self._target: EtaProgress | None = None
        self.started = False
        self.devices: dict[str, str] = {}

    def __call__(self, report: WorkerProgress) -> None:
        self.devices[report.worker or LOCAL_WORKER] = report.device
        if report.total <= 0:
            return
        if self._ticket is None or self._target is None:
            self._ticket, self._target = report.ticket, self._tracker(report.ticket + 1)
        if report.ticket == self._ticket:
            self._target(Progress("evaluation", report.step, report.total, report.loss))
            if report.step >= report.total:
                self._ticket = None


class CampaignSession:
    """The compute thread's view of the open campaign (see the module docstring).

    Args:
        post: sends a message to the GUI thread.
    """

    def __init__(self, post: Post) -> None:
        self._post = post
        self.runner: CampaignRunner | None = None
        self._executor: Executor | None = None
        self._closing: list[threading.Thread] = []
        self._sent_dataset = False
        self._sent_grid = False

    # ------------------------------------------------------------------ open and close
    def create(self, controls: Controls, path: str, config: CampaignConfig,
               library: ScheduleLibrary | None = None, overwrite: bool = False) -> Outcome:
        """Create a campaign file at ``path`` with its dataset and seed stages.

        Everything is checked and the new file built beside ``path`` first
        (:meth:`CampaignRunner.draft`); only then is the campaign open on that same path (if
        any) closed and its file replaced. A failure before that leaves the open campaign and
        its file as they were. ``library``: the seed library to use as it is (the window's
        draft); default: built from ``config``.
        """
        self._post(RunState.PREPARING)
        with CampaignRunner.draft(path, config, overwrite=overwrite, library=library,
                                  controls=controls) as new:
            controls.check()  # a stop now keeps the old file
            self._close_if_same(path)
            runner = new.publish()
        self._swap(runner)
        stages = tuple(s for s in STAGES if runner.store.has(s))
        self._post(CampaignOpened(str(runner.store.path), config, 0, stages, runner.library))
        assert runner.data is not None
        self._post(dataset_snapshot(runner.data))
        self._sent_dataset = True
        return Outcome(RunState.IDLE)

    def open(self, controls: Controls, path: str) -> Outcome:
        """Open a campaign file and post everything stored in it (trains nothing).

        The old campaign stays open when the new file cannot be read (unless it is the same
        file, which must be closed first).
        """
        self._post(RunState.PREPARING)
        self._close_if_same(path)
        runner = CampaignRunner.open(path)
        try:
            messages = self._read_back(runner, controls)
        except BaseException:
            runner.close()
            raise
        self._swap(runner)
        for message in messages:
            self._post(message)
        self._sent_dataset = any(isinstance(m, DatasetSnapshot) for m in messages)
        self._sent_grid = any(isinstance(m, GridSnapshot) for m in messages)
        return Outcome(self._rest_state())

    def save_as(self, controls: Controls, target: str) -> Outcome:
        """Copy the open campaign to ``target`` (a campaign file there is replaced) and
        continue there: the copy is opened, the original closed."""
        if self.runner is None:
            raise CampaignError("no campaign is open")
        self.runner.store.copy_to(target, overwrite=True)
        return self.open(controls, target)

    def _read_back(self, runner: CampaignRunner, controls: Controls) -> list[object]:
        store = runner.store
        stages = tuple(s for s in STAGES if store.has(s))
        seeds = ScheduleLibrary(*store.read_seeds()) if "seeds" in stages else None
        messages: list[object] = [
            CampaignOpened(str(store.path), runner.config, store.n_evaluations, stages, seeds)
        ]
        if len(stages) == len(STAGES):  # prepare() only reads the stages back
            campaign = runner.prepare(controls)
            assert runner.data is not None
            messages.append(dataset_snapshot(runner.data))
            messages.append(self._grid_snapshot(runner))
            messages.extend(campaign.evaluations)
            posterior = self._posterior_snapshot(runner)
            if posterior is not None:
                messages.append(posterior)
            final = self._stored_final(runner)
            if final is not None:
                messages.append(final)
        elif "dataset" in stages:
            images, labels, fingerprint, source = store.read_dataset()
            messages.append(dataset_snapshot(ImageSet(images, labels, source), fingerprint))
        return messages

    def close(self) -> None:
        """Release the workers and close the campaign file (call only when no job runs)."""
        self._close_executor()
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    def _close_if_same(self, path: str) -> None:
        if self.runner is not None and same_file(path, self.runner.store.path):
            closed = str(self.runner.store.path)
            self.close()
            self._post(CampaignClosed(closed))

    def _swap(self, runner: CampaignRunner) -> None:
        self._close_executor()  # its workers hold the old campaign's objective
        old, self.runner = self.runner, runner
        self._sent_dataset = self._sent_grid = False
        if old is not None:
            old.close()

    def _require_runner(self) -> CampaignRunner:
        if self.runner is None:
            raise CampaignError("no campaign is open: create or open one first")
        return self.runner

    def _rest_state(self) -> RunState:
        """FINISHED when the campaign has nothing left to propose, else IDLE."""
        runner = self.runner
        if runner is None:
            return RunState.EMPTY
        if runner.campaign is not None and runner.campaign.ask() is None:
            return RunState.FINISHED
        return RunState.IDLE

    # ------------------------------------------------------------------ preparing
    def _prepare(self, controls: Controls) -> Campaign:
        """The prepared campaign: computes the missing stages, posts what was not shown yet."""
        runner = self._require_runner()
        if runner.campaign is None:
            if not all(runner.store.has(s) for s in STAGES):
                self._post(RunState.PREPARING)
            runner.prepare(controls)
        assert runner.campaign is not None and runner.data is not None
        if not self._sent_dataset:
            self._post(dataset_snapshot(runner.data))
            self._sent_dataset = True
        if not self._sent_grid:
            self._post(self._grid_snapshot(runner))
            self._sent_grid = True
        return runner.campaign

    @staticmethod
    def _grid_snapshot(runner: CampaignRunner) -> GridSnapshot:
        grid, library, cfg = runner.grid, runner.library, runner.config
        assert grid is not None and library is not None
        _, meta = runner.store.read_schedule_vae()
        g = grid.size
        return GridSnapshot(
            x=np.array(grid.x, dtype=np.float64), y=np.array(grid.y, dtype=np.float64),
            feasible=np.array(grid.feasible, dtype=bool).reshape(g, g),
            decoded=np.array(grid.decoded), seed_z=np.array(grid.seed_z, dtype=np.float64),
            seed_schedules=np.array(library.schedules, dtype=np.float64),
            seed_families=tuple(library.families),
            beta_lo=float(cfg.schedules.beta_lo), beta_hi=float(cfg.schedules.beta_hi),
            reconstruction_rms=float(meta.get("reconstruction_rms", float("nan"))),
            decoder_sigma=float(meta.get("decoder_sig", float("nan"))),
            beta_d_bounds=((float(cfg.schedules.beta_d_lo), float(cfg.schedules.beta_d_hi))
                           if cfg.schedules.joint else None),
        )

    @staticmethod
    def _posterior_snapshot(runner: CampaignRunner) -> PosteriorSnapshot | None:
        campaign = runner.campaign
        assert campaign is not None
        n_ok = sum(e.succeeded for e in campaign.evaluations)
        posterior = campaign.posterior() if n_ok >= 2 else None
        if posterior is None:
            return None
        g = campaign.grid.size
        best = campaign.best_predicted()
        return PosteriorSnapshot(
            n_train=n_ok,
            mean=np.array(posterior.mean, dtype=np.float64).reshape(g, g),
            std=np.array(posterior.std, dtype=np.float64).reshape(g, g),
            acquisition=np.array(posterior.acquisition, dtype=np.float64).reshape(g, g),
            acquisition_name=runner.config.bo.acquisition,
            best_index=best.grid_index if best is not None else -1,
        )

    # ------------------------------------------------------------------ evaluating
    def _executor_for(self, runner: CampaignRunner) -> Executor:
        """The open campaign's executor: its worker processes start with its first run and
        stay for the next runs, until the campaign is closed."""
        if self._executor is None:
            self._executor = runner.start_executor()
            execution = runner.config.execution
            where = ("this process" if execution.workers == 0 else execution.scheduler
                     or ("SLURM" if execution.cluster == "slurm" else "local cluster"))
            self._post(ExecutionInfo(self._executor.capacity, where, self._executor.dashboard))
        return self._executor

    def _close_executor(self) -> None:
        """Release the workers, in a thread of its own: a cluster takes about a second to
        close, and this may run on the window's thread (at shutdown)."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            closing = threading.Thread(target=executor.close, name="zbo-close-workers")
            closing.start()
            self._closing.append(closing)
            self._post(ExecutionInfo(0))

    def run(self, controls: Controls, pause: threading.Event, points: UserPoints,
            until_done: bool = True) -> Outcome:
        """The runner's run loop (:meth:`CampaignRunner.run`) with everything posted: the
        queued user points, then (``until_done``) proposals until the campaign stops or a
        pause is requested; what each worker does (:class:`WorkerActivity`), and the progress
        bar follows one training at a time."""
        runner = self._require_runner()
        runner.check_resources()
        self._prepare(controls)
        executor = self._executor_for(runner)
        shown = _Shown(lambda number: self._eta(runner, number))

        def proposed(proposal: Proposal) -> None:
            if not shown.started:
                self._post(RunState.RUNNING)
                shown.started = True
            self._post(proposal)

        def progressed(report: WorkerProgress) -> None:
            name = report.worker or LOCAL_WORKER
            self._post(WorkerActivity(name, True, report.ticket + 1, report.step, report.total,
                                      report.loss, report.device))
            shown(report)

        def evaluated(evaluation: Evaluation) -> None:
            name = evaluation.worker or LOCAL_WORKER
            self._post(WorkerActivity(name, False, device=shown.devices.get(name, "")))
            self._post(evaluation)
            posterior = self._posterior_snapshot(runner)
            if posterior is not None:
                self._post(posterior)

        try:
            end = runner.run(Controls(cancel=controls.cancel), points=points, pause=pause,
                             until_done=until_done, on_proposal=proposed,
                             on_evaluation=evaluated, on_progress=progressed,
                             executor=executor,
                             on_refused=lambda text: self._post(Notice(text, problem=True)))
        except EvaluationCancelled:
            raise  # stopped: the workers stay for the next run
        except BaseException:
            self._close_executor()  # a failure: the next run starts afresh
            raise
        if end.reason is not None:
            return Outcome(RunState.FINISHED, end.reason.value)
        if end.paused:
            return Outcome(RunState.IDLE, paused=True)
        return Outcome(self._rest_state())

    def _eta(self, runner: CampaignRunner, number: int) -> EtaProgress:
        """The progress tracker of evaluation ``number`` (1-based, in submission order; ETA
        from the finished ones)."""
        campaign = runner.campaign
        assert campaign is not None
        durations = [e.seconds for e in campaign.evaluations if e.seconds > 0]
        return EtaProgress(
            self._post, "evaluation", runner.config.objective.replicates, number,
            max(runner.config.bo.budget, number),
            float(np.mean(durations)) if durations else float("nan"),
        )

    # ------------------------------------------------------------------ final model
    def train_final(self, controls: Controls, which: str, full_dataset: bool = True) -> Outcome:
        """Train a jiVAE with the best schedule, store it as ``final_model``, post it.

        Args:
            which: ``"evaluated"`` (the best evaluated schedule) or ``"predicted"`` (the
                schedule at the maximum of the GP's posterior mean).
            full_dataset: train on the whole dataset (:func:`full_dataset_config`) instead of
                the campaign's evaluation subset.
        """
        from zbo_gui.core.jrvae import class_assignments, class_manifolds, train_jrvae
        from zbo_gui.core.objective import label_diagnostics, to_thumbnails

        if which not in FINAL_CHOICES:
            raise CampaignError(f"which must be one of {', '.join(FINAL_CHOICES)}, got {which!r}")
        runner = self._require_runner()
        self._post(RunState.TRAINING_FINAL)
        if runner.store.n_evaluations == 0:
            raise CampaignError("the campaign has no evaluations yet: run it first")
        campaign = self._prepare(controls)
        if which == "evaluated":
            best = campaign.best_evaluated()
            if best is None:
                raise CampaignError("no evaluation has succeeded yet")
            schedule, z = best.proposal.schedule, best.proposal.z
        else:
            predicted = campaign.best_predicted()
            if predicted is None:
                raise CampaignError("the GP needs at least 2 successful evaluations")
            schedule, z = predicted.schedule, predicted.z
        cfg = runner.config
        data = runner.data
        assert data is not None
        if full_dataset:
            controls.report(Progress("dataset", 0, 1, message="loading the full dataset"))
            full = full_dataset_config(cfg)
            data = load_dataset(full.dataset, full.seed)
        start = time.perf_counter()
        tracker = EtaProgress(self._post, "final")
        trained = train_jrvae(data.images, schedule, cfg.jrvae, cfg.seed,
                              Controls(progress=tracker, cancel=controls.cancel), stage="final")
        manifolds = to_thumbnails(class_manifolds(trained.model, cfg.objective.manifold_d))
        assigned = class_assignments(trained.model, data.images)
        usage = np.bincount(assigned, minlength=manifolds.shape[0]).astype(np.int64)
        accuracy = float("nan")
        if data.labels is not None:
            accuracy = label_diagnostics(assigned, data.labels)[0]
        seconds = time.perf_counter() - start
        schedule = np.array(schedule, dtype=np.float64)
        loss_curve = np.array(trained.loss_curve, dtype=np.float64)
        runner.store.write_final(
            FINAL_RESULT,
            {"schedule": schedule, "manifolds": manifolds, "loss_curve": loss_curve,
             "class_usage": usage},
            {"which": which, "z": [float(v) for v in z], "accuracy": accuracy,
             "seconds": seconds, "seed": cfg.seed, "full_dataset": bool(full_dataset),
             "n_images": int(data.images.shape[0]), "source": data.source,
             "device": trained.device},
        )
        self._post(FinalModel(schedule, which, manifolds.copy(), loss_curve.copy(),
                              usage.copy(), accuracy, seconds))
        return Outcome(self._rest_state())

    @staticmethod
    def _stored_final(runner: CampaignRunner) -> FinalModel | None:
        stored = runner.store.read_final(FINAL_RESULT)
        if stored is None:
            return None
        arrays, meta = stored
        return FinalModel(
            schedule=arrays["schedule"], which=str(meta.get("which", "")),
            manifolds=arrays["manifolds"], loss_curve=arrays["loss_curve"],
            class_usage=arrays.get("class_usage", np.zeros(0, np.int64)),
            accuracy=float(meta.get("accuracy", float("nan"))),
            seconds=float(meta.get("seconds", 0.0)),
        )
