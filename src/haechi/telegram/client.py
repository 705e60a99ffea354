"""The aiogram client: the API server, retries on 429 and network errors, raw updates,
and downloads that stop at the size limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError

from haechi.errors import MediaError
from haechi.telegram.errors import TelegramConfigError
from haechi.telegram.settings import TelegramSettings

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class RawGetUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates returning each update as plain JSON.

    aiogram's own GetUpdates validates the whole batch at once, so one malformed update
    would stop the bot for good; these are validated one by one instead.
    """

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class RetryMiddleware(BaseRequestMiddleware):
    """Waits as long as a 429's ``retry_after`` says; backs off exponentially on
    network and server errors; gives up after ``max_retries``."""

    def __init__(self, settings: TelegramSettings, sleep: Sleep = asyncio.sleep) -> None:
        self.settings = settings
        self.sleep = sleep
        #: Waits so far, as (method, seconds): what tests and operators look at.
        self.waits: list[tuple[str, float]] = []

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        attempt = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt >= self.settings.max_retries \
                        or exc.retry_after > self.settings.max_retry_after_s:
                    raise
                wait = float(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError) as exc:
                if attempt >= self.settings.max_retries:
                    raise
                wait = min(self.settings.max_backoff_s,
                           self.settings.backoff_base_s * 2 ** attempt)
                log.warning("%s failed (%s); retrying in %.1fs", method.__api_method__,
                            exc, wait)
            attempt += 1
            self.waits.append((method.__api_method__, wait))
            await self.sleep(wait)


def make_bot(settings: TelegramSettings, retry: RetryMiddleware | None = None) -> Bot:
    if settings.token is None or not settings.token.get_secret_value().strip():
        raise TelegramConfigError("set HAECHI_TELEGRAM_TOKEN to the bot's token")
    server = TelegramAPIServer.from_base(settings.api_url) if settings.api_url else PRODUCTION
    session = AiohttpSession(api=server)
    session.middleware(retry or RetryMiddleware(settings))
    return Bot(settings.token.get_secret_value(), session=session)


async def download(bot: Bot, file_id: str, *, limit: int, retries: int = 3,
                   sleep: Sleep = asyncio.sleep) -> bytes:
    """getFile, then the file itself, refusing anything over ``limit`` bytes even when
    the declared size was missing or wrong."""
    try:
        info = await bot.get_file(file_id)
    except TelegramBadRequest as exc:
        if "too big" in exc.message.lower():
            raise MediaError(f"Telegram refuses to hand out the file: {exc.message}",
                             code="too_large") from exc
        raise MediaError(f"getFile failed: {exc.message}", code="download_failed") from exc
    if info.file_size is not None and info.file_size > limit:
        raise MediaError(f"the file has {info.file_size} bytes; the download limit is "
                         f"{limit}", code="too_large")
    if not info.file_path:
        raise MediaError("Telegram gave no file_path", code="download_failed")
    if Path(info.file_path).is_absolute():
        # A self-hosted server in --local mode hands out paths on its own disk.
        return _read_local(Path(info.file_path), limit)
    url = bot.session.api.file_url(bot.token, info.file_path)
    for attempt in range(retries + 1):
        try:
            return await _fetch(bot, url, limit)
        except (TimeoutError, ClientError) as exc:
            status = getattr(exc, "status", None)
            if attempt >= retries or (isinstance(status, int) and 400 <= status < 500):
                raise MediaError(f"the download failed: {exc}", code="download_failed") from exc
            await sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")


def _read_local(path: Path, limit: int) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise MediaError(f"the file has {path.stat().st_size} bytes; the download limit "
                             f"is {limit}", code="too_large")
        return path.read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read the server's file: {exc}",
                         code="download_failed") from exc


async def _fetch(bot: Bot, url: str, limit: int) -> bytes:
    data = bytearray()
    async for chunk in bot.session.stream_content(url, timeout=120, chunk_size=1 << 16):
        data += chunk
        if len(data) > limit:
            raise MediaError(f"the file is larger than the download limit ({limit} bytes)",
                             code="too_large")
    return bytes(data)
