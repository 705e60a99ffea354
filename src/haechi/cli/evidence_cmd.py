"""``haechi evidence``: capture into the vault, build cases, export and verify them.

Everything here needs the vault key (``HAECHI_VAULT_KEY`` or ``HAECHI_VAULT_KEY_FILE``);
whoever runs these commands holds it, which is the CLI's form of the investigator role.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from haechi.cli import output
from haechi.cli.context import engine, fail, write
from haechi.errors import HaechiError, InvalidRequestError
from haechi.evidence.keys import kek_id, new_key_text
from haechi.evidence.note import Verifier
from haechi.evidence.schemas import CaptureMetadata, ImportReport, VerifyReport
from haechi.evidence.service import EvidenceService

app = typer.Typer(help="Evidence vault: import captures, build cases, export and verify "
                  "them.", no_args_is_help=True)
case_app = typer.Typer(help="Group items into cases.", no_args_is_help=True)
keys_app = typer.Typer(help="Vault keys and the log's public key.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(keys_app, name="keys")

ACTOR = typer.Option(None, "--actor", help="Who does this, for the custody log "
                     "[default: the login name].")


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


@contextmanager
def service(ctx: typer.Context) -> Iterator[EvidenceService]:
    with engine(ctx, load_index=True) as eng:
        yield EvidenceService(eng)


def _print_import(report: ImportReport, as_json: bool) -> None:
    if as_json:
        write(report.model_dump_json(indent=2) + "\n")
        return
    for item in report.items:
        if item.status == "error":
            output.console.print(f"[yellow]error[/] {escape(item.name)}: "
                                 f"{escape(item.error or '')}", highlight=False)
    output.console.print(
        f"imported {report.imported}, already held {report.duplicates}, errors "
        f"{report.errors}, text-only messages kept in the export {report.messages_without_media}"
        f"; log checkpoint at size {report.checkpoint_size}", highlight=False)


@app.command("import-telegram")
def import_telegram_command(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., exists=True, help="The export folder (with "
                                  "result.json and its media folders)."),
    case: str | None = typer.Option(None, help="Add the imported items to this case."),
    actor: str | None = ACTOR,
    captured_at: datetime | None = typer.Option(
        None, help="When the export was made (UTC) [default: now]."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import a Telegram Desktop chat export; re-run it to resume an interrupted import."""
    from haechi.evidence.telegram import import_telegram

    with service(ctx) as ev:
        report = import_telegram(ev, folder, actor=_actor(actor), case=case,
                                 captured_at=captured_at)
    _print_import(report, as_json)
    if report.errors:
        raise typer.Exit(3)


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise InvalidRequestError(f"give uploader identifiers as key=value, got {v!r}")
        pairs[key] = value
    return pairs


