"""API keys: list, create (the secret is shown once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from haechi.api.deps import EngineDep, KeysKey
from haechi.auth import Role
from haechi.results import ApiKeyInfo

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    role: Role


class CreatedKey(ApiKeyInfo):
    #: The secret itself: returned only here, stored only as a digest.
    key: str


@router.get("")
def list_keys(_key: KeysKey, engine: EngineDep) -> list[ApiKeyInfo]:
    return engine.list_api_keys()


@router.post("", status_code=201)
def create_key(_key: KeysKey, engine: EngineDep, body: KeyCreate) -> CreatedKey:
    """Create a key. The response is the only time the secret is shown."""
    secret, info = engine.create_api_key(body.name, body.role.value)
    return CreatedKey(key=secret, **info.model_dump())


@router.post("/{key_id}/revoke")
def revoke_key(_key: KeysKey, engine: EngineDep,
               key_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> ApiKeyInfo:
    """Revoke a key; requests with it are refused from now on."""
    return engine.revoke_api_key(key_id)
