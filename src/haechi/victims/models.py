"""Victims' tables: cases, their hashes, what was blocked, takedown requests, advocates'
organisations and the outgoing hash-exchange feed.

Hashes reference bank entries by id, not by foreign key: the bank is the matching
engine's, and a case's record of what it registered must outlive an entry's deletion.
No table holds an image, a thumbnail or a PIN in clear.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.models import Base, UtcDateTime, utcnow


class VictimCase(Base):
    __tablename__ = "victim_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    #: argon2id of the PIN; the PIN itself is shown once and never stored.
    pin_hash: Mapped[str] = mapped_column(String(200))
    #: StopNCII's states: received, active, withdrawn, deleted.
    status: Mapped[str] = mapped_column(String(16), default="received", index=True)
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 0 is the highest; cases about minors get 0.
    priority: Mapped[int] = mapped_column(Integer, default=2)
    contact: Mapped[str] = mapped_column(String(320), default="")
    organisation: Mapped[str] = mapped_column(String(100), default="", index=True)
    #: Where the case came from: "" for this instance, else the exchange peer's name.
    origin: Mapped[str] = mapped_column(String(100), default="")
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class VictimHash(Base):
    __tablename__ = "victim_hashes"
    __table_args__ = (Index("ix_victim_hashes_entry", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("victim_cases.id", ondelete="CASCADE"),
                                         index=True)
    #: Which file of the case (0, 1, ...): a file brings one to four hashes.
    item: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(8))  # image or video
    signal: Mapped[str] = mapped_column(String(40))
    #: Emptied when the case is deleted.
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The bank entry that matches for this hash (shared when two cases hold one value).
    entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class VictimBlock(Base):
    """One upload that a case's hash stopped, or a platform's feedback about one."""

    __tablename__ = "victim_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("victim_cases.id", ondelete="CASCADE"),
                                         index=True)
    entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    service: Mapped[str] = mapped_column(String(200))
    #: StopNCII's feedback states: blocked, not_blocked, pending_review.
    outcome: Mapped[str] = mapped_column(String(16), default="blocked")
    signal: Mapped[str] = mapped_column(String(40), default="")
    distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class VictimTakedown(Base):
    """A removal request an advocate sent to a service, with its reply and deadline."""

    __tablename__ = "victim_takedowns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("victim_cases.id", ondelete="CASCADE"),
                                         index=True)
    locator: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(200))
    legal_ground: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    #: open, removed, refused, no_reply
    state: Mapped[str] = mapped_column(String(16), default="open")
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)
    last_follow_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class VictimAdvocate(Base):
    """Which organisation an advocate's API key works for."""

    __tablename__ = "victim_advocates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(Integer, unique=True)
    organisation: Mapped[str] = mapped_column(String(100))


class VictimFeedItem(Base):
    """Append-only feed of hash additions, withdrawals and deletions for other instances."""

    __tablename__ = "victim_feed"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    op: Mapped[str] = mapped_column(String(10))  # add, withdraw, delete
    case_number: Mapped[str] = mapped_column(String(20))
    signal: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class VictimPeer(Base):
    """An exchange feed this instance pulls, with its key and how far it has read."""

    __tablename__ = "victim_peers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    vkey: Mapped[str] = mapped_column(Text)
    checkpoint: Mapped[int] = mapped_column(Integer, default=0)
    pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class VictimAlert(Base):
    """New blocks to tell the victim (through her contact) or her advocate about; blocks
    that arrive before it is delivered are added to it, so one message covers them."""

    __tablename__ = "victim_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("victim_cases.id", ondelete="CASCADE"),
                                         index=True)
    blocks: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delivered_by: Mapped[str] = mapped_column(String(200), default="")


class VictimFace(Base):
    """An opt-in face reference: the 128-d embedding only, never the selfie it came from."""

    __tablename__ = "victim_faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("victim_cases.id", ondelete="CASCADE"),
                                         index=True)
    embedding: Mapped[list[float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
