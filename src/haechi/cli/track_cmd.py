"""``haechi track``: ingest chats, analyse who spreads what, report, push to a bank."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table

from haechi.cli import output
from haechi.cli.context import engine, err_console, write
from haechi.tracking import TrackingService
from haechi.tracking.analysis.lexicon import load_lexicon
from haechi.tracking.schemas import Analysis, SourceFormat

app = typer.Typer(help="Map who makes and who spreads material, and where it goes.",
                  no_args_is_help=True)

_LEXICON = typer.Option(None, "--lexicon", help="A lexicon TSV to use instead of the "
                        "built-in one (CATEGORY<tab>WEIGHT<tab>REGEX lines).")


def _write_atomic(path: Path, chunks: Iterable[str]) -> None:
    """Write next to the target, then rename: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int], None] | None]:
    """A live count of messages read, on a terminal only (exports take minutes)."""
    if not err_console.is_terminal:
        yield None
        return
    with Progress(SpinnerColumn(), "{task.description}", "{task.completed} messages",
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(f"ingesting {path.name}", total=None)
        yield lambda done: bar.update(task, completed=done)


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Telegram Desktop export folders (or their "
                                       "result.json), Bot API .jsonl logs, or .csv files."),
    fmt: str | None = typer.Option(None, "--format", help="telegram, bot or csv "
                                   "[default: from the name]."),
    service: str = typer.Option("csv", help="Service name recorded for CSV rows."),
    as_json: bool = typer.Option(False, "--json", help="One JSON report per source."),
) -> None:
    """Stream sources into the store; re-ingesting a source adds nothing twice."""
    with engine(ctx) as eng:
        tracking = TrackingService(eng)
        for path in paths:
            source: SourceFormat | None = None
            if fmt is not None:
                if fmt not in ("telegram", "bot", "csv"):
                    raise typer.BadParameter("--format must be telegram, bot or csv")
                source = fmt  # type: ignore[assignment]
            with _progress(path) as advance:
                report = tracking.ingest(path, fmt=source, service=service, progress=advance)
            if as_json:
                write(report.model_dump_json() + "\n")
                continue
            output.console.print(
                f"{escape(str(path))}: {report.added} added, {report.duplicates} already "
                f"stored, {report.media_new} new media ({report.media_flagged} flagged, "
                f"{report.media_errors} unreadable), {report.skipped_count} skipped",
                highlight=False)
            for item in report.skipped[:20]:
                output.console.print(f"  skipped {escape(item.where)}: [{item.code}] "
                                     f"{escape(item.message)}", highlight=False)


def _analyse(ctx: typer.Context, lexicon: Path | None, key_players: int = 5) -> Analysis:
    with engine(ctx) as eng:
        return TrackingService(eng, lexicon=load_lexicon(lexicon)).analyse(
            key_players=key_players)


@app.command("analyse")
def analyse(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", help="Write the full analysis as JSON."),
    key_players: int = typer.Option(5, help="How many accounts the removal search picks."),
    lexicon: Path | None = _LEXICON,
    top: int = typer.Option(10, help="Rows per table on screen."),
) -> None:
    """Clusters, rooms by risk, roles and the network; a summary on screen."""
    result = _analyse(ctx, lexicon, key_players)
    if out is not None:
        _write_atomic(out, [result.model_dump_json(indent=1)])
    rooms = Table(title="rooms by risk")
    for col in ("room", "risk", "messages", "flagged", "why"):
        rooms.add_column(col, overflow="fold")
    for r in result.rooms[:top]:
        rooms.add_row(escape(r.title), f"{r.risk_score:g}", str(r.messages),
                      f"{r.flagged_messages}/{r.media_messages}", escape("; ".join(r.reasons)))
    clusters = Table(title="content clusters")
    for col in ("cluster", "flagged", "files", "rooms", "first posted by", "path"):
        clusters.add_column(col, overflow="fold")
    for c in result.clusters[:top]:
        clusters.add_row(str(c.id), "yes" if c.flagged else "", str(len(c.media_ids)),
                         str(len(c.rooms)), escape(c.patient_zero.user_key),
                         escape(" ; ".join(f"{h.from_room} → {h.to_room}" for h in c.path)))
    users = Table(title="participants")
    for col in ("user", "role", "posts", "forwards", "rooms", "why"):
        users.add_column(col, overflow="fold")
    for u in result.users[:top]:
        users.add_row(escape(u.user_key), u.role, str(u.posts), str(u.forwards),
                      str(len(u.rooms)), escape("; ".join(u.reasons)))
    for table in (rooms, clusters, users):
        output.console.print(table)
    players = ", ".join(p.user_key for p in result.network.key_players)
    output.console.print(f"network: {result.network.nodes} nodes, "
                         f"{len(result.network.communities)} communities; key players: "
                         f"{escape(players)}", highlight=False)


@app.command("report")
def report(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="The HTML file to write."),
    title: str = typer.Option("Tracking report", help="Heading of the report."),
    lexicon: Path | None = _LEXICON,
) -> None:
    """Write the self-contained HTML report (it loads nothing from the network)."""
    with engine(ctx) as eng:
        tracking = TrackingService(eng, lexicon=load_lexicon(lexicon))
        _write_atomic(out, [tracking.report_html(title=title)])
    output.console.print(f"wrote {escape(str(out))}", highlight=False)


@app.command("roster")
def roster(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", help="CSV file [default: standard output]."),
    room: str | None = typer.Option(None, help="Only participants of this chat id."),
    community: int | None = typer.Option(None, help="Only this network community."),
    lexicon: Path | None = _LEXICON,
) -> None:
    """Participant roster as CSV, with each person's role and the reasons for it."""
    with engine(ctx) as eng:
        tracking = TrackingService(eng, lexicon=load_lexicon(lexicon))
        rows = tracking.roster_csv(room=room, community=community)
        if out is None:
            for line in rows:
                write(line)
        else:
            _write_atomic(out, rows)


@app.command("rescan")
def rescan(ctx: typer.Context) -> None:
    """Match stored media against the banks as they are now (no files needed)."""
    with engine(ctx) as eng:
        result = TrackingService(eng).rescan_media()
    output.console.print(f"{result.checked} media checked: {result.newly_flagged} newly "
                         f"flagged, {result.no_longer_flagged} no longer flagged",
                         highlight=False)


@app.command("push-to-bank")
def push_to_bank(
    ctx: typer.Context,
    bank: str = typer.Argument(..., help="The bank that receives the hashes."),
    create: bool = typer.Option(False, "--create", help="Create the bank if it is missing."),
) -> None:
    """Add every hash of every flagged cluster (variants included) to a bank."""
    with engine(ctx) as eng:
        pushed = TrackingService(eng).push_to_bank(bank=bank, create=create)
    output.console.print(f"{pushed.clusters} flagged cluster(s): {pushed.added} hashes added "
                         f"to '{escape(bank)}', {pushed.duplicates} already there",
                         highlight=False)
