"""How responsive is the window? Launch time, main-thread stalls during training, heatmap redraw.

1. Launch: wall time from starting a fresh ``python`` process to the main window being exposed
   (median of 3; the process prints a line once the window is shown and then exits).
2. Stalls: a real tiny campaign runs in the compute thread while a 5 ms QTimer samples the GUI
   event loop; the longest gap between two ticks is the longest main-thread stall.
3. Redraw: time to push a new posterior to the latent map at 100x100 and 200x200 and process
   the paint events (median of 10).

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py
Writes ``benchmarks/results/gui_responsiveness.json``.
"""

from __future__ import annotations

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


def launch_seconds(repeats: int = 3) -> list[float]:
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


def main() -> None:
    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from zbo_gui.core.config import config_from_dict
    from zbo_gui.gui.latent_map import LatentMapView
    from zbo_gui.gui.main_window import MainWindow
    from zbo_gui.gui.plots import configure_pyqtgraph
    from zbo_gui.workers.controller import CampaignController
    from zbo_gui.workers.messages import GridSnapshot, PosteriorSnapshot, RunState

    launches = launch_seconds()
    print(f"launch to window shown: median {statistics.median(launches):.2f} s "
          f"({', '.join(f'{v:.2f}' for v in launches)})", flush=True)

    app = QApplication.instance() or QApplication([])
    configure_pyqtgraph()
    tmp = tempfile.mkdtemp()
    controller = CampaignController()
    win = MainWindow(controller, QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
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
    gaps: list[float] = []
    stages: list[str] = []  # what the worker reported last, at each tick
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]
    stage = ["start"]
    controller.progress.connect(
        lambda r: stage.__setitem__(0, f"{r.stage} {r.evaluation}/{r.budget} epoch {r.step}"))

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        stages.append(stage[0])
        last[0] = now

    sampler = QTimer()
    sampler.setInterval(5)
    sampler.timeout.connect(tick)
    win.new_campaign(str(Path(tmp) / "bench.h5"), config)
    while win.state is not RunState.IDLE:
        app.processEvents()
    sampler.start()
    win.act_start.trigger()
    t0 = time.perf_counter()
    while win.state is not RunState.FINISHED and time.perf_counter() - t0 < 900:
        app.processEvents()
        time.sleep(0.001)
    sampler.stop()
    run_seconds = time.perf_counter() - t0
    gaps_ms = np.array(gaps[1:])
    worst = int(np.argmax(gaps_ms))
    print(f"campaign in the window: {run_seconds:.1f} s, {len(win.evaluations)} evaluations; "
          f"event-loop gap: max {gaps_ms.max():.0f} ms (after '{stages[1:][worst]}'), 99th "
          f"percentile {np.percentile(gaps_ms, 99):.0f} ms, median {np.median(gaps_ms):.0f} ms",
          flush=True)
    for k in np.argsort(gaps_ms)[::-1][:5]:
        print(f"  gap {gaps_ms[k]:.0f} ms after '{stages[1:][k]}'")
    win.confirm_close = False
    win.close()

    redraw = {}
    for g in (100, 200):
        x = np.linspace(-3, 3, g)
        xx, yy = np.meshgrid(x, x)
        feasible = xx**2 + yy**2 < 6
        grid = GridSnapshot(x, x.copy(), feasible, np.ones((g * g, 10), np.float32),
                            np.zeros((5, 2)), np.ones((5, 10)), ("constant",) * 5, 0.1, 10.0)
        view = LatentMapView()
        view.resize(800, 700)
        view.show()
        view.set_grid(grid)
        app.processEvents()
        times = []
        for k in range(10):
            mean = np.sin(xx + 0.1 * k) * np.cos(yy)
            post = PosteriorSnapshot(10, mean, np.abs(mean) + 0.1, mean - 1, "logei")
            start = time.perf_counter()
            view.set_posterior(post)
            view.repaint()
            app.processEvents()
            times.append(time.perf_counter() - start)
        redraw[g] = statistics.median(times) * 1000
        print(f"heatmap redraw {g}x{g}: median {redraw[g]:.1f} ms", flush=True)
        view.close()

    result = {
        "launch_seconds": launches,
        "campaign_seconds": run_seconds,
        "evaluations": len(win.evaluations),
        "max_event_loop_gap_ms": float(gaps_ms.max()),
        "max_gap_after": stages[1:][worst],
        "p99_event_loop_gap_ms": float(np.percentile(gaps_ms, 99)),
        "heatmap_redraw_ms": redraw,
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
    }
    write_json("gui_responsiveness", result)
    assert controller.shutdown(60000)


if __name__ == "__main__":
    main()
