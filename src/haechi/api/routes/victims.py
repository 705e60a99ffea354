"""Victims: the on-device hashing page, cases opened and read with a case number and PIN,
advocates' case lists and takedown requests, and the hash-exchange feed.

Victims have no API key: ``POST /v1/victims/cases`` is public (limited per client
address) and a case number with its PIN opens that one case. These public routes answer
any origin (CORS), so the page also works saved to disk. Advocates' routes need a key of
the ``victim_advocate`` role assigned to an organisation, and see only its cases; admins
see all. The feed and feedback routes need a ``service`` or ``admin`` key.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from haechi.api.deps import EngineDep, Forbidden, require
from haechi.errors import HaechiError
from haechi.results import ApiKeyInfo
from haechi.victims import permissions as perm
from haechi.victims.schemas import (
    AdvocateCaseView,
    AlertInfo,
    CaseReceipt,
    CaseRequest,
    CaseStatus,
    CaseView,
    Feedback,
    PinRequest,
    TakedownInfo,
    TakedownRequest,
)
from haechi.victims.service import VictimsService, service_for

router = APIRouter(tags=["victims"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Number = Annotated[str, Path(min_length=1, max_length=40)]
_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
         "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"}
_PAGE_CSP = ("default-src 'none'; img-src blob:; media-src blob:; style-src 'unsafe-inline'; "
             "script-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; "
             "frame-ancestors 'none'")


def _service(engine: EngineDep) -> VictimsService:
    return service_for(engine)


ServiceDep = Annotated[VictimsService, Depends(_service)]


def require_victims(permission: str) -> Callable[..., ApiKeyInfo]:
    """Authenticate the caller and check a victims permission (401, then 403)."""
    return require(permission, allowed=perm.victims_allowed)


AdvocateKey = Annotated[ApiKeyInfo, Depends(require_victims(perm.ADVOCATE))]
FeedKey = Annotated[ApiKeyInfo, Depends(require_victims(perm.FEED))]


def _organisation(key: ApiKeyInfo, svc: VictimsService) -> str | None:
    """None (every organisation) for admins; an advocate's own, or 403 without one."""
    if perm.victims_allowed(key.role, perm.ADMIN):
        return None
    organisation = svc.organisation_of(api_key_id=key.id)
    if organisation is None:
        raise Forbidden("this key is not assigned to an organisation (haechi victim "
                        "advocate assign KEY_ID ORGANISATION)")
    return organisation


# -- the page and the victim's own case ----------------------------------------------

@router.get("/victims", response_class=HTMLResponse, include_in_schema=False)
def hashing_page() -> HTMLResponse:
    """The page that hashes files in the browser and sends only the hashes."""
    html = resources.files("haechi.victims").joinpath("static/hash.html").read_text("utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": _PAGE_CSP,
                                       "Referrer-Policy": "no-referrer",
                                       "Cache-Control": "no-store"})


@router.options("/v1/victims/cases", include_in_schema=False)
@router.options("/v1/victims/cases/{number}/{verb}", include_in_schema=False)
def preflight() -> Response:
    return Response(status_code=204, headers=_CORS)


@router.post("/v1/victims/cases", status_code=201, response_model=CaseReceipt)
def open_case(request: Request, svc: ServiceDep, body: CaseRequest) -> Response:
    """Open a case from hashes made on the victim's device. No key needed; limited per
    client address. The PIN in the answer is never shown again."""

    def run() -> BaseModel:
        svc.submission_limiter.hit(_client(request))
        return svc.submit(request=body)

    return _public(run, status=201)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _public(run: Callable[[], BaseModel], status: int = 200) -> Response:
    """A public route's answer, errors included, readable by the page from any origin
    (a page saved to disk has the origin "null")."""
    headers = {**_CORS, "Cache-Control": "no-store"}
    try:
        result = run()
    except HaechiError as exc:
        return JSONResponse({"error": exc.as_dict()}, status_code=exc.http_status,
                            headers=headers)
    return Response(result.model_dump_json(), status_code=status,
                    media_type="application/json", headers=headers)


Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


