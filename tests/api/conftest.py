"""Fixtures for the HTTP API tests: an engine on a temporary SQLite store, a client, keys."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures_media import encode, make_image
from haechi.api import create_app
from haechi.auth import Role
from haechi.engine import Engine

with warnings.catch_warnings():
    # Starlette asks for httpx2 and warns at import when it finds httpx; the warning is
    # about the test client's transport, not about the code under test. Imported here
    # first, the module is cached and the test modules import it without the warning.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROLES = tuple(r.value for r in Role)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(data_dir=tmp_path / "data")
    yield eng
    eng.close()


@pytest.fixture
def client(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_engine)) as c:
        yield c


@pytest.fixture
def keys(api_engine: Engine) -> dict[str, str]:
    """One key per role, by role name."""
    return {role: api_engine.create_api_key(f"test-{role}", role)[0] for role in ROLES}


@pytest.fixture
def admin(keys: dict[str, str]) -> dict[str, str]:
    return auth(keys["admin"])


@pytest.fixture
def bank(client: TestClient, admin: dict[str, str]) -> str:
    r = client.post("/v1/banks", json={"name": "known", "description": "test bank"},
                    headers=admin)
    assert r.status_code == 201, r.text
    return "known"


@pytest.fixture
def jpeg() -> Callable[[int], bytes]:
    """A neutral JPEG for a seed (gradient and shapes drawn in code)."""

    def make(seed: int) -> bytes:
        return encode(make_image(seed), "jpeg", quality=90)

    return make
