"""The headless ``zbo`` command: run, resume, inspect and export zBO campaigns; inspect data.

A user's mistake (bad config value, missing file, damaged campaign file, an output path that
would destroy a file) prints one line ``zbo: error: ...`` and exits with status 2, before any
file is touched; Ctrl-C (SIGTERM alike) stops after the current epoch, keeps every finished
evaluation in the file, and exits with status 130 (143).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np

from zbo_gui import __version__
from zbo_gui.core.config import (
    CampaignConfig,
    demo_config,
    load_config,
    quick_config,
    stored_config_from_toml,
)
from zbo_gui.core.data.base import FORMATS as DATA_FORMATS
from zbo_gui.core.errors import CampaignFileError, ConfigError, DatasetError, ZboError
from zbo_gui.core.schedules import first_last
from zbo_gui.core.types import Controls, Evaluation, EvaluationCancelled, Progress, Proposal
from zbo_gui.storage.campaign_file import CampaignStore, Lease, read_campaign
from zbo_gui.storage.summary import summarize

if TYPE_CHECKING:
    from zbo_gui.execution.task import WorkerProgress
    from zbo_gui.runner import CampaignRunner

log = logging.getLogger("zbo")
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a tool whose reader left


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


class WorkerBars:
    """One tqdm line per worker on stderr while several train at once: its evaluation, epoch
    e/N and loss (``zbo run/resume --workers N``)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bars: dict[str, Any] = {}

    def __call__(self, report: WorkerProgress) -> None:
        if not self.enabled or report.total <= 0:
            return
        from tqdm import tqdm

        bar = self._bars.get(report.worker)
        if bar is None:
            bar = tqdm(total=report.total, unit="epoch", file=sys.stderr, dynamic_ncols=True,
                       leave=False, position=len(self._bars))
            self._bars[report.worker] = bar
        bar.set_description(f"{report.worker} ({report.device}) eval {report.ticket + 1}",
                            refresh=False)
        if bar.total != report.total or report.step < bar.n:
            bar.reset(total=report.total)
        bar.update(report.step - bar.n)
        if report.loss == report.loss:  # not NaN
            bar.set_postfix(loss=f"{report.loss:.4g}", refresh=False)

    def clear(self) -> None:
        """Blank every line (before a message is printed)."""
        for bar in self._bars.values():
            bar.clear()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


def _print_evaluation(evaluation: Evaluation, budget: int) -> None:
    reps = evaluation.replicates
    parts = [f"eval {evaluation.index + 1}/{budget}", evaluation.proposal.source.value]
    schedule = np.asarray(evaluation.proposal.schedule)
    if schedule.ndim == 2:  # a pair: the β_d curve is part of what was chosen
        parts.append(f"β_d {first_last(schedule[1])}")
    if evaluation.succeeded:
        parts.append(f"objective {evaluation.objective:.4f}")
        if reps and reps[0].class_usage.size:
            parts.append(f"usage {reps[0].class_usage.tolist()}")
        if reps and reps[0].accuracy == reps[0].accuracy:
            parts.append(f"accuracy {reps[0].accuracy:.3f}")
    elif evaluation.observed:
        parts.append(f"COLLAPSED, scored 0: {evaluation.message}")
    else:
        parts.append(f"FAILED: {evaluation.message}")
    parts.append(f"{evaluation.seconds:.1f} s")
    if evaluation.worker:
        parts.append(f"worker {evaluation.worker}")
    print("zbo: " + " | ".join(parts), file=sys.stderr, flush=True)