@router.post("/v1/victims/cases/{number}/report", response_class=Response,
             responses={200: {"content": {"application/pdf": {}}}})
def case_report(request: Request, svc: ServiceDep, number: Number, month: Month,
                body: PinRequest) -> Response:
    """The case's monthly status report (PDF), opened with its PIN."""
    svc.pin_limiter.hit(_client(request))
    pdf = svc.monthly_report(month=month, number=number, pin=body.pin)
    return Response(pdf, media_type="application/pdf",
                    headers={**_CORS, "Cache-Control": "no-store"})


class FaceIn(PinRequest):
    embedding: list[float] = Field(min_length=128, max_length=128)


class FaceOut(BaseModel):
    face_id: int


@router.post("/v1/victims/cases/{number}/face", status_code=201, response_model=FaceOut)
def register_face(request: Request, svc: ServiceDep, number: Number, body: FaceIn) -> Response:
    """Opt in to the face alert with an embedding computed on the victim's device
    (``haechi victim face``); no picture is accepted here."""

    def run() -> BaseModel:
        svc.pin_limiter.hit(_client(request))
        return FaceOut(face_id=svc.register_face(number=number, pin=body.pin,
                                                 embedding=body.embedding))

    return _public(run, status=201)


@router.post("/v1/victims/cases/{number}/{verb}", response_model=CaseView)
def case_action(request: Request, svc: ServiceDep, number: Number,
                verb: Literal["view", "withdraw", "delete"], body: PinRequest) -> Response:
    """With the case's PIN: see its status and blocks, withdraw it, or delete it. A wrong
    PIN and an unknown number get the same 404; repeated misses lock the case (429)."""
    action = {"view": svc.view, "withdraw": svc.withdraw, "delete": svc.delete}[verb]

    def run() -> BaseModel:
        svc.pin_limiter.hit(_client(request))
        return action(number=number, pin=body.pin)

    return _public(run)


# -- advocates -------------------------------------------------------------------------

