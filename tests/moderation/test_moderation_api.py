"""The moderation HTTP routes: thin over the service, with permissions per role."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator

import pytest

from haechi.api import create_app
from haechi.auth import KEY_PREFIX, _digest
from haechi.engine import Engine
from haechi.moderation.service import ModerationService
from haechi.moderation.settings import ModerationSettings
from haechi.store.models import ApiKey

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx, as in tests/api
    from fastapi.testclient import TestClient

DEEPFAKE = json.dumps({"sexual": 0.95, "real_face": 0.9, "synthetic": 0.9})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_with_role(engine: Engine, role: str) -> str:
    """A key of a role :mod:`haechi.auth` does not issue yet (reviewer), stored as
    auth stores keys, so the route's role check is what is under test."""
    key = KEY_PREFIX + role + "-0123456789abcdef0123456789"
    with engine.db.session() as s:
        s.add(ApiKey(name=f"{role}-1", prefix=key[:12], key_hash=_digest(key), role=role))
    return key


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    engine.moderation = ModerationService(  # type: ignore[attr-defined]
        engine, settings=ModerationSettings(notices_per_window=3))
    app = create_app(engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(engine: Engine) -> dict[str, str]:
    made = {r: engine.create_api_key(f"{r}-key", r)[0] for r in ("read_only", "service",
                                                                  "admin")}
    made["reviewer"] = key_with_role(engine, "reviewer")
    return made


def upload(client: TestClient, key: str, data: bytes, user: str = "u1", room: str = "r1",
           detections: str | None = None) -> dict[str, object]:
    form = {"user_id": user, "room_id": room}
    if detections is not None:
        form["detections"] = detections
    r = client.post("/v1/mod/uploads", headers=bearer(key), data=form,
                    files={"file": ("x.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_upload_hold_claim_confirm_and_reupload_blocked(
        client: TestClient, keys: dict[str, str], image: Callable[[int], bytes]) -> None:
    held = upload(client, keys["service"], image(1), detections=DEEPFAKE)
    assert held["item"]["status"] == "held"  # type: ignore[index]
    reviewer = bearer(keys["reviewer"])
    page = client.get("/v1/mod/reviews", headers=reviewer).json()
    assert page["count"] == 1
    claimed = client.post("/v1/mod/reviews/claim", headers=reviewer)
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "key:reviewer-1"
    assert client.post("/v1/mod/reviews/claim", headers=reviewer).status_code == 204
    review_id = claimed.json()["id"]
    r = client.post(f"/v1/mod/reviews/{review_id}/decision", headers=reviewer,
                    json={"decision": "confirm", "reason": "deepfake"})
    assert r.status_code == 200, r.text
    assert r.json()["bank_entries_added"] == 3
    again = upload(client, keys["service"], image(1), user="u2")
    assert again["decision"]["rule"] == "known-bank-match"  # type: ignore[index]
    history = client.get("/v1/mod/users/u1", headers=reviewer).json()
    assert history["user"]["active_strike_weight"] == 1
    assert [n["kind"] for n in history["notices"]] == ["warning"]
    feed = client.get("/v1/mod/events", headers=bearer(keys["service"])).json()
    assert [e["type"] for e in feed] == ["delete_item", "warn_user", "delete_item",
                                         "warn_user"]


def test_permissions(client: TestClient, keys: dict[str, str], image: Callable[[int], bytes],
                     ) -> None:
    files = {"file": ("x.jpg", image(2), "image/jpeg")}
    form = {"user_id": "u", "room_id": "r"}
    assert client.post("/v1/mod/uploads", data=form, files=files).status_code == 401
    r = client.post("/v1/mod/uploads", data=form, files=files,
                    headers=bearer(keys["read_only"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/mod/reviews", headers=bearer(keys["service"])).status_code == 403
    assert client.get("/v1/mod/webhooks", headers=bearer(keys["reviewer"])).status_code == 403
    assert client.get("/v1/mod/webhooks", headers=bearer(keys["admin"])).status_code == 200
    assert client.get("/v1/mod/notices").status_code == 401
    assert client.get("/v1/mod/statements", headers=bearer("hk_nonsense")).status_code == 401


def test_bad_upload_fields(client: TestClient, keys: dict[str, str],
                           image: Callable[[int], bytes]) -> None:
    files = {"file": ("x.jpg", image(2), "image/jpeg")}
    for form, needle in (({"room_id": "r"}, "user_id"),
                         ({"user_id": "u", "room_id": "r", "detections": "{"}, "not JSON"),
                         ({"user_id": "u", "room_id": "r", "detections": '{"sexual": 7}'},
                          "from 0 to 1")):
        r = client.post("/v1/mod/uploads", data=form, files=files,
                        headers=bearer(keys["service"]))
        assert r.status_code == 422 and needle in r.json()["error"]["message"], r.text


def test_public_notice_needs_no_key_and_is_rate_limited(client: TestClient,
                                                        keys: dict[str, str]) -> None:
    notice = {"location": "https://chat.example/m/1", "explanation": "a deepfake of me",
              "good_faith": True, "is_victim": True}
    r = client.post("/v1/mod/notices", json=notice)
    assert r.status_code == 201 and set(r.json()) == {"id", "received_at", "due_at"}
    r = client.post("/v1/mod/notices", json={**notice, "good_faith": False})
    assert r.status_code == 422 and r.json()["error"]["code"] == "good_faith_required"
    assert client.post("/v1/mod/notices", json=notice).status_code == 201
    r = client.post("/v1/mod/notices", json=notice)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    cases = client.get("/v1/mod/notices", headers=bearer(keys["reviewer"])).json()
    assert len(cases) == 2 and cases[0]["contact"] == ""
    metrics = client.get("/v1/mod/notices/metrics", headers=bearer(keys["reviewer"])).json()
    assert metrics == {"open": 2, "overdue": 0, "closed": 0, "closed_late": 0}


def test_appeal_via_api(client: TestClient, keys: dict[str, str], engine: Engine,
                        image: Callable[[int], bytes]) -> None:
    engine.create_bank("known")
    engine.add_media("known", image(3))
    out = upload(client, keys["service"], image(3))
    item_id = out["item"]["id"]  # type: ignore[index]
    r = client.post(f"/v1/mod/items/{item_id}/appeals", headers=bearer(keys["service"]),
                    json={"user_id": "u1", "statement": "mine"})
    assert r.status_code == 201, r.text
    appeal_id = r.json()["id"]
    r = client.post(f"/v1/mod/appeals/{appeal_id}/decision", headers=bearer(keys["reviewer"]),
                    json={"outcome": "overturn", "reason": "own photo"})
    assert r.status_code == 200 and r.json()["item"]["status"] == "reinstated"
    r = client.post("/v1/mod/webhooks", headers=bearer(keys["admin"]),
                    json={"url": "http://127.0.0.1:9/x", "events": ["ban_user"]})
    assert r.status_code == 201 and r.json()["secret"].startswith("whsec_")
