"""The headless ``zbo`` command: run, resume, inspect and export zBO campaigns; inspect data.

A user's mistake (bad config value, missing file, damaged campaign file) prints one line
``zbo: error: ...`` and exits with status 2; Ctrl-C stops after the current epoch, keeps every
finished evaluation in the file, and exits with status 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from zbo_gui import __version__
from zbo_gui.core.config import (
    CampaignConfig,
    config_from_toml,
    demo_config,
    load_config,
    quick_config,
)
from zbo_gui.core.data.base import FORMATS as DATA_FORMATS
from zbo_gui.core.errors import CampaignFileError, ConfigError, ZboError
from zbo_gui.core.types import Controls, Evaluation, EvaluationCancelled, Progress
from zbo_gui.storage.campaign_file import CampaignStore
from zbo_gui.storage.summary import summarize

log = logging.getLogger("zbo")
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class ProgressBars:
    """tqdm bars on stderr: one per long stage, one per evaluation's training epochs."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar = None
        self._key: tuple[str, int] | None = None
        self.label = ""

    def __call__(self, report: Progress) -> None:
        if not self.enabled:
            return
        if report.total <= 1:  # a one-step stage: a line, not a bar
            if report.message:
                print(f"zbo: {report.message}", file=sys.stderr, flush=True)
            return
        from tqdm import tqdm

        key = (report.stage + self.label, report.total)
        if self._bar is None or self._key != key or report.step < self._bar.n:
            self.close()
            names = {"schedule_vae": "schedule VAE", "evaluation": self.label or "training"}
            self._bar = tqdm(total=report.total, desc=names.get(report.stage, report.stage),
                             unit="epoch", file=sys.stderr, dynamic_ncols=True, leave=False)
            self._key = key
        self._bar.update(report.step - self._bar.n)
        if report.loss == report.loss:  # not NaN
            self._bar.set_postfix(loss=f"{report.loss:.4g}", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _print_evaluation(evaluation: Evaluation, budget: int) -> None:
    reps = evaluation.replicates
    parts = [f"eval {evaluation.index + 1}/{budget}", evaluation.proposal.source.value]
    if evaluation.succeeded:
        parts.append(f"objective {evaluation.objective:.4f}")
        if reps and reps[0].class_usage.size:
            parts.append(f"usage {reps[0].class_usage.tolist()}")
        if reps and reps[0].accuracy == reps[0].accuracy:
            parts.append(f"accuracy {reps[0].accuracy:.3f}")
    else:
        parts.append(f"FAILED: {evaluation.message}")
    parts.append(f"{evaluation.seconds:.1f} s")
    print("zbo: " + " | ".join(parts), file=sys.stderr, flush=True)


def _install_sigint(cancel: threading.Event) -> None:
    """First Ctrl-C: stop cleanly after the current epoch. Second: abort at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nzbo: stopping after the current epoch (Ctrl-C again to abort)...",
              file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)


def _drive(runner, quiet: bool) -> int:
    """Prepare and run a campaign with progress bars and Ctrl-C handling."""
    cancel = threading.Event()
    _install_sigint(cancel)
    bars = ProgressBars(enabled=not quiet)
    controls = Controls(progress=bars, cancel=cancel)
    budget = runner.config.bo.budget
    path = runner.store.path
    try:
        campaign = runner.prepare(controls)
        bars.close()
        done = len(campaign.evaluations)
        feasible = float(campaign.grid.feasible.mean())
        print(f"zbo: {path}: feasible latent region {feasible:.0%} of the grid;"
              f" {done}/{budget} evaluations done", file=sys.stderr)
        while (proposal := campaign.ask()) is not None:
            bars.label = f"eval {len(campaign.evaluations) + 1}/{budget}"
            evaluation = runner.evaluate(proposal, controls)
            bars.close()
            _print_evaluation(evaluation, budget)
    except EvaluationCancelled:
        bars.close()
        print(f"zbo: stopped; {len(runner.campaign.evaluations) if runner.campaign else 0}"
              f" evaluations are saved. Continue with: zbo resume {path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    best = campaign.best_evaluated()
    print(f"zbo: finished ({campaign.stop_reason.value}); {len(campaign.evaluations)} evaluations",
          file=sys.stderr)
    if best is not None:
        print(f"zbo: best objective {best.objective:.4f} (evaluation {best.index + 1});"
              f" export with: zbo export {path} --format csv -o best.csv", file=sys.stderr)
    return 0


def _config_for_run(args: argparse.Namespace) -> CampaignConfig:
    if args.config and args.demo:
        raise ConfigError("give either a CONFIG.toml or --demo, not both")
    if args.config:
        config = load_config(args.config)
    elif args.demo:
        config = quick_config() if args.quick else demo_config()
    else:
        raise ConfigError("nothing to run: give a CONFIG.toml or --demo")
    if args.quick and not args.demo:
        raise ConfigError("--quick applies to --demo only")
    overrides = {"seed": args.seed} if args.seed is not None else {}
    if args.budget is not None:
        overrides["bo"] = {"budget": args.budget}
    if args.device is not None:
        overrides["jrvae"] = {"device": args.device}
    if overrides:
        from zbo_gui.core.config import config_from_dict

        config = config_from_dict(overrides, base=config)
    return config


def cmd_run(args: argparse.Namespace) -> int:
    config = _config_for_run(args)  # before the heavy imports: a bad value fails fast
    from zbo_gui.runner import CampaignRunner

    data = None
    if config.dataset.source != "demo":  # fail before the campaign file is created
        from zbo_gui.core.datasets import load_dataset

        data = load_dataset(config.dataset, config.seed)
    if config.jrvae.device == "cuda":
        from zbo_gui.core.jrvae import resolve_device

        resolve_device("cuda")
    with CampaignRunner.create(args.out, config, overwrite=args.overwrite, data=data) as runner:
        return _drive(runner, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from zbo_gui.runner import CampaignRunner

    with CampaignRunner.open(args.file) as runner:
        return _drive(runner, args.quiet)


def cmd_info(args: argparse.Namespace) -> int:
    with CampaignStore.open(args.file) as store:
        info = summarize(store)
        config = config_from_toml(store.config_toml)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"campaign file   {args.file} (format {info['format_version']},"
          f" zbo-gui {info['app_version']}, created {info['created']})")
    print(f"stages          {', '.join(info['stages']) or 'none'}")
    print(f"schedule length {info['schedule_length']}; objective {config.objective.kind};"
          f" budget {config.bo.budget}")
    print(f"evaluations     {info['evaluations']} ({info['succeeded']} succeeded,"
          f" {info['failed']} failed)")
    if info["best_objective"] is not None:
        print(f"best objective  {info['best_objective']:.4f} (evaluation {info['best_index'] + 1})")
    if info["rows"]:
        print(f"\n{'#':>3} {'source':<11} {'status':<9} {'objective':>9} {'l1':>7} {'l2':>7}"
              f" {'accuracy':>8} {'nmi':>6}  usage / manifold intensity")

        def fmt(v: float | None, width: int, digits: int = 4) -> str:
            return f"{v:>{width}.{digits}f}" if v is not None else f"{'-':>{width}}"

        for row in info["rows"]:
            print(f"{row['index'] + 1:>3} {row['source']:<11} {row['status']:<9}"
                  f" {fmt(row['objective'], 9)} {fmt(row['l1'], 7, 3)} {fmt(row['l2'], 7, 3)}"
                  f" {fmt(row['accuracy'], 8, 3)} {fmt(row['nmi'], 6, 3)}"
                  f"  {row['class_usage']} / {[round(v, 3) for v in row['class_intensity']]}"
                  + (f"  {row['message']}" if row["message"] else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from zbo_gui.storage.export import write_export

    with CampaignStore.open(args.file) as store:
        config = config_from_toml(store.config_toml)
        evaluations = store.read_evaluations()
        ok = [e for e in evaluations if e.succeeded]
        if not ok:
            raise CampaignFileError(f"{args.file}: no successful evaluation to export yet")
        if args.which == "evaluated":
            best = max(ok, key=lambda e: e.objective)
            schedule, z, objective = best.proposal.schedule, best.proposal.z, best.objective
            extra = {"evaluation": best.index}
        else:
            from zbo_gui.core.campaign import Campaign

            campaign = Campaign(store.read_grid(), config.bo, config.seed, evaluations)
            prediction = campaign.best_predicted()
            if prediction is None:
                raise CampaignFileError(f"{args.file}: fewer than 2 successful evaluations;"
                                        " no prediction yet")
            schedule, z, objective = prediction.schedule, prediction.z, prediction.mean
            extra = {"predicted_std": prediction.std}
    write_export(args.output, args.format, schedule, config.jrvae.beta_d, objective=objective,
                 z=z, which=args.which, config=config.to_dict(), extra=extra)
    print(f"zbo: wrote {args.output} ({args.which} optimum, objective {objective:.4f})",
          file=sys.stderr)
    return 0


def cmd_inspect_data(args: argparse.Namespace) -> int:
    """Describe a data file: exit 0 when ``zbo run`` can use it, else print why and exit 2."""
    from zbo_gui.core.data import inspect_file

    summary = inspect_file(args.path, args.format, args.key or "", args.labels or "")
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.to_text())
    if summary.problems:
        print(f"zbo: error: {summary.source}: {summary.problems[0]}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``zbo`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="zbo", description="Latent Bayesian optimisation of jrVAE KL-weight schedules.")
    parser.add_argument("--version", action="version", version=f"zbo-gui {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start a new campaign")
    run.add_argument("config", nargs="?", help="campaign configuration (TOML)")
    run.add_argument("--demo", action="store_true", help="the built-in rotated-digits demo")
    run.add_argument("--quick", action="store_true", help="with --demo: a tiny smoke preset")
    run.add_argument("--out", required=True, type=Path, help="campaign file to create (.h5)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    run.add_argument("--seed", type=int, help="override the campaign seed")
    run.add_argument("--budget", type=int, help="override bo.budget (number of evaluations)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override jrvae.device")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="continue a stopped campaign")
    resume.add_argument("file", type=Path)
    resume.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    resume.set_defaults(func=cmd_resume)

    info = sub.add_parser("info", help="summarise a campaign file")
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_info)

    export = sub.add_parser("export", help="export the optimal schedule")
    export.add_argument("file", type=Path)
    export.add_argument("--format", required=True, choices=("csv", "json", "npy"))
    export.add_argument("-o", "--output", required=True, type=Path)
    export.add_argument("--which", choices=("evaluated", "predicted"), default="evaluated",
                        help="best evaluated schedule (default) or best GP-predicted one")
    export.set_defaults(func=cmd_export)

    inspect = sub.add_parser(
        "inspect-data", help="describe an image file or folder (count, shape, values, problems)")
    inspect.add_argument("path", type=Path, help="NPY/NPZ, HDF5, TIFF, PNG/JPEG file or folder")
    inspect.add_argument("--key", help="NPZ array, HDF5 dataset path or TIFF series number")
    inspect.add_argument("--format", default="auto",
                         choices=DATA_FORMATS)
    inspect.add_argument("--labels", help="labels: .npy/.csv file or h5:/path in the same file")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(func=cmd_inspect_data)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Show warnings (e.g. suspicious but usable data) as one line: ``zbo: warning: ...``."""
    print(f"zbo: warning: {message}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zbo`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="zbo: %(levelname)s: %(name)s: %(message)s")
    warnings.showwarning = _one_line_warning
    try:
        return args.func(args)
    except ZboError as exc:
        print(f"zbo: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("zbo: aborted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
