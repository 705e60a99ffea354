"""API keys over HTTP: created once, listed without secrets, revoked for good."""

from __future__ import annotations

from fastapi.testclient import TestClient

Headers = dict[str, str]


def test_create_use_list_and_revoke(client: TestClient, admin: Headers) -> None:
    r = client.post("/v1/keys", headers=admin, json={"name": "uploader", "role": "service"})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["key"]
    assert secret.startswith("hk_") and secret.startswith(created["prefix"])
    assert created["role"] == "service" and created["revoked"] is False

    mine = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/banks", headers=mine).status_code == 200
    assert client.get("/v1/keys", headers=mine).status_code == 403

    listed = client.get("/v1/keys", headers=admin).json()
    entry = next(k for k in listed if k["id"] == created["id"])
    assert entry["name"] == "uploader" and "key" not in entry
    assert all(secret not in str(k) for k in listed)

    r = client.post(f"/v1/keys/{created['id']}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert client.get("/v1/banks", headers=mine).status_code == 401
    listed = client.get("/v1/keys", headers=admin).json()
    assert next(k for k in listed if k["id"] == created["id"])["revoked"] is True


def test_bad_key_requests(client: TestClient, admin: Headers) -> None:
    for body in ({"name": "x", "role": "superuser"}, {"name": "", "role": "admin"},
                 {"role": "admin"}, {"name": "x" * 101, "role": "admin"}):
        r = client.post("/v1/keys", headers=admin, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", body
    r = client.post("/v1/keys/99999/revoke", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.post("/v1/keys/0/revoke", headers=admin)
    assert r.status_code == 422


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient,
                                                        admin: Headers) -> None:
    r = client.get("/v1/nothing-here", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put("/v1/keys", headers=admin)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in r.headers["allow"]
