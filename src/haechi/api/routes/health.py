"""Liveness and readiness, for load balancers and orchestrators; no key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from haechi.engine import Engine
from haechi.scale.replicas import index_lag_seconds

router = APIRouter(prefix="/v1/health", tags=["health"])


@router.get("/live")
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=None,
            responses={503: {"description": "Not ready yet; the error message says why"}})
def ready(request: Request) -> dict[str, Any] | JSONResponse:
    """The engine's status once its index is loaded (scans are answered); 503 before,
    while draining for a shutdown, and while the index lags the bank change feed by more
    than ``index_max_lag_seconds`` (code ``stale``)."""
    engine: Engine | None = request.app.state.engine
    problem: str | None = request.app.state.index_error
    if problem is None:
        if engine is None:
            problem = "the service is starting"
        elif not engine.indexes.ready:
            problem = "the index is still loading"
    if problem is not None:
        return JSONResponse({"error": {"code": "not_ready", "message": problem}},
                            status_code=503)
    assert engine is not None
    stale = _replica_problem(request, engine)
    if stale is not None:
        return JSONResponse({"error": {"code": stale[0], "message": stale[1]}},
                            status_code=503)
    return {"status": "ready", **engine.status()}


def _replica_problem(request: Request, engine: Engine) -> tuple[str, str] | None:
    """Draining before shutdown, or an index lagging the change feed, or no database."""
    if getattr(request.app.state, "draining", False):
        return "draining", "the service is shutting down"
    try:
        lag = index_lag_seconds(engine)
    except SQLAlchemyError as exc:
        return "not_ready", f"the database cannot be read: {type(exc).__name__}"
    bound = engine.settings.index_max_lag_seconds
    if lag > bound:
        return "stale", (f"the index has not applied bank changes made {lag:.1f}s ago "
                         f"(bound {bound:g}s)")
    return None
