"""The evidence routes: investigator and admin keys only; viewing is logged."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from evidence_helpers import KEK, kek_env

from fixtures_media import encode, make_image
from haechi.api import create_app
from haechi.auth import KEY_PREFIX
from haechi.engine import Engine
from haechi.store.models import ApiKey

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's test client warns about httpx at import
    from fastapi.testclient import TestClient


def investigator_key(engine: Engine) -> str:
    """A key with the investigator role, stored as auth.create_key would store it once
    auth.Role knows the role (it refuses unknown roles today)."""
    key = KEY_PREFIX + "investigator-test-key-0123456789abcdefghijkl"
    with engine.db.session() as s:
        s.add(ApiKey(name="detective", prefix=key[:12], role="investigator",
                     key_hash=hashlib.sha256(key.encode()).hexdigest()))
    return key


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    monkeypatch.setenv("HAECHI_VAULT_KEY", kek_env(KEK))
    engine = Engine(data_dir=tmp_path / "data")
    app = create_app(engine)
    keys = {role: engine.create_api_key(role, role)[0]
            for role in ("read_only", "service", "admin")}
    keys["investigator"] = investigator_key(engine)
    headers = {role: {"Authorization": f"Bearer {k}"} for role, k in keys.items()}
    with TestClient(app) as client:
        yield client, headers
    engine.close()


def upload(client: TestClient, headers: dict[str, str], seed: int) -> dict[str, object]:
    capture = {"service": "telegram", "room": "r", "message_id": str(seed),
               "uploader": {"id": "u1"}}
    r = client.post("/v1/evidence/items", headers=headers,
                    files={"file": (f"{seed}.png", encode(make_image(seed, (64, 48)), "png"))},
                    data={"capture": json.dumps(capture)})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_only_investigators_and_admins_reach_the_vault(
        setup: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, headers = setup
    assert client.get("/v1/evidence/items").status_code == 401
    assert client.get("/v1/evidence/items",
                      headers={"Authorization": "Bearer hk_wrong"}).status_code == 401
    for role in ("read_only", "service"):
        r = client.get("/v1/evidence/items", headers=headers[role])
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert client.post("/v1/evidence/items", headers=headers[role],
                           files={"file": ("a", b"abc")}).status_code == 403
    for role in ("investigator", "admin"):
        assert client.get("/v1/evidence/items", headers=headers[role]).status_code == 200


def test_capture_view_and_cases_over_http(
        setup: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, headers = setup
    inv = headers["investigator"]
    item = upload(client, inv, 1)
    assert item["status"] == "imported"
    record = client.get(f"/v1/evidence/items/{item['item_id']}", headers=inv).json()
    assert record["capture"]["uploader"] == {"id": "u1"}
    assert record["capture"]["filename"] == "1.png"
    content = client.get(f"/v1/evidence/items/{item['item_id']}/content",
                         params={"purpose": "review"}, headers=inv)
    assert content.status_code == 200
    assert hashlib.sha256(content.content).hexdigest() == item["sha256"]
    assert content.headers["cache-control"] == "no-store"
    history = client.get(f"/v1/evidence/items/{item['item_id']}/history", headers=inv).json()
    assert [h["event"] for h in history] == ["captured", "viewed"]
    assert history[1]["entry"]["actor"].endswith(":detective")
    assert client.post("/v1/evidence/cases", json={"name": "c1"}, headers=inv).status_code == 201
    r = client.post("/v1/evidence/cases/c1/items", json={"item_ids": [item["item_id"]]},
                    headers=inv)
    assert r.json()["item_count"] == 1
    assert client.get("/v1/evidence/cases/c1", headers=inv).json()["items"][0]["id"] == \
        item["item_id"]
    assert client.post("/v1/evidence/cases", json={"name": "c1"}, headers=inv).status_code == 409
    report = client.post("/v1/evidence/verify", headers=headers["admin"]).json()
    assert report["ok"] and report["items_checked"] == 1
    note = client.get("/v1/evidence/checkpoint", headers=inv).text
    assert note.split("\n")[1] == str(report["tree_size"]) and "\n\n\u2014 " in note
    assert "+" in client.get("/v1/evidence/public-key", headers=inv).text
    assert client.get("/v1/evidence/items/999", headers=inv).status_code == 404
    bad = client.post("/v1/evidence/items", headers=inv, files={"file": ("a", b"abc")},
                      data={"capture": "{not json"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
