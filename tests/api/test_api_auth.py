"""Every endpoint but the health checks needs a key whose role has the permission."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from haechi.auth import PERMISSIONS, Role
from haechi.engine import Engine

# (method, path, permission, request options); bodies are valid where it matters so that
# an allowed call reaches the engine.
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
UPLOAD = {"files": {"file": ("x.bin", b"not an image")}}
ENDPOINTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("POST", "/v1/scan", "scan", UPLOAD),
    ("POST", "/v1/scan/hashes", "scan", {"json": {"hashes": [{"signal": "pdq", "value": PDQ}]}}),
    ("POST", "/v1/hash", "scan", UPLOAD),
    ("GET", "/v1/banks", "banks:read", {}),
    ("POST", "/v1/banks", "banks:write", {"json": {"name": "new"}}),
    ("GET", "/v1/banks/known", "banks:read", {}),
    ("PATCH", "/v1/banks/known", "banks:write", {"json": {"description": "x"}}),
    ("GET", "/v1/banks/known/entries", "banks:read", {}),
    ("POST", "/v1/banks/known/entries", "banks:write",
     {"json": {"entries": [{"signal": "pdq", "value": PDQ}]}}),
    ("POST", "/v1/banks/known/media", "banks:write", UPLOAD),
    ("POST", "/v1/banks/known/import?format=threatexchange", "banks:write",
     {"files": {"file": ("h.txt", f"pdq {PDQ}\n".encode())}}),
    ("GET", "/v1/banks/known/export?format=jsonl", "banks:read", {}),
    ("GET", "/v1/entries/1", "banks:read", {}),
    ("POST", "/v1/entries/1/disable", "banks:write", {}),
    ("POST", "/v1/entries/1/enable", "banks:write", {}),
    ("DELETE", "/v1/entries/1", "banks:write", {}),
    ("DELETE", "/v1/banks/known", "banks:write", {}),
    ("GET", "/v1/keys", "keys:manage", {}),
    ("POST", "/v1/keys", "keys:manage", {"json": {"name": "k", "role": "service"}}),
    ("POST", "/v1/keys/1/revoke", "keys:manage", {}),
]
IDS = [f"{m} {p}" for m, p, _, _ in ENDPOINTS]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _call(client: TestClient, method: str, path: str, options: dict[str, Any],
          headers: dict[str, str] | None = None) -> Any:
    return client.request(method, path, headers=headers, **options)


def _assert_error(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json() == {"error": {"code": code, "message": r.json()["error"]["message"]}}


@pytest.mark.parametrize(("method", "path", "permission", "options"), ENDPOINTS, ids=IDS)
def test_missing_key_is_401_with_challenge(client: TestClient, method: str, path: str,
                                           permission: str, options: dict[str, Any]) -> None:
    r = _call(client, method, path, options)
    _assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "permission", "options"), ENDPOINTS, ids=IDS)
def test_unknown_key_is_401(client: TestClient, keys: dict[str, str], method: str,
                            path: str, permission: str, options: dict[str, Any]) -> None:
    forged = keys["admin"][:-4] + ("AAAA" if not keys["admin"].endswith("AAAA") else "BBBB")
    _assert_error(_call(client, method, path, options, auth(forged)), 401, "unauthorized")
    _assert_error(_call(client, method, path, options, {"X-API-Key": "hk_nonsense"}),
                  401, "unauthorized")


@pytest.mark.parametrize(("method", "path", "permission", "options"), ENDPOINTS, ids=IDS)
def test_roles_without_the_permission_get_403(client: TestClient, keys: dict[str, str],
                                              method: str, path: str, permission: str,
                                              options: dict[str, Any]) -> None:
    lacking = [r for r in Role if permission not in PERMISSIONS[r]]
    assert lacking or permission == "banks:read"
    for role in lacking:
        _assert_error(_call(client, method, path, options, auth(keys[role.value])),
                      403, "forbidden")


@pytest.mark.parametrize(("method", "path", "permission", "options"), ENDPOINTS, ids=IDS)
def test_roles_with_the_permission_get_through(client: TestClient, keys: dict[str, str],
                                               bank: str, method: str, path: str,
                                               permission: str,
                                               options: dict[str, Any]) -> None:
    client.post(f"/v1/banks/{bank}/entries", headers=auth(keys["admin"]),
                json={"entries": [{"signal": "md5", "value": "0" * 32}]})
    for role in Role:
        if permission not in PERMISSIONS[role]:
            continue
        r = _call(client, method, path, options, auth(keys[role.value]))
        assert r.status_code not in (401, 403, 500), (role, r.text)


def test_revoked_key_is_refused(client: TestClient, api_engine: Engine,
                                admin: dict[str, str]) -> None:
    key, info = api_engine.create_api_key("soon revoked", "service")
    assert client.get("/v1/banks", headers=auth(key)).status_code == 200
    r = client.post(f"/v1/keys/{info.id}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["revoked"] is True
    r = client.get("/v1/banks", headers=auth(key))
    _assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_x_api_key_header_works(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/v1/banks", headers={"X-API-Key": keys["read_only"]}).status_code == 200
    r = client.post("/v1/banks", headers={"X-API-Key": keys["read_only"]}, json={"name": "x"})
    _assert_error(r, 403, "forbidden")


def test_non_bearer_authorization_is_not_a_key(client: TestClient, keys: dict[str, str]) -> None:
    r = client.get("/v1/banks", headers={"Authorization": f"Basic {keys['admin']}"})
    _assert_error(r, 401, "unauthorized")


def test_auth_is_checked_before_the_upload_is_read(client: TestClient,
                                                   keys: dict[str, str]) -> None:
    # Without a key the (malformed) body is never parsed: 401, not 400/422.
    r = client.post("/v1/scan", content=b"--x\r\nnot multipart at all",
                    headers={"Content-Type": "multipart/form-data; boundary=x"})
    _assert_error(r, 401, "unauthorized")
    r = client.post("/v1/scan", content=b"--x\r\nnot multipart at all",
                    headers={"Content-Type": "multipart/form-data; boundary=x",
                             **auth(keys["read_only"])})
    _assert_error(r, 403, "forbidden")


def test_health_and_docs_need_no_key(client: TestClient) -> None:
    assert client.get("/v1/health/live").json() == {"status": "ok"}
    assert client.get("/v1/health/ready").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/scan" in spec["paths"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
