"""Liveness and readiness, for load balancers and orchestrators; no key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from haechi.engine import Engine

router = APIRouter(prefix="/v1/health", tags=["health"])


@router.get("/live")
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=None,
            responses={503: {"description": "Not ready yet; the error message says why"}})
def ready(request: Request) -> dict[str, Any] | JSONResponse:
    """The engine's status once its index is loaded (scans are answered); 503 before."""
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
    return {"status": "ready", **engine.status()}
