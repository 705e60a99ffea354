"""``haechi key``: API keys for the HTTP API."""

from __future__ import annotations

import typer

from haechi.cli import output
from haechi.cli.context import engine

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Who or what uses the key."),
    role: str = typer.Option(
        "service", help="admin, investigator (evidence vault), service (scan) or read_only."),
) -> None:
    """Create a key. It is printed once and stored only as a hash."""
    with engine(ctx, load_index=False) as eng:
        key, info = eng.create_api_key(name, role)
    output.console.print(f"key {info.id} ({info.role}) for {info.name}:", highlight=False)
    typer.echo(key)


@app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """List keys (never their secret part)."""
    with engine(ctx, load_index=False) as eng:
        keys = eng.list_api_keys()
    for k in keys:
        state = "revoked" if k.revoked else "active"
        output.console.print(f"{k.id}\t{k.prefix}...\t{k.role}\t{state}\t{k.name}",
                             highlight=False)


@app.command("revoke")
def revoke(ctx: typer.Context, key_id: int = typer.Argument(...)) -> None:
    """Revoke a key; requests with it are refused from now on."""
    with engine(ctx, load_index=False) as eng:
        info = eng.revoke_api_key(key_id)
    output.console.print(f"revoked key {info.id} ({info.name})", highlight=False)
