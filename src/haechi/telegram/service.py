"""``TelegramService``: the connector as the engine's other domains see it.

Built from an engine (``TelegramService(engine)``), it runs the bot and hands the raw
updates it kept to tracking, in the Bot API JSON Lines format tracking already ingests.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from haechi.telegram.bot import ModerationBot
from haechi.telegram.client import RetryMiddleware, make_bot
from haechi.telegram.settings import TelegramSettings
from haechi.telegram.store import TelegramStore

if TYPE_CHECKING:
    from haechi.engine import Engine
    from haechi.tracking.schemas import IngestReport


class TelegramService:
    def __init__(self, engine: Engine, settings: TelegramSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or TelegramSettings()
        self.store = TelegramStore(engine.db)

    def make_bot(self, retry: RetryMiddleware | None = None) -> ModerationBot:
        return ModerationBot(self.engine, self.settings, make_bot(self.settings, retry))

    async def run(self, *, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or forever): polling or webhook per the settings."""
        runtime = self.make_bot()
        try:
            if self.settings.mode == "polling":
                await runtime.run_polling(stop=stop)
            else:
                await self._run_webhook(runtime, stop)
        finally:
            await runtime.bot.session.close()

    async def _run_webhook(self, runtime: ModerationBot, stop: asyncio.Event | None) -> None:
        app = runtime.webhook_app()
        await runtime.start()
        await runtime.register_webhook()
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.webhook_host, self.settings.webhook_port)
        await site.start()
        events = asyncio.create_task(runtime.events_loop())
        try:
            await (stop or asyncio.Event()).wait()
        finally:
            events.cancel()
            await runner.cleanup()

    # -- records ---------------------------------------------------------------------

    def export_updates(self, path: Path) -> int:
        """Every raw update kept, one JSON object a line (``haechi track ingest`` reads it)."""
        rows = self.store.raw_updates()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for raw in rows:
                    handle.write(json.dumps(raw, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(rows)

    def ingest_into_tracking(self) -> IngestReport:
        """Feed the kept updates to tracking (re-running adds only what is new)."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "telegram-updates.jsonl"
            self.export_updates(path)
            return self.engine.tracking.ingest(path, fmt="bot")

    def status(self) -> dict[str, Any]:
        return {"counts": self.store.counts(), "chats": self.store.chats(),
                "recent_errors": [{"update_id": u, "code": c, "message": m}
                                  for u, c, m in self.store.errors()]}
