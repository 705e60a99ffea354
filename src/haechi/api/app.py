"""The FastAPI application: lifecycle, error shape, body limit and the routers.

Every error is ``{"error": {"code": ..., "message": ...}}`` with a stable code and the
HTTP status that the error itself carries (see :mod:`haechi.errors`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haechi.api.deps import FORM_OVERHEAD
from haechi.api.routes import (
    banks,
    evidence,
    health,
    keys,
    moderation,
    scan,
    tracking,
    victims,
)
from haechi.config import Settings
from haechi.engine import Engine
from haechi.errors import HaechiError
from haechi.scale.router import router as scale_routes
from haechi.version import __version__
from haechi.web.review import router as review_pages

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
               503: "not_ready"}

DESCRIPTION = """\
Match uploads against banks of known abusive media before publication.

Every endpoint except `/v1/health/*` needs an API key (`Authorization: Bearer <key>` or
`X-API-Key: <key>`); create the first one with `haechi key create NAME --role admin`.
Errors are `{"error": {"code": ..., "message": ...}}`. A scan of a file that cannot be
read answers 422 (413 when it is too large) with the full scan result, whose decision is
`error`, so that it can never be mistaken for an allow.
"""


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    """The API over ``engine``; without one, an engine built from ``settings`` (or the
    ``HAECHI_*`` environment) at startup.

    An engine built here loads its index in a background thread, so ``/v1/health/ready``
    answers 503 until it is loaded, and is closed (index saved) at shutdown. An engine
    passed in is used as it is and stays the caller's to load and close.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is not None:
            yield
            return
        owned = await run_in_threadpool(lambda: Engine(settings, load_index=False))
        app.state.engine = owned
        loader = threading.Thread(target=_load_index, args=(app, owned),
                                  name="haechi-index-load", daemon=True)
        loader.start()
        try:
            yield
        finally:
            await run_in_threadpool(loader.join)
            await run_in_threadpool(owned.close)

    app = FastAPI(title="Haechi", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.engine = engine
    app.state.index_error = None
    app.add_middleware(BodyLimitMiddleware, limit=lambda: _body_limit(app))
    app.add_exception_handler(HaechiError, _haechi_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    for module in (health, scan, banks, keys, evidence, moderation, tracking, victims):
        app.include_router(module.router)
    app.include_router(review_pages)
    app.include_router(scale_routes)
    return app


def _load_index(app: FastAPI, engine: Engine) -> None:
    try:
        # The region index first: scans open when the whole-image index is ready, and
        # must not find the region layer empty then.
        engine.regions.index.load()
        engine.indexes.load()
    except Exception as exc:
        log.exception("loading the index failed")
        app.state.index_error = f"loading the index failed: {exc}"


def _body_limit(app: FastAPI) -> int | None:
    engine: Engine | None = app.state.engine
    return None if engine is None else engine.limits.max_bytes + FORM_OVERHEAD


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


async def _haechi_error(_request: Request, exc: HaechiError) -> JSONResponse:
    status = exc.http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, exc.message, headers)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(part) for part in err.get("loc", ()))
        detail = err.get("msg", "invalid")
        ctx_error = (err.get("ctx") or {}).get("error")
        if err.get("type") == "json_invalid" and ctx_error:
            detail = f"{detail} ({ctx_error})"
        problems.append(f"{where}: {detail}" if where else str(detail))
    more = len(exc.errors()) - len(problems)
    message = "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
    return error_response(422, "invalid_request", message or "invalid request")


async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return error_response(exc.status_code, code, str(exc.detail), headers or None)


async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies over the limit: at once when Content-Length says so, else
    as soon as more bytes than that have arrived (chunked uploads)."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int | None]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit() if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, "too_large", f"the request body has {int(declared)} "
                                      f"bytes; this server accepts at most {limit}")
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)