_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Aborted(KeyboardInterrupt):
    """A second stop signal: abort at once, with the exit status of that signal."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM: the first stops cleanly after the current epoch, a second
    one aborts at once. :attr:`status` is the exit status of a stop (130 or 143). A context
    manager: the previous handlers come back on exit."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.received: signal.Signals | None = None
        self._previous = {signum: signal.signal(signum, self._handle) for signum in _SIGNAL_NAMES}

    def __enter__(self) -> StopSignals:
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.cancel.is_set():
            raise Aborted(128 + signum)
        self.received = signal.Signals(signum)
        self.cancel.set()
        print(f"\nzbo: {_SIGNAL_NAMES[self.received]}: stopping after the current epoch"
              f" ({_SIGNAL_NAMES[self.received]} again to abort)...", file=sys.stderr, flush=True)

    @property
    def status(self) -> int:
        """128 + the signal number: 130 after Ctrl-C, 143 after SIGTERM."""
        return 128 + int(self.received or signal.SIGINT)


def _drive(runner: CampaignRunner, stop: StopSignals, bars: ProgressBars) -> int:
    """Prepare and run a campaign with progress bars and clean stops."""
    runner.check_resources()
    controls = Controls(progress=bars, cancel=stop.cancel)
    budget = runner.config.bo.budget
    path = runner.store.path
    workers = WorkerBars(enabled=bars.enabled)
    try:
        campaign = runner.prepare(controls)
        bars.close()
        done = len(campaign.evaluations)
        feasible = float(campaign.grid.feasible.mean())
        sc = runner.config.schedules
        what = f"β_c in [{sc.beta_lo:g}, {sc.beta_hi:g}]" + (
            f" and β_d in [{sc.beta_d_lo:g}, {sc.beta_d_hi:g}] optimised together" if sc.joint
            else f", β_d = {runner.config.jrvae.beta_d:g}")
        print(f"zbo: {path}: {what}; feasible latent region {feasible:.0%} of the grid;"
              f" {done}/{budget} evaluations done", file=sys.stderr)
        executor = runner.start_executor()
        if runner.config.execution.workers > 0:  # the trainings have the cores: the GP, one
            import torch

            torch.set_num_threads(1)
        try:
            if executor.capacity > 1 or executor.dashboard:
                where = f"; dashboard {executor.dashboard}" if executor.dashboard else ""
                print(f"zbo: {executor.capacity} worker(s) train at once{where}",
                      file=sys.stderr, flush=True)

            def proposed(proposal: Proposal) -> None:
                bars.label = f"eval {len(campaign.evaluations) + 1}/{budget}"

            def evaluated(evaluation: Evaluation) -> None:
                bars.close()
                workers.clear()
                _print_evaluation(evaluation, budget)

            runner.run(controls, on_proposal=proposed, on_evaluation=evaluated,
                       on_progress=workers if executor.capacity > 1 else None,
                       executor=executor)
        finally:
            workers.close()
            executor.close()
    except EvaluationCancelled:
        bars.close()
        print(f"zbo: stopped; {len(runner.campaign.evaluations) if runner.campaign else 0}"
              f" evaluations are saved. Continue with: zbo resume {path}", file=sys.stderr)
        return stop.status
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
    execution = _execution_overrides(args)
    if execution:
        overrides["execution"] = execution
    if overrides:
        from zbo_gui.core.config import config_from_dict

        config = config_from_dict(overrides, base=config)
    return config


def _execution_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--workers`` / ``--scheduler`` as ``[execution]`` keys."""
    out: dict[str, Any] = {}
    if args.workers is not None:
        out["workers"] = args.workers
    if args.scheduler is not None:
        out["scheduler"] = args.scheduler
        out["cluster"] = "local"
    return out


def cmd_run(args: argparse.Namespace) -> int:
    """``zbo run``: check everything, build the first stages beside ``--out``, then run."""
    config = _config_for_run(args)  # before the heavy imports: a bad value fails fast
    from zbo_gui.runner import CampaignRunner

    with StopSignals() as stop:
        try:  # silent: a mistake found here is the one line printed
            new = CampaignRunner.draft(args.out, config, overwrite=args.overwrite,
                                       controls=Controls(cancel=stop.cancel))
        except EvaluationCancelled:
            print(f"zbo: stopped before {args.out} was written; nothing changed",
                  file=sys.stderr)
            return stop.status
        with new:
            if stop.cancel.is_set():  # stopped while the new file was built: keep the old one
                print(f"zbo: stopped before {args.out} was written; nothing changed",
                      file=sys.stderr)
                return stop.status
            runner = new.publish()
        with runner:
            return _drive(runner, stop, ProgressBars(enabled=not args.quiet))


