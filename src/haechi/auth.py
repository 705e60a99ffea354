"""API keys: random 256-bit secrets, stored only as SHA-256, each with one role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.errors import InvalidRequestError, NotFoundError
from haechi.results import ApiKeyInfo
from haechi.store.models import ApiKey

KEY_PREFIX = "hk_"


class Role(StrEnum):
    READ_ONLY = "read_only"
    SERVICE = "service"
    REVIEWER = "reviewer"
    VICTIM_ADVOCATE = "victim_advocate"
    INVESTIGATOR = "investigator"
    ADMIN = "admin"


#: What each role may do with the core API. Only investigators and admins reach the
#: evidence vault; moderation's finer rights are in :mod:`haechi.moderation.permissions`.
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.READ_ONLY: frozenset({"banks:read"}),
    Role.SERVICE: frozenset({"banks:read", "scan"}),
    Role.REVIEWER: frozenset({"banks:read"}),
    Role.VICTIM_ADVOCATE: frozenset(),
    Role.INVESTIGATOR: frozenset({"banks:read", "scan", "evidence", "tracking:read",
                                  "tracking:write"}),
    Role.ADMIN: frozenset({"banks:read", "scan", "banks:write", "keys:manage", "evidence",
                           "tracking:read", "tracking:write"}),
}


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(id=row.id, name=row.name, prefix=row.prefix, role=row.role,
                      created_at=row.created_at, revoked=row.revoked_at is not None)


def create_key(session: Session, *, name: str, role: str) -> tuple[str, ApiKeyInfo]:
    try:
        role = Role(role)
    except ValueError:
        raise InvalidRequestError(
            f"role must be one of {', '.join(r.value for r in Role)}, got {role!r}"
        ) from None
    if not name or len(name) > 100:
        raise InvalidRequestError("a key needs a name of 1-100 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:12], key_hash=_digest(key), role=role.value)
    session.add(row)
    session.flush()
    return key, _info(row)


def authenticate(session: Session, key: str) -> ApiKeyInfo | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = _digest(key)
    for row in session.scalars(select(ApiKey).where(ApiKey.prefix == key[:12])):
        if hmac.compare_digest(row.key_hash, digest) and row.revoked_at is None:
            return _info(row)
    return None


def list_keys(session: Session) -> list[ApiKeyInfo]:
    return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke_key(session: Session, *, key_id: int) -> ApiKeyInfo:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return _info(row)


def allowed(role: str, permission: str) -> bool:
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False
