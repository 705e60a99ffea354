"""Tracking: ingest chat logs, read the analysis, the report and rosters, push to a bank.

Every route needs a key with tracking permissions (see
:mod:`haechi.tracking.permissions`); pushing to a bank needs ``banks:write`` as well.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from haechi.api.deps import EngineDep, UploadDep, WriteKey, multipart_body, require
from haechi.errors import InvalidRequestError
from haechi.results import ApiKeyInfo
from haechi.tracking.permissions import TRACKING_READ, TRACKING_WRITE
from haechi.tracking.schemas import Analysis, IngestReport, PushReport, RescanReport

router = APIRouter(prefix="/v1/tracking", tags=["tracking"])

TrackingReadKey = Annotated[ApiKeyInfo, Depends(require(TRACKING_READ))]
TrackingWriteKey = Annotated[ApiKeyInfo, Depends(require(TRACKING_WRITE))]
_SUFFIX = {"telegram": "result.json", "bot": "upload.jsonl", "csv": "upload.csv"}


class PushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bank: str = Field(min_length=1, max_length=100)
    create: bool = False


@router.post("/ingest", response_model=IngestReport,
             openapi_extra=multipart_body(format="telegram (result.json), bot (JSONL) or csv",
                                          service="service name for CSV rows"))
def ingest(_key: TrackingWriteKey, engine: EngineDep, upload: UploadDep) -> IngestReport:
    """Ingest one uploaded log. Media files do not travel with an upload: media are
    linked by ``file_unique_id`` only; ingest exports with media through the CLI."""
    fmt = upload.fields.get("format", "")
    if fmt not in _SUFFIX:
        raise InvalidRequestError("the form field 'format' must be telegram, bot or csv")
    service = upload.fields.get("service", "csv")[:40] or "csv"
    with tempfile.TemporaryDirectory(prefix="haechi-track-") as folder:
        path = Path(folder) / _SUFFIX[fmt]
        path.write_bytes(upload.data)
        report = engine.tracking.ingest(
            path, fmt=fmt, service=service)  # type: ignore[arg-type]
    report.path = upload.filename or _SUFFIX[fmt]
    return report


@router.post("/rescan", response_model=RescanReport)
def rescan(_key: TrackingWriteKey, engine: EngineDep) -> RescanReport:
    """Match stored media against the banks as they are now."""
    return engine.tracking.rescan_media()


@router.get("/analysis", response_model=Analysis)
def analysis(_key: TrackingReadKey, engine: EngineDep,
             key_players: Annotated[int, Query(ge=0, le=50)] = 5,
             limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> Analysis:
    """Clusters, rooms by risk, users with roles, and the network.

    ``limit`` caps each list (rooms, users, clusters, communities), highest ranked first;
    the roster CSV has every participant.
    """
    result = engine.tracking.analyse(key_players=key_players)
    return result.model_copy(update={
        "rooms": result.rooms[:limit], "users": result.users[:limit],
        "clusters": result.clusters[:limit],
        "network": result.network.model_copy(
            update={"communities": result.network.communities[:limit]}),
    })


@router.get("/report", response_class=HTMLResponse)
def report(_key: TrackingReadKey, engine: EngineDep) -> HTMLResponse:
    """The self-contained HTML report."""
    return HTMLResponse(engine.tracking.report_html(),
                        headers={"Cache-Control": "no-store"})


@router.get("/roster.csv")
def roster(_key: TrackingReadKey, engine: EngineDep, room: str | None = None,
           community: Annotated[int | None, Query(ge=0)] = None) -> StreamingResponse:
    """Participants of a room, a community, or all, with roles and reasons."""
    lines: Iterator[str] = engine.tracking.roster_csv(room=room, community=community)
    first = next(lines)  # validation errors surface before the response starts

    def body() -> Iterator[str]:
        yield first
        yield from lines

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Cache-Control": "no-store",
                                      "Content-Disposition": "attachment; filename=roster.csv"})


@router.post("/push-to-bank", response_model=PushReport)
def push_to_bank(_key: TrackingWriteKey, _bank_key: WriteKey, engine: EngineDep,
                 body: PushRequest) -> PushReport:
    """Add every hash of every flagged cluster to a bank (created with ``create``)."""
    return engine.tracking.push_to_bank(bank=body.bank, create=body.create,
                                                added_by=f"api key {_key.name}")
