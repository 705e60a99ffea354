"""``haechi telegram``: the moderation bot for Telegram groups and channels."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from haechi.cli.context import engine, fail, write
from haechi.errors import HaechiError
from haechi.telegram.errors import TelegramConfigError
from haechi.telegram.settings import TelegramSettings

if TYPE_CHECKING:
    from haechi.telegram.service import TelegramService

app = typer.Typer(help="Guard Telegram groups and channels: scan every photo, video and "
                  "file posted, delete matches, warn and ban the senders.",
                  no_args_is_help=True)


def _settings(api_url: str | None = None, webhook: bool | None = None) -> TelegramSettings:
    overrides: dict[str, object] = {}
    if api_url is not None:
        overrides["api_url"] = api_url
    if webhook is not None:
        overrides["mode"] = "webhook" if webhook else "polling"
    return TelegramSettings(**overrides)  # type: ignore[arg-type]


def _service() -> type[TelegramService]:
    try:
        from haechi.telegram.service import TelegramService
    except ImportError as exc:
        raise fail(TelegramConfigError(
            f"the Telegram bot needs its extra: pip install 'haechi[telegram]' ({exc})")) from exc
    return TelegramService


@app.command("run")
def run(
    ctx: typer.Context,
    api_url: str | None = typer.Option(
        None, "--api-url", help="A self-hosted Bot API server (lifts the 20 MB download "
        "limit) [default: HAECHI_TELEGRAM_API_URL, else Telegram's]."),
    webhook: bool | None = typer.Option(
        None, "--webhook/--polling", help="Receive updates on a webhook (production) or "
        "by long polling [default: HAECHI_TELEGRAM_MODE, else polling]."),
) -> None:
    """Run the bot until interrupted. The token comes from HAECHI_TELEGRAM_TOKEN."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = _settings(api_url, webhook)
    service = _service()
    with engine(ctx) as eng:
        try:
            asyncio.run(_until_signalled(service(eng, settings)))
        except HaechiError as exc:
            fail(exc)


async def _until_signalled(service: TelegramService) -> None:
    """Run until SIGINT or SIGTERM; the action under way is finished before stopping."""
    task = asyncio.create_task(service.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Updates handled by outcome, guarded chats and the latest errors, as JSON."""
    with engine(ctx, load_index=False) as eng:
        write(json.dumps(_service()(eng).status(), indent=2) + "\n")


@app.command("export-updates")
def export_updates(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The JSON Lines file to write."),
) -> None:
    """Write every update the bot kept as Bot API JSON Lines ('haechi track ingest' reads
    them)."""
    with engine(ctx, load_index=False) as eng:
        count = _service()(eng).export_updates(path)
    write(f"{count} updates written to {path}\n")


@app.command("track")
def track(ctx: typer.Context) -> None:
    """Feed the kept updates to tracking (who posted and forwarded what, where)."""
    with engine(ctx) as eng:
        report = _service()(eng).ingest_into_tracking()
    write(report.model_dump_json(indent=2) + "\n")
