"""How responsive is the window? Launch time, main-thread stalls during training, heatmap redraw.

1. Launch: wall time from starting a fresh ``python`` process to the main window being exposed
   (median of 7; the process prints a line once the window is shown and then exits).
2. Stalls: the engine is loaded on the compute thread as ``zbo-gui`` does once its window
   shows; then a real tiny campaign is created and run while a 5 ms QTimer samples the GUI
   event loop; the longest gap between two ticks is the longest main-thread stall (reported
   for the run, and for New campaign on its own). Twice: with the default execution (one Dask
   worker process trains, the window's process only waits) and with ``execution.workers = 0``
   (the trainings in the window's compute thread, as before the worker processes).
3. Closing during a training: from ``close()`` with the question answered "Yes" to the window
   gone (the worker finishes its epoch), with the status text shown at once and the longest
   event-loop gap meanwhile.
4. Redraw: time to push a new posterior to the latent map at 100x100 and 200x200 and process
   the paint events (median of 10).

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py
Writes ``benchmarks/results/gui_responsiveness.json``.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import write_json

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LAUNCH = """
import time, sys
from PySide6.QtCore import QTimer, QSettings
from PySide6.QtWidgets import QApplication
from zbo_gui.gui.plots import configure_pyqtgraph
from zbo_gui.gui.main_window import MainWindow
from zbo_gui.workers.controller import CampaignController
app = QApplication([])
configure_pyqtgraph()
win = MainWindow(CampaignController(), QSettings(sys.argv[1], QSettings.Format.IniFormat))
win.show()
def shown():
    print("SHOWN", flush=True)
    win.confirm_close = False
    win.close()
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def launch_seconds(repeats: int = 7) -> list[float]:
    """Wall seconds from process start to the window shown, per repeat."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", LAUNCH, str(Path(tmp) / "s.ini")],
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("SHOWN"):
                    out.append(time.perf_counter() - start)
            proc.wait()
    return out


def _pump(app, until, limit_s: float = 900.0) -> float:
    """Process events until ``until()``; returns the seconds it took."""
    t0 = time.perf_counter()
    while not until() and time.perf_counter() - t0 < limit_s:
        app.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - t0


class GapSampler:
    """A 5 ms timer on the GUI thread: the gaps between its ticks are the event loop's stalls,
    each labelled with what the worker reported last."""

    def __init__(self, model) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.gaps: list[float] = []
        self.labels: list[str] = []
        self._stage = "start"
        self._clock = QElapsedTimer()
        self._clock.start()
        self._last = self._clock.elapsed()
        model.events.progress.connect(self._progress)
        model.events.state.connect(lambda s: setattr(self, "_stage", f"state {s.value}"))
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._tick)

    def _progress(self, report) -> None:
        if report is not None:
            self._stage = f"{report.stage} {report.evaluation}/{report.budget} epoch {report.step}"

    def _tick(self) -> None:
        now = self._clock.elapsed()
        self.gaps.append(now - self._last)
        self.labels.append(self._stage)
        self._last = now

    def start(self) -> None:
        self._last = self._clock.elapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


def main() -> None:
    import numpy as np
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from zbo_gui.core.config import config_from_dict
    from zbo_gui.gui.latent_map import LatentMapView
    from zbo_gui.gui.main_window import MainWindow
    from zbo_gui.gui.plots import configure_pyqtgraph
    from zbo_gui.model.campaign import CampaignModel
    from zbo_gui.model.messages import (
        CampaignOpened,
        GridSnapshot,
        PosteriorSnapshot,
        RunState,
    )
    from zbo_gui.workers.controller import CampaignController

    launches = launch_seconds()
    print(f"launch to window shown: median {statistics.median(launches):.2f} s "
          f"({', '.join(f'{v:.2f}' for v in launches)})", flush=True)

    app = QApplication.instance() or QApplication([])
    configure_pyqtgraph()
    tmp = tempfile.mkdtemp()
    controller = CampaignController()
    win = MainWindow(controller, QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
    win.confirm_close = False
    win.show()
    config = config_from_dict({
        "dataset": {"digits": [0, 1, 4], "n_images": 300, "image_size": 12},
        "schedules": {"n_epochs": 15},
        "schedule_vae": {"epochs": 200},
        "grid": {"size": 100},
        "jrvae": {"classes": 3, "decoder_hidden": [16, 16], "encoder_hidden": [64, 64]},
        "objective": {"manifold_d": 6, "pairs": 30},
        "bo": {"initial": 3, "budget": 5},
    })
    model = win.model
    controller.warm_up()  # as zbo-gui does once its window shows
    warm = _pump(app, lambda: gc.get_freeze_count() > 0, 120.0)
    print(f"engine loaded on the compute thread {warm:.1f} s after the window showed",
          flush=True)
    creating = GapSampler(model)
    creating.start()
    win.draft.load(config)
    win.new_campaign(str(Path(tmp) / "bench.h5"))
    _pump(app, lambda: model.state is RunState.IDLE)
    creating.stop()
    create_gaps = np.array(creating.gaps[1:] or [0.0])
    print(f"New campaign: longest event-loop gap {create_gaps.max():.0f} ms", flush=True)
    runs = {}
    for workers in (1, 0):
        if workers == 0:  # the same campaign again, trained in the window's process
            inline = config.replace(execution=dataclasses.replace(config.execution, workers=0))
            win.draft.load(inline)
            win.new_campaign(str(Path(tmp) / "bench0.h5"))
            _pump(app, lambda: model.state is RunState.IDLE)
        sampler = GapSampler(model)
        sampler.start()
        win.act_start.trigger()
        run_seconds = _pump(app, lambda: model.state is RunState.FINISHED)
        sampler.stop()
        n_evaluations = len(model.evaluations)
        gaps_ms = np.array(sampler.gaps[1:])
        labels = sampler.labels[1:]
        worst = int(np.argmax(gaps_ms))
        where = "1 worker process" if workers else "the window's process (workers = 0)"
        print(f"campaign in the window, trainings in {where}: {run_seconds:.1f} s,"
              f" {n_evaluations} evaluations; event-loop gap: max {gaps_ms.max():.0f} ms (after"
              f" '{labels[worst]}'), 99th percentile {np.percentile(gaps_ms, 99):.0f} ms,"
              f" median {np.median(gaps_ms):.0f} ms", flush=True)
        for k in np.argsort(gaps_ms)[::-1][:5]:
            print(f"  gap {gaps_ms[k]:.0f} ms after '{labels[k]}'")
        runs[workers] = {
            "campaign_seconds": run_seconds, "evaluations": n_evaluations,
            "max_event_loop_gap_ms": float(gaps_ms.max()), "max_gap_after": labels[worst],
            "p99_event_loop_gap_ms": float(np.percentile(gaps_ms, 99)),
        }

    # closing during a training: from "Yes, close" to the window gone
    slow = config.replace(schedules=dataclasses.replace(config.schedules, n_epochs=80))
    win.draft.load(slow)
    win.new_campaign(str(Path(tmp) / "close.h5"))
    _pump(app, lambda: model.state is RunState.IDLE)
    win.act_start.trigger()
    _pump(app, lambda: model.progress is not None and model.progress.evaluation == 1
          and model.progress.step >= 20)
    closing = GapSampler(model)
    closing.start()
    t0 = time.perf_counter()
    win.close()  # the question answered "Yes"
    feedback = win.status_label.text()
    _pump(app, lambda: not win.isVisible(), 120.0)
    close_seconds = time.perf_counter() - t0
    closing.stop()
    close_gaps = np.array(closing.gaps[1:] or [0.0])
    print(f"close during a training: window gone after {close_seconds:.2f} s (at once:"
          f" '{feedback}'); longest event-loop gap meanwhile {close_gaps.max():.0f} ms",
          flush=True)

    redraw = {}
    for g in (100, 200):
        x = np.linspace(-3, 3, g)
        xx, yy = np.meshgrid(x, x)
        feasible = xx**2 + yy**2 < 6
        grid = GridSnapshot(x, x.copy(), feasible, np.ones((g * g, 10), np.float32),
                            np.zeros((5, 2)), np.ones((5, 10)), ("constant",) * 5, 0.1, 10.0)
        bench = CampaignModel()
        bench.apply(CampaignOpened("bench.h5", config, 0, ()))
        view = LatentMapView(bench)
        view.resize(800, 700)
        view.show()
        bench.apply(grid)
        app.processEvents()
        times = []
        for k in range(10):
            mean = np.sin(xx + 0.1 * k) * np.cos(yy)
            post = PosteriorSnapshot(10, mean, np.abs(mean) + 0.1, mean - 1, "logei")
            start = time.perf_counter()
            bench.apply(post)
            view.repaint()
            app.processEvents()
            times.append(time.perf_counter() - start)
        redraw[g] = statistics.median(times) * 1000
        print(f"heatmap redraw {g}x{g}: median {redraw[g]:.1f} ms", flush=True)
        view.close()

    result = {
        "launch_seconds": launches,
        **runs[1],  # the default: one worker process
        "trainings_in_the_window_process": runs[0],
        "max_gap_creating_campaign_ms": float(create_gaps.max()),
        "close_during_training_seconds": close_seconds,
        "close_feedback": feedback,
        "max_gap_while_closing_ms": float(close_gaps.max()),
        "heatmap_redraw_ms": redraw,
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
    }
    write_json("gui_responsiveness", result)
    assert controller.closed


if __name__ == "__main__":
    main()
