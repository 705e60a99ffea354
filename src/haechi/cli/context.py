"""Shared CLI plumbing: settings from global options, engine construction, errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from haechi.config import Settings
from haechi.engine import Engine
from haechi.errors import HaechiError

err_console = Console(stderr=True)


@dataclass
class CliState:
    data_dir: Path | None = None
    database_url: str | None = None

    def settings(self) -> Settings:
        overrides: dict[str, object] = {}
        if self.data_dir is not None:
            overrides["data_dir"] = self.data_dir
        if self.database_url is not None:
            overrides["database_url"] = self.database_url
        return Settings(**overrides)  # type: ignore[arg-type]


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


@contextmanager
def engine(ctx: typer.Context, *, load_index: bool = True) -> Iterator[Engine]:
    """An engine for one command; HaechiErrors become a message and exit status 2."""
    try:
        eng = Engine(state(ctx).settings(), load_index=load_index)
    except HaechiError as exc:
        fail(exc)
    try:
        yield eng
    except HaechiError as exc:
        eng.close()
        fail(exc)
    else:
        eng.close()


def fail(exc: HaechiError) -> typer.Exit:
    err_console.print(f"[bold red]error[/] {escape(f'[{exc.code}] {exc.message}')}",
                      highlight=False)
    raise typer.Exit(2)


def write(text: str) -> None:
    sys.stdout.write(text)
