"""What routes declare in their signatures: the engine, the caller's key, an upload.

Authentication runs before an upload is read: an upload route lists its key dependency
first, and :func:`read_upload` parses the multipart body itself (FastAPI would otherwise
read a ``File()`` body before checking anything).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import UploadFile

from haechi import auth
from haechi.engine import Engine
from haechi.errors import (
    ForbiddenError,
    InvalidRequestError,
    MediaError,
    NotReadyError,
    UnauthorizedError,
)
from haechi.results import ApiKeyInfo

#: Room for multipart boundaries, part headers and metadata fields around one file.
FORM_OVERHEAD = 64 * 1024
#: Form fields (besides the file) an upload may carry.
MAX_FORM_FIELDS = 20


Unauthorized = UnauthorizedError
Forbidden = ForbiddenError
NotReady = NotReadyError


async def get_engine(request: Request) -> Engine:
    """The app's engine. (Declared async because it does no I/O: no thread-pool hop.)"""
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        raise NotReady("the service is starting")
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def get_ready_engine(engine: EngineDep) -> Engine:
    """The engine, once its index is loaded: a scan against a half-loaded index could
    allow what it should block."""
    if not engine.indexes.ready:
        raise NotReady("the index is still loading; retry shortly")
    return engine


ReadyEngineDep = Annotated[Engine, Depends(get_ready_engine)]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="`X-API-Key: <key>`")


def require(permission: str, *,
            allowed: Callable[[str, str], bool] = auth.allowed) -> Callable[..., ApiKeyInfo]:
    """A dependency that authenticates the caller and checks ``permission`` with
    ``allowed(role, permission)`` (the core roles by default; a domain may pass its own).

    No key: 401 with ``WWW-Authenticate: Bearer``; an unknown or revoked key: 401;
    a valid key whose role lacks the permission: 403.
    """

    def dependency(
        engine: EngineDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key_header)],
    ) -> ApiKeyInfo:
        key = bearer.credentials if bearer is not None else api_key
        if not key:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>' "
                               "or 'X-API-Key: <key>'")
        info = engine.authenticate(key)
        if info is None:
            raise Unauthorized("the API key is not valid")
        if not allowed(info.role, permission):
            raise Forbidden(f"this key's role ({info.role}) lacks the permission "
                            f"'{permission}'")
        return info

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency


ReadKey = Annotated[ApiKeyInfo, Depends(require("banks:read"))]
WriteKey = Annotated[ApiKeyInfo, Depends(require("banks:write"))]
ScanKey = Annotated[ApiKeyInfo, Depends(require("scan"))]
KeysKey = Annotated[ApiKeyInfo, Depends(require("keys:manage"))]


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str | None
    #: The other (text) form fields.
    fields: dict[str, str]


def too_large(size: int | str, limit: int) -> MediaError:
    return MediaError(f"the upload has {size} bytes; the limit is {limit}", code="too_large")


async def read_upload(request: Request, engine: EngineDep) -> Upload:
    """The multipart field ``file`` (and any text fields), within the byte limit.

    A declared Content-Length over the limit is refused before the body is read; a
    body without one is counted as it arrives (see ``BodyLimitMiddleware``). Files over
    1 MiB are spooled to disk while the form is parsed, not held in memory.
    """
    limit = engine.limits.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large(declared, limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequestError("send the file as multipart/form-data in the field 'file'")
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidRequestError("the multipart field 'file' is missing")
        if file.size is not None and file.size > limit:
            raise too_large(file.size, limit)
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise too_large(f"more than {limit}", limit)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        return Upload(data=data, filename=file.filename, fields=fields)
    finally:
        await form.close()


UploadDep = Annotated[Upload, Depends(read_upload)]


def multipart_body(**fields: str) -> dict[str, Any]:
    """OpenAPI for a route that reads its upload through :func:`read_upload`."""
    properties: dict[str, Any] = {"file": {"type": "string", "format": "binary"}}
    properties.update({name: {"type": "string", "description": text}
                       for name, text in fields.items()})
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "properties": properties},
    }}}}