@app.command("import-file")
def import_file_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or screenshots to capture."),
    service_name: str = typer.Option("", "--service", help="e.g. telegram, x, discord."),
    room: str = typer.Option("", help="Room, group or channel."),
    message_id: str = typer.Option("", help="The message's id on the service."),
    url: str = typer.Option("", help="Where it was found."),
    uploader: list[str] = typer.Option([], help="Uploader identifier as key=value "
                                       "(repeatable), e.g. id=123 username=someone."),
    captured_at: datetime | None = typer.Option(None, help="Capture time, UTC "
                                                "[default: now]."),
    method: str = typer.Option("file", help="How it was captured, e.g. screenshot."),
    tool_version: str | None = typer.Option(None, help="The capture tool and version."),
    label: list[str] = typer.Option([], help="Label, e.g. generative_ai (repeatable)."),
    note: str = typer.Option("", help="Free text for the record."),
    case: str | None = typer.Option(None, help="Add the items to this case."),
    actor: str | None = ACTOR,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Capture single files with metadata given here."""
    with service(ctx) as ev:
        try:
            base = CaptureMetadata.model_validate({
                k: v for k, v in {
                    "service": service_name, "room": room, "message_id": message_id,
                    "url": url, "uploader": _pairs(uploader), "captured_at": captured_at,
                    "capturer": _actor(actor), "method": method,
                    "tool_version": tool_version, "labels": label, "note": note,
                }.items() if v is not None})
        except ValueError as exc:
            fail(InvalidRequestError(str(exc)))
        report = ImportReport()
        for path in paths:
            report.add(ev.import_path(path, capture=base, actor=_actor(actor)))
        ids = [o.item_id for o in report.items if o.item_id is not None]
        if case and ids:
            ev.add_to_case(case, ids, actor=_actor(actor))
        report.checkpoint_size = ev.checkpoint().size
    if not as_json:
        for o in report.items:
            if o.status != "error":
                output.console.print(f"item {o.item_id}\t{o.sha256}\t{o.decision}\t"
                                     f"{escape(o.name)}", highlight=False)
    _print_import(report, as_json)
    if report.errors:
        raise typer.Exit(3)


@case_app.command("create")
def case_create(ctx: typer.Context, name: str = typer.Argument(...),
                title: str = typer.Option(""), description: str = typer.Option(""),
                actor: str | None = ACTOR) -> None:
    """Create a case."""
    with service(ctx) as ev:
        info = ev.create_case(name, actor=_actor(actor), title=title, description=description)
    output.console.print(f"case {info.name} created", highlight=False)


@case_app.command("add")
def case_add(ctx: typer.Context, name: str = typer.Argument(...),
             item_ids: list[int] = typer.Argument(..., help="Item ids."),
             actor: str | None = ACTOR) -> None:
    """Add items to a case."""
    with service(ctx) as ev:
        info = ev.add_to_case(name, item_ids, actor=_actor(actor))
    output.console.print(f"case {info.name} holds {info.item_count} item(s)", highlight=False)


@case_app.command("list")
def case_list(ctx: typer.Context) -> None:
    """List cases."""
    with service(ctx) as ev:
        cases = ev.list_cases()
    table = Table()
    for col in ("name", "items", "sealed", "created", "title"):
        table.add_column(col)
    for c in cases:
        table.add_row(c.name, str(c.item_count), "yes" if c.sealed else "no",
                      c.created_at.isoformat(timespec="seconds"), escape(c.title))
    output.console.print(table)


@case_app.command("show")
def case_show(ctx: typer.Context, name: str = typer.Argument(...),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """A case and its items (metadata and findings; no media is decrypted)."""
    with service(ctx) as ev:
        case, items = ev.get_case(name)
    if as_json:
        write(json.dumps({"case": case.model_dump(mode="json"),
                          "items": [i.model_dump(mode="json") for i in items]}, indent=2) + "\n")
        return
    output.console.print(f"case {case.name}: {escape(case.title)} ({case.item_count} items, "
                         f"{'sealed' if case.sealed else 'open'})", highlight=False)
    table = Table()
    for col in ("id", "sha256", "kind", "service", "room", "message", "decision", "file"):
        table.add_column(col, overflow="fold")
    for i in items:
        table.add_row(str(i.id), i.sha256, i.kind, i.capture.service, escape(i.capture.room),
                      i.capture.message_id, i.decision, escape(i.capture.filename))
    output.console.print(table)


@case_app.command("seal")
def case_seal(ctx: typer.Context, name: str = typer.Argument(...),
              actor: str | None = ACTOR) -> None:
    """Seal a case: nothing more is added and its items are on legal hold."""
    with service(ctx) as ev:
        ev.seal_case(name, actor=_actor(actor))
    output.console.print(f"case {name} sealed", highlight=False)


@app.command("export")
def export_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The case."),
    dest: Path = typer.Argument(..., help="A new folder for the BagIt package."),
    recipient: str = typer.Option("", help="Who the package is for (logged)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Include the PDF report."),
    actor: str | None = ACTOR,
) -> None:
    """Export a case as a BagIt package that verifies with only its public key."""
    from haechi.evidence.package import export_case

    with service(ctx) as ev:
        path = export_case(ev, name, dest, actor=_actor(actor), recipient=recipient, pdf=pdf)
        vkey = ev.public_key()
    output.console.print(f"package written to {path}\npublic key (give it to the recipient "
                         f"separately): {vkey}", highlight=False)


def _print_verify(report: VerifyReport, as_json: bool) -> None:
    if as_json:
        write(report.model_dump_json(indent=2) + "\n")
    else:
        for f in report.findings:
            output.console.print(f"[bold red]{f.code}[/] {escape(f.message)}", highlight=False)
        for n in report.notes:
            output.console.print(f"note: {escape(n)}", highlight=False)
        verdict = "[green]OK[/]" if report.ok else "[bold red]FAILED[/]"
        output.console.print(
            f"{verdict} {escape(report.target)}: {report.items_checked} items, "
            f"{report.entries_checked} log entries, {report.checkpoints_checked} checkpoints; "
            f"tree size {report.tree_size}, root {report.root}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    package: Path | None = typer.Argument(None, help="An exported package; without it, "
                                          "the live store is verified."),
    public_key: Path | None = typer.Option(None, help="File with the verifier key "
                                           "(name+id+base64) you trust."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check every item against its hash, every event against the log and every
    checkpoint against the key; name exactly what was altered, removed or reordered.
    Exit status 1 when anything fails."""
    try:
        verifier = Verifier.from_vkey(public_key.read_text()) if public_key else None
    except (OSError, HaechiError) as exc:
        fail(exc if isinstance(exc, HaechiError) else InvalidRequestError(str(exc)))
    if package is not None:
        from haechi.evidence.verify_package import verify_package

        _print_verify(verify_package(package, verifier), as_json)
        return
    from haechi.evidence.verify_store import verify_store

    with service(ctx) as ev:
        report = verify_store(ev, verifier)
    _print_verify(report, as_json)


