"""The evidence vault over HTTP: investigator and admin keys only.

Every route authenticates first (401 without a valid key) and then checks the role (403
for read_only and service keys). Reading content decrypts in memory and is logged as a
``viewed`` custody event under the caller's key before the bytes are sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from haechi.api.deps import EngineDep, UploadDep, multipart_body, require
from haechi.errors import InvalidRequestError
from haechi.evidence.access import EVIDENCE_PERMISSION, actor_of
from haechi.evidence.schemas import (
    CaptureMetadata,
    CaseInfo,
    ImportOutcome,
    ItemInfo,
    LogEntry,
    VerifyReport,
)
from haechi.evidence.service import EvidenceService
from haechi.results import ApiKeyInfo

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])

ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]


#: Investigator and admin keys only (the ``evidence`` permission in :mod:`haechi.auth`).
VaultKey = Annotated[ApiKeyInfo, Depends(require(EVIDENCE_PERMISSION))]


def get_evidence(engine: EngineDep) -> EvidenceService:
    return engine.evidence


EvidenceDep = Annotated[EvidenceService, Depends(get_evidence)]


class ItemsPage(BaseModel):
    data: list[ItemInfo]
    count: int


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    title: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=10_000)


class CaseItemsAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[int] = Field(min_length=1, max_length=10_000)


class CaseDetail(BaseModel):
    case: CaseInfo
    items: list[ItemInfo]


@router.post("/items", status_code=201, openapi_extra=multipart_body(
    capture="CaptureMetadata as JSON (service, room, message_id, url, uploader, ...)",
    case="optional case to add the item to"))
def import_item(key: VaultKey, evidence: EvidenceDep, upload: UploadDep) -> ImportOutcome:
    """Capture one file (field `file`) with its metadata (field `capture`, JSON)."""
    try:
        capture = CaptureMetadata.model_validate_json(upload.fields.get("capture") or "{}")
    except ValidationError as exc:
        raise InvalidRequestError(f"capture: {exc.errors()[0]['msg']}") from None
    if not capture.filename and upload.filename:
        capture = capture.model_copy(update={"filename": upload.filename})
    if not capture.capturer:
        capture = capture.model_copy(update={"capturer": actor_of(key)})
    outcome = evidence.import_bytes(upload.data, capture=capture, actor=actor_of(key))
    if outcome.item_id is not None and upload.fields.get("case"):
        evidence.add_to_case(upload.fields["case"], [outcome.item_id], actor=actor_of(key))
    return outcome


@router.get("/items")
def list_items(_key: VaultKey, evidence: EvidenceDep,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> ItemsPage:
    data, count = evidence.list_items(limit=limit, offset=offset)
    return ItemsPage(data=data, count=count)


@router.get("/items/{item_id}")
def get_item(_key: VaultKey, evidence: EvidenceDep, item_id: ItemId) -> ItemInfo:
    """The record (capture metadata, scan findings); no content, no custody event."""
    return evidence.get_item(item_id)


@router.get("/items/{item_id}/content", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def view_item(key: VaultKey, evidence: EvidenceDep, item_id: ItemId,
              purpose: Annotated[str, Query(max_length=500)] = "") -> Response:
    """The decrypted original. Logged as `viewed` (with the purpose) before it is sent."""
    data, info = evidence.view(item_id, actor=actor_of(key), purpose=purpose)
    return Response(content=data, media_type="application/octet-stream",
                    headers={"X-Content-SHA256": info.sha256, "Cache-Control": "no-store"})


@router.get("/items/{item_id}/history")
def item_history(_key: VaultKey, evidence: EvidenceDep, item_id: ItemId) -> list[LogEntry]:
    evidence.get_item(item_id)
    return evidence.item_history(item_id)


@router.post("/cases", status_code=201)
def create_case(key: VaultKey, evidence: EvidenceDep, body: CaseCreate) -> CaseInfo:
    return evidence.create_case(body.name, actor=actor_of(key), title=body.title,
                                description=body.description)


@router.get("/cases")
def list_cases(_key: VaultKey, evidence: EvidenceDep) -> list[CaseInfo]:
    return evidence.list_cases()


@router.get("/cases/{name}")
def get_case(_key: VaultKey, evidence: EvidenceDep, name: str) -> CaseDetail:
    case, items = evidence.get_case(name)
    return CaseDetail(case=case, items=items)


@router.post("/cases/{name}/items")
def add_to_case(key: VaultKey, evidence: EvidenceDep, name: str,
                body: CaseItemsAdd) -> CaseInfo:
    return evidence.add_to_case(name, body.item_ids, actor=actor_of(key))


@router.post("/cases/{name}/seal")
def seal_case(key: VaultKey, evidence: EvidenceDep, name: str) -> CaseInfo:
    return evidence.seal_case(name, actor=actor_of(key))


@router.post("/verify")
def verify(_key: VaultKey, evidence: EvidenceDep) -> VerifyReport:
    """Verify the live store (every item, entry and checkpoint)."""
    from haechi.evidence.verify_store import verify_store

    return verify_store(evidence)


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(_key: VaultKey, evidence: EvidenceDep) -> str:
    """A signed checkpoint of the custody log as it is now (C2SP signed note)."""
    return evidence.checkpoint().note


@router.get("/public-key", response_class=PlainTextResponse)
def public_key(_key: VaultKey, evidence: EvidenceDep) -> str:
    return evidence.public_key() + "\n"

