"""Telegram tables: raw updates, the polling offset, actions taken, banned files, chats.

``telegram_actions`` is unique per (chat, message, action, subject): an action is
recorded before Telegram is asked to do it, so a restart can tell what was already done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.models import Base

_TS = DateTime(timezone=True)


class TgState(Base):
    """One row per bot: the last update fully processed and the events-feed cursor."""

    __tablename__ = "telegram_state"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    events_after: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class TgUpdate(Base):
    """Each update as received, with the fields tracking and evidence need pulled out."""

    __tablename__ = "telegram_updates"
    __table_args__ = (
        UniqueConstraint("bot_id", "update_id", name="uq_telegram_update"),
        Index("ix_telegram_updates_message", "chat_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sender_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    media_kind: Mapped[str] = mapped_column(String(20), default="")
    file_unique_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    file_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    media_group_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    forward_origin: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: received, done, ignored (nothing to scan) or error (see error_code).
    status: Mapped[str] = mapped_column(String(12), default="received")
    error_code: Mapped[str] = mapped_column(String(60), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    #: The moderation decision (block, hold, restrict, allow) and its item.
    decision: Mapped[str] = mapped_column(String(20), default="")
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    #: True when the file was recognised by file_unique_id, without a download.
    known_file: Mapped[bool] = mapped_column(default=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(_TS)
    done_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)


class TgAction(Base):
    __tablename__ = "telegram_actions"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id", "action", "subject",
                         name="uq_telegram_action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    #: 0 for actions on a whole chat (a ban).
    message_id: Mapped[int] = mapped_column(BigInteger)
    #: delete, warn, warn_private, ban, unban, notify, report.
    action: Mapped[str] = mapped_column(String(40))
    #: What else tells two actions apart (the moderation event of a ban).
    subject: Mapped[str] = mapped_column(String(200), default="")
    #: pending (asked, outcome unknown), done, or failed.
    state: Mapped[str] = mapped_column(String(12), default="pending")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(_TS)
    done_at: Mapped[datetime | None] = mapped_column(_TS, nullable=True)


class TgBannedFile(Base):
    """A file whose copies are removed on sight, recognised without a download."""

    __tablename__ = "telegram_banned_files"

    file_unique_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The moderation item that decided it, whose hashes re-posts are checked with.
    item_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(_TS)


class TgChat(Base):
    """A chat the bot has seen; every guarded chat takes part in a ban."""

    __tablename__ = "telegram_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(40), default="")
    first_seen_at: Mapped[datetime] = mapped_column(_TS)
