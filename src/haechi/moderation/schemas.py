"""What the moderation service returns: the library, the CLI's JSON and the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from haechi.moderation.policy import PolicyDecision
from haechi.results import ScanResult

ReviewDecision = Literal["confirm", "decline", "escalate"]
AppealOutcome = Literal["uphold", "overturn"]


class UserInfo(BaseModel):
    user_id: str
    banned: bool
    banned_at: datetime | None = None
    ban_reason: str = ""
    #: Sum of the weights of strikes neither expired nor lifted.
    active_strike_weight: float = 0.0
    rooms: list[str] = Field(default_factory=list)


class StrikeInfo(BaseModel):
    id: int
    user_id: str
    item_id: int | None
    weight: float
    category: str
    reason: str
    created_at: datetime
    expires_at: datetime
    active: bool
    lifted_reason: str = ""


class UserNoticeInfo(BaseModel):
    id: int
    user_id: str
    kind: str
    message: str
    item_id: int | None
    created_at: datetime


class EventInfo(BaseModel):
    id: int
    uid: str
    type: str
    payload: dict[str, Any]
    created_at: datetime


class ItemInfo(BaseModel):
    id: int
    user_id: str
    room_id: str
    name: str
    media_kind: str
    action: str
    status: str
    category: str
    decision: PolicyDecision
    detections: dict[str, float]
    hashes: list[dict[str, Any]]
    created_at: datetime


class ModerationOutcome(BaseModel):
    """The result of :meth:`ModerationService.moderate_upload`."""

    item: ItemInfo
    decision: PolicyDecision
    scan: ScanResult
    user: UserInfo
    strike: StrikeInfo | None = None
    review_id: int | None = None
    #: Action events created (delete_item, warn_user, ban_user, ...).
    events: list[EventInfo] = Field(default_factory=list)


class ReviewInfo(BaseModel):
    id: int
    item: ItemInfo
    priority: int
    state: str
    escalated: bool
    created_at: datetime
    claimed_by: str | None
    lease_expires_at: datetime | None
    decision: str | None
    reason: str
    decided_by: str | None
    decided_at: datetime | None
    history: list[dict[str, Any]]


class ReviewPage(BaseModel):
    data: list[ReviewInfo]
    count: int


class AppealInfo(BaseModel):
    id: int
    item_id: int
    user_id: str
    statement: str
    state: str
    outcome: str | None
    outcome_reason: str
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


class DecisionResult(BaseModel):
    """What a review decision or an appeal outcome changed."""

    item: ItemInfo
    user: UserInfo
    strike: StrikeInfo | None = None
    bank_entries_added: int = 0
    events: list[EventInfo] = Field(default_factory=list)


class NoticeInfo(BaseModel):
    """A public report and its 48-hour clock."""

    id: int
    location: str
    explanation: str
    category: str
    #: Given only to staff: a victim's contact is never shown to the public.
    contact: str
    is_victim: bool
    item_id: int | None
    state: str
    outcome: str
    outcome_reason: str
    received_at: datetime
    due_at: datetime
    closed_at: datetime | None
    overdue: bool


class NoticeReceipt(BaseModel):
    """What the public reporter gets back: a reference and the deadline, nothing else."""

    id: int
    received_at: datetime
    due_at: datetime


class NoticeMetrics(BaseModel):
    open: int
    overdue: int
    closed: int
    closed_late: int


class WebhookInfo(BaseModel):
    id: int
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime


class DeliveryInfo(BaseModel):
    id: int
    event_uid: str
    event_type: str
    webhook_id: int
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    delivered_at: datetime | None
    log: list[dict[str, Any]]


class DeliveryReport(BaseModel):
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
