"""The desktop application's entry point: ``zbo-gui [FILE] [--demo] [--screenshot PNG]``.

Wires the compute side (``workers.controller``) to the window (``gui.main_window``); the only
module that imports both.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from zbo_gui import __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``zbo-gui`` argument parser."""
    parser = argparse.ArgumentParser(prog="zbo-gui", description="The zBO workstation window.")
    parser.add_argument("file", nargs="?", help="a campaign file to open (.h5)")
    parser.add_argument("--demo", action="store_true",
                        help="start a campaign on the built-in demo dataset, ready to run")
    parser.add_argument("--quick", action="store_true", help="with --demo: the tiny smoke preset")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="save a picture of the window once loaded, then exit")
    parser.add_argument("--version", action="version", version=f"zbo-gui {__version__}")
    return parser


def demo_path() -> Path:
    """Where ``--demo`` puts its campaign file: ``~/zbo-campaigns/demo-<time>.h5``."""
    folder = Path.home() / "zbo-campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.h5"


def _settings():
    """UI preferences: the user's QSettings, or an INI file under ``$ZBO_SETTINGS_DIR``."""
    import os

    from PySide6.QtCore import QSettings

    folder = os.environ.get("ZBO_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "zbo-gui.ini"), QSettings.Format.IniFormat)
    return QSettings("zbo-gui", "zbo-gui")


def main(argv: Sequence[str] | None = None) -> int:
    """Start the window; returns the application's exit status."""
    args = build_parser().parse_args(argv)
    if args.file and args.demo:
        print("zbo-gui: error: give either a campaign FILE or --demo, not both", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from zbo_gui.gui.main_window import MainWindow, schedule_screenshot
    from zbo_gui.gui.plots import configure_pyqtgraph
    from zbo_gui.workers.controller import CampaignController

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("zbo-gui")
    app.setOrganizationName("zbo-gui")
    configure_pyqtgraph()
    controller = CampaignController()
    window = MainWindow(controller, _settings())
    window.show()
    QTimer.singleShot(300, controller.warm_up)  # the engine loads while the person looks
    if args.file:
        if not Path(args.file).is_file():
            print(f"zbo-gui: error: campaign file not found: {args.file}", file=sys.stderr)
            controller.shutdown(5000)
            return 2
        window.open_campaign(str(Path(args.file).resolve()))
    elif args.demo:
        from zbo_gui.core.config import demo_config, quick_config

        window.draft.load(quick_config() if args.quick else demo_config())
        window.loader.reload()
        window.new_campaign(str(demo_path()))
    if args.screenshot:
        schedule_screenshot(window, args.screenshot, wait_for_load=bool(args.file or args.demo))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
