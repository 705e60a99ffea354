"""``haechi index``: look at and maintain the near-duplicate index."""

from __future__ import annotations

import json

import typer

from haechi.cli.context import engine, write

app = typer.Typer(help="The PDQ/vPDQ index: status, save, rebuild.", no_args_is_help=True)


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Print the index state: entries, frames, change-feed position, where it loaded from."""
    with engine(ctx) as eng:
        write(json.dumps(eng.status(), indent=2) + "\n")


@app.command("save")
def save(ctx: typer.Context) -> None:
    """Write the index files now, so the next start loads instead of replaying changes."""
    with engine(ctx) as eng:
        eng.indexes.save()
        eng.regions.index.save()
        write(json.dumps(eng.indexes.status()) + "\n")


@app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Rebuild the indexes (whole-image and regions) from the store and save them (after
    restoring a database backup, or if the files were damaged)."""
    with engine(ctx, load_index=False) as eng:
        eng.indexes.rebuild()
        eng.indexes.save()
        eng.regions.index.rebuild()
        eng.regions.index.save()
        write(json.dumps(eng.indexes.status()) + "\n")
