"""Reviewer pages: log in, the queue, an item (media blurred and greyscale until
revealed, every reveal logged), one-key decisions, appeals, notices, admin; and the
public report form.

Sessions are cookies (HttpOnly, SameSite=Strict) naming a server-side session; every
form that changes something carries the session's CSRF token. Pages send a strict
Content-Security-Policy: the only script is the page's own, by nonce.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from PIL import Image, ImageFilter, ImageOps

from haechi.api.deps import EngineDep
from haechi.errors import ForbiddenError, HaechiError, NotFoundError, UnauthorizedError
from haechi.moderation import permissions as perm
from haechi.moderation.accounts import LoginFailed, SessionInfo, csrf_ok
from haechi.moderation.service import ModerationService, service_for
from haechi.web.review import heatmaps

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
COOKIE = "haechi_session"
PREVIEW_SIDE = 480


def _service(engine: EngineDep) -> ModerationService:
    return service_for(engine)


ServiceDep = Annotated[ModerationService, Depends(_service)]


NeedLogin = UnauthorizedError
PageForbidden = ForbiddenError


def _page(request: Request, name: str, session: SessionInfo | None, status: int = 200,
          **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(request, name, {
        "account": session.account if session else None,
        "csrf": session.csrf_token if session else "", "nonce": nonce, **context,
    }, status_code=status)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self'; media-src 'self'; frame-ancestors 'none'; form-action 'self'")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _session(request: Request, svc: ServiceDep) -> SessionInfo | None:
    token = request.cookies.get(COOKIE, "")
    return svc.accounts.session(token=token) if token else None


SessionDep = Annotated[SessionInfo | None, Depends(_session)]


def _require(session: SessionInfo | None, permission: str) -> SessionInfo:
    if session is None:
        raise NeedLogin("log in first")
    if not perm.mod_allowed(session.account.role, permission):
        raise PageForbidden(f"your role ({session.account.role}) may not open this page")
    return session


async def _form(request: Request, session: SessionInfo) -> dict[str, str]:
    """The posted form, after checking its CSRF token against the session's."""
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    if not csrf_ok(session, fields.get("csrf")):
        raise PageForbidden("the form's CSRF token is missing or wrong; reload the page")
    return fields


def _guard(request: Request, session: SessionInfo | None,
           permission: str) -> SessionInfo | Response:
    """The session, or the page to show instead (login redirect or 403)."""
    try:
        return _require(session, permission)
    except NeedLogin:
        return RedirectResponse("/review/login", status_code=303)
    except PageForbidden as exc:
        return _page(request, "base.html", session, status=403, error=exc.message)


# -- login --------------------------------------------------------------------------

@router.get("/review/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login.html", None)


