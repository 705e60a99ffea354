"""Tables. Every change to a bank entry appends to ``entry_changes`` so in-memory
indexes (in this process or in another replica) can catch up by sequence number."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC when read back.

    SQLite stores no offset, so without this the same row would read as naive there and
    aware on PostgreSQL, and results would differ by store.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: "block": a match blocks the upload; "allow": a match overrides every block.
    kind: Mapped[str] = mapped_column(String(16), default="block")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=31)
    pdq_min_quality: Mapped[int] = mapped_column(Integer, default=50)
    video_match_percent: Mapped[float] = mapped_column(Float, default=80.0)
    #: Region matching (cropped, framed, captioned, stickered copies): on/off, and the
    #: PDQ distance at which a region counts as the same.
    regions_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    region_threshold: Mapped[int] = mapped_column(Integer, default=28)
    #: Keypoints that must agree on one movement of the picture for a keypoint match.
    region_min_inliers: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    entries: Mapped[list[BankEntry]] = relationship(
        back_populates="bank", cascade="all, delete-orphan", passive_deletes=True
    )


class BankEntry(Base):
    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal", "lookup", name="uq_entry_bank_signal_lookup"),
        Index("ix_entry_signal_lookup", "signal", "lookup"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    signal: Mapped[str] = mapped_column(String(40))
    signal_version: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[str] = mapped_column(Text)
    #: Exact-match key: the value itself for digests and PDQ, a SHA-256 of it for vPDQ.
    lookup: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(200), default="")
    external_id: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    bank: Mapped[Bank] = relationship(back_populates="entries")


class EntryChange(Base):
    """Append-only feed of index-relevant changes: op is "add" or "remove"."""

    __tablename__ = "entry_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(Integer, index=True)
    signal: Mapped[str] = mapped_column(String(40))
    op: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The first characters of the key, stored in clear so a key can be found and named.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    #: SHA-256 of the whole key; keys are 256-bit random, so a slow hash adds nothing.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
