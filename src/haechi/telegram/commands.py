"""Chat commands: /haechi_status, /haechi_report, /haechi_appeal.

Who may do what: the chat's administrators (asked with getChatAdministrators, cached
briefly) see the status and may appeal for a member; anyone may report a message (a
notice with a 48-hour clock, as the law asks of platforms); an uploader may appeal the
removal of their own post.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from haechi.errors import HaechiError
from haechi.telegram.pipeline import Outcome, moderate_message, sender_key
from haechi.telegram.store import UpdateRow

if TYPE_CHECKING:
    from haechi.telegram.bot import ModerationBot

STATUS = "haechi_status"
REPORT = "haechi_report"
APPEAL = "haechi_appeal"


def build_router() -> Router:
    router = Router(name="haechi")
    router.message.register(status, Command(STATUS))
    router.message.register(report, Command(REPORT))
    router.message.register(appeal, Command(APPEAL))
    for observer in (router.message, router.edited_message, router.channel_post,
                     router.edited_channel_post):
        observer.register(media)
    return router


async def media(message: Message, runtime: ModerationBot, raw_message: dict[str, Any],
                row: UpdateRow) -> Outcome:
    await runtime.see_chat(message)
    return await moderate_message(runtime, message, raw_message, row)


async def _answer(runtime: ModerationBot, message: Message, text: str) -> None:
    await runtime.actuator.once(message.chat.id, message.message_id, "reply", "",
                                lambda: runtime.actuator.send(message.chat.id, text,
                                                              reply_to=message.message_id))


async def status(message: Message, runtime: ModerationBot) -> Outcome:
    await runtime.see_chat(message)
    if not await runtime.is_admin(message):
        await _answer(runtime, message, "Only this chat's administrators may use /haechi_status.")
        return Outcome("done", "forbidden", "not a chat administrator")
    counts = await runtime.db(runtime.store.counts, message.chat.id)
    guarded = "yes" if runtime.guards(message.chat.id) else "no"
    checked = sum(n for key, n in counts.items() if key.startswith("decision:"))
    lines = [f"Haechi guards this chat: {guarded}.",
             f"Posts checked: {checked}; removed: "
             f"{counts.get('decision:block', 0)}; held for review: "
             f"{counts.get('decision:hold', 0)}; could not be checked: "
             f"{counts.get('error', 0)}."]
    await _answer(runtime, message, "\n".join(lines))
    return Outcome("done")


async def report(message: Message, runtime: ModerationBot,
                 command: CommandObject) -> Outcome:
    target = message.reply_to_message
    if target is None:
        await _answer(runtime, message, "Reply to the message you report with /haechi_report "
                      "and, if you like, say why.")
        return Outcome("done", "usage", "no message replied to")
    item_id = await runtime.db(runtime.store.item_of_message, message.chat.id,
                               target.message_id)
    reporter = sender_key(message) or "unknown"
    admin = await runtime.is_admin(message)
    where = f"telegram chat {message.chat.id} message {target.message_id}"
    if message.chat.username:
        where += f" (https://t.me/{message.chat.username}/{target.message_id})"
    why = (command.args or "reported in the chat").strip()
    try:
        receipt = await runtime.db(
            runtime.engine.moderation.notices.submit, location=where,
            explanation=f"{'chat administrator' if admin else 'member'} {reporter}: {why}",
            good_faith=True, category="telegram_report", contact=reporter, is_victim=False,
            item_id=item_id)
    except HaechiError as exc:
        await _answer(runtime, message, html.escape(f"The report was not accepted: {exc.message}"))
        return Outcome("done", exc.code, exc.message)
    await _answer(runtime, message, f"Thank you. Report {receipt.id} was received; it will be "
                  f"decided by {receipt.due_at:%Y-%m-%d %H:%M} UTC.")
    return Outcome("done")


async def appeal(message: Message, runtime: ModerationBot,
                 command: CommandObject) -> Outcome:
    parts = (command.args or "").split(maxsplit=1)
    if len(parts) != 2 or not parts[0].isdigit():
        await _answer(runtime, message, "Use /haechi_appeal ITEM_NUMBER why the removal was "
                      "wrong (the number is in the bot's notice).")
        return Outcome("done", "usage", "no item number or statement")
    item_id, statement = int(parts[0]), parts[1]
    me = sender_key(message)
    try:
        item = await runtime.db(runtime.engine.moderation.get_item, item_id=item_id)
        owner = item.user_id
        if owner != me:
            posted_here = item.room_id == f"tg:{message.chat.id}"
            if not (posted_here and await runtime.is_admin(message)):
                await _answer(runtime, message, "Only the person who posted it, or an "
                              "administrator of the chat it was posted in, may appeal.")
                return Outcome("done", "forbidden", "neither the uploader nor an admin")
            statement = f"appeal by chat administrator {me}: {statement}"
        made = await runtime.db(runtime.engine.moderation.appeal, item_id=item_id,
                                user_id=owner, statement=statement)
    except HaechiError as exc:
        await _answer(runtime, message, html.escape(f"The appeal was not accepted: {exc.message}"))
        return Outcome("done", exc.code, exc.message)
    await _answer(runtime, message, f"Appeal {made.id} was received; a moderator will decide.")
    return Outcome("done")