@router.post("/review/login")
async def login(request: Request, svc: ServiceDep) -> Response:
    form = await request.form()
    try:
        token, _session_info = svc.accounts.login(username=str(form.get("username", "")),
                                                  password=str(form.get("password", "")))
    except LoginFailed as exc:
        return _page(request, "login.html", None, status=401, error=exc.message)
    response = RedirectResponse("/review/queue", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/review/logout")
async def logout(request: Request, svc: ServiceDep, session: SessionDep) -> Response:
    if session is None:
        return RedirectResponse("/review/login", status_code=303)
    await _form(request, session)
    svc.accounts.logout(token=request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/review/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- queue and items ----------------------------------------------------------------

@router.get("/review/queue", response_class=HTMLResponse)
def queue_page(request: Request, svc: ServiceDep, session: SessionDep,
               flash: str = "") -> Response:
    s = _guard(request, session, perm.REVIEW)
    if isinstance(s, Response):
        return s
    return _page(request, "queue.html", s, page=svc.list_reviews(view="pending", limit=50),
                 overdue=svc.notices.metrics().overdue, flash=flash[:200])


@router.post("/review/claim")
async def claim_next(request: Request, svc: ServiceDep, session: SessionDep) -> Response:
    s = _guard(request, session, perm.REVIEW)
    if isinstance(s, Response):
        return s
    await _form(request, s)
    review = svc.claim_next(reviewer=s.account.username)
    if review is None:
        return RedirectResponse("/review/queue?flash=Nothing+is+waiting", status_code=303)
    return RedirectResponse(f"/review/items/{review.id}", status_code=303)


@router.get("/review/items/{review_id}", response_class=HTMLResponse)
def item_page(request: Request, svc: ServiceDep, session: SessionDep,
              review_id: int) -> Response:
    s = _guard(request, session, perm.REVIEW)
    if isinstance(s, Response):
        return s
    review = svc.get_review(review_id=review_id)
    item = review.item
    try:
        data, _type = svc.held_media(item_id=item.id)
        has_media = True
    except NotFoundError:
        has_media = False
    faceswap = (heatmaps.face_swap(data, svc.engine.limits)
                if has_media and item.media_kind == "image" else None)
    return _page(request, "item.html", s, review=review, item=item, has_media=has_media,
                 faceswap=faceswap,
                 user=svc.get_user(user_id=item.user_id),
                 strikes=svc.strikes(user_id=item.user_id))


@router.post("/review/items/{review_id}/decision")
async def decide(request: Request, svc: ServiceDep, session: SessionDep,
                 review_id: int) -> Response:
    s = _guard(request, session, perm.REVIEW)
    if isinstance(s, Response):
        return s
    form = await _form(request, s)
    # A button click sends "decision"; a one-key decision fills "key_decision".
    decision = form.get("decision") or form.get("key_decision") or ""
    try:
        svc.decide(review_id=review_id, reviewer=s.account.username,
                   decision=decision,  # type: ignore[arg-type]
                   reason=form.get("reason", ""))
    except HaechiError as exc:
        return _page(request, "base.html", s, status=exc.http_status, error=exc.message)
    return RedirectResponse(f"/review/queue?flash=Review+{review_id}:+{decision}",
                            status_code=303)


@router.get("/review/media/{item_id}/blurred")
def blurred(request: Request, svc: ServiceDep, session: SessionDep, item_id: int) -> Response:
    """A small, blurred, greyscale preview made on the server: the original never
    reaches a browser that has not asked to reveal it."""
    _require(session, perm.REVIEW)
    data, _type = svc.held_media(item_id=item_id)
    with Image.open(io.BytesIO(data)) as img:
        preview = ImageOps.grayscale(img)
        preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        preview = preview.filter(ImageFilter.GaussianBlur(radius=max(8, preview.width // 20)))
        out = io.BytesIO()
        preview.save(out, format="JPEG", quality=60)
    return Response(out.getvalue(), media_type="image/jpeg",
                    headers={"Cache-Control": "no-store"})


@router.get("/review/media/{item_id}/original")
def original(request: Request, svc: ServiceDep, session: SessionDep, item_id: int) -> Response:
    """The original bytes, for accounts allowed to reveal; every request is audited."""
    s = _require(session, perm.REVIEW)
    data, content_type = svc.reveal_media(item_id=item_id, actor=s.account.username,
                                          allowed=s.account.can_reveal)
    return Response(data, media_type=content_type,
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.get("/review/media/{item_id}/heatmaps")
def face_heatmaps(request: Request, svc: ServiceDep, session: SessionDep,
                  item_id: int) -> Response:
    """The face-swap heat maps (crops of the media, so revealed and audited like it)."""
    s = _require(session, perm.REVIEW)
    data, _type = svc.reveal_media(item_id=item_id, actor=s.account.username,
                                   allowed=s.account.can_reveal)
    view = heatmaps.face_swap(data, svc.engine.limits)
    if view.detection is None or not view.detection.heatmaps:
        raise NotFoundError(view.problem or "no face to draw a heat map for")
    return Response(heatmaps.heatmap_strip(view.detection), media_type="image/png",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# -- appeals, notices, admin --------------------------------------------------------

@router.get("/review/appeals", response_class=HTMLResponse)
def appeals_page(request: Request, svc: ServiceDep, session: SessionDep,
                 flash: str = "") -> Response:
    s = _guard(request, session, perm.REVIEW)
    if isinstance(s, Response):
        return s
    return _page(request, "appeals.html", s, appeals=svc.list_appeals(), flash=flash[:200])


@router.post("/review/appeals/{appeal_id}/decision")
async def decide_appeal(request: Request, svc: ServiceDep, session: SessionDep,
                        appeal_id: int) -> Response:
    s = _guard(request, session, perm.REVIEW)
    if isinstance(s, Response):
        return s
    form = await _form(request, s)
    outcome = form.get("outcome", "")
    try:
        svc.resolve_appeal(appeal_id=appeal_id, reviewer=s.account.username,
                           outcome=outcome,  # type: ignore[arg-type]
                           reason=form.get("reason", ""))
    except HaechiError as exc:
        return _page(request, "base.html", s, status=exc.http_status, error=exc.message)
    return RedirectResponse(f"/review/appeals?flash=Appeal+{appeal_id}:+{outcome}",
                            status_code=303)


@router.get("/review/notices", response_class=HTMLResponse)
def notices_page(request: Request, svc: ServiceDep, session: SessionDep) -> Response:
    s = _guard(request, session, perm.NOTICES)
    if isinstance(s, Response):
        return s
    return _page(request, "notices.html", s, cases=svc.notices.cases(),
                 metrics=svc.notices.metrics())


@router.get("/review/admin", response_class=HTMLResponse)
def admin_page(request: Request, svc: ServiceDep, session: SessionDep) -> Response:
    s = _guard(request, session, perm.ADMIN)
    if isinstance(s, Response):
        return s
    return _page(request, "admin.html", s, accounts=svc.accounts.all(),
                 audit=svc.audit_log(limit=200))


# -- the public report form ---------------------------------------------------------

@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request) -> HTMLResponse:
    return _page(request, "report.html", None)


@router.post("/report", response_class=HTMLResponse)
async def report(request: Request, svc: ServiceDep) -> HTMLResponse:
    svc.notice_limiter.hit(request.client.host if request.client else "unknown")
    form = await request.form()
    try:
        receipt = svc.notices.submit(
            location=str(form.get("location", "")),
            explanation=str(form.get("explanation", "")),
            good_faith=form.get("good_faith") == "1", contact=str(form.get("contact", "")),
            is_victim=form.get("is_victim") == "1")
    except HaechiError as exc:
        return _page(request, "report.html", None, status=exc.http_status, error=exc.message)
    return _page(request, "report.html", None, status=201, receipt=receipt)
