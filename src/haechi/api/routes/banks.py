"""Banks and their entries: CRUD, adding by hash or by media, import and export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from haechi.api.deps import EngineDep, ReadKey, UploadDep, WriteKey, multipart_body
from haechi.banks.service import NewEntry
from haechi.errors import InvalidRequestError
from haechi.results import BankInfo, BankKind, EntryInfo, EntryMetadata, ImportReport

router = APIRouter(prefix="/v1", tags=["banks"])

Format = Literal["threatexchange", "csv", "jsonl"]
#: Ids are 64-bit integers in the store; anything else cannot exist.
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_MEDIA_TYPES = {"threatexchange": ("text/plain", "txt"), "csv": ("text/csv", "csv"),
                "jsonl": ("application/x-ndjson", "jsonl")}
_METADATA_FIELDS = {name: f"entry metadata ({name})" for name in EntryMetadata.model_fields}


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: BankKind = "block"
    description: str = Field(default="", max_length=10_000)
    pdq_threshold: int = 31
    pdq_min_quality: int = 50
    video_match_percent: float = 80.0
    regions_enabled: bool = True
    region_threshold: int = 28
    region_min_inliers: int = 30


class BankUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=10_000)
    kind: BankKind | None = None
    enabled: bool | None = None
    pdq_threshold: int | None = None
    pdq_min_quality: int | None = None
    video_match_percent: float | None = None
    regions_enabled: bool | None = None
    region_threshold: int | None = None
    region_min_inliers: int | None = None


class BankDeleted(BaseModel):
    bank: str
    entries_removed: int


class EntryIn(EntryMetadata):
    model_config = ConfigDict(extra="forbid")

    signal: str = Field(max_length=50, examples=["pdq"])
    value: str = Field(max_length=2_000_000)
    quality: int | None = Field(default=None, ge=0, le=100)


class EntriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[EntryIn] = Field(min_length=1, max_length=1000)


class EntriesAdded(BaseModel):
    bank: str
    added: int
    #: Values the bank already held; None where not counted (media uploads).
    duplicates: int | None = None
    entries: list[EntryInfo]


class EntryPage(BaseModel):
    data: list[EntryInfo]
    #: Entries in the bank in all.
    count: int


# -- banks -------------------------------------------------------------------------------

@router.get("/banks")
def list_banks(_key: ReadKey, engine: EngineDep) -> list[BankInfo]:
    return engine.list_banks()


@router.post("/banks", status_code=201)
def create_bank(_key: WriteKey, engine: EngineDep, body: BankCreate) -> BankInfo:
    return engine.create_bank(**body.model_dump())


@router.get("/banks/{name}")
def get_bank(_key: ReadKey, engine: EngineDep, name: str) -> BankInfo:
    return engine.get_bank(name)


@router.patch("/banks/{name}")
def update_bank(_key: WriteKey, engine: EngineDep, name: str, body: BankUpdate) -> BankInfo:
    return engine.update_bank(name, **body.model_dump(exclude_none=True))


@router.delete("/banks/{name}")
def delete_bank(_key: WriteKey, engine: EngineDep, name: str) -> BankDeleted:
    """Delete a bank and every entry in it."""
    return BankDeleted(bank=name, entries_removed=engine.delete_bank(name))


# -- entries of a bank ---------------------------------------------------------------------

@router.get("/banks/{name}/entries")
def list_entries(_key: ReadKey, engine: EngineDep, name: str,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                 offset: Annotated[int, Query(ge=0, le=2**62)] = 0) -> EntryPage:
    data, count = engine.list_entries(name, limit=limit, offset=offset)
    return EntryPage(data=data, count=count)


@router.post("/banks/{name}/entries", status_code=201)
def add_entries(_key: WriteKey, engine: EngineDep, name: str, body: EntriesIn) -> EntriesAdded:
    """Add hashes (up to 1000; use `/import` for more). Every value is checked before
    any is added, so one bad value adds nothing."""
    engine.get_bank(name)
    report = engine.add_hashes(name, [
        NewEntry(item.signal, item.value, item.quality,
                 EntryMetadata(**item.model_dump(include=set(EntryMetadata.model_fields))))
        for item in body.entries
    ], return_entries=True)
    return EntriesAdded(bank=name, added=report.added, duplicates=report.duplicates,
                        entries=report.entries)


@router.post("/banks/{name}/media", status_code=201,
             openapi_extra=multipart_body(**_METADATA_FIELDS))
def add_media(_key: WriteKey, engine: EngineDep, name: str, upload: UploadDep) -> EntriesAdded:
    """Hash an upload (multipart field `file`) and add its hashes, with optional metadata
    fields. Victims' images should be hashed on their device and added as hashes."""
    unknown = set(upload.fields) - set(EntryMetadata.model_fields)
    if unknown:
        raise InvalidRequestError(f"unknown form field(s): {', '.join(sorted(unknown))}")
    try:
        metadata = EntryMetadata(**upload.fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidRequestError(f"{first['loc'][0]}: {first['msg']}") from None
    entries = engine.add_media(name, upload.data, name=upload.filename, metadata=metadata)
    return EntriesAdded(bank=name, added=len(entries), entries=entries)


@router.post("/banks/{name}/import", openapi_extra=multipart_body(),
             response_model_exclude={"entries"})
def import_entries(_key: WriteKey, engine: EngineDep, name: str, upload: UploadDep,
                   fmt: Annotated[Format, Query(alias="format")],
                   skip_invalid: bool = False) -> ImportReport:
    """Import a hash list (multipart field `file`). One invalid line fails the whole
    import unless `skip_invalid=true`."""
    try:
        text = upload.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"the file is not UTF-8 text (byte {exc.start})",
                                  code="invalid_import") from None
    return engine.import_entries(name, text, fmt, skip_invalid=skip_invalid)


@router.get("/banks/{name}/export", response_class=StreamingResponse,
            responses={200: {"content": {t: {} for t, _ in _MEDIA_TYPES.values()}}})
def export_entries(_key: ReadKey, engine: EngineDep, name: str,
                   fmt: Annotated[Format, Query(alias="format")]) -> StreamingResponse:
    """Every entry of the bank, streamed."""
    lines = engine.export_entries(name, fmt)
    media_type, ext = _MEDIA_TYPES[fmt]
    return StreamingResponse(
        _chunks(lines), media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{ext}"'},
    )


def _chunks(lines: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    buf: list[str] = []
    held = 0
    for line in lines:
        buf.append(line)
        held += len(line)
        if held >= size:
            yield "".join(buf).encode()
            buf, held = [], 0
    if buf:
        yield "".join(buf).encode()


# -- single entries -------------------------------------------------------------------------

@router.get("/entries/{entry_id}")
def get_entry(_key: ReadKey, engine: EngineDep, entry_id: EntryId) -> EntryInfo:
    return engine.get_entry(entry_id)


@router.post("/entries/{entry_id}/disable")
def disable_entry(_key: WriteKey, engine: EngineDep, entry_id: EntryId) -> EntryInfo:
    """Stop an entry from matching, keeping it (and its history) in the bank."""
    return engine.set_entry_enabled(entry_id, False)


@router.post("/entries/{entry_id}/enable")
def enable_entry(_key: WriteKey, engine: EngineDep, entry_id: EntryId) -> EntryInfo:
    return engine.set_entry_enabled(entry_id, True)


@router.delete("/entries/{entry_id}", status_code=204)
def delete_entry(_key: WriteKey, engine: EngineDep, entry_id: EntryId) -> None:
    engine.delete_entry(entry_id)
