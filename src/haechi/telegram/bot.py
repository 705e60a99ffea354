"""The moderation bot: reads updates (long polling or a webhook), moderates each one in
order, and carries reviewers' later decisions back to Telegram.

Updates are handled one at a time and the offset is stored with each update's outcome,
so a restart resumes exactly after the last finished update. aiogram's own polling loop
is not used because it confirms updates to Telegram before their handling has finished.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError
from aiogram.types import Message, Update
from aiogram.types.update import UpdateTypeLookupError
from aiohttp import web
from pydantic import ValidationError

from haechi.telegram.actions import Actuator
from haechi.telegram.client import RawGetUpdates
from haechi.telegram.commands import build_router
from haechi.telegram.fields import MESSAGE_KEYS, as_int, update_fields
from haechi.telegram.pipeline import Outcome
from haechi.telegram.settings import TelegramSettings
from haechi.telegram.store import TelegramStore, UpdateFields, UpdateRow

if TYPE_CHECKING:
    from haechi.engine import Engine

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [*MESSAGE_KEYS, "my_chat_member"]
#: An update whose handling keeps failing unexpectedly is recorded and passed over after
#: this many tries, so one poisoned update cannot stop a chat's moderation.
MAX_ATTEMPTS = 5
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
EVENTS_BATCH = 200


class ModerationBot:
    def __init__(self, engine: Engine, settings: TelegramSettings, bot: Bot,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.settings = settings
        self.bot = bot
        self.store = TelegramStore(engine.db)
        self.actuator = Actuator(bot, self.store, engine, settings)
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(build_router())
        self.clock = clock
        self.bot_id = 0
        self.offset = 0
        self._events_after = 0
        #: Held while an update's moderation item is made and linked (see pipeline).
        self.events_lock = asyncio.Lock()
        self._update_lock = asyncio.Lock()
        self._admins: dict[int, tuple[float, frozenset[int]]] = {}
        self._attempts: dict[int, int] = {}

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def start(self) -> None:
        me = await self.bot.get_me()
        self.bot_id = self.actuator.bot_id = me.id
        self.offset, self._events_after = await self.db(self.store.state, self.bot_id)
        log.info("bot @%s (%s) resumes after update %s", me.username, me.id, self.offset)

    # -- chats and administrators -----------------------------------------------------

    def guards(self, chat_id: int) -> bool:
        return not self.settings.guarded_chats or chat_id in self.settings.guarded_chats

    async def see_chat(self, message: Message) -> None:
        chat = message.chat
        if chat.type != "private":
            await self.db(self.store.see_chat, chat.id, chat.title or "", chat.type)

    async def is_admin(self, message: Message) -> bool:
        chat = message.chat
        if chat.type == "private":
            return False
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator posts as the chat itself
        if message.from_user is None:
            return False
        cached = self._admins.get(chat.id)
        if cached is None or cached[0] <= self.clock():
            try:
                members = await self.bot.get_chat_administrators(chat.id)
            except (TelegramBadRequest, TelegramForbiddenError) as exc:
                log.warning("cannot list the administrators of chat %s: %s", chat.id, exc)
                return False
            cached = (self.clock() + self.settings.admin_cache_s,
                      frozenset(m.user.id for m in members))
            self._admins[chat.id] = cached
        return message.from_user.id in cached[1]

    # -- updates ---------------------------------------------------------------------

    async def handle_raw(self, raw: Any) -> None:
        """Handle one update as Telegram sent it; redelivered ones are passed over."""
        async with self._update_lock:
            await self._handle_raw(raw)

    async def _handle_raw(self, raw: Any) -> None:
        update_id = as_int(raw.get("update_id")) if isinstance(raw, dict) else None
        if update_id is None:
            log.error("an update without an update_id was dropped: %.200r", raw)
            return
        if update_id <= self.offset:
            return
        fields = update_fields(raw)
        row = await self.db(self.store.record_update, self.bot_id, update_id, raw, fields)
        if row.status != "received":
            await self._finish(row.id, update_id, Outcome(row.status))
            return
        try:
            outcome = await self._dispatch(raw, row, fields)
        except (TelegramNetworkError, OSError):
            raise  # Telegram or the store is unreachable: try this update again later
        except Exception as exc:
            tries = self._attempts[update_id] = self._attempts.get(update_id, 0) + 1
            if tries < MAX_ATTEMPTS:
                raise
            log.exception("update %s failed %s times; recorded and passed over",
                          update_id, tries)
            outcome = Outcome("error", "internal_error", f"{type(exc).__name__}: {exc}")
        await self._finish(row.id, update_id, outcome)

    async def _dispatch(self, raw: dict[str, Any], row: UpdateRow,
                        fields: UpdateFields) -> Outcome:
        try:
            update = Update.model_validate(raw, context={"bot": self.bot})
            update.event_type  # noqa: B018 - raises for an update type aiogram lacks
        except ValidationError as exc:
            return Outcome("error", "malformed_update", _brief(exc))
        except UpdateTypeLookupError:
            return Outcome("ignored", "unknown_update_type")
        if update.my_chat_member is not None:
            # The bot was added to or removed from a chat: the guarded chats change.
            chat = update.my_chat_member.chat
            if update.my_chat_member.new_chat_member.status in ("left", "kicked"):
                await self.db(self.store.forget_chat, chat.id)
            elif chat.type != "private":
                await self.db(self.store.see_chat, chat.id, chat.title or "", chat.type)
            return Outcome("ignored", "membership")
        raw_message = next(raw[k] for k in MESSAGE_KEYS if isinstance(raw.get(k), dict))
        if fields.chat_id is None or fields.message_id is None \
                or (raw_message.get("from") is not None and fields.sender_id is None):
            return Outcome("error", "malformed_update", "an id is outside the 64-bit range")
        result = await self.dispatcher.feed_update(self.bot, update, runtime=self, row=row,
                                                   raw_message=raw_message)
        if result is UNHANDLED or not isinstance(result, Outcome):
            return Outcome("ignored", "no_handler")
        return result

    async def _finish(self, row_id: int | None, update_id: int, outcome: Outcome) -> None:
        await self.db(self.store.finish_update, self.bot_id, row_id, update_id,
                      status=outcome.status, error_code=outcome.code,
                      error_message=outcome.message, decision=outcome.decision)
        self.offset = max(self.offset, update_id)
        self._attempts.pop(update_id, None)

    # -- reviewers' later decisions ---------------------------------------------------

    async def sync_events(self) -> int:
        """Carry out every moderation event not yet seen; the number acted on."""
        acted = 0
        async with self.events_lock:
            while True:
                events = await self.db(self.engine.moderation.events,
                                       after_id=self._events_after, limit=EVENTS_BATCH)
                if not events:
                    return acted
                # The cursor is stored per batch: after a crash the batch is read again
                # and its actions, recorded one by one, are not repeated.
                for event in events:
                    if await self.actuator.carry_out(event):
                        acted += 1
                    self._events_after = event.id
                await self.db(self.store.set_events_after, self.bot_id, self._events_after)
                if len(events) < EVENTS_BATCH:
                    return acted

    async def events_loop(self) -> None:
        while True:
            try:
                await self.sync_events()
            except Exception as exc:
                log.warning("carrying out moderation events failed (%s: %s)",
                            type(exc).__name__, exc)
            await asyncio.sleep(self.settings.events_interval_s)

    # -- transports ------------------------------------------------------------------

    async def poll_once(self) -> int:
        """One getUpdates call and its updates, in order; how many arrived."""
        updates = await self.bot(RawGetUpdates(offset=self.offset + 1,
                                               timeout=self.settings.polling_timeout_s,
                                               allowed_updates=ALLOWED_UPDATES),
                                 request_timeout=self.settings.polling_timeout_s + 30)
        for raw in updates:
            await self.handle_raw(raw)
        return len(updates)

    async def run_polling(self, *, stop: asyncio.Event | None = None) -> None:
        await self.start()
        await self.bot.delete_webhook(drop_pending_updates=False)
        events = asyncio.create_task(self.events_loop())
        delay = self.settings.backoff_base_s
        try:
            while stop is None or not stop.is_set():
                try:
                    await self.poll_once()
                    delay = self.settings.backoff_base_s
                except Exception as exc:
                    # The offset did not move: the same updates come again after the wait.
                    log.warning("polling failed (%s: %s); again in %.1fs",
                                type(exc).__name__, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(self.settings.max_backoff_s, max(delay * 2, 0.1))
        finally:
            events.cancel()

    def webhook_app(self) -> web.Application:
        """An aiohttp app receiving Telegram's POSTs; the secret header is required."""
        secret = self.settings.webhook_secret
        if secret is None or len(secret.get_secret_value()) < 16:
            from haechi.telegram.errors import TelegramConfigError

            raise TelegramConfigError("webhook mode needs HAECHI_TELEGRAM_WEBHOOK_SECRET "
                                      "(16 or more characters)")
        expected = secret.get_secret_value().encode()

        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, expected):
                return web.Response(status=401, text="wrong secret token")
            try:
                raw = await request.json()
            except ValueError:
                return web.Response(status=400, text="not JSON")
            try:
                await self.handle_raw(raw)
            except Exception:
                log.exception("update failed; Telegram will deliver it again")
                return web.Response(status=500, text="try again")
            return web.Response(text="ok")

        app = web.Application(client_max_size=1 << 20)
        app.router.add_post(self.settings.webhook_path, receive)
        return app

    async def register_webhook(self) -> None:
        if not self.settings.webhook_url or self.settings.webhook_secret is None:
            from haechi.telegram.errors import TelegramConfigError

            raise TelegramConfigError("webhook mode needs HAECHI_TELEGRAM_WEBHOOK_URL and "
                                      "HAECHI_TELEGRAM_WEBHOOK_SECRET")
        await self.bot.set_webhook(self.settings.webhook_url,
                                   secret_token=self.settings.webhook_secret.get_secret_value(),
                                   allowed_updates=ALLOWED_UPDATES, max_connections=1)


def _brief(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid update"
    where = ".".join(str(p) for p in errors[0]["loc"])
    return f"{exc.error_count()} invalid field(s); first: {where}: {errors[0]['msg']}"[:500]
