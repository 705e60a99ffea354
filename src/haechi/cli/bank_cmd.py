"""``haechi bank``: create banks and manage their entries."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from haechi.banks.service import NewEntry
from haechi.cli import output
from haechi.cli.context import engine, err_console, write
from haechi.cli.scan_cmd import expand
from haechi.errors import MediaError
from haechi.results import EntryMetadata

app = typer.Typer(help="Banks of known media: create, fill, import, export.",
                  no_args_is_help=True)

_FORMAT_HELP = "threatexchange ('<signal> <value>' lines), csv or jsonl."


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    kind: str = typer.Option("block", help="block: matches block uploads; allow: matches "
                             "override every block (false-positive protection)."),
    description: str = typer.Option("", help="What the bank holds and where it comes from."),
    pdq_threshold: int = typer.Option(31, help="Largest PDQ distance that matches (0-63)."),
    min_quality: int = typer.Option(50, help="PDQ hashes below this quality never match."),
    video_percent: float = typer.Option(80.0, help="Share of a video's frames that must match."),
    regions: bool = typer.Option(True, "--regions/--no-regions",
                                 help="Also catch cropped, framed, captioned and stickered "
                                 "copies of banked images (the region layer)."),
    region_threshold: int = typer.Option(28, help="Largest PDQ distance at which a region "
                                         "window (content, centre, quarter) agrees (0-40)."),
    region_inliers: int = typer.Option(30, help="Keypoints that must agree on one movement "
                                       "of the picture for a keypoint match (16-250)."),
) -> None:
    """Create a bank."""
    with engine(ctx, load_index=False) as eng:
        bank = eng.create_bank(name, kind=kind, description=description,
                               pdq_threshold=pdq_threshold, pdq_min_quality=min_quality,
                               video_match_percent=video_percent, regions_enabled=regions,
                               region_threshold=region_threshold,
                               region_min_inliers=region_inliers)
    output.console.print(f"created {bank.kind} bank '{bank.name}'", highlight=False)


@app.command("list")
def list_banks(ctx: typer.Context,
               as_json: bool = typer.Option(False, "--json", help="JSON Lines.")) -> None:
    """List banks with their entry counts and thresholds."""
    with engine(ctx, load_index=False) as eng:
        banks = eng.list_banks()
    if as_json:
        for b in banks:
            write(b.model_dump_json() + "\n")
    else:
        output.console.print(output.banks_table(banks))


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    limit: int = typer.Option(50, help="How many entries to list."),
    offset: int = typer.Option(0),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines: the bank, then entries."),
) -> None:
    """Show a bank and its entries."""
    with engine(ctx, load_index=False) as eng:
        bank = eng.get_bank(name)
        entries, total = eng.list_entries(name, limit=limit, offset=offset)
    if as_json:
        write(bank.model_dump_json() + "\n")
        for e in entries:
            write(e.model_dump_json() + "\n")
        return
    output.console.print(output.banks_table([bank]))
    output.console.print(output.entries_table(entries))
    output.console.print(f"{len(entries)} of {total} entries shown", highlight=False)


@app.command("update")
def update(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    description: str | None = typer.Option(None),
    pdq_threshold: int | None = typer.Option(None),
    min_quality: int | None = typer.Option(None),
    video_percent: float | None = typer.Option(None),
    enabled: bool | None = typer.Option(None, "--enabled/--disabled",
                                        help="Switch the whole bank on or off."),
    regions: bool | None = typer.Option(None, "--regions/--no-regions",
                                        help="Switch the region layer on or off."),
    region_threshold: int | None = typer.Option(None, help="Region distance threshold (0-40)."),
    region_inliers: int | None = typer.Option(None, help="Keypoints needed for a keypoint "
                                              "match (16-250)."),
) -> None:
    """Change a bank's settings."""
    with engine(ctx, load_index=False) as eng:
        bank = eng.update_bank(name, description=description, pdq_threshold=pdq_threshold,
                               pdq_min_quality=min_quality, video_match_percent=video_percent,
                               enabled=enabled, regions_enabled=regions,
                               region_threshold=region_threshold,
                               region_min_inliers=region_inliers)
    output.console.print(output.banks_table([bank]))


