"""Moderation: uploads through policy and enforcement, the review queue, appeals, user
histories, the action feed, statements of reasons, public notices and webhooks.

Every route needs a key whose role grants the moderation permission it names (see
:mod:`haechi.moderation.permissions`), except ``POST /v1/mod/notices``: the public
report form, limited per client address. The reviewer recorded on a decision is the
calling key's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from haechi.api.deps import (
    EngineDep,
    ReadyEngineDep,
    UploadDep,
    multipart_body,
    require,
)
from haechi.errors import InvalidRequestError
from haechi.moderation import permissions as perm
from haechi.moderation.schemas import (
    AppealInfo,
    DecisionResult,
    DeliveryInfo,
    DeliveryReport,
    EventInfo,
    ItemInfo,
    ModerationOutcome,
    NoticeInfo,
    NoticeMetrics,
    NoticeReceipt,
    ReviewInfo,
    ReviewPage,
    StrikeInfo,
    UserInfo,
    UserNoticeInfo,
    WebhookInfo,
)
from haechi.moderation.service import ModerationService, service_for
from haechi.results import ApiKeyInfo

router = APIRouter(prefix="/v1/mod", tags=["moderation"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


def require_mod(permission: str) -> Callable[..., ApiKeyInfo]:
    """Authenticate the caller and check a moderation permission (401, then 403)."""
    return require(permission, allowed=perm.mod_allowed)


SubmitKey = Annotated[ApiKeyInfo, Depends(require_mod(perm.SUBMIT))]
EventsKey = Annotated[ApiKeyInfo, Depends(require_mod(perm.EVENTS))]
ReadKey = Annotated[ApiKeyInfo, Depends(require_mod(perm.READ))]
ReviewKey = Annotated[ApiKeyInfo, Depends(require_mod(perm.REVIEW))]
NoticesKey = Annotated[ApiKeyInfo, Depends(require_mod(perm.NOTICES))]
AdminKey = Annotated[ApiKeyInfo, Depends(require_mod(perm.ADMIN))]


def _service(engine: EngineDep) -> ModerationService:
    return service_for(engine)


ServiceDep = Annotated[ModerationService, Depends(_service)]


def _reviewer(key: ApiKeyInfo) -> str:
    return f"key:{key.name}"


# -- uploads ------------------------------------------------------------------------

def _detections(raw: str | None) -> dict[str, float]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequestError(f"detections: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidRequestError('detections: a JSON object such as {"sexual": 0.9}')
    return value


@router.post("/uploads", openapi_extra=multipart_body(
    user_id="the platform's id of the uploader", room_id="the room or channel",
    detections='detector scores as a JSON object, e.g. {"sexual": 0.9, "synthetic": 0.8}'))
def moderate_upload(key: SubmitKey, engine: ReadyEngineDep,
                    upload: UploadDep) -> ModerationOutcome:
    """Scan an upload, decide by the policy and enforce it. Publish only when
    ``item.status`` is ``published`` (``restricted``: behind an age gate or blur)."""
    fields = upload.fields
    for name in ("user_id", "room_id"):
        if not fields.get(name):
            raise InvalidRequestError(f"the form field '{name}' is required")
    return service_for(engine).moderate_upload(
        upload.data, user_id=fields["user_id"], room_id=fields["room_id"],
        name=upload.filename, detections=_detections(fields.get("detections")),
        service=key.name)


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=200)
    statement: str = Field(min_length=1, max_length=10_000)


@router.post("/items/{item_id}/appeals", status_code=201)
def appeal(_key: SubmitKey, svc: ServiceDep, item_id: Id, body: AppealIn) -> AppealInfo:
    """A user's appeal against a removal or restriction, sent by the platform."""
    return svc.appeal(item_id=item_id, user_id=body.user_id, statement=body.statement)


@router.get("/items/{item_id}")
def get_item(_key: ReadKey, svc: ServiceDep, item_id: Id) -> ItemInfo:
    return svc.get_item(item_id=item_id)


class UserHistory(BaseModel):
    user: UserInfo
    strikes: list[StrikeInfo]
    notices: list[UserNoticeInfo]
    items: list[ItemInfo]


@router.get("/users/{user_id}")
def user_history(_key: ReadKey, svc: ServiceDep,
                 user_id: Annotated[str, Path(max_length=200)]) -> UserHistory:
    """A user's standing, strikes, what they were told, and their latest items."""
    return UserHistory(user=svc.get_user(user_id=user_id), strikes=svc.strikes(user_id=user_id),
                       notices=svc.user_notices(user_id=user_id),
                       items=svc.user_items(user_id=user_id, limit=50))


