"""What the evidence service returns and accepts (library, CLI JSON and HTTP API alike)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from haechi.version import __version__

EventType = Literal["captured", "derived", "viewed", "exported", "transferred", "sealed",
                    "deleted", "case_created", "added_to_case", "key_rotated"]


def as_utc(value: datetime) -> datetime:
    """Naive times (SQLite returns them) are UTC; aware ones are converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CaptureMetadata(BaseModel):
    """Where and how an item was captured (Berkeley Protocol: hash at capture, who, how)."""

    service: str = Field(default="", max_length=100, examples=["telegram"])
    room: str = Field(default="", max_length=400, description="room, group or channel")
    message_id: str = Field(default="", max_length=100)
    url: str = Field(default="", max_length=2000)
    #: Identifiers of whoever posted it: id, username, display name, phone, ...
    uploader: dict[str, str] = Field(default_factory=dict)
    captured_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    capturer: str = Field(default="", max_length=200)
    method: str = Field(default="file", max_length=100, examples=["telegram-desktop-export"])
    tool_version: str = Field(default=f"haechi {__version__}", max_length=100)
    #: The platform's own record, kept verbatim (e.g. Telegram's message JSON).
    raw_record: dict[str, Any] | None = None
    #: Forward origin, if the platform says the message was forwarded.
    forward_origin: dict[str, Any] | None = None
    filename: str = Field(default="", max_length=400)
    note: str = Field(default="", max_length=10_000)
    #: Investigator's labels, e.g. "generative_ai", "sexual_deepfake".
    labels: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("captured_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class ItemInfo(BaseModel):
    id: int
    sha256: str
    size: int
    kind: Literal["original", "derivation"]
    derived_from: int | None = None
    derivation: str = ""
    media_format: str = ""
    capture: CaptureMetadata
    decision: str = ""
    #: The scan at import: matches against banks and detector findings.
    scan: dict[str, Any] = Field(default_factory=dict)
    imported_at: datetime
    deleted: bool = False
    cases: list[str] = Field(default_factory=list)


class ImportOutcome(BaseModel):
    name: str
    status: Literal["imported", "duplicate", "error"]
    item_id: int | None = None
    sha256: str | None = None
    decision: str | None = None
    error: str | None = None


class ImportReport(BaseModel):
    imported: int = 0
    duplicates: int = 0
    errors: int = 0
    #: Messages kept only inside the preserved export file (no media of their own).
    messages_without_media: int = 0
    items: list[ImportOutcome] = Field(default_factory=list)
    checkpoint_size: int = 0

    def add(self, outcome: ImportOutcome) -> None:
        self.items.append(outcome)
        if outcome.status == "imported":
            self.imported += 1
        elif outcome.status == "duplicate":
            self.duplicates += 1
        else:
            self.errors += 1


class CaseInfo(BaseModel):
    id: int
    name: str
    title: str
    description: str
    created_by: str
    created_at: datetime
    sealed: bool
    item_count: int = 0


class LogEntry(BaseModel):
    seq: int
    event: str
    leaf_hash: str
    entry: dict[str, Any]


class Finding(BaseModel):
    """One problem verification found, naming exactly what it concerns."""

    code: Literal["item_altered", "item_missing", "item_unlogged", "entry_altered",
                  "entry_missing", "entry_reordered", "entry_added", "checkpoint_invalid",
                  "checkpoint_mismatch", "proof_invalid", "manifest_invalid", "key_missing",
                  "package_invalid"]
    message: str
    item_id: int | None = None
    sha256: str | None = None
    seq: int | None = None
    path: str | None = None


class VerifyReport(BaseModel):
    ok: bool
    target: str
    items_checked: int = 0
    entries_checked: int = 0
    checkpoints_checked: int = 0
    tree_size: int = 0
    root: str = ""
    findings: list[Finding] = Field(default_factory=list)
    #: Facts that are not failures (stray files a killed import left, self-asserted keys).
    notes: list[str] = Field(default_factory=list)
