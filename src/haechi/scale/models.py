"""Back-scan and retro-hunt tables.

A job is one pass over a listing; each listed item is recorded once per job (unique on
the job and a SHA-256 of the URI), which is what makes a killed job resumable: the
listing is deterministic and recorded URIs are skipped. The stored hashes are what a
later retro-hunt searches when new bank entries arrive, without reading media again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.models import Base, UtcDateTime, utcnow


class BackscanJob(Base):
    __tablename__ = "backscan_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(Text)
    #: running, done, interrupted or failed.
    status: Mapped[str] = mapped_column(String(16), default="running")
    #: How many times the job was started (1 + resumes).
    runs: Mapped[int] = mapped_column(Integer, default=1)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class BackscanItem(Base):
    __tablename__ = "backscan_items"
    __table_args__ = (
        UniqueConstraint("job_id", "uri_key", name="uq_backscan_item_job_uri"),
        Index("ix_backscan_items_sha256", "sha256"),
        Index("ix_backscan_items_md5", "md5"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("backscan_jobs.id", ondelete="CASCADE"),
                                        index=True)
    uri: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the URI: a fixed-size unique key whatever the URI's length.
    uri_key: Mapped[str] = mapped_column(String(64))
    #: The run of the job (1 for the first, 2 after one resume, ...) that recorded it.
    run: Mapped[int] = mapped_column(Integer, default=1)
    #: ok or error.
    status: Mapped[str] = mapped_column(String(8))
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pdq_quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vpdq: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Detection verdict scores under the policy's names (sexual, real_face, ...).
    detections: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    detection_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The moderation policy's action for the item (allow, restrict, hold, block).
    action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: The whole policy decision, kept when it is anything but a plain allow.
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    match_count: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BackscanMatch(Base):
    """A stored item that matched a bank entry, found by the back-scan or a retro-hunt."""

    __tablename__ = "backscan_matches"
    __table_args__ = (
        UniqueConstraint("item_id", "entry_id", "signal", name="uq_backscan_match"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("backscan_items.id", ondelete="CASCADE"),
                                         index=True)
    #: No foreign key: a match stays on record after its entry is deleted.
    entry_id: Mapped[int] = mapped_column(Integer, index=True)
    bank: Mapped[str] = mapped_column(String(100))
    signal: Mapped[str] = mapped_column(String(40))
    distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: vPDQ: percent of the item's frames found in the entry, and of the entry's in it.
    query_share: Mapped[float | None] = mapped_column(nullable=True)
    entry_share: Mapped[float | None] = mapped_column(nullable=True)
    #: backscan or retrohunt.
    origin: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ScaleCursor(Base):
    """A worker's position in the ``entry_changes`` feed (the retro-hunt's watermark)."""

    __tablename__ = "scale_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