@app.command("add")
def add(
    ctx: typer.Context,
    bank: str = typer.Argument(...),
    paths: list[Path] = typer.Argument(None, help="Media files or folders to hash and add."),
    hashes: list[str] = typer.Option(
        [], "--hash", help="A raw hash as SIGNAL:VALUE, e.g. pdq:f8f8...; repeatable."),
    vpdq_file: list[Path] = typer.Option(
        [], "--vpdq-file", help="A vPDQ hash file ('frame,quality,hex,timestamp' lines, as "
        "Meta's vpdq tools write) to add as one video entry; repeatable."),
    source: str = typer.Option("", help="Where the media or hash came from."),
    category: str = typer.Option("", help="E.g. synthetic_sexual, ncii, csam."),
    note: str = typer.Option(""),
    added_by: str = typer.Option("", help="Who adds it."),
    external_id: str = typer.Option("", help="The id in the system it came from."),
) -> None:
    """Add entries from media files (hashed here) or from raw hashes."""
    meta = EntryMetadata(source=source, category=category, note=note, added_by=added_by,
                         external_id=external_id)
    raw: list[NewEntry] = []
    for item in hashes:
        signal, sep, value = item.partition(":")
        if not sep:
            raise typer.BadParameter(f"expected SIGNAL:VALUE, got {item!r}", param_hint="--hash")
        raw.append(NewEntry(signal.strip(), value.strip(), None, meta))
    for f in vpdq_file:
        raw.append(NewEntry("vpdq", f.read_text(), None, meta))
    files = expand(paths or [])
    if not raw and not files:
        raise typer.BadParameter("give media files, --hash or --vpdq-file")
    failures = 0
    with engine(ctx) as eng:
        added = duplicates = 0
        if raw:
            report = eng.add_hashes(bank, raw)
            added, duplicates = report.added, report.duplicates
        for f in files:
            try:
                entries = eng.add_media(bank, eng.read_file(f), name=str(f), metadata=meta)
            except MediaError as exc:  # one bad file must not stop the others
                failures += 1
                why = escape(f"{f}: [{exc.code}] {exc.message}")
                err_console.print(f"[yellow]skipped[/] {why}", highlight=False)
                continue
            added += len(entries)
            for e in entries:
                output.console.print(f"{f}: entry {e.id} {e.signal}", highlight=False)
    output.console.print(f"added {added} entries to '{bank}'"
                         + (f", {duplicates} already present" if duplicates else ""),
                         highlight=False)
    if failures:
        raise typer.Exit(3)


@app.command("import")
def import_(
    ctx: typer.Context,
    bank: str = typer.Argument(...),
    file: Path = typer.Argument(..., help="The file to read, or - for standard input."),
    fmt: str = typer.Option("threatexchange", "--format", help=_FORMAT_HELP),
    skip_invalid: bool = typer.Option(
        False, help="Add the valid lines even if others are invalid (default: add nothing)."),
) -> None:
    """Import hashes from another tool or organisation."""
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    with engine(ctx) as eng:
        report = eng.import_entries(bank, text, fmt, skip_invalid=skip_invalid)
    output.console.print(f"imported {report.added} entries into '{bank}', "
                         f"{report.duplicates} already present", highlight=False)
    for e in report.errors:
        err_console.print(f"[yellow]skipped[/] {escape(e)}", highlight=False)


@app.command("export")
def export(
    ctx: typer.Context,
    bank: str = typer.Argument(...),
    fmt: str = typer.Option("threatexchange", "--format", help=_FORMAT_HELP),
    out: Path | None = typer.Option(None, "--output", "-o", help="File to write [stdout]."),
) -> None:
    """Export a bank's entries."""
    with engine(ctx, load_index=False) as eng:
        lines = eng.export_entries(bank, fmt)
        if out is None:
            for line in lines:
                write(line)
        else:
            tmp = out.with_name(out.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                fh.writelines(lines)
            tmp.replace(out)


@app.command("disable")
def disable(ctx: typer.Context, entry_ids: list[int] = typer.Argument(...)) -> None:
    """Stop entries from matching (kept, and can be enabled again)."""
    with engine(ctx) as eng:
        for i in entry_ids:
            eng.set_entry_enabled(i, False)
    output.console.print(f"disabled {len(entry_ids)} entries", highlight=False)


@app.command("enable")
def enable(ctx: typer.Context, entry_ids: list[int] = typer.Argument(...)) -> None:
    """Let disabled entries match again."""
    with engine(ctx) as eng:
        for i in entry_ids:
            eng.set_entry_enabled(i, True)
    output.console.print(f"enabled {len(entry_ids)} entries", highlight=False)


@app.command("remove")
def remove(ctx: typer.Context, entry_ids: list[int] = typer.Argument(...)) -> None:
    """Delete entries for good."""
    with engine(ctx) as eng:
        for i in entry_ids:
            eng.delete_entry(i)
    output.console.print(f"removed {len(entry_ids)} entries", highlight=False)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", help="Confirm deleting the bank and its entries."),
) -> None:
    """Delete a bank and all its entries."""
    if not yes:
        raise typer.BadParameter("deleting a bank removes all its entries: add --yes")
    with engine(ctx) as eng:
        removed = eng.delete_bank(name)
    output.console.print(f"deleted bank '{name}' and {removed} entries", highlight=False)
