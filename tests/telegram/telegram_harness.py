"""Runs the bot against the stand-in: builders of real-format updates and a harness that
starts the server, makes bots (restarts make a new one), and polls until drained."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram_standin import TOKEN, StandIn

from haechi.engine import Engine
from haechi.telegram.bot import ModerationBot
from haechi.telegram.client import RetryMiddleware, make_bot
from haechi.telegram.settings import TelegramSettings

GROUP_A, GROUP_B = -1001000000001, -1001000000002
DATE = 1764000000


def chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": f"group {chat_id}"}


def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}


def photo_message(chat_id: int, user_id: int, message_id: int, file_id: str, unique: str,
                  *, size: int | None = 20_000, **extra: Any) -> dict[str, Any]:
    """A message with a photo in two sizes (a thumbnail and the full picture)."""
    big: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique, "width": 320,
                           "height": 240}
    if size is not None:
        big["file_size"] = size
    return {"message_id": message_id, "date": DATE, "chat": chat(chat_id),
            "from": user(user_id),
            "photo": [{"file_id": f"{file_id}-thumb", "file_unique_id": f"{unique}t",
                       "width": 90, "height": 68, "file_size": 900}, big],
            **extra}


def file_message(chat_id: int, user_id: int, message_id: int, kind: str,
                 body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"message_id": message_id, "date": DATE, "chat": chat(chat_id),
            "from": user(user_id), kind: body, **extra}


def text_message(chat_id: int, user_id: int, message_id: int, text: str,
                 **extra: Any) -> dict[str, Any]:
    entities = []
    if text.startswith("/"):
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message_id": message_id, "date": DATE, "chat": chat(chat_id),
            "from": user(user_id), "text": text, "entities": entities, **extra}


class Harness:
    def __init__(self, engine: Engine, **settings: Any) -> None:
        self.engine = engine
        self.standin = StandIn()
        self.overrides = settings
        self.waits: list[float] = []
        self.retries: list[RetryMiddleware] = []
        self._bots: list[ModerationBot] = []

    async def __aenter__(self) -> Harness:
        await self.standin.start()
        options: dict[str, Any] = {"token": TOKEN, "api_url": self.standin.url,
                                   "polling_timeout_s": 0, "backoff_base_s": 0.01}
        options.update(self.overrides)
        self.settings = TelegramSettings(**options)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for runtime in self._bots:
            await runtime.bot.session.close()
        await self.standin.stop()

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)  # recorded, not waited: the tests stay fast
        await asyncio.sleep(0)

    async def new_bot(self) -> ModerationBot:
        """A bot as after a (re)start: nothing in memory, state read from the store."""
        retry = RetryMiddleware(self.settings, sleep=self._sleep)
        self.retries.append(retry)
        runtime = ModerationBot(self.engine, self.settings, make_bot(self.settings, retry))
        self._bots.append(runtime)
        await runtime.start()
        return runtime

    async def drain(self, runtime: ModerationBot) -> None:
        """Poll until Telegram has nothing more, as the running bot would."""
        while await runtime.poll_once():
            pass
