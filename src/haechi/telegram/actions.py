"""Carrying moderation events out on Telegram, each action at most once.

Every action is recorded (chat, message, action, subject) before Telegram is asked, and
marked done or failed after. Deletes and bans left pending by a crash are redone, since
Telegram does them the same way twice; messages left pending are not re-sent.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import ReplyParameters

from haechi.moderation.schemas import EventInfo
from haechi.telegram.settings import TelegramSettings
from haechi.telegram.store import MessageRef, TelegramStore

if TYPE_CHECKING:
    from haechi.engine import Engine

log = logging.getLogger(__name__)

USER_PREFIX = "tg:"
SENDER_CHAT_PREFIX = "tgchat:"
HELD_TEXT = ("{who}, your post is held for review by the moderators and is hidden until "
             "they decide.")
CLEARED_TEXT = "{who}, a moderator cleared your post (item {item}); you may post it again."
REINSTATED_TEXT = "{who}, your appeal succeeded: {reason}"
OVERSIZE_TEXT = ("Chat administrators: a {kind} of {size} was posted that is larger than "
                 "the {limit} the bot may download, so it was not checked. Please review it.")


def platform_user(user_id: str) -> tuple[str, int] | None:
    """("user" or "chat", numeric id) for a Telegram platform id, else None."""
    for prefix, kind in ((SENDER_CHAT_PREFIX, "chat"), (USER_PREFIX, "user")):
        if user_id.startswith(prefix):
            try:
                return kind, int(user_id[len(prefix):])
            except ValueError:
                return None
    return None


def mention(ref: MessageRef) -> str:
    if ref.sender_id is None or ref.sender_id < 0:
        return html.escape(ref.sender_name or "the sender")
    name = html.escape(ref.sender_name or "user")
    return f'<a href="tg://user?id={ref.sender_id}">{name}</a>'


def human_size(n: int | None) -> str:
    return "unknown size" if n is None else f"{n / 1024 / 1024:.1f} MB"


class Actuator:
    def __init__(self, bot: Bot, store: TelegramStore, engine: Engine,
                 settings: TelegramSettings) -> None:
        self.bot = bot
        self.store = store
        self.engine = engine
        self.settings = settings
        #: Set once the bot knows who it is: only its own messages are acted on.
        self.bot_id: int | None = None

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def once(self, chat_id: int, message_id: int, action: str, subject: str,
                   call: Callable[[], Awaitable[Any]]) -> bool:
        """Run ``call`` unless this action was already taken; True when it ran and
        Telegram accepted it.

        Shielded: a bot cancelled (stopped) mid-action still finishes the action and its
        record, so a message claimed for sending is not left unsent.
        """
        return await asyncio.shield(self._once(chat_id, message_id, action, subject, call))

    async def _once(self, chat_id: int, message_id: int, action: str, subject: str,
                    call: Callable[[], Awaitable[Any]]) -> bool:
        action_id = await self._db(self.store.claim_action, chat_id, message_id, action,
                                   subject)
        if action_id is None:
            return False
        ok, detail = True, ""
        try:
            await call()
        except TelegramBadRequest as exc:
            # A message someone else already deleted is as good as deleted.
            gone = action == "delete" and "not found" in exc.message.lower()
            ok, detail = gone, exc.message
        except TelegramForbiddenError as exc:
            # The user never opened a private chat with the bot, or it lost its rights.
            ok, detail = False, exc.message
        except TelegramRetryAfter:
            # Refused for now, so certainly not done: free it for the retry of the update.
            await self._db(self.store.release_action, action_id)
            raise
        await self._db(self.store.finish_action, action_id, ok=ok, detail=detail)
        if not ok:
            log.warning("%s in chat %s message %s failed: %s", action, chat_id, message_id,
                        detail)
        return ok

    async def send(self, chat_id: int, text: str, *, reply_to: int | None = None) -> None:
        params = (ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                  if reply_to else None)
        await self.bot.send_message(chat_id, text, parse_mode="HTML", reply_parameters=params)

    async def guarded_chats(self) -> list[int]:
        if self.settings.guarded_chats:
            return list(self.settings.guarded_chats)
        chats: list[int] = await self._db(self.store.chats)
        return chats

    # -- moderation events -----------------------------------------------------------

    async def carry_out(self, event: EventInfo) -> bool:
        """Act on ``event`` when it concerns this bot's messages or a Telegram user;
        False when it is none of the bot's business."""
        refs: list[MessageRef] = []
        item_id = event.payload.get("item_id")
        if isinstance(item_id, int):
            refs = await self._db(self.store.messages_of_item, item_id, self.bot_id)
        user = platform_user(str(event.payload.get("user_id", "")))
        if not refs and not (user and event.type in ("ban_user", "unban_user")):
            return False
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            await handler(event, refs)
        return True

    async def _delete(self, ref: MessageRef) -> bool:
        return await self.once(ref.chat_id, ref.message_id, "delete", "",
                               lambda: self.bot.delete_message(ref.chat_id, ref.message_id))

    async def _on_delete_item(self, event: EventInfo, refs: list[MessageRef]) -> None:
        item_id = int(event.payload["item_id"])
        for ref in refs:
            await self._delete(ref)
            if event.payload.get("rule") != "banned-user":
                # Copies of this file are removed on sight from now on.
                await self._db(self.store.ban_files, ref.file_unique_ids, item_id)

    async def _on_restrict_item(self, event: EventInfo, refs: list[MessageRef]) -> None:
        if self.settings.restrict_action == "delete":
            for ref in refs:
                await self._delete(ref)

    async def _on_warn_user(self, event: EventInfo, refs: list[MessageRef]) -> None:
        text = str(event.payload.get("message", ""))
        item = event.payload.get("item_id")
        for ref in refs:
            note = f"{mention(ref)}, {html.escape(text)} (item {item})"
            await self.once(ref.chat_id, ref.message_id, "warn", "",
                            partial(self.send, ref.chat_id, note, reply_to=ref.message_id))
            if ref.sender_id is not None and ref.sender_id > 0:
                private = f"{html.escape(text)} (item {item})"
                await self.once(ref.chat_id, ref.message_id, "warn_private", "",
                                partial(self.send, ref.sender_id, private))

    async def _on_ban_user(self, event: EventInfo, refs: list[MessageRef]) -> None:
        who = platform_user(str(event.payload.get("user_id", "")))
        if who is None:
            return
        kind, target = who
        ban = self.bot.ban_chat_member if kind == "user" else self.bot.ban_chat_sender_chat
        for chat_id in await self.guarded_chats():
            await self.once(chat_id, 0, "ban", f"{target}:{event.uid}",
                            partial(ban, chat_id, target))
        message = html.escape(str(event.payload.get("message", "")))
        if kind == "user":
            await self.once(target, 0, "ban_notice", event.uid,
                            lambda: self.send(target, message))
        if self.settings.report_chat_id is not None:
            report = f"Banned {kind} {target} from every guarded chat: {message}"
            await self.once(self.settings.report_chat_id, 0, "report", event.uid,
                            lambda: self.send(self.settings.report_chat_id or 0, report))

    async def _on_unban_user(self, event: EventInfo, refs: list[MessageRef]) -> None:
        who = platform_user(str(event.payload.get("user_id", "")))
        if who is None:
            return
        kind, target = who
        for chat_id in await self.guarded_chats():
            call: Callable[[], Awaitable[Any]] = (
                partial(self.bot.unban_chat_member, chat_id, target, only_if_banned=True)
                if kind == "user" else partial(self.bot.unban_chat_sender_chat, chat_id, target))
            await self.once(chat_id, 0, "unban", f"{target}:{event.uid}", call)

    async def _on_release_item(self, event: EventInfo, refs: list[MessageRef]) -> None:
        """Cleared by a reviewer: nothing to undo unless the post was hidden."""
        for ref in refs:
            if await self._db(self.store.action_done, ref.chat_id, ref.message_id, "delete"):
                text = CLEARED_TEXT.format(who=mention(ref), item=event.payload["item_id"])
                await self.once(ref.chat_id, ref.message_id, "cleared", "",
                                partial(self.send, ref.chat_id, text))

    async def _on_reinstate_item(self, event: EventInfo, refs: list[MessageRef]) -> None:
        item_id = int(event.payload["item_id"])
        await self._db(self.store.forget_files_of_item, item_id)
        reason = html.escape(str(event.payload.get("reason", "")))
        for ref in refs:
            text = REINSTATED_TEXT.format(who=mention(ref), reason=reason)
            await self.once(ref.chat_id, ref.message_id, "reinstated", "",
                            partial(self.send, ref.chat_id, text))

    # -- decisions with no event -----------------------------------------------------

    async def hide_held(self, ref: MessageRef) -> None:
        if await self._delete(ref):
            await self.once(ref.chat_id, ref.message_id, "held", "",
                            lambda: self.send(ref.chat_id, HELD_TEXT.format(who=mention(ref))))

    async def report_oversize(self, ref: MessageRef, *, kind: str, size: int | None) -> None:
        text = OVERSIZE_TEXT.format(kind=kind, size=human_size(size),
                                    limit=human_size(self.settings.download_limit()))
        await self.once(ref.chat_id, ref.message_id, "report", "too_large",
                        lambda: self.send(ref.chat_id, text, reply_to=ref.message_id))
        if self.settings.report_chat_id is not None:
            where = f"{text} (chat {ref.chat_id}, message {ref.message_id})"
            await self.once(self.settings.report_chat_id, 0, "report",
                            f"too_large:{ref.chat_id}:{ref.message_id}",
                            lambda: self.send(self.settings.report_chat_id or 0, where))
