"""Scanning uploads and hashes, and hashing without matching."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from haechi.api.deps import EngineDep, ReadyEngineDep, ScanKey, UploadDep, multipart_body
from haechi.results import HashResult, ScanResult

router = APIRouter(prefix="/v1", tags=["scan"])

_UNREADABLE: dict[int | str, dict[str, Any]] = {
    413: {"model": ScanResult, "description": "Too large: decision `error`, code `too_large`"},
    422: {"model": ScanResult,
          "description": "The media could not be read: decision `error` with the code"},
    503: {"description": "The index is still loading"},
}


class HashIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: str = Field(max_length=50, examples=["pdq"])
    value: str = Field(max_length=2_000_000)


class ScanHashesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashes: list[HashIn] = Field(min_length=1, max_length=100)
    #: The PDQ quality the hash came with, if known: banks skip hashes below their minimum.
    pdq_quality: int | None = Field(default=None, ge=0, le=100)


def _media_response(result: ScanResult | HashResult) -> ScanResult | HashResult | JSONResponse:
    """Results for unreadable media keep their body but not a 200 status."""
    if result.error is None:
        return result
    status = 413 if result.error.code == "too_large" else 422
    return JSONResponse(result.model_dump(mode="json"), status_code=status)


@router.post("/scan", response_model=ScanResult, responses=_UNREADABLE,
             openapi_extra=multipart_body())
def scan_file(key: ScanKey, engine: ReadyEngineDep,
              upload: UploadDep) -> ScanResult | HashResult | JSONResponse:
    """Scan an upload (multipart field `file`) and decide: `block` or `allow`.

    When the file cannot be read (empty, corrupt, truncated, unsupported, too many
    pixels) the answer is 422 with the full result, decision `error` and `error.code`;
    413 when it is too large. A client can therefore never take a failed scan for an
    allow by looking at the status alone.
    """
    return _media_response(engine.scan_bytes(upload.data, name=upload.filename,
                                             service=key.name))


@router.post("/scan/hashes")
def scan_hashes(key: ScanKey, engine: ReadyEngineDep, body: ScanHashesRequest) -> ScanResult:
    """Scan hashes computed elsewhere (at most one PDQ hash per request)."""
    return engine.scan_hashes([(h.signal, h.value) for h in body.hashes],
                              pdq_quality=body.pdq_quality, service=key.name)


@router.post("/hash", response_model=HashResult, responses=_UNREADABLE,
             openapi_extra=multipart_body())
def hash_file(_key: ScanKey, engine: EngineDep,
              upload: UploadDep) -> ScanResult | HashResult | JSONResponse:
    """Every hash of an upload, without matching. Unreadable media: 422 (413 too large)."""
    return _media_response(engine.hash_bytes(upload.data, name=upload.filename))