@app.command("view")
def view_command(
    ctx: typer.Context,
    item_id: int = typer.Argument(...),
    output_path: Path | None = typer.Option(None, "--output", "-o", help="Write the "
                                            "decrypted content here (logged as viewed)."),
    purpose: str = typer.Option("", help="Why it is viewed, for the custody log."),
    actor: str | None = ACTOR,
) -> None:
    """Show an item's record; with --output, decrypt its content (a custody event)."""
    with service(ctx) as ev:
        if output_path is None:
            info = ev.get_item(item_id)
            history = ev.item_history(item_id)
        else:
            data, info = ev.view(item_id, actor=_actor(actor), purpose=purpose)
            output_path.write_bytes(data)
            history = ev.item_history(item_id)
    write(info.model_dump_json(indent=2) + "\n")
    for h in history:
        output.console.print(f"log {h.seq}\t{h.event}\t{h.entry.get('actor')}\t"
                             f"{h.entry.get('at')}", highlight=False)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random vault key (store it in a file named by HAECHI_VAULT_KEY_FILE)."""
    key = new_key_text()
    typer.echo(key)


@keys_app.command("status")
def keys_status(ctx: typer.Context) -> None:
    """The configured keys and how many items each one wraps."""
    with service(ctx) as ev:
        usage = ev.key_usage()
        ring = ev.vault.keys
    for kid in ring.ids:
        active = " (active)" if kid == ring.active_id else ""
        output.console.print(f"{kid}{active}\t{usage.pop(kid, 0)} item(s)", highlight=False)
    for kid, n in usage.items():
        output.console.print(f"{kid} (NOT CONFIGURED)\t{n} item(s)", highlight=False)


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context, actor: str | None = ACTOR) -> None:
    """Re-wrap every item's data key with the first configured key (media untouched).
    Afterwards the old key can be removed from the configuration."""
    with service(ctx) as ev:
        moved = ev.rotate_keys(actor=_actor(actor))
        active = ev.vault.keys.active_id
    output.console.print(f"re-wrapped {moved} key(s) under {active}", highlight=False)


@keys_app.command("public")
def keys_public(ctx: typer.Context) -> None:
    """Print the verifier key that checks the custody log's signatures."""
    with service(ctx) as ev:
        typer.echo(ev.public_key())


@keys_app.command("id")
def keys_id(key: str = typer.Argument(..., help="A vault key (base64 or hex).")) -> None:
    """Print the public id of a vault key."""
    from haechi.evidence.keys import parse_key

    try:
        typer.echo(kek_id(parse_key(key)))
    except HaechiError as exc:
        fail(exc)