@router.get("/v1/victims/advocate/cases")
def list_cases(key: AdvocateKey, svc: ServiceDep, status: CaseStatus | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> list[AdvocateCaseView]:
    """The organisation's cases, minors' first, then oldest."""
    return svc.list_cases(organisation=_organisation(key, svc), status=status, limit=limit,
                          offset=offset)


@router.get("/v1/victims/advocate/cases/{number}")
def get_case(key: AdvocateKey, svc: ServiceDep, number: Number) -> AdvocateCaseView:
    return svc.get_case(number=number, organisation=_organisation(key, svc), actor=key.name)


@router.get("/v1/victims/advocate/cases/{number}/report", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def advocate_report(key: AdvocateKey, svc: ServiceDep, number: Number,
                    month: Month) -> Response:
    """The case's monthly status report (PDF) for the victim, made by her advocate."""
    pdf = svc.monthly_report(month=month, number=number, pin=None,
                             organisation=_organisation(key, svc), actor=key.name)
    return Response(pdf, media_type="application/pdf", headers={"Cache-Control": "no-store"})


@router.post("/v1/victims/advocate/cases/{number}/withdraw")
def withdraw_case(key: AdvocateKey, svc: ServiceDep, number: Number) -> CaseView:
    """Withdraw on the victim's request."""
    return svc.withdraw_for_victim(number=number, organisation=_organisation(key, svc),
                                   actor=key.name)


@router.post("/v1/victims/advocate/cases/{number}/takedowns", status_code=201)
def send_takedown(key: AdvocateKey, svc: ServiceDep, number: Number,
                  body: TakedownRequest) -> TakedownInfo:
    """Record a removal request sent to a service; due in 48 hours unless told."""
    return svc.takedowns.record(number=number, organisation=_organisation(key, svc),
                                request=body, actor=key.name)


@router.get("/v1/victims/advocate/takedowns")
def list_takedowns(key: AdvocateKey, svc: ServiceDep,
                   state: Literal["open", "removed", "refused", "no_reply"] = "open",
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[TakedownInfo]:
    """Overdue first, then soonest due."""
    return svc.takedowns.listing(organisation=_organisation(key, svc), state=state,
                                 limit=limit)


class ReplyIn(BaseModel):
    state: Literal["removed", "refused", "no_reply"]
    reply: str = Field(default="", max_length=10_000)


@router.post("/v1/victims/advocate/takedowns/{takedown_id}/reply")
def takedown_reply(key: AdvocateKey, svc: ServiceDep, takedown_id: Id,
                   body: ReplyIn) -> TakedownInfo:
    return svc.takedowns.reply(takedown_id=takedown_id, organisation=_organisation(key, svc),
                               state=body.state, reply=body.reply, actor=key.name)


class FollowUpIn(BaseModel):
    deadline_hours: float = Field(default=48.0, gt=0, le=24 * 365)


@router.post("/v1/victims/advocate/takedowns/{takedown_id}/follow-up")
def takedown_follow_up(key: AdvocateKey, svc: ServiceDep, takedown_id: Id,
                       body: FollowUpIn) -> TakedownInfo:
    return svc.takedowns.follow_up(takedown_id=takedown_id,
                                   organisation=_organisation(key, svc),
                                   deadline_hours=body.deadline_hours, actor=key.name)


@router.get("/v1/victims/advocate/alerts")
def alerts(key: AdvocateKey, svc: ServiceDep, pending: bool = True,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AlertInfo]:
    """New blocks to tell victims about (by their contact, if they left one)."""
    return svc.alerts(organisation=_organisation(key, svc), pending=pending, limit=limit)


@router.post("/v1/victims/advocate/alerts/{alert_id}/delivered")
def alert_delivered(key: AdvocateKey, svc: ServiceDep, alert_id: Id) -> AlertInfo:
    """The victim (or her advocate) was told; later blocks open a new alert."""
    return svc.alert_delivered(alert_id=alert_id, organisation=_organisation(key, svc),
                               actor=key.name)


@router.get("/v1/victims/advocate/export", response_class=PlainTextResponse)
def export(key: AdvocateKey, svc: ServiceDep,
           fmt: Annotated[Literal["stopncii", "threatexchange"],
                          Query(alias="format")] = "stopncii") -> PlainTextResponse:
    """The organisation's cases with StopNCII's case and feedback states (JSON Lines), or
    the hashes blocking now as python-threatexchange lines."""
    lines = svc.export(fmt=fmt, organisation=_organisation(key, svc))
    return PlainTextResponse("".join(lines))


# -- exchange ------------------------------------------------------------------------

@router.get("/v1/victims/feed", response_class=PlainTextResponse)
def feed(_key: FeedKey, svc: ServiceDep, after: Annotated[int, Query(ge=0)] = 0,
         limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> PlainTextResponse:
    """Additions, withdrawals and deletions after ``after``, as an Ed25519 signed note."""
    return PlainTextResponse(svc.exchange.feed(after=after, limit=limit))


@router.get("/v1/victims/feed/key", response_class=PlainTextResponse)
def feed_key(_key: FeedKey, svc: ServiceDep) -> PlainTextResponse:
    """The verifier key (``name+id+base64``) a puller trusts the feed by."""
    return PlainTextResponse(svc.exchange.vkey() + "\n")


class FeedbackIn(BaseModel):
    signal: Literal["pdq", "md5", "sha256", "vpdq"]
    value: str = Field(min_length=1, max_length=200_000)
    outcome: Feedback


class FeedbackOut(BaseModel):
    cases: int


@router.post("/v1/victims/feedback")
def feedback(key: FeedKey, svc: ServiceDep, body: FeedbackIn) -> FeedbackOut:
    """A platform's Blocked / NotBlocked / PendingReview for a hash it received; counted
    on the cases holding it, under the key's name as the service."""
    return FeedbackOut(cases=svc.feedback(signal=body.signal, value=body.value,
                                          service=key.name, outcome=body.outcome))
