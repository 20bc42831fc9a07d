"""The compute thread and the controller: real (tiny) trainings driven through Qt signals."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from zbo_gui.core.errors import CampaignError
from zbo_gui.core.types import (
    Controls,
    EvaluationStatus,
    Progress,
    ProposalSource,
    UserPoints,
)
from zbo_gui.model.messages import (
    CampaignOpened,
    FinalModel,
    GridSnapshot,
    PosteriorSnapshot,
    RunProgress,
    RunState,
)
from zbo_gui.runner import CampaignRunner
from zbo_gui.workers.jobs import EtaProgress
from zbo_gui.workers.worker import ComputeWorker, Job

from .conftest import WAIT_MS, tiny

ROOT = Path(__file__).resolve().parents[2]
#: A Qt warning (a timer touched from the wrong thread, a QThread destroyed) fails the test.
pytestmark = pytest.mark.qt_log_level_fail("WARNING")


# ---------------------------------------------------------------------------- helpers
def stored_count(path: Path) -> int:
    """Evaluations stored in a campaign file (the controller may hold it open)."""
    with h5py.File(path, "r") as f:
        return int(f["evaluations"].attrs["count"])


def wait_idle(qtbot, controller, timeout: int = WAIT_MS) -> None:
    qtbot.waitUntil(lambda: not controller.is_busy(), timeout=timeout)


def open_and_wait(qtbot, controller, path: Path) -> None:
    controller.open_campaign(path)
    wait_idle(qtbot, controller)
    assert controller.model.path == str(path)


def in_order(sequence: list, wanted: list) -> bool:
    """Whether ``wanted`` occurs in ``sequence`` as a subsequence."""
    it = iter(sequence)
    return all(any(item == w for item in it) for w in wanted)


def feasible_points(grid: GridSnapshot, feasible: bool = True) -> list[np.ndarray]:
    """The latent coordinates of the grid points whose feasibility is ``feasible``."""
    iy, ix = np.nonzero(grid.feasible == feasible)
    return [np.array([grid.x[i], grid.y[j]]) for j, i in zip(iy, ix, strict=True)]


def eval_epoch(number: int, step: int):
    """A ``progress`` check: evaluation ``number`` has trained ``step`` epochs."""
    return lambda p: p.stage == "evaluation" and p.evaluation == number and p.step >= step


# ---------------------------------------------------------------------------- the worker
class Harness(QObject):
    """The GUI-thread side of a bare worker: queues jobs to it, receives its signals queued."""

    submit = Signal(object)
    ended = Signal(list)  # [signal name, *args], emitted on the GUI thread

    def __init__(self, worker: ComputeWorker) -> None:
        super().__init__()
        self.messages: list = []
        queued = Qt.ConnectionType.QueuedConnection
        self.submit.connect(worker.run_job, queued)
        worker.message.connect(self._message, queued)
        worker.jobFinished.connect(self._finished, queued)
        worker.jobCancelled.connect(self._cancelled, queued)
        worker.jobFailed.connect(self._failed, queued)

    @Slot(object)
    def _message(self, message: object) -> None:
        self.messages.append(message)

    @Slot(str, object)
    def _finished(self, name: str, result: object) -> None:
        self.ended.emit(["finished", name, result])

    @Slot(str)
    def _cancelled(self, name: str) -> None:
        self.ended.emit(["cancelled", name])

    @Slot(str, str)
    def _failed(self, name: str, message: str) -> None:
        self.ended.emit(["failed", name, message])

    def run(self, qtbot, job: Job) -> list:
        with qtbot.waitSignal(self.ended, timeout=10_000) as blocker:
            self.submit.emit(job)
        return blocker.args[0]


@pytest.fixture
def harness(qtbot):
    thread = QThread()
    worker = ComputeWorker()
    worker.moveToThread(thread)
    rig = Harness(worker)
    thread.start()
    yield rig
    thread.quit()
    assert thread.wait(10_000)


def test_worker_runs_a_job_off_the_gui_thread_and_forwards_its_reports(harness, qtbot) -> None:
    gui = threading.get_ident()
    seen: list[int] = []

    def job(controls: Controls) -> str:
        seen.append(threading.get_ident())
        for step in (1, 2, 3):
            controls.report(Progress("evaluation", step, 3, loss=1.0 / step))
        return "done"

    assert harness.run(qtbot, Job("demo", job)) == ["finished", "demo", "done"]
    assert seen and seen[0] != gui
    # the reports arrived first, in emission order
    assert [m.step for m in harness.messages] == [1, 2, 3]


def test_worker_turns_errors_into_one_line_failures(harness, qtbot, caplog) -> None:
    def user_error(controls: Controls) -> None:
        raise CampaignError("latent point (9, 9) is outside the feasible region")

    def bug(controls: Controls) -> None:
        raise KeyError("boom\nsecond line")

    def cancelled(controls: Controls) -> None:
        controls.cancel.set()
        controls.check()

    assert harness.run(qtbot, Job("a", user_error)) == [
        "failed", "a", "latent point (9, 9) is outside the feasible region"]
    with caplog.at_level(logging.ERROR, logger="zbo_gui.workers.worker"):
        kind, name, message = harness.run(qtbot, Job("b", bug))
    assert (kind, name) == ("failed", "b")
    assert message.startswith("unexpected error: KeyError: ") and "\n" not in message
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
    assert harness.run(qtbot, Job("c", cancelled)) == ["cancelled", "c"]


def test_eta_combines_the_current_epoch_rate_and_the_mean_evaluation() -> None:
    posted: list[RunProgress] = []
    tracker = EtaProgress(posted.append, "evaluation", replicates=2, number=3, budget=5,
                          mean_seconds=100.0)
    for step in (1, 2, 3, 4, 1, 2):  # two replicates of 4 epochs
        tracker(Progress("evaluation", step, 4, loss=0.5))
    assert [p.step for p in posted] == [1, 2, 3, 4, 5, 6]
    assert all(p.total == 8 and p.evaluation == 3 and p.budget == 5 for p in posted)
    last = posted[-1]
    # 2 later evaluations at the mean duration, plus 2 epochs of this one at its own rate
    assert 200.0 <= last.eta_seconds < 201.0
    assert "evaluation 3/5" in last.message and "replicate 2/2" in last.message


def test_user_points_queue_is_fifo() -> None:
    points = UserPoints()
    points.push((1.0, 2.0))
    points.push(np.array([3.0, 4.0]))
    assert len(points) == 2
    np.testing.assert_array_equal(points.pop(), [1.0, 2.0])
    points.clear()
    assert points.pop() is None


def test_importing_the_controller_loads_no_engine() -> None:
    code = ("import json, sys, zbo_gui.workers.controller\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not {"torch", "pyro", "gpytorch", "h5py", "zbo_gui.runner"} & modules


# ---------------------------------------------------------------------------- whole campaign
def test_a_whole_campaign_through_the_controller(controller, recorder, qtbot, tmp_path,
                                                 monkeypatch) -> None:
    gui = threading.get_ident()
    threads: list[tuple[str, int]] = []
    for name in ("draft", "prepare", "run"):
        original = getattr(CampaignRunner, name)
        if name == "draft":
            def wrapped(cls, *a, _o=original.__func__, _n=name, **k):
                threads.append((_n, threading.get_ident()))
                return _o(cls, *a, **k)
            monkeypatch.setattr(CampaignRunner, name, classmethod(wrapped))
        else:
            def wrapped(self, *a, _o=original, _n=name, **k):
                threads.append((_n, threading.get_ident()))
                return _o(self, *a, **k)
            monkeypatch.setattr(CampaignRunner, name, wrapped)

    config = tiny()
    path = tmp_path / "campaign.h5"
    user_z: list[np.ndarray] = []

    def first_proposal(proposal) -> None:  # "evaluate this point next", during the run
        if user_z:
            return
        if proposal is None:
            return
        grid = recorder["grid"][-1]
        z = next(z for z in feasible_points(grid) if np.linalg.norm(z - proposal.z) > 1e-9)
        user_z.append(z)
        controller.evaluate_point(z)

    controller.model.events.proposal.connect(first_proposal)
    controller.new_campaign(path, config)
    wait_idle(qtbot, controller)
    assert controller.state is RunState.IDLE
    opened = recorder["opened"]
    assert len(opened) == 1 and isinstance(opened[0], CampaignOpened)
    assert opened[0].n_evaluations == 0 and opened[0].config == config
    preview = recorder["dataset"][0]
    assert preview.count == config.dataset.n_images
    assert preview.images.shape[1:] == (8, 8) and preview.labels is not None

    with recorder.expect(qtbot, "finished") as got:
        controller.start()
    assert got == ["budget"]
    wait_idle(qtbot, controller)
    assert controller.state is RunState.FINISHED and not controller.is_busy()
    assert in_order(recorder["state"], [RunState.PREPARING, RunState.IDLE,
                                               RunState.PREPARING, RunState.RUNNING,
                                               RunState.FINISHED])
    budget = config.bo.budget
    grid = recorder["grid"][0]
    g = config.grid.size
    assert len(recorder["grid"]) == 1
    assert grid.x.shape == grid.y.shape == (g,) and grid.feasible.shape == (g, g)
    assert grid.decoded.shape == (g * g, config.schedules.n_epochs)
    assert grid.seed_schedules.shape[0] == grid.seed_z.shape[0] == len(grid.seed_families)
    assert np.isfinite(grid.reconstruction_rms)
    evaluations = recorder["evaluations"]
    assert [e.index for e in evaluations] == list(range(budget))
    assert len(recorder["proposal"]) == budget
    assert evaluations[1].proposal.source is ProposalSource.USER
    np.testing.assert_allclose(evaluations[1].proposal.z, user_z[0])
    posteriors = recorder["posterior"]
    assert posteriors and all(isinstance(p, PosteriorSnapshot) for p in posteriors)
    assert posteriors[-1].mean.shape == posteriors[-1].std.shape == (g, g)
    assert posteriors[-1].acquisition.shape == (g, g)
    assert posteriors[-1].n_train == sum(e.succeeded for e in evaluations)
    assert 0 <= posteriors[-1].best_index < g * g
    progress = [p for p in recorder["progress"] if p.stage == "evaluation"]
    assert len(progress) >= budget * config.schedules.n_epochs
    assert all(p.budget == budget for p in progress)
    assert any(np.isfinite(p.eta_seconds) for p in progress)
    assert any(p.stage == "schedule_vae" for p in recorder["progress"])
    assert recorder["error"] == []
    assert stored_count(path) == budget
    # every engine call ran on the compute thread
    assert {name for name, _ in threads} == {"draft", "prepare", "run"}
    assert all(ident != gui for _, ident in threads)
    assert len({ident for _, ident in threads}) == 1


# ---------------------------------------------------------------------------- stop, pause
def test_stop_in_the_middle_of_a_training_keeps_finished_evaluations(
        controller, recorder, qtbot, prepared_file) -> None:
    open_and_wait(qtbot, controller, prepared_file)
    assert controller.state is RunState.IDLE
    with recorder.expect(qtbot, "progress", eval_epoch(2, 2)):
        controller.start()
    assert controller.state is RunState.RUNNING
    t0 = time.monotonic()
    controller.stop()
    assert controller.state is RunState.STOPPING
    qtbot.waitUntil(lambda: controller.state is RunState.IDLE, timeout=30_000)
    assert time.monotonic() - t0 < 10.0
    assert not controller.is_busy()
    assert len(recorder["evaluations"]) == 1
    assert stored_count(prepared_file) == 1
    assert recorder["finished"] == [] and recorder["error"] == []

    with recorder.expect(qtbot, "finished") as got:
        controller.start()
    assert got == ["budget"]
    assert [e.index for e in recorder["evaluations"]] == [0, 1, 2]
    assert stored_count(prepared_file) == 3


def test_pause_finishes_the_evaluation_in_flight_then_start_continues(
        controller, recorder, qtbot, prepared_file) -> None:
    open_and_wait(qtbot, controller, prepared_file)
    with recorder.expect(qtbot, "progress", eval_epoch(1, 1)):
        controller.start()
    controller.pause()
    assert controller.state is RunState.PAUSING
    qtbot.waitUntil(lambda: not controller.is_busy(), timeout=WAIT_MS)
    assert controller.state is RunState.PAUSED
    evaluations = recorder["evaluations"]
    assert len(evaluations) == 1 and evaluations[0].status is EvaluationStatus.SUCCEEDED
    assert stored_count(prepared_file) == 1
    assert recorder["finished"] == []
    # a point chosen while paused is evaluated, and the campaign stays paused
    grid = recorder["grid"][0]
    done = {e.proposal.grid_index for e in recorder["evaluations"]}
    z = next(z for z in feasible_points(grid) if grid.index_of(z) not in done)
    controller.evaluate_point(z)
    wait_idle(qtbot, controller)
    assert controller.state is RunState.PAUSED
    assert recorder["evaluations"][1].proposal.source is ProposalSource.USER
    # start continues; a start() while pausing takes the pause back
    with recorder.expect(qtbot, "progress", eval_epoch(3, 1)):
        controller.start()
    controller.pause()
    assert controller.state is RunState.PAUSING
    with recorder.expect(qtbot, "finished") as got:
        controller.start()
        assert controller.state is RunState.RUNNING
    assert got == ["budget"]
    wait_idle(qtbot, controller)
    assert [e.index for e in recorder["evaluations"]] == [0, 1, 2]
    assert controller.state is RunState.FINISHED


def test_shutdown_during_a_run_joins_the_thread(controller, recorder, qtbot,
                                                prepared_file) -> None:
    open_and_wait(qtbot, controller, prepared_file)
    with recorder.expect(qtbot, "progress", eval_epoch(1, 1)):
        controller.start()
    t0 = time.monotonic()
    assert controller.shutdown(30_000)
    assert time.monotonic() - t0 < 10.0
    assert controller._thread.isFinished()
    assert stored_count(prepared_file) == 0  # the evaluation in flight was discarded
    controller.start()  # ignored after shutdown, no exception


# ---------------------------------------------------------------------------- open
def test_open_a_finished_campaign_reemits_everything_without_training(
        controller, recorder, qtbot, finished_file, monkeypatch) -> None:
    def no_training(*args, **kwargs):
        raise AssertionError("opening a complete campaign must not train")

    monkeypatch.setattr("zbo_gui.core.jrvae.train_jrvae", no_training)
    monkeypatch.setattr("zbo_gui.core.schedule_vae.ScheduleVAE.train", no_training)
    stored = stored_count(finished_file)
    open_and_wait(qtbot, controller, finished_file)
    assert recorder["error"] == []
    assert controller.state is RunState.FINISHED
    opened = recorder["opened"][0]
    assert opened.n_evaluations == stored
    assert opened.stages == ("dataset", "seeds", "schedule_vae", "grid")
    assert len(recorder["dataset"]) == len(recorder["grid"]) == 1
    assert [e.index for e in recorder["evaluations"]] == list(range(stored))
    (posterior,) = recorder["posterior"]
    assert posterior.n_train == sum(e.succeeded for e in recorder["evaluations"])
    assert recorder["progress"] == [] and recorder["final"] == []
    # start on a finished campaign finishes at once
    with recorder.expect(qtbot, "finished") as got:
        controller.start()
    assert got == ["budget"]
    assert len(recorder["evaluations"]) == stored


def test_open_a_corrupt_file_fails_and_the_controller_stays_usable(
        controller, recorder, qtbot, tmp_path, finished_file) -> None:
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(b"this is not an HDF5 file\n" * 200)
    with recorder.expect(qtbot, "error") as got:
        controller.open_campaign(bad)
    wait_idle(qtbot, controller)
    assert "corrupt.h5" in got[0] and "\n" not in got[0]
    assert controller.state is RunState.EMPTY
    assert recorder["opened"] == []
    open_and_wait(qtbot, controller, finished_file)
    assert controller.state is RunState.FINISHED
    # a second bad open keeps the open campaign
    with recorder.expect(qtbot, "error"):
        controller.open_campaign(tmp_path / "missing.h5")
    wait_idle(qtbot, controller)
    assert controller.state is RunState.FINISHED
    assert controller.model.path == str(finished_file)
    with recorder.expect(qtbot, "finished"):
        controller.start()


def test_requests_that_cannot_run_fail_with_a_message(controller, recorder, qtbot,
                                                      tmp_path) -> None:
    with recorder.expect(qtbot, "error", timeout=5000) as got:
        controller.start()
    assert "no campaign" in got[0]
    missing = tmp_path / "no-such-data.npy"
    path = tmp_path / "c.h5"
    with recorder.expect(qtbot, "error") as got:
        controller.new_campaign(path, tiny(dataset={"source": str(missing)}))
    wait_idle(qtbot, controller)
    assert "no-such-data.npy" in got[0]
    assert controller.state is RunState.EMPTY and not path.exists()

    controller.new_campaign(path, tiny())
    wait_idle(qtbot, controller)
    assert controller.state is RunState.IDLE
    with recorder.expect(qtbot, "error") as got:
        controller.train_final("evaluated")
    wait_idle(qtbot, controller)
    assert "no evaluations" in got[0] and controller.state is RunState.IDLE
    with recorder.expect(qtbot, "error") as got:
        controller.new_campaign(path, tiny())  # exists, no overwrite
    wait_idle(qtbot, controller)
    assert "c.h5" in got[0] and controller.state is RunState.IDLE
    with pytest.raises(ValueError, match="which"):
        controller.train_final("best")


# ---------------------------------------------------------------------------- the user's point
def test_evaluate_point_when_idle(controller, recorder, qtbot, finished_file) -> None:
    open_and_wait(qtbot, controller, finished_file)
    grid = recorder["grid"][0]
    stored = stored_count(finished_file)
    infeasible = feasible_points(grid, feasible=False)
    assert infeasible, "the tiny grid has an infeasible region"
    z_bad = infeasible[0]
    with recorder.expect(qtbot, "error") as got:
        controller.evaluate_point(z_bad)
    wait_idle(qtbot, controller)
    assert "outside the feasible region" in got[0]
    assert f"{z_bad[0]:.3g}" in got[0] and f"{z_bad[1]:.3g}" in got[0]
    assert controller.state is RunState.FINISHED
    assert len(recorder["evaluations"]) == stored

    done = {e.proposal.grid_index for e in recorder["evaluations"]}
    z = next(z for z in feasible_points(grid) if grid.index_of(z) not in done)
    with recorder.expect(qtbot, "finished"):
        controller.evaluate_point(z)
        controller.start()  # during the point's evaluation: the run continues after it
    wait_idle(qtbot, controller)
    assert recorder["finished"] == ["budget"]
    (evaluation,) = recorder["evaluations"][stored:]
    assert evaluation.index == stored
    assert evaluation.proposal.source is ProposalSource.USER
    assert evaluation.proposal.grid_index == grid.index_of(z)
    assert recorder["proposal"][-1].source is ProposalSource.USER
    assert recorder["posterior"][-1].n_train == sum(
        e.succeeded for e in recorder["evaluations"])
    assert stored_count(finished_file) == stored + 1
    assert controller.state is RunState.FINISHED


# ---------------------------------------------------------------------------- final model
def test_train_final_stores_and_emits_the_manifolds(controller, recorder, qtbot,
                                                     finished_file) -> None:
    open_and_wait(qtbot, controller, finished_file)
    config = recorder["opened"][0].config
    with recorder.expect(qtbot, "final") as got:
        controller.train_final("predicted", full_dataset=True)
    wait_idle(qtbot, controller)
    assert RunState.TRAINING_FINAL in recorder["state"]
    assert controller.state is RunState.FINISHED
    final = got[0]
    assert isinstance(final, FinalModel) and final.which == "predicted"
    k, d, n = config.jrvae.classes, config.objective.manifold_d, config.schedules.n_epochs
    size = config.dataset.image_size
    assert final.manifolds.shape == (k, d * d, size, size)
    assert final.manifolds.dtype == np.uint8
    assert final.schedule.shape == final.loss_curve.shape == (n,)
    assert final.class_usage.shape == (k,)
    assert final.class_usage.sum() > config.dataset.n_images  # the full dataset
    assert 0.0 <= final.accuracy <= 1.0
    assert [p.stage for p in recorder["progress"]].count("final") == n
    # reopening the file re-emits the stored final model
    recorder["final"].clear()
    open_and_wait(qtbot, controller, finished_file)
    (again,) = recorder["final"]
    np.testing.assert_array_equal(again.manifolds, final.manifolds)
    np.testing.assert_array_equal(again.schedule, final.schedule)
    assert again.which == "predicted"



def test_full_dataset_is_every_image_of_the_source(tmp_path) -> None:
    from sklearn.datasets import load_digits

    from zbo_gui.workers.session import ALL_IMAGES, full_dataset_config

    config = tiny()
    available = int(np.isin(load_digits().target, config.dataset.digits).sum())
    assert available > config.dataset.n_images
    assert full_dataset_config(config).dataset.n_images == available
    data = tmp_path / "images.npy"
    np.save(data, np.random.default_rng(0).random((10, 8, 8)))
    from_file = tiny(dataset={"source": str(data)})
    assert full_dataset_config(from_file).dataset.n_images == ALL_IMAGES
    assert full_dataset_config(from_file).replace(dataset=from_file.dataset) == from_file
