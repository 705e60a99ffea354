"""Database work of the bot, synchronous (the bot runs it in a worker thread).

Every function opens one transaction. The offset moves only together with the update's
final status, so an update is either finished and confirmed, or seen again after a
restart; the moderation item and every action are looked up before being redone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from haechi.moderation.models import ModItem, ModRoom
from haechi.store.db import Database
from haechi.telegram.models import TgAction, TgBannedFile, TgChat, TgState, TgUpdate

#: Actions Telegram performs the same way twice (deleting a deleted message, banning a
#: banned user): redone after a crash left them pending. Messages are never re-sent.
IDEMPOTENT = frozenset({"delete", "ban", "unban"})


#: Why an update was passed over in the ordinary course (a text message, a private
#: chat): recorded with the update, but not an error.
ROUTINE = ("no_media", "private_chat", "not_guarded", "membership", "no_handler")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class UpdateRow:
    id: int
    status: str
    item_id: int | None


@dataclass(frozen=True)
class MessageRef:
    chat_id: int
    message_id: int
    sender_id: int | None
    sender_name: str
    file_unique_ids: tuple[str, ...]


@dataclass
class UpdateFields:
    chat_id: int | None = None
    message_id: int | None = None
    sender_id: int | None = None
    media_kind: str = ""
    file_unique_id: str | None = None
    file_size: int | None = None
    media_group_id: str | None = None
    forward_origin: dict[str, Any] | None = None


class TelegramStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- offset and event cursor ------------------------------------------------------

    def state(self, bot_id: int) -> tuple[int, int]:
        """(last update id processed, last moderation event id carried out)."""
        with self.db.session() as s:
            row = s.get(TgState, bot_id)
            if row is None:
                try:
                    with s.begin_nested():
                        s.add(TgState(bot_id=bot_id, update_offset=0, events_after=0,
                                      updated_at=now()))
                except IntegrityError:
                    pass
                return 0, 0
            return row.update_offset, row.events_after

    def set_events_after(self, bot_id: int, event_id: int) -> None:
        with self.db.session() as s:
            row = s.get(TgState, bot_id, with_for_update=True)
            if row is not None and event_id > row.events_after:
                row.events_after, row.updated_at = event_id, now()

    # -- updates ---------------------------------------------------------------------

    def record_update(self, bot_id: int, update_id: int, raw: dict[str, Any],
                      fields: UpdateFields) -> UpdateRow:
        """Store the raw update once; a redelivered one returns the row kept before."""
        query = select(TgUpdate).where(TgUpdate.bot_id == bot_id,
                                       TgUpdate.update_id == update_id)
        with self.db.session() as s:
            row = s.scalar(query)
            if row is None:
                try:
                    with s.begin_nested():
                        row = TgUpdate(bot_id=bot_id, update_id=update_id, raw=raw,
                                       received_at=now(), status="received",
                                       **fields.__dict__)
                        s.add(row)
                except IntegrityError:
                    row = s.scalar(query)
            assert row is not None
            return UpdateRow(row.id, row.status, row.item_id)

    def set_item(self, row_id: int, item_id: int, *, known_file: bool) -> None:
        with self.db.session() as s:
            row = s.get(TgUpdate, row_id)
            assert row is not None
            row.item_id, row.known_file = item_id, known_file

    def finish_update(self, bot_id: int, row_id: int | None, update_id: int, *, status: str,
                      error_code: str = "", error_message: str = "",
                      decision: str = "") -> None:
        """The update's outcome and the new offset, in one transaction."""
        with self.db.session() as s:
            if row_id is not None:
                row = s.get(TgUpdate, row_id)
                assert row is not None
                row.status, row.decision, row.done_at = status, decision, now()
                row.error_code, row.error_message = error_code[:60], error_message[:5000]
            state = s.get(TgState, bot_id, with_for_update=True)
            if state is None:
                s.add(TgState(bot_id=bot_id, update_offset=update_id, events_after=0,
                              updated_at=now()))
            elif update_id > state.update_offset:
                state.update_offset, state.updated_at = update_id, now()

    def find_item(self, *, room_id: str, name: str) -> int | None:
        """The moderation item of a message moderated before a crash, if any."""
        with self.db.session() as s:
            return s.scalar(select(ModItem.id).join(ModRoom, ModRoom.id == ModItem.room_id)
                            .where(ModRoom.platform_id == room_id, ModItem.name == name)
                            .order_by(ModItem.id).limit(1))

    def messages_of_item(self, item_id: int, bot_id: int | None = None) -> list[MessageRef]:
        """The messages of a moderation item (as seen by ``bot_id`` when given)."""
        query = select(TgUpdate).where(TgUpdate.item_id == item_id).order_by(TgUpdate.id)
        if bot_id is not None:
            query = query.where(TgUpdate.bot_id == bot_id)
        with self.db.session() as s:
            rows = s.scalars(query)
            return [MessageRef(r.chat_id, r.message_id, r.sender_id, _sender_name(r.raw),
                               tuple(_unique_ids(r.raw)))
                    for r in rows if r.chat_id is not None and r.message_id is not None]

    def item_of_message(self, chat_id: int, message_id: int) -> int | None:
        with self.db.session() as s:
            return s.scalar(select(TgUpdate.item_id).where(
                TgUpdate.chat_id == chat_id, TgUpdate.message_id == message_id,
                TgUpdate.item_id.is_not(None)).limit(1))

    def raw_updates(self, bot_id: int | None = None) -> list[dict[str, Any]]:
        query = select(TgUpdate.raw).order_by(TgUpdate.bot_id, TgUpdate.update_id)
        if bot_id is not None:
            query = query.where(TgUpdate.bot_id == bot_id)
        with self.db.session() as s:
            return list(s.scalars(query))

    def counts(self, chat_id: int | None = None) -> dict[str, int]:
        """Updates by status and decision, for one chat or all."""
        with self.db.session() as s:
            query = select(TgUpdate.status, TgUpdate.decision, func.count()).group_by(
                TgUpdate.status, TgUpdate.decision)
            if chat_id is not None:
                query = query.where(TgUpdate.chat_id == chat_id)
            out: dict[str, int] = {}
            for status, decision, n in s.execute(query):
                out[status] = out.get(status, 0) + n
                if decision:
                    out[f"decision:{decision}"] = out.get(f"decision:{decision}", 0) + n
            return out

    def errors(self, limit: int = 20) -> list[tuple[int, str, str]]:
        """The latest updates that failed or were refused, newest first."""
        with self.db.session() as s:
            return [(r.update_id, r.error_code, r.error_message) for r in s.scalars(
                select(TgUpdate).where(TgUpdate.error_code != "",
                                       TgUpdate.error_code.not_in(ROUTINE))
                .order_by(TgUpdate.id.desc()).limit(limit))]

    # -- actions ---------------------------------------------------------------------

    def claim_action(self, chat_id: int, message_id: int, action: str,
                     subject: str = "") -> int | None:
        """The id of a new pending action to carry out, or None when it was done (or
        may have been done: a pending message is not sent twice)."""
        key = (TgAction.chat_id == chat_id, TgAction.message_id == message_id,
               TgAction.action == action, TgAction.subject == subject[:200])
        with self.db.session() as s:
            row = s.scalar(select(TgAction).where(*key))
            if row is not None:
                redo = row.state == "pending" and action in IDEMPOTENT
                return row.id if redo else None
            try:
                with s.begin_nested():
                    row = TgAction(chat_id=chat_id, message_id=message_id, action=action,
                                   subject=subject[:200], state="pending", detail="",
                                   created_at=now())
                    s.add(row)
            except IntegrityError:
                return None
            return row.id

    def finish_action(self, action_id: int, *, ok: bool, detail: str = "") -> None:
        with self.db.session() as s:
            row = s.get(TgAction, action_id)
            assert row is not None
            row.state, row.detail, row.done_at = ("done" if ok else "failed"), detail[:5000], now()

    def release_action(self, action_id: int) -> None:
        """Forget a pending action Telegram refused, so it is claimed again later."""
        with self.db.session() as s:
            row = s.get(TgAction, action_id)
            if row is not None and row.state == "pending":
                s.delete(row)

    def action_done(self, chat_id: int, message_id: int, action: str,
                    subject: str = "") -> bool:
        with self.db.session() as s:
            return s.scalar(select(TgAction.id).where(
                TgAction.chat_id == chat_id, TgAction.message_id == message_id,
                TgAction.action == action, TgAction.subject == subject,
                TgAction.state == "done")) is not None

    def actions(self) -> list[tuple[int, int, str, str, str]]:
        with self.db.session() as s:
            return [(r.chat_id, r.message_id, r.action, r.subject, r.state)
                    for r in s.scalars(select(TgAction).order_by(TgAction.id))]

    # -- banned files and chats ------------------------------------------------------

    def banned_item(self, unique_ids: Sequence[str]) -> int | None:
        if not unique_ids:
            return None
        with self.db.session() as s:
            return s.scalar(select(TgBannedFile.item_id).where(
                TgBannedFile.file_unique_id.in_(list(unique_ids))).limit(1))

    def ban_files(self, unique_ids: Iterable[str], item_id: int) -> None:
        with self.db.session() as s:
            for uid in dict.fromkeys(unique_ids):
                if s.get(TgBannedFile, uid) is None:
                    s.add(TgBannedFile(file_unique_id=uid, item_id=item_id, created_at=now()))

    def forget_files_of_item(self, item_id: int) -> int:
        with self.db.session() as s:
            rows = list(s.scalars(select(TgBannedFile).where(TgBannedFile.item_id == item_id)))
            for row in rows:
                s.delete(row)
            return len(rows)

    def see_chat(self, chat_id: int, title: str, kind: str) -> None:
        with self.db.session() as s:
            if s.get(TgChat, chat_id) is None:
                try:
                    with s.begin_nested():
                        s.add(TgChat(chat_id=chat_id, title=title[:300], kind=kind[:40],
                                     first_seen_at=now()))
                except IntegrityError:
                    pass

    def forget_chat(self, chat_id: int) -> None:
        with self.db.session() as s:
            row = s.get(TgChat, chat_id)
            if row is not None:
                s.delete(row)

    def chats(self) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(select(TgChat.chat_id).where(
                TgChat.kind.in_(("group", "supergroup", "channel"))).order_by(TgChat.chat_id)))


def _message(raw: dict[str, Any]) -> dict[str, Any]:
    for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
        if isinstance(raw.get(key), dict):
            found: dict[str, Any] = raw[key]
            return found
    return {}


def _sender_name(raw: dict[str, Any]) -> str:
    sender = _message(raw).get("from")
    if isinstance(sender, dict):
        return str(sender.get("first_name") or sender.get("username") or "")[:100]
    return ""


def _unique_ids(raw: dict[str, Any]) -> list[str]:
    message = _message(raw)
    found: list[str] = []
    photo = message.get("photo")
    if isinstance(photo, list):
        found += [p["file_unique_id"] for p in photo
                  if isinstance(p, dict) and isinstance(p.get("file_unique_id"), str)]
    for key in ("video", "animation", "video_note", "document", "sticker"):
        obj = message.get(key)
        if isinstance(obj, dict) and isinstance(obj.get("file_unique_id"), str):
            found.append(obj["file_unique_id"])
    return found
