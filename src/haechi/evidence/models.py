"""Evidence tables: blobs, items, cases, the custody log and its signed checkpoints.

Nothing here is ever updated in place except wrapped keys (rotation), a case's seal and
an item's deletion mark; every such change also appends a custody event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.models import Base, utcnow


class EvidenceBlob(Base):
    """One encrypted file in the vault, addressed by the SHA-256 of its plaintext."""

    __tablename__ = "evidence_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kek_id: Mapped[str] = mapped_column(String(16), index=True)
    #: nonce || AES-GCM(KEK, data key), base64.
    wrapped_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvidenceItem(Base):
    """A capture of a blob (or a working copy derived from another item)."""

    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("evidence_blobs.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    #: "original" or "derivation".
    kind: Mapped[str] = mapped_column(String(16), default="original")
    derived_from: Mapped[int | None] = mapped_column(ForeignKey("evidence_items.id"),
                                                     nullable=True, index=True)
    derivation: Mapped[str] = mapped_column(Text, default="")
    #: Identifies the capture at its source (e.g. telegram:<chat>:<message>:<field>), so a
    #: re-run import skips what it already holds.
    capture_key: Mapped[str | None] = mapped_column(String(400), unique=True, nullable=True)
    filename: Mapped[str] = mapped_column(String(400), default="")
    media_format: Mapped[str] = mapped_column(String(40), default="")
    service: Mapped[str] = mapped_column(String(100), default="", index=True)
    room: Mapped[str] = mapped_column(String(400), default="")
    message_id: Mapped[str] = mapped_column(String(100), default="")
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capturer: Mapped[str] = mapped_column(String(200), default="")
    #: The whole CaptureMetadata as JSON (URL, uploader ids, method, tool, raw record).
    capture: Mapped[str] = mapped_column(Text)
    #: The ScanResult of the item at import, as JSON.
    scan: Mapped[str] = mapped_column(Text, default="{}")
    decision: Mapped[str] = mapped_column(String(16), default="")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EvidenceCase(Base):
    __tablename__ = "evidence_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EvidenceCaseItem(Base):
    __tablename__ = "evidence_case_items"

    case_id: Mapped[int] = mapped_column(ForeignKey("evidence_cases.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), primary_key=True,
                                         index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvidenceLogEntry(Base):
    """One leaf of the custody log: ``seq`` is the leaf index, ``entry`` the exact bytes
    hashed (canonical JSON, which repeats the seq so a moved row is caught)."""

    __tablename__ = "evidence_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class EvidenceLogHead(Base):
    """A single row holding the log size: appending updates it, which serialises
    concurrent writers on PostgreSQL (row lock) as SQLite's one writer does."""

    __tablename__ = "evidence_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer, default=0)


class EvidenceCheckpoint(Base):
    __tablename__ = "evidence_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer, index=True)
    root: Mapped[str] = mapped_column(String(64))
    #: The C2SP signed note.
    note: Mapped[str] = mapped_column(Text)
    #: An RFC 3161 timestamp token over the note, base64 DER (optional).
    timestamp_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
