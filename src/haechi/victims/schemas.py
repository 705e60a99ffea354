"""What the victims service returns and accepts. Nothing here can carry media."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

CaseStatus = Literal["received", "active", "withdrawn", "deleted"]
Feedback = Literal["blocked", "not_blocked", "pending_review"]
TakedownState = Literal["open", "removed", "refused", "no_reply"]

#: Signals a victim's device may send: StopNCII's (PDQ, MD5) plus SHA-256 and vPDQ.
VICTIM_SIGNALS = ("pdq", "md5", "sha256", "vpdq")


def _text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value.strip()


class HashIn(BaseModel):
    signal: Literal["pdq", "md5", "sha256", "vpdq"]
    value: str = Field(min_length=1, max_length=200_000)
    quality: int | None = Field(default=None, ge=0, le=100)


class ItemIn(BaseModel):
    """The hashes of one file, made on the victim's device."""

    kind: Literal["image", "video"]
    hashes: list[HashIn] = Field(min_length=1, max_length=4)


class CaseRequest(BaseModel):
    items: list[ItemIn] = Field(min_length=1, max_length=200)
    minor: bool = False
    contact: str = Field(default="", max_length=320)

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str) -> str:
        return _text(value)


class PinRequest(BaseModel):
    pin: str = Field(min_length=1, max_length=100)


class ServiceBlocks(BaseModel):
    service: str
    blocked: int
    last_at: datetime


class CaseView(BaseModel):
    """What a victim sees with her case number and PIN: counts and dates, no content."""

    case_number: str
    status: CaseStatus
    minor: bool
    priority: int
    created_at: datetime
    updated_at: datetime
    items: int
    hashes: int
    blocked: int
    last_blocked_at: datetime | None = None
    blocked_by_service: list[ServiceBlocks] = Field(default_factory=list)
    feedback: dict[str, int] = Field(default_factory=dict)


class CaseReceipt(BaseModel):
    case_number: str
    #: Shown once: only its argon2 hash is kept.
    pin: str
    case: CaseView
    #: Hashes not registered and why (e.g. a PDQ of too low quality).
    skipped: list[str] = Field(default_factory=list)


class AdvocateCaseView(CaseView):
    contact: str
    organisation: str
    origin: str
    open_takedowns: int = 0
    overdue_takedowns: int = 0


class TakedownRequest(BaseModel):
    locator: str = Field(min_length=1, max_length=4000)
    service: str = Field(min_length=1, max_length=200)
    legal_ground: str = Field(min_length=1, max_length=200)
    sent_at: datetime | None = None
    deadline_hours: float = Field(default=48.0, gt=0, le=24 * 365)

    @field_validator("locator", "service", "legal_ground")
    @classmethod
    def _clean(cls, value: str) -> str:
        return _text(value)


class TakedownInfo(BaseModel):
    id: int
    case_number: str
    locator: str
    service: str
    legal_ground: str
    sent_at: datetime
    due_at: datetime
    state: TakedownState
    overdue: bool
    reply: str
    replied_at: datetime | None
    follow_ups: int
    last_follow_up_at: datetime | None


class HashFile(BaseModel):
    """One file hashed locally by ``haechi victim hash``."""

    path: str
    kind: str | None = None
    hashes: list[HashIn] = Field(default_factory=list)
    error: str | None = None


class FeedbackReport(BaseModel):
    cases: int


class AlertInfo(BaseModel):
    """New blocks for a case: tell the contact (when she left one) or act as advocate."""

    id: int
    case_number: str
    minor: bool
    contact: str
    blocks: int
    first_at: datetime
    last_at: datetime
    delivered_at: datetime | None = None
