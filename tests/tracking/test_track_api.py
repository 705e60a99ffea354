"""The tracking routes: permissions, ingest by upload, analysis, report, roster, push."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from tracking_scenario import bot_updates, build_export

from haechi.api import create_app
from haechi.engine import Engine
from haechi.tracking import TrackingService

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx, as in tests/api
    from fastapi.testclient import TestClient


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    eng = Engine(data_dir=tmp_path / "data")
    app = create_app(eng)
    with TestClient(app) as client:
        yield client, eng
    eng.close()


def _auth(eng: Engine, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {eng.create_api_key(role, role)[0]}"}


def test_tracking_needs_a_privileged_key(api: tuple[TestClient, Engine]) -> None:
    client, eng = api
    assert client.get("/v1/tracking/analysis").status_code == 401
    for role in ("read_only", "service"):
        r = client.get("/v1/tracking/analysis", headers=_auth(eng, role))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/tracking/analysis", headers=_auth(eng, "admin")).status_code == 200


def test_upload_analysis_report_roster_and_push(api: tuple[TestClient, Engine],
                                                tmp_path: Path) -> None:
    client, eng = api
    admin = _auth(eng, "admin")
    body = "\n".join(json.dumps(u) for u in bot_updates()).encode()
    r = client.post("/v1/tracking/ingest", headers=admin, data={"format": "bot"},
                    files={"file": ("updates.jsonl", body, "application/x-ndjson")})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 4 and r.json()["path"] == "updates.jsonl"
    r = client.post("/v1/tracking/ingest", headers=admin, data={"format": "bot"},
                    files={"file": ("updates.jsonl", body, "application/x-ndjson")})
    assert r.json()["added"] == 0 and r.json()["duplicates"] == 4
    r = client.post("/v1/tracking/ingest", headers=admin, data={"format": "xml"},
                    files={"file": ("x.xml", b"<x/>", "text/xml")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"

    # Media come from an export ingested locally (uploads carry no media files).
    built = build_export(tmp_path / "export")
    eng.create_bank("known")
    eng.add_media("known", built.item)
    TrackingService(eng).ingest(built.folder)

    analysis = client.get("/v1/tracking/analysis", headers=admin).json()
    top = client.get("/v1/tracking/analysis", params={"limit": 2}, headers=admin).json()
    assert len(top["users"]) == 2 and top["users"] == analysis["users"][:2]
    assert analysis["rooms"][0]["chat_id"] == "100"
    shared = [c for c in analysis["clusters"] if "file_unique_id" in c["linked_by"]]
    assert shared and shared[0]["rooms"] == ["-1001", "-1002"]

    page = client.get("/v1/tracking/report", headers=admin)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "지인능욕방" in page.text

    roster = client.get("/v1/tracking/roster.csv", params={"room": "300"}, headers=admin)
    assert roster.status_code == 200 and "user1006" in roster.text
    missing = client.get("/v1/tracking/roster.csv", params={"room": "nope"}, headers=admin)
    assert missing.status_code == 404

    rescan = client.post("/v1/tracking/rescan", headers=admin)
    assert rescan.status_code == 200 and rescan.json()["newly_flagged"] == 0
    pushed = client.post("/v1/tracking/push-to-bank", headers=admin,
                         json={"bank": "wild", "create": True})
    assert pushed.status_code == 200 and pushed.json()["added"] == 9
    assert eng.list_entries("wild")[0][0].added_by.startswith("api key")
