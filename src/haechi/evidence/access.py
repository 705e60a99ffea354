"""Who reaches the vault: roles with the ``evidence`` permission (investigator, admin)."""

from __future__ import annotations

from haechi import auth
from haechi.results import ApiKeyInfo

EVIDENCE_PERMISSION = "evidence"


def may_access_vault(role: str) -> bool:
    return auth.allowed(role, EVIDENCE_PERMISSION)


def actor_of(key: ApiKeyInfo) -> str:
    """How an API caller is named in the custody log."""
    return f"api-key:{key.id}:{key.name}"
