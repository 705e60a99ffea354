"""One message with media: recognise, download, scan, decide, act."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram.types import Message

from haechi.errors import HaechiError, MediaError
from haechi.evidence.schemas import CaptureMetadata
from haechi.telegram.actions import SENDER_CHAT_PREFIX, USER_PREFIX
from haechi.telegram.client import download
from haechi.telegram.known import moderate_known
from haechi.telegram.media import MediaRef, find_media
from haechi.telegram.store import MessageRef, UpdateRow

if TYPE_CHECKING:
    from haechi.telegram.bot import ModerationBot

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How an update ended: what is stored with it."""

    status: str
    code: str = ""
    message: str = ""
    decision: str = ""


def sender_key(message: Message) -> str | None:
    if message.from_user is not None:
        return f"{USER_PREFIX}{message.from_user.id}"
    if message.sender_chat is not None:
        return f"{SENDER_CHAT_PREFIX}{message.sender_chat.id}"
    return None


def _sender_name(message: Message) -> str:
    if message.from_user is not None:
        return message.from_user.first_name
    return (message.sender_chat.title or "") if message.sender_chat else ""


def item_name(chat_id: int, message_id: int, file_unique_id: str) -> str:
    """The moderation item's name: how a message moderated before a crash is found. The
    file is part of it, so media swapped in by an edit is checked again."""
    return f"telegram:{chat_id}:{message_id}:{file_unique_id}"


async def moderate_message(rt: ModerationBot, message: Message, raw_message: dict[str, Any],
                           row: UpdateRow) -> Outcome:
    chat = message.chat
    if chat.type == "private":
        return Outcome("ignored", "private_chat")
    if not rt.guards(chat.id):
        return Outcome("ignored", "not_guarded")
    try:
        media = find_media(raw_message, limit=rt.settings.download_limit())
    except MediaError as exc:
        return Outcome("error", exc.code, exc.message)
    if media is None:
        return Outcome("ignored", "not_media" if raw_message.get("document") else "no_media")
    user = sender_key(message)
    if user is None:
        return Outcome("error", "no_sender", "the message names no sender")
    room = f"{USER_PREFIX}{chat.id}"
    name = item_name(chat.id, message.message_id, media.file_unique_id)
    ref = MessageRef(chat.id, message.message_id,
                     message.from_user.id if message.from_user else None,
                     _sender_name(message), media.unique_ids)
    outcome = Outcome("done")
    # The events feed waits while the item is made and linked to this message: read in
    # between, its events would find no Telegram message to act on.
    async with rt.events_lock:
        item_id = row.item_id or await rt.db(rt.store.find_item, room_id=room, name=name)
        known = False
        if item_id is not None:  # moderated before a restart
            outcome.decision = (await rt.db(rt.engine.moderation.get_item,
                                            item_id=item_id)).action
        else:
            banned = await rt.db(rt.store.banned_item, media.unique_ids)
            if banned is not None:
                item_id = await rt.db(moderate_known, rt.engine, original_item_id=banned,
                                      user_id=user, room_id=room, name=name)
                known, outcome.decision = item_id is not None, "block"
        if item_id is None:
            scanned = await _download_and_moderate(rt, media, ref, user, room, name,
                                                   raw_message)
            if isinstance(scanned, Outcome):
                return scanned
            item_id, outcome.decision, outcome.code, outcome.message = scanned
        await rt.db(rt.store.set_item, row.id, item_id, known_file=known)
    if outcome.decision == "hold" and rt.settings.hold_action == "delete":
        await rt.actuator.hide_held(ref)
    await rt.sync_events()
    return outcome


async def _download_and_moderate(rt: ModerationBot, media: MediaRef, ref: MessageRef,
                                 user: str, room: str, name: str,
                                 raw_message: dict[str, Any]
                                 ) -> tuple[int, str, str, str] | Outcome:
    """(item id, decision, scan error code and message), or the Outcome when nothing
    was scanned."""
    limit = rt.settings.download_limit()
    if media.oversize:
        await rt.actuator.report_oversize(ref, kind=media.kind, size=media.file_size)
        return Outcome("error", "too_large", f"the {media.kind} declares {media.file_size} "
                       f"bytes; the download limit is {limit}")
    try:
        data = await download(rt.bot, media.file_id, limit=limit)
    except MediaError as exc:
        if exc.code == "too_large":
            await rt.actuator.report_oversize(ref, kind=media.kind, size=media.file_size)
        return Outcome("error", exc.code, exc.message)
    try:
        result = await asyncio.to_thread(
            rt.engine.moderation.moderate_upload, data, user_id=user, room_id=room, name=name,
            service="telegram")
    except HaechiError as exc:
        return Outcome("error", exc.code, exc.message)
    if rt.settings.capture_evidence and result.decision.action in ("block", "hold"):
        await asyncio.to_thread(capture_evidence, rt, data, media, ref, raw_message, name)
    error = result.scan.error
    return (result.item.id, result.decision.action, error.code if error else "",
            error.message if error else "")



def capture_evidence(rt: ModerationBot, data: bytes, media: MediaRef, ref: MessageRef,
                     raw_message: dict[str, Any], name: str) -> None:
    """The removed or held file into the evidence vault, hashed at capture, with the
    message as Telegram sent it. Once per message and file (a replay finds it held)."""
    sender = raw_message.get("from") if isinstance(raw_message.get("from"), dict) else {}
    uploader = {k: str(sender[k]) for k in ("id", "username", "first_name", "last_name")
                if isinstance(sender, dict) and sender.get(k) is not None}
    origin = raw_message.get("forward_origin")
    capture = CaptureMetadata(
        service="telegram", room=str(ref.chat_id), message_id=str(ref.message_id),
        uploader=uploader, capturer=f"telegram bot {rt.bot_id}", method="telegram-bot-api",
        raw_record=raw_message, forward_origin=origin if isinstance(origin, dict) else None,
        filename=f"{media.kind}-{media.file_unique_id}")
    try:
        outcome = rt.engine.evidence.import_bytes(data, capture=capture, actor="telegram-bot",
                                                  capture_key=name, scan=False)
    except HaechiError as exc:
        log.error("evidence capture of %s failed: [%s] %s", name, exc.code, exc.message)
        return
    if outcome.status == "error":
        log.error("evidence capture of %s failed: %s", name, outcome.error)