@router.get("/events")
def events(_key: EventsKey, svc: ServiceDep, after: Annotated[int, Query(ge=0)] = 0,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[EventInfo]:
    """The action feed, oldest first after event ``after`` (for platforms that poll)."""
    return svc.events(after_id=after, limit=limit)


@router.get("/statements")
def statements(_key: ReadKey, svc: ServiceDep,
               since: datetime | None = None) -> list[dict[str, object]]:
    """Statements of reasons in the EU Transparency Database's fields."""
    return svc.statements(since=since)


# -- review queue -------------------------------------------------------------------

@router.get("/reviews")
def reviews(_key: ReviewKey, svc: ServiceDep,
            view: Literal["pending", "decided", "appealed", "escalated"] = "pending",
            limit: Annotated[int, Query(ge=1, le=500)] = 50,
            offset: Annotated[int, Query(ge=0)] = 0) -> ReviewPage:
    return svc.list_reviews(view=view, limit=limit, offset=offset)


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_seconds: float = Field(default=900, ge=10, le=86_400)
    #: True: only escalated items; False: only others; null: any.
    escalated: bool | None = None


@router.post("/reviews/claim", response_model=ReviewInfo,
             responses={204: {"description": "Nothing is waiting"}})
def claim_next(key: ReviewKey, svc: ServiceDep, body: ClaimIn | None = None) -> object:
    """Lease the next item: highest priority, oldest first. 204 when none is free."""
    body = body or ClaimIn()
    review = svc.claim_next(reviewer=_reviewer(key), lease_seconds=body.lease_seconds,
                            escalated=body.escalated)
    return review if review is not None else Response(status_code=204)


@router.post("/reviews/{review_id}/claim")
def claim(key: ReviewKey, svc: ServiceDep, review_id: Id) -> ReviewInfo:
    return svc.claim(review_id=review_id, reviewer=_reviewer(key))


@router.get("/reviews/{review_id}")
def get_review(_key: ReviewKey, svc: ServiceDep, review_id: Id) -> ReviewInfo:
    return svc.get_review(review_id=review_id)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirm", "decline", "escalate"]
    reason: str = Field(min_length=1, max_length=5000)


@router.post("/reviews/{review_id}/decision")
def decide(key: ReviewKey, svc: ServiceDep, review_id: Id, body: DecisionIn) -> DecisionResult:
    """Decide an item you have claimed."""
    return svc.decide(review_id=review_id, reviewer=_reviewer(key), decision=body.decision,
                      reason=body.reason)


@router.get("/appeals")
def appeals(_key: ReviewKey, svc: ServiceDep,
            state: Literal["open", "decided"] = "open") -> list[AppealInfo]:
    return svc.list_appeals(state=state)


class AppealDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["uphold", "overturn"]
    reason: str = Field(min_length=1, max_length=5000)


@router.post("/appeals/{appeal_id}/decision")
def decide_appeal(key: ReviewKey, svc: ServiceDep, appeal_id: Id,
                  body: AppealDecisionIn) -> DecisionResult:
    return svc.resolve_appeal(appeal_id=appeal_id, reviewer=_reviewer(key),
                              outcome=body.outcome, reason=body.reason)


# -- public notices -----------------------------------------------------------------

class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: str = Field(min_length=1, max_length=2000,
                          description="Where the content is: a link or a message reference")
    explanation: str = Field(min_length=1, max_length=10_000,
                             description="Why the content is abusive")
    good_faith: bool = Field(description="I state in good faith that this notice is "
                                         "accurate and complete")
    category: str = Field(default="", max_length=100)
    contact: str = Field(default="", max_length=320,
                         description="Optional: how to reach you (victims may stay anonymous)")
    is_victim: bool = False
    item_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


@router.post("/notices", status_code=201)
def submit_notice(request: Request, svc: ServiceDep, body: NoticeIn) -> NoticeReceipt:
    """Report abusive content. No key needed; limited per client address."""
    svc.notice_limiter.hit(request.client.host if request.client else "unknown")
    return svc.notices.submit(location=body.location, explanation=body.explanation,
                              good_faith=body.good_faith, category=body.category,
                              contact=body.contact, is_victim=body.is_victim,
                              item_id=body.item_id)


@router.get("/notices")
def notices(_key: NoticesKey, svc: ServiceDep, state: Literal["open", "closed"] = "open",
            limit: Annotated[int, Query(ge=1, le=500)] = 50,
            offset: Annotated[int, Query(ge=0)] = 0) -> list[NoticeInfo]:
    """Open cases: overdue first, then by deadline."""
    return svc.notices.cases(state=state, limit=limit, offset=offset)


@router.get("/notices/metrics")
def notice_metrics(_key: NoticesKey, svc: ServiceDep) -> NoticeMetrics:
    return svc.notices.metrics()


class NoticeResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["removed", "no_action"]
    reason: str = Field(min_length=1, max_length=5000)
    item_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


@router.post("/notices/{notice_id}/resolution")
def resolve_notice(key: NoticesKey, svc: ServiceDep, notice_id: Id,
                   body: NoticeResolution) -> NoticeInfo:
    return svc.notices.resolve(notice_id=notice_id, reviewer=_reviewer(key),
                               outcome=body.outcome, reason=body.reason, item_id=body.item_id)


# -- webhooks -----------------------------------------------------------------------

class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(default_factory=list, max_length=20)


class WebhookCreated(BaseModel):
    webhook: WebhookInfo
    #: The HMAC-SHA256 signing secret; shown only in this answer.
    secret: str


@router.post("/webhooks", status_code=201)
def register_webhook(_key: AdminKey, svc: ServiceDep, body: WebhookIn) -> WebhookCreated:
    hook, secret = svc.webhooks.register(url=body.url, events=body.events)
    return WebhookCreated(webhook=hook, secret=secret)


@router.get("/webhooks")
def list_webhooks(_key: AdminKey, svc: ServiceDep) -> list[WebhookInfo]:
    return svc.webhooks.endpoints()


@router.get("/webhooks/deliveries")
def deliveries(_key: AdminKey, svc: ServiceDep, webhook_id: int | None = None,
               state: Literal["pending", "delivered", "failed"] | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryInfo]:
    """The delivery log, newest first, with every attempt."""
    return svc.webhooks.deliveries(webhook_id=webhook_id, state=state, limit=limit)


@router.post("/webhooks/deliver")
def deliver(_key: AdminKey, svc: ServiceDep) -> DeliveryReport:
    """Send what is due now (a worker normally does this; see ``haechi mod deliver``)."""
    return svc.webhooks.deliver_due()
