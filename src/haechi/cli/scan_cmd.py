"""``haechi scan`` and ``haechi hash``: files and folders, as a table or JSON Lines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from haechi.banks.formats import threatexchange_line
from haechi.cli import output
from haechi.cli.context import engine, err_console, write
from haechi.results import HashResult, ScanResult

#: Show a progress bar from this many files on.
_PROGRESS_FROM = 20


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, folders recursively (hidden files skipped), in a stable order."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                and not any(part.startswith(".")
                                            for part in f.relative_to(p).parts)))
        else:
            files.append(p)
    return files


def _progress(total: int) -> Progress | None:
    if total < _PROGRESS_FROM or not err_console.is_terminal:
        return None
    return Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err_console, transient=True)


def _each(files: list[Path], as_json: bool) -> Iterator[Path]:
    progress = _progress(len(files))
    if progress is None:
        yield from files
        return
    with progress:
        task = progress.add_task("scanning", total=len(files))
        for f in files:
            yield f
            progress.advance(task)


def scan_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders (searched recursively)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file (JSON Lines)."),
    fail_on_match: bool = typer.Option(
        False, "--fail-on-match", help="Exit with status 1 if any file is blocked."),
    fail_on_error: bool = typer.Option(
        False, "--fail-on-error", help="Exit with status 3 if any file could not be scanned."),
) -> None:
    """Scan files against every enabled bank and print each decision with its reason."""
    files = expand(paths)
    results: list[ScanResult] = []
    with engine(ctx) as eng:
        for f in _each(files, as_json):
            result = eng.scan_path(f)
            results.append(result)
            if as_json:
                write(result.model_dump_json() + "\n")
                sys.stdout.flush()
    if not as_json:
        output.console.print(output.scan_table(results))
    if fail_on_match and any(r.decision == "block" for r in results):
        raise typer.Exit(1)
    if fail_on_error and any(r.decision == "error" for r in results):
        raise typer.Exit(3)


def hash_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders (searched recursively)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file (JSON Lines)."),
    threatexchange: bool = typer.Option(
        False, "--threatexchange",
        help="Print '<signal> <value>' lines, the format 'haechi bank import' and "
        "python-threatexchange read."),
) -> None:
    """Hash files (SHA-256, MD5, and PDQ for images or vPDQ for videos) without matching."""
    files = expand(paths)
    results: list[HashResult] = []
    with engine(ctx, load_index=False) as eng:
        for f in _each(files, as_json):
            result = eng.hash_path(f)
            results.append(result)
            if as_json:
                write(result.model_dump_json() + "\n")
            elif threatexchange:
                for h in result.hashes:
                    write(threatexchange_line(h.signal, h.value))
    if not as_json and not threatexchange:
        output.console.print(output.hash_table(results))
    if any(r.error for r in results):
        raise typer.Exit(3)