def cmd_resume(args: argparse.Namespace) -> int:
    """``zbo resume``: continue a campaign where it stopped."""
    from zbo_gui.runner import CampaignRunner

    execution = _execution_overrides(args)
    with StopSignals() as stop, CampaignRunner.open(args.file) as runner:
        if execution:  # where it runs now; the stored configuration keeps the campaign's own
            from zbo_gui.core.config import config_from_dict

            runner.config = config_from_dict({"execution": execution}, base=runner.config)
        return _drive(runner, stop, ProgressBars(enabled=not args.quiet))


def _writer_text(lease: Lease | None) -> str:
    if lease is None or not lease.taken:
        return "none"
    return lease.describe() + ("" if lease.live() else " — stale: the next writer takes it over")


def _info(store: CampaignStore) -> tuple[int, dict, CampaignConfig, Lease | None, int | None]:
    return (store.verify(), summarize(store), stored_config_from_toml(store.config_toml),
            store.writer(), store.migrated_from)


def cmd_info(args: argparse.Namespace) -> int:
    """``zbo info``: check every checksum, then summarise the campaign."""
    checked, info, config, lease, old = read_campaign(args.file, _info)
    if info["schedule_length"] is None:  # no seeds stored yet: the configured length
        info["schedule_length"] = config.schedules.n_epochs
    info["datasets_checked"] = checked
    info["writer"] = None if lease is None or not lease.taken else {
        "host": lease.host, "pid": lease.pid, "program": lease.program, "live": lease.live(),
        "heartbeat_age_s": round(lease.age(), 1)}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"campaign file   {args.file} (format {info['format_version']},"
          f" zbo-gui {info['app_version']}, created {info['created']})")
    if old is None:
        print(f"integrity       {checked} datasets, every checksum correct")
    elif old >= 2:
        print(f"integrity       {checked} datasets, every checksum correct (format {old}:"
              " migrated to the current format when it is next opened for writing)")
    else:
        print(f"integrity       format {old} has no checksums; {checked} datasets read"
              " (migrated to the current format when it is next opened for writing)")
    print(f"writer          {_writer_text(lease)}")
    print(f"stages          {', '.join(info['stages']) or 'none'}")
    print(f"schedule length {info['schedule_length']}; objective {config.objective.kind};"
          f" budget {config.bo.budget}")
    collapsed = f" {info['collapsed']} collapsed," if info["collapsed"] else ""
    print(f"evaluations     {info['evaluations']} ({info['succeeded']} succeeded,{collapsed}"
          f" {info['failed']} failed)")
    if info["best_objective"] is not None:
        print(f"best objective  {info['best_objective']:.4f} (evaluation {info['best_index'] + 1})")
    if info["rows"]:
        print(f"\n{'#':>3} {'source':<11} {'status':<9} {'objective':>9} {'l1':>7} {'l2':>7}"
              f" {'accuracy':>8} {'nmi':>6} {'β_d first→last':>15}  usage / manifold intensity")

        def fmt(v: float | None, width: int, digits: int = 4) -> str:
            return f"{v:>{width}.{digits}f}" if v is not None else f"{'-':>{width}}"

        for row in info["rows"]:
            print(f"{row['index'] + 1:>3} {row['source']:<11} {row['status']:<9}"
                  f" {fmt(row['objective'], 9)} {fmt(row['l1'], 7, 3)} {fmt(row['l2'], 7, 3)}"
                  f" {fmt(row['accuracy'], 8, 3)} {fmt(row['nmi'], 6, 3)}"
                  f" {first_last(row['beta_d']):>15}  {row['class_usage']}"
                  f" / {[round(v, 3) for v in row['class_intensity']]}"
                  + (f"  {row['message']}" if row["message"] else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``zbo export``: write the best schedule (never onto a campaign or any HDF5 file)."""
    from zbo_gui.storage.export import check_export_targets, write_export

    config = read_campaign(args.file, lambda store: stored_config_from_toml(store.config_toml))
    protected = [args.file, *config.input_files()]  # the campaign and the user's inputs
    check_export_targets(args.output, args.format, protected)  # before the heavy reading

    def best(store: CampaignStore) -> tuple[np.ndarray, np.ndarray, float, dict]:
        store.verify()
        evaluations = store.read_evaluations()
        ok = [e for e in evaluations if e.succeeded]
        if not ok:
            raise CampaignFileError(f"{args.file}: no successful evaluation to export yet")
        if args.which == "evaluated":
            top = max(ok, key=lambda e: e.objective)
            return top.proposal.schedule, top.proposal.z, top.objective, {
                "evaluation": top.index}
        from zbo_gui.core.campaign import Campaign

        campaign = Campaign(store.read_grid(), config.bo, config.seed, evaluations)
        prediction = campaign.best_predicted()
        if prediction is None:
            raise CampaignFileError(f"{args.file}: fewer than 2 successful evaluations;"
                                    " no prediction yet")
        return prediction.schedule, prediction.z, prediction.mean, {
            "predicted_std": prediction.std}

    schedule, z, objective, extra = read_campaign(args.file, best)
    write_export(args.output, args.format, schedule, config.jrvae.beta_d, objective=objective,
                 z=z, which=args.which, config=config.to_dict(), extra=extra,
                 protected=protected)
    print(f"zbo: wrote {args.output} ({args.which} optimum, objective {objective:.4f})",
          file=sys.stderr)
    return 0


def cmd_inspect_data(args: argparse.Namespace) -> int:
    """Describe a data file: exit 0 when ``zbo run`` can use it, else print why and exit 2."""
    from zbo_gui.core.data import inspect_file

    try:
        summary = inspect_file(args.path, args.format, args.key or "", args.labels or "")
    except DatasetError as exc:
        message = str(exc).replace("dataset.key", "--key")  # the option's name, here
        if args.json:
            print(json.dumps({"source": str(args.path), "usable": False, "problems": [message],
                              "choices": list(getattr(exc, "choices", ()))}, indent=2))
        raise DatasetError(message) from None
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.to_text())
    if summary.problems:
        print(f"zbo: error: {summary.source}: {summary.problems[0]}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def _execution_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, metavar="N",
                        help="trainings at once, each in a Dask worker process (override"
                        " execution.workers; 0: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="train on an existing Dask cluster, e.g. tcp://host:8786"
                        " (override execution.scheduler)")


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
    _execution_options(run)
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="continue a stopped campaign")
    resume.add_argument("file", type=Path)
    resume.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _execution_options(resume)
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


def _stdout_closed() -> bool:
    """Whether the reader of standard output went away (``| head`` has ended)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (OSError, ValueError):
        return True  # stdout is no longer usable at all


def _quiet_broken_pipe() -> int:
    """``zbo info FILE | head``: the reader left; end quietly (as other tools do)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass  # stdout is gone either way
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zbo`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="zbo: %(levelname)s: %(name)s: %(message)s")
    warnings.showwarning = _one_line_warning
    try:
        status = args.func(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe than the reader of our output: not ours to hide
        return _quiet_broken_pipe()
    except ZboError as exc:
        print(f"zbo: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print("zbo: error: out of memory; use smaller sizes (dataset.n_images,"
              " dataset.image_size, grid.size, objective.manifold_d)", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # the system refused (disk full, permissions): not a bug of ours
        if args.verbose:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"zbo: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        print("zbo: aborted", file=sys.stderr)
        return exc.status if isinstance(exc, Aborted) else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
