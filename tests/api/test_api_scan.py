"""Scanning uploads and hashes over HTTP: decisions, explanations, bad input, limits."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fixtures_media import encode, jpeg_recompress, make_image, mirror, png_bomb_header, resize
from haechi.api import create_app
from haechi.engine import Engine

Headers = dict[str, str]


def _error_code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def _variant(seed: int) -> bytes:
    """The image re-uploaded elsewhere: recompressed, shrunk, mirrored, saved as JPEG."""
    return encode(mirror(resize(jpeg_recompress(make_image(seed), 50), 0.6)), "jpeg",
                  quality=75)


@pytest.fixture
def banked(client: TestClient, admin: Headers, bank: str,
           jpeg: Callable[[int], bytes]) -> dict[str, Any]:
    """Image 1 added to the block bank; returns its pdq entry."""
    r = client.post(f"/v1/banks/{bank}/media", headers=admin,
                    files={"file": ("known.jpg", jpeg(1))}, data={"category": "ncii"})
    assert r.status_code == 201, r.text
    return next(e for e in r.json()["entries"] if e["signal"] == "pdq")


def _scan(client: TestClient, headers: Headers, data: bytes, name: str = "up.jpg") -> Any:
    return client.post("/v1/scan", headers=headers, files={"file": (name, data, "image/jpeg")})


# -- decisions --------------------------------------------------------------------------------

def test_modified_copy_is_blocked_with_an_explanation(client: TestClient, keys: dict[str, str],
                                                     banked: dict[str, Any]) -> None:
    service = {"X-API-Key": keys["service"]}
    r = _scan(client, service, _variant(1))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "block"
    assert body["error"] is None and body["media"]["format"] == "jpeg"
    [match] = body["matches"]
    assert (match["signal"], match["entry_id"], match["bank"], match["bank_kind"]) == \
        ("pdq", banked["id"], "known", "block")
    assert match["transform"] == "mirror"
    assert 0 <= match["distance"] <= match["threshold"] == 31
    assert match["entry"]["category"] == "ncii"
    assert f"entry {banked['id']} by pdq at distance {match['distance']}" in body["reason"]
    assert "mirror" in body["reason"]
    assert {h["signal"] for h in body["hashes"]} == {"sha256", "md5", "pdq"}
    assert body["index_seq"] > 0 and "total_ms" in body["timings_ms"]


def test_identical_copy_matches_every_signal(client: TestClient, admin: Headers,
                                             banked: dict[str, Any],
                                             jpeg: Callable[[int], bytes]) -> None:
    body = _scan(client, admin, jpeg(1)).json()
    assert body["decision"] == "block"
    assert sorted(m["signal"] for m in body["matches"]) == ["md5", "pdq", "sha256"]


def test_unrelated_image_is_allowed(client: TestClient, admin: Headers,
                                    banked: dict[str, Any], jpeg: Callable[[int], bytes]) -> None:
    r = _scan(client, admin, jpeg(2))
    assert r.status_code == 200
    assert r.json()["decision"] == "allow"
    assert r.json()["matches"] == [] and r.json()["reason"] == "no bank matched"


def test_disabled_entry_stops_blocking_until_enabled(client: TestClient, admin: Headers,
                                                     banked: dict[str, Any]) -> None:
    variant = _variant(1)
    assert _scan(client, admin, variant).json()["decision"] == "block"

    r = client.post(f"/v1/entries/{banked['id']}/disable", headers=admin)
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert _scan(client, admin, variant).json()["decision"] == "allow"

    r = client.post(f"/v1/entries/{banked['id']}/enable", headers=admin)
    assert r.status_code == 200 and r.json()["enabled"] is True
    body = _scan(client, admin, variant).json()
    assert body["decision"] == "block" and body["matches"][0]["entry_id"] == banked["id"]


def test_allow_list_bank_overrides_a_block(client: TestClient, admin: Headers,
                                           banked: dict[str, Any]) -> None:
    r = client.post("/v1/banks", headers=admin,
                    json={"name": "cleared", "kind": "allow", "description": "false positives"})
    assert r.status_code == 201
    r = client.post("/v1/banks/cleared/entries", headers=admin,
                    json={"entries": [{"signal": "pdq", "value": banked["value"]}]})
    assert r.status_code == 201
    body = _scan(client, admin, _variant(1)).json()
    assert body["decision"] == "allow"
    assert "allow-list matched" in body["reason"] and "overriding 1 block" in body["reason"]
    assert {(m["bank"], m["bank_kind"]) for m in body["matches"]} == \
        {("cleared", "allow"), ("known", "block")}


def test_disabled_bank_does_not_block(client: TestClient, admin: Headers,
                                      banked: dict[str, Any]) -> None:
    client.patch("/v1/banks/known", headers=admin, json={"enabled": False})
    assert _scan(client, admin, _variant(1)).json()["decision"] == "allow"


# -- scanning by hashes -------------------------------------------------------------------------

def test_scan_by_hashes(client: TestClient, keys: dict[str, str],
                        banked: dict[str, Any], jpeg: Callable[[int], bytes]) -> None:
    headers = {"Authorization": f"Bearer {keys['service']}"}
    near = format(int(banked["value"], 16) ^ 0b1011, "064x")  # 3 bits apart
    r = client.post("/v1/scan/hashes", headers=headers,
                    json={"hashes": [{"signal": "pdq", "value": near.upper()}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "block"
    assert body["matches"][0]["distance"] == 3
    assert body["matches"][0]["transform"] == "original"
    assert body["hashes"] == [{"signal": "pdq", "version": 1, "value": near, "quality": None}]

    # The bank skips hashes below its minimum quality.
    r = client.post("/v1/scan/hashes", headers=headers,
                    json={"hashes": [{"signal": "pdq", "value": near}], "pdq_quality": 20})
    assert r.json()["decision"] == "allow"

    md5 = hashlib.md5(jpeg(1)).hexdigest()
    r = client.post("/v1/scan/hashes", headers=headers,
                    json={"hashes": [{"signal": "md5", "value": md5}]})
    assert r.json()["decision"] == "block" and r.json()["matches"][0]["signal"] == "md5"

    far = format(int(banked["value"], 16) ^ ((1 << 40) - 1), "064x")
    r = client.post("/v1/scan/hashes", headers=headers,
                    json={"hashes": [{"signal": "pdq", "value": far}]})
    assert r.json()["decision"] == "allow"


PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.mark.parametrize(("body", "code"), [
    ({"hashes": [{"signal": "pdq", "value": "g" * 64}]}, "invalid_hash"),
    ({"hashes": [{"signal": "pdq", "value": PDQ[:-2]}]}, "invalid_hash"),
    ({"hashes": [{"signal": "pdq", "value": PDQ + "00"}]}, "invalid_hash"),
    ({"hashes": [{"signal": "md5", "value": PDQ}]}, "invalid_hash"),
    ({"hashes": [{"signal": "sha256", "value": ""}]}, "invalid_hash"),
    ({"hashes": [{"signal": "phash", "value": PDQ}]}, "unknown_signal"),
    ({"hashes": [{"signal": "pdq", "value": PDQ}, {"signal": "pdq", "value": PDQ}]},
     "invalid_request"),
    ({"hashes": []}, "invalid_request"),
    ({"hashes": [{"signal": "pdq"}]}, "invalid_request"),
    ({"hashes": [{"signal": "pdq", "value": 12}]}, "invalid_request"),
    ({"hashes": [{"signal": "pdq", "value": PDQ}], "pdq_quality": 150}, "invalid_request"),
    ({"hashes": "pdq"}, "invalid_request"),
    ({}, "invalid_request"),
    ([], "invalid_request"),
])
def test_bad_hash_requests_are_422(client: TestClient, admin: Headers, bank: str,
                                   body: object, code: str) -> None:
    r = client.post("/v1/scan/hashes", headers=admin, json=body)
    assert r.status_code == 422, r.text
    assert _error_code(r) == code
    assert set(r.json()) == {"error"} and r.json()["error"]["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"hashes": [}'])
def test_malformed_json_is_422(client: TestClient, admin: Headers, raw: bytes) -> None:
    r = client.post("/v1/scan/hashes", content=raw,
                    headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert _error_code(r) == "invalid_request"


# -- bad uploads ----------------------------------------------------------------------------------

def _bad_uploads(jpeg: bytes) -> Iterator[tuple[str, bytes, str]]:
    png = encode(make_image(3), "png")
    yield "empty", b"", "empty_file"
    yield "text", b"hello, this is not an image", "unsupported_format"
    yield "truncated jpeg", jpeg[: len(jpeg) // 3], "truncated_media"
    yield "corrupt png", png[:40] + b"\x00" * 400, "corrupt_media"
    yield "pixel bomb", png_bomb_header(), "too_many_pixels"


@pytest.mark.parametrize("endpoint", ["/v1/scan", "/v1/hash"])
def test_unreadable_uploads_get_422_and_a_code(client: TestClient, admin: Headers,
                                               jpeg: Callable[[int], bytes],
                                               endpoint: str) -> None:
    for what, data, code in _bad_uploads(jpeg(4)):
        r = client.post(endpoint, headers=admin, files={"file": ("up.jpg", data)})
        assert r.status_code == 422, (what, r.text)
        body = r.json()
        assert body["error"]["code"] == code, (what, body)
        if endpoint == "/v1/scan":
            assert body["decision"] == "error", what
            assert body["reason"].startswith("the file could not be scanned"), what


def test_upload_without_a_file_field(client: TestClient, admin: Headers) -> None:
    r = client.post("/v1/scan", headers=admin, data={"other": "x"},
                    files={"attachment": ("a.jpg", b"abc")})
    assert r.status_code == 422 and _error_code(r) == "invalid_request"
    r = client.post("/v1/scan", headers=admin, json={"file": "abc"})
    assert r.status_code == 422 and _error_code(r) == "invalid_request"
    r = client.post("/v1/scan", headers={**admin, "Content-Type": "multipart/form-data"},
                    content=b"garbage")
    assert r.status_code == 400 and _error_code(r) == "bad_request"
    r = client.post("/v1/scan", headers=admin, files=[("file", ("a", b"1")),
                                                       ("file", ("b", b"2"))])
    assert r.status_code == 400 and _error_code(r) == "bad_request"


def test_hash_endpoint(client: TestClient, keys: dict[str, str],
                       jpeg: Callable[[int], bytes]) -> None:
    data = jpeg(5)
    r = client.post("/v1/hash", headers={"X-API-Key": keys["service"]},
                    files={"file": ("five.jpg", data)})
    assert r.status_code == 200, r.text
    body = r.json()
    values = {h["signal"]: h["value"] for h in body["hashes"]}
    assert values["sha256"] == hashlib.sha256(data).hexdigest()
    assert values["md5"] == hashlib.md5(data).hexdigest()
    assert len(values["pdq"]) == 64
    assert body["media"]["width"] == 320 and body["name"] == "five.jpg"


# -- size limits ----------------------------------------------------------------------------------

@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[TestClient, Headers]]:
    engine = Engine(data_dir=tmp_path / "small", max_bytes=2000)
    key, _ = engine.create_api_key("svc", "admin")
    try:
        with TestClient(create_app(engine)) as c:
            yield c, {"Authorization": f"Bearer {key}"}
    finally:
        engine.close()


def test_file_over_the_limit_is_413(small: tuple[TestClient, Headers],
                                    jpeg: Callable[[int], bytes]) -> None:
    client, headers = small
    data = jpeg(6)
    assert len(data) > 2000
    for endpoint in ("/v1/scan", "/v1/hash"):
        r = client.post(endpoint, headers=headers, files={"file": ("big.jpg", data)})
        assert r.status_code == 413, r.text
        assert _error_code(r) == "too_large"
    client.post("/v1/banks", headers=headers, json={"name": "b"})
    r = client.post("/v1/banks/b/media", headers=headers, files={"file": ("big.jpg", data)})
    assert r.status_code == 413 and _error_code(r) == "too_large"
    assert client.get("/v1/banks/b", headers=headers).json()["entry_count"] == 0
    # A file within the limit still gets through.
    r = client.post("/v1/scan", headers=headers, files={"file": ("tiny.txt", b"x" * 100)})
    assert r.status_code == 422 and _error_code(r) == "unsupported_format"


def test_declared_oversize_body_is_refused_unread(small: tuple[TestClient, Headers]) -> None:
    client, headers = small
    r = client.post("/v1/scan", headers=headers,
                    files={"file": ("huge.bin", b"\0" * 200_000)})
    assert r.status_code == 413 and _error_code(r) == "too_large"
    r = client.post("/v1/scan/hashes", headers={**headers, "Content-Type": "application/json"},
                    content=b"[" + b" " * 200_000 + b"]")
    assert r.status_code == 413 and _error_code(r) == "too_large"


def test_streamed_oversize_body_is_cut_off(small: tuple[TestClient, Headers]) -> None:
    client, headers = small

    def chunks() -> Iterator[bytes]:
        yield b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        for _ in range(100):
            yield b"\0" * 10_000

    r = client.post("/v1/scan", content=chunks(),
                    headers={**headers, "Content-Type": "multipart/form-data; boundary=x"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and _error_code(r) == "too_large"


def test_declared_length_is_refused_before_reading(tmp_path: Path) -> None:
    engine = Engine(data_dir=tmp_path, max_bytes=1000)
    app = create_app(engine)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/scan", "raw_path": b"/v1/scan",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("test", 80), "client": ("test", 1), "app": app,
             "headers": [(b"content-length", str(10**12).encode()),
                         (b"content-type", b"multipart/form-data; boundary=x")]}
    try:
        asyncio.run(app(scope, receive, send))
    finally:
        engine.close()
    assert sent[0]["status"] == 413
    assert b'"too_large"' in sent[1]["body"]
