"""Tracking tables: the messages, rooms, people and media seen in ingested chats.

Natural keys make re-ingest idempotent: a message is (service, chat id, message id); a
medium is its content key (``sha256:<hex>`` when the file was available, else
``fuid:<file_unique_id>``); rooms and users are (service, id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.models import Base


class TrackedRoom(Base):
    __tablename__ = "tracking_rooms"
    __table_args__ = (UniqueConstraint("service", "chat_id", name="uq_tracking_room"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(40))
    chat_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    #: channel, group, private, or what the source called it.
    kind: Mapped[str] = mapped_column(String(40), default="")


class TrackedUser(Base):
    __tablename__ = "tracking_users"
    __table_args__ = (UniqueConstraint("service", "user_key", name="uq_tracking_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(40))
    #: The source's stable id ("user123"); "name:<display name>" when only a name is known.
    user_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")


class TrackedMedia(Base):
    __tablename__ = "tracking_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_key: Mapped[str] = mapped_column(String(300), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="")
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pdq_quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vpdq: Mapped[str | None] = mapped_column(Text, nullable=True)
    file_unique_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    #: Where the file was first seen (export-relative), so a report can point at it.
    path: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: True when a bank scan blocked it; ``flag_detail`` says which entries matched.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_detail: Mapped[str] = mapped_column(Text, default="")
    #: A media error code (corrupt, too_large, missing_file) when it could not be hashed.
    error_code: Mapped[str] = mapped_column(String(60), default="")


class TrackedMessage(Base):
    __tablename__ = "tracking_messages"
    __table_args__ = (
        UniqueConstraint("service", "chat_id", "message_id", name="uq_tracking_message"),
        Index("ix_tracking_messages_user", "service", "user_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(40))
    chat_id: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[int] = mapped_column(BigInteger)
    user_key: Mapped[str] = mapped_column(String(200), default="")
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    media_id: Mapped[int | None] = mapped_column(
        ForeignKey("tracking_media.id", ondelete="SET NULL"), nullable=True, index=True)
    file_unique_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_forward: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The forward's origin as far as the source tells: a user, a chat, or only a name.
    fwd_user_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fwd_chat_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    fwd_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fwd_name: Mapped[str] = mapped_column(String(300), default="")
    reply_to: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Which reader produced the row: telegram_export, bot_api or csv.
    source: Mapped[str] = mapped_column(String(20), default="")
