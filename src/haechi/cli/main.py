"""``haechi``: match media against banks of known abusive media."""

from __future__ import annotations

from pathlib import Path

import typer

from haechi.cli import (
    backscan_cmd,
    bank_cmd,
    demo_cmd,
    eval_cmd,
    evidence_cmd,
    index_cmd,
    key_cmd,
    moderation_cmd,
    scan_cmd,
    serve_cmd,
    telegram_cmd,
    track_cmd,
    train_cmd,
    victim_cmd,
)
from haechi.cli.context import CliState
from haechi.version import __version__

app = typer.Typer(
    help="Haechi: stop deepfake sexual abuse from spreading. Hash uploads, match them "
    "against banks of known abusive media, and block re-uploads before anyone sees them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(bank_cmd.app, name="bank")
app.add_typer(key_cmd.app, name="key")
app.add_typer(index_cmd.app, name="index")
app.add_typer(evidence_cmd.app, name="evidence")
app.add_typer(moderation_cmd.app, name="mod")
app.add_typer(track_cmd.app, name="track")
app.add_typer(victim_cmd.app, name="victim")
app.add_typer(telegram_cmd.app, name="telegram")
app.add_typer(train_cmd.app, name="train")
app.command("hash")(scan_cmd.hash_command)
app.command("scan")(scan_cmd.scan_command)
app.command("serve")(serve_cmd.serve_command)
app.command("demo")(demo_cmd.demo_command)
app.command("eval")(eval_cmd.eval_command)
app.command("backscan")(backscan_cmd.backscan_command)
app.command("backscan-report")(backscan_cmd.backscan_report_command)
app.command("retrohunt")(backscan_cmd.retrohunt_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"haechi {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None, "--data-dir", envvar="HAECHI_DATA_DIR",
        help="Folder for the SQLite database and index files [default: ./haechi-data].",
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", envvar="HAECHI_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db [default: SQLite].",
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    ctx.obj = CliState(data_dir=data_dir, database_url=database_url)


def main() -> None:
    app()
