"""``haechi backscan``, ``haechi backscan-report`` and ``haechi retrohunt``."""

from __future__ import annotations

import json
import signal
import threading

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from haechi.cli.context import engine, err_console, write
from haechi.scale.backscan import BackscanOptions, BackscanProgress
from haechi.scale.retrohunt import RetrohuntReport


class _Bar:
    """A Rich progress bar fed by the back-scan's progress callback."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress(
            "{task.description}", BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.0f}/s"),
            TextColumn("[red]{task.fields[errors]} err[/] [bold]{task.fields[matched]} "
                       "matched[/]"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=err_console, disable=not enabled)
        self.task: TaskID | None = None

    def update(self, p: BackscanProgress) -> None:
        if self.task is None:
            self.task = self.progress.add_task(
                p.job, total=p.total, completed=p.done_before,
                rate=0.0, errors=0, matched=0)
        self.progress.update(self.task, completed=p.done_before + p.done, rate=p.rate,
                             errors=p.errors, matched=p.matched)


def backscan_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="A folder tree, a text file listing paths or "
                                 "file:// and s3:// URIs (one a line), or s3://bucket/prefix."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Join this Ray cluster (e.g. ray://head:10001) instead "
        "of starting a local Ray."),
    workers: int = typer.Option(2, "--workers", min=0, help="Hashing actors (and CPUs of "
                                "the local Ray); 0 hashes in this process without Ray."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Items per actor batch "
                                   "and per database transaction."),
    detect: bool = typer.Option(False, "--detect/--no-detect", help="Also run the "
                                "detection models (sexual content, faces, provenance)."),
    job: str | None = typer.Option(None, "--job", help="Job name [default: from SOURCE]."),
    resume: bool = typer.Option(False, "--resume", help="Continue an existing job: items "
                                "it has recorded are skipped."),
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", envvar="HAECHI_S3_ENDPOINT_URL",
        help="S3-compatible endpoint (MinIO, Ceph, ...); credentials from AWS_* variables."),
    progress: bool = typer.Option(True, "--progress/--no-progress",
                                  help="Show a progress bar with throughput and ETA."),
    as_json: bool = typer.Option(False, "--json", help="Print the final report as JSON."),
) -> None:
    """Back-scan stored media: hash (and detect) every item, match it against the banks,
    put matches to the moderation policy and record everything, in batches. A killed
    job continues where it stopped with --resume."""
    options = BackscanOptions(source=source, job=job, workers=workers, batch_size=batch_size,
                              detect=detect, resume=resume, ray_address=ray_address,
                              endpoint_url=endpoint_url)
    bar = _Bar(progress and err_console.is_terminal)
    # SIGTERM ends the job like Ctrl-C: recorded batches stay, the job is "interrupted".
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with engine(ctx) as eng, bar.progress:
            report = eng.scale.backscan.run(options, on_progress=bar.update)
    except KeyboardInterrupt:
        err_console.print("interrupted: run again with --resume to continue")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if as_json:
        write(report.model_dump_json() + "\n")
    else:
        write(f"job {report.job}: {report.status}; {report.done} items recorded in this run "
              f"({report.done_before} before), {report.errors} errors, {report.matched} "
              f"matched; {report.items_per_s} items/s with {report.workers} worker(s)\n")


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def backscan_report_command(
    ctx: typer.Context,
    job: str = typer.Argument(..., help="The job's name."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000,
                              help="Matches to list at most."),
) -> None:
    """Print a back-scan job's counts and its matches (JSON)."""
    with engine(ctx, load_index=False) as eng:
        info = eng.scale.backscan.job(job)
        matches = eng.scale.backscan.matches(job, limit=limit)
    write(json.dumps({"job": json.loads(info.model_dump_json()),
                      "matches": [m.model_dump() for m in matches]}, indent=2) + "\n")


def retrohunt_command(
    ctx: typer.Context,
    follow: bool = typer.Option(False, "--follow", help="Keep tailing the change feed "
                                "(Ctrl-C or SIGTERM stops)."),
    poll_seconds: float = typer.Option(1.0, "--poll-seconds", min=0.05,
                                       help="With --follow: wait between quiet polls."),
) -> None:
    """Search bank entries added since the last run in every stored back-scan item (by
    their hashes, media is not read again); record matches and put them to the policy."""
    with engine(ctx, load_index=False) as eng:
        hunt = eng.scale.retrohunt
        if not follow:
            write(hunt.run_once().model_dump_json() + "\n")
            while hunt.status().behind:
                write(hunt.run_once().model_dump_json() + "\n")
            return
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            hunt.follow(poll_seconds=poll_seconds, stop=stop, on_report=_print_report)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)


def _print_report(report: RetrohuntReport) -> None:
    write(report.model_dump_json() + "\n")
