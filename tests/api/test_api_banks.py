"""Banks and entries over HTTP: CRUD, adding by hash and by media, import and export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "0" * 63 + "1"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

Headers = dict[str, str]


def _error(r: object, status: int, code: str) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


# -- banks ---------------------------------------------------------------------------------

def test_bank_crud(client: TestClient, admin: Headers) -> None:
    r = client.post("/v1/banks", headers=admin, json={
        "name": "ncii-2026", "kind": "block", "description": "reported images",
        "pdq_threshold": 24, "pdq_min_quality": 60, "video_match_percent": 90})
    assert r.status_code == 201
    created = r.json()
    assert created["name"] == "ncii-2026" and created["pdq_threshold"] == 24
    assert created["entry_count"] == 0 and created["enabled"] is True

    assert [b["name"] for b in client.get("/v1/banks", headers=admin).json()] == ["ncii-2026"]
    assert client.get("/v1/banks/ncii-2026", headers=admin).json()["description"] == \
        "reported images"

    r = client.patch("/v1/banks/ncii-2026", headers=admin,
                     json={"description": "changed", "enabled": False, "pdq_threshold": 31})
    assert r.status_code == 200
    assert (r.json()["description"], r.json()["enabled"], r.json()["pdq_threshold"],
            r.json()["pdq_min_quality"]) == ("changed", False, 31, 60)

    client.post("/v1/banks/ncii-2026/entries", headers=admin,
                json={"entries": [{"signal": "pdq", "value": PDQ_A}]})
    r = client.delete("/v1/banks/ncii-2026", headers=admin)
    assert r.status_code == 200 and r.json() == {"bank": "ncii-2026", "entries_removed": 1}
    _error(client.get("/v1/banks/ncii-2026", headers=admin), 404, "not_found")
    assert client.get("/v1/banks", headers=admin).json() == []


def test_bank_conflicts_and_bad_settings(client: TestClient, admin: Headers, bank: str) -> None:
    _error(client.post("/v1/banks", headers=admin, json={"name": bank}), 409, "conflict")
    _error(client.post("/v1/banks", headers=admin, json={"name": "has space"}),
           422, "invalid_request")
    _error(client.post("/v1/banks", headers=admin, json={"name": "x", "kind": "maybe"}),
           422, "invalid_request")
    _error(client.post("/v1/banks", headers=admin, json={"name": "x", "pdq_threshold": 99}),
           422, "invalid_request")
    _error(client.post("/v1/banks", headers=admin, json={"name": "x", "colour": "red"}),
           422, "invalid_request")
    _error(client.patch(f"/v1/banks/{bank}", headers=admin, json={"pdq_min_quality": 101}),
           422, "invalid_request")
    _error(client.patch(f"/v1/banks/{bank}", headers=admin, json={"name": "renamed"}),
           422, "invalid_request")
    _error(client.patch("/v1/banks/absent", headers=admin, json={"description": "x"}),
           404, "not_found")
    _error(client.delete("/v1/banks/absent", headers=admin), 404, "not_found")
    assert client.get(f"/v1/banks/{bank}", headers=admin).json()["pdq_min_quality"] == 50


# -- entries -------------------------------------------------------------------------------

def test_add_list_get_and_delete_entries(client: TestClient, admin: Headers, bank: str) -> None:
    r = client.post(f"/v1/banks/{bank}/entries", headers=admin, json={"entries": [
        {"signal": "pdq", "value": PDQ_A.upper(), "quality": 90, "source": "victim report",
         "category": "ncii", "external_id": "case-17"},
        {"signal": "md5", "value": MD5},
        {"signal": "pdq", "value": PDQ_A},  # the same value again
    ]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["bank"], body["added"], body["duplicates"]) == (bank, 2, 1)
    first = body["entries"][0]
    assert first["value"] == PDQ_A and first["quality"] == 90
    assert (first["source"], first["category"], first["external_id"]) == \
        ("victim report", "ncii", "case-17")

    page = client.get(f"/v1/banks/{bank}/entries", headers=admin).json()
    assert page["count"] == 2 and [e["signal"] for e in page["data"]] == ["pdq", "md5"]
    page = client.get(f"/v1/banks/{bank}/entries?limit=1&offset=1", headers=admin).json()
    assert page["count"] == 2 and [e["signal"] for e in page["data"]] == ["md5"]
    _error(client.get(f"/v1/banks/{bank}/entries?limit=0", headers=admin), 422,
           "invalid_request")
    _error(client.get(f"/v1/banks/{bank}/entries?offset=-1", headers=admin), 422,
           "invalid_request")

    entry = client.get(f"/v1/entries/{first['id']}", headers=admin).json()
    assert entry["bank"] == bank and entry["value"] == PDQ_A
    assert client.delete(f"/v1/entries/{first['id']}", headers=admin).status_code == 204
    _error(client.get(f"/v1/entries/{first['id']}", headers=admin), 404, "not_found")
    _error(client.delete(f"/v1/entries/{first['id']}", headers=admin), 404, "not_found")
    assert client.get(f"/v1/banks/{bank}", headers=admin).json()["entry_count"] == 1


@pytest.mark.parametrize(("entry", "code"), [
    ({"signal": "pdq", "value": "zz" * 32}, "invalid_hash"),
    ({"signal": "pdq", "value": "ab" * 31}, "invalid_hash"),
    ({"signal": "md5", "value": "1234"}, "invalid_hash"),
    ({"signal": "dhash", "value": "abcd"}, "unknown_signal"),
    ({"signal": "pdq", "value": PDQ_B, "quality": 101}, "invalid_request"),
    ({"signal": "pdq"}, "invalid_request"),
    ({"signal": "pdq", "value": PDQ_B, "unknown_field": 1}, "invalid_request"),
])
def test_one_bad_entry_adds_nothing(client: TestClient, admin: Headers, bank: str,
                                    entry: dict[str, object], code: str) -> None:
    r = client.post(f"/v1/banks/{bank}/entries", headers=admin,
                    json={"entries": [{"signal": "pdq", "value": PDQ_B}, entry]})
    _error(r, 422, code)
    assert client.get(f"/v1/banks/{bank}/entries", headers=admin).json()["count"] == 0


def test_entries_for_missing_bank_and_bad_ids(client: TestClient, admin: Headers) -> None:
    _error(client.post("/v1/banks/absent/entries", headers=admin,
                       json={"entries": [{"signal": "pdq", "value": PDQ_A}]}), 404, "not_found")
    _error(client.get("/v1/banks/absent/entries", headers=admin), 404, "not_found")
    _error(client.get("/v1/entries/abc", headers=admin), 422, "invalid_request")
    _error(client.get(f"/v1/entries/{10**30}", headers=admin), 422, "invalid_request")
    _error(client.get("/v1/entries/99999", headers=admin), 404, "not_found")
    _error(client.post("/v1/entries/99999/disable", headers=admin), 404, "not_found")
    _error(client.post("/v1/banks/x/entries", headers=admin, json={"entries": []}),
           422, "invalid_request")


def test_add_media_with_metadata(client: TestClient, admin: Headers, bank: str,
                                 jpeg: Callable[[int], bytes]) -> None:
    r = client.post(f"/v1/banks/{bank}/media", headers=admin,
                    files={"file": ("report.jpg", jpeg(1), "image/jpeg")},
                    data={"source": "hotline", "note": "reported twice"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["added"] == 3
    assert sorted(e["signal"] for e in body["entries"]) == ["md5", "pdq", "sha256"]
    assert all(e["source"] == "hotline" and e["note"] == "reported twice"
               for e in body["entries"])
    pdq = next(e for e in body["entries"] if e["signal"] == "pdq")
    assert pdq["quality"] >= 50
    # The same file again adds nothing.
    r = client.post(f"/v1/banks/{bank}/media", headers=admin, files={"file": ("a.jpg", jpeg(1))})
    assert r.status_code == 201 and r.json()["added"] == 0


def test_add_media_rejects_bad_input(client: TestClient, admin: Headers, bank: str,
                                     jpeg: Callable[[int], bytes]) -> None:
    _error(client.post(f"/v1/banks/{bank}/media", headers=admin,
                       files={"file": ("x.jpg", b"plain text, not an image")}), 422,
           "unsupported_format")
    _error(client.post(f"/v1/banks/{bank}/media", headers=admin,
                       files={"file": ("x.jpg", jpeg(1))}, data={"colour": "red"}),
           422, "invalid_request")
    _error(client.post(f"/v1/banks/{bank}/media", headers=admin,
                       files={"file": ("x.jpg", jpeg(1))}, data={"source": "s" * 201}),
           422, "invalid_request")
    _error(client.post(f"/v1/banks/{bank}/media", headers=admin, data={"source": "x"}),
           422, "invalid_request")
    _error(client.post("/v1/banks/absent/media", headers=admin,
                       files={"file": ("x.jpg", jpeg(1))}), 404, "not_found")
    assert client.get(f"/v1/banks/{bank}", headers=admin).json()["entry_count"] == 0


# -- import and export -----------------------------------------------------------------------

def _seed(client: TestClient, admin: Headers, bank: str) -> list[dict[str, object]]:
    r = client.post(f"/v1/banks/{bank}/entries", headers=admin, json={"entries": [
        {"signal": "pdq", "value": PDQ_A, "quality": 100, "source": "hotline",
         "category": "ncii", "note": 'comma, "quote"\nnewline', "external_id": "te-1"},
        {"signal": "pdq", "value": PDQ_B, "quality": 70},
        {"signal": "md5", "value": MD5, "added_by": "analyst 7"},
        {"signal": "sha256", "value": SHA256},
    ]})
    assert r.status_code == 201, r.text
    return list(r.json()["entries"])


@pytest.mark.parametrize("fmt", ["threatexchange", "csv", "jsonl"])
def test_export_import_roundtrip(client: TestClient, admin: Headers, bank: str,
                                 fmt: str) -> None:
    original = _seed(client, admin, bank)
    r = client.get(f"/v1/banks/{bank}/export?format={fmt}", headers=admin)
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    text = r.text
    if fmt == "threatexchange":
        assert text.splitlines() == [f"pdq {PDQ_A}", f"pdq {PDQ_B}", f"video_md5 {MD5}",
                                     f"video_sha256 {SHA256}"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["value"] for r in rows] == [PDQ_A, PDQ_B, MD5, SHA256]
    else:
        rows = [json.loads(line) for line in text.splitlines()]
        assert [r["signal"] for r in rows] == ["pdq", "pdq", "md5", "sha256"]

    assert client.post("/v1/banks", headers=admin, json={"name": "copy"}).status_code == 201
    r = client.post(f"/v1/banks/copy/import?format={fmt}", headers=admin,
                    files={"file": (f"export.{fmt}", text.encode())})
    assert r.status_code == 200, r.text
    assert r.json() == {"bank": "copy", "added": 4, "duplicates": 0, "errors": []}

    copied = client.get("/v1/banks/copy/entries", headers=admin).json()["data"]
    keep = ("signal", "value") if fmt == "threatexchange" else (
        "signal", "value", "quality", "source", "category", "note", "added_by", "external_id")
    assert [{k: e[k] for k in keep} for e in copied] == \
        [{k: e[k] for k in keep} for e in original]

    # Importing the same file again only finds duplicates.
    r = client.post(f"/v1/banks/copy/import?format={fmt}", headers=admin,
                    files={"file": (f"export.{fmt}", text.encode())})
    assert r.json()["added"] == 0 and r.json()["duplicates"] == 4


def test_export_streams_a_large_bank(client: TestClient, admin: Headers, bank: str) -> None:
    lines = [f"pdq {i:064x}" for i in range(1, 3001)]
    r = client.post(f"/v1/banks/{bank}/import?format=threatexchange", headers=admin,
                    files={"file": ("h.txt", "\n".join(lines).encode())})
    assert r.json()["added"] == 3000
    with client.stream("GET", f"/v1/banks/{bank}/export?format=threatexchange",
                       headers=admin) as r:
        chunks = list(r.iter_bytes())
    assert b"".join(chunks).decode().splitlines() == lines


def test_import_rejects_bad_files(client: TestClient, admin: Headers, bank: str) -> None:
    bad = f"pdq {PDQ_A}\npdq nothex\nmd5 {MD5}\nfancyhash abc\n".encode()
    message = _error(client.post(f"/v1/banks/{bank}/import?format=threatexchange",
                                 headers=admin, files={"file": ("h.txt", bad)}),
                     422, "invalid_import")
    assert "line 2" in message and "line 4" in message
    assert client.get(f"/v1/banks/{bank}", headers=admin).json()["entry_count"] == 0

    r = client.post(f"/v1/banks/{bank}/import?format=threatexchange&skip_invalid=true",
                    headers=admin, files={"file": ("h.txt", bad)})
    assert r.status_code == 200
    assert r.json()["added"] == 2 and len(r.json()["errors"]) == 2

    _error(client.post(f"/v1/banks/{bank}/import?format=csv", headers=admin,
                       files={"file": ("h.csv", b"hash,kind\nabc,pdq\n")}), 422,
           "invalid_request")
    _error(client.post(f"/v1/banks/{bank}/import?format=jsonl", headers=admin,
                       files={"file": ("h.jsonl", b"\xff\xfe\x00garbage")}), 422,
           "invalid_import")
    _error(client.post(f"/v1/banks/{bank}/import?format=xml", headers=admin,
                       files={"file": ("h.xml", b"<x/>")}), 422, "invalid_request")
    _error(client.post(f"/v1/banks/{bank}/import", headers=admin,
                       files={"file": ("h.txt", b"")}), 422, "invalid_request")
    _error(client.get(f"/v1/banks/{bank}/export?format=xml", headers=admin), 422,
           "invalid_request")
    _error(client.get("/v1/banks/absent/export?format=csv", headers=admin), 404, "not_found")
