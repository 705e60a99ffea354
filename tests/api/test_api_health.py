"""Liveness, readiness while the index loads, and the app's own engine lifecycle."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from haechi.api import create_app
from haechi.config import Settings
from haechi.engine import Engine

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_live(client: TestClient) -> None:
    r = client.get("/v1/health/live")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_ready_is_503_until_the_index_is_loaded(tmp_path: Path) -> None:
    engine = Engine(data_dir=tmp_path, load_index=False)
    key, _ = engine.create_api_key("svc", "service")
    try:
        with TestClient(create_app(engine)) as client:
            r = client.get("/v1/health/ready")
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "not_ready"
            assert "loading" in r.json()["error"]["message"]
            # Scans are refused too: an empty index would allow everything.
            r = client.post("/v1/scan/hashes", headers={"Authorization": f"Bearer {key}"},
                            json={"hashes": [{"signal": "pdq", "value": PDQ}]})
            assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
            assert client.get("/v1/health/live").status_code == 200

            engine.indexes.load()
            r = client.get("/v1/health/ready")
            assert r.status_code == 200
            body = r.json()
            assert body["status"] == "ready"
            assert body["index"]["ready"] is True
            assert body["database"] == "sqlite"
            r = client.post("/v1/scan/hashes", headers={"Authorization": f"Bearer {key}"},
                            json={"hashes": [{"signal": "pdq", "value": PDQ}]})
            assert r.status_code == 200 and r.json()["decision"] == "allow"
    finally:
        engine.close()


def test_app_builds_loads_and_closes_its_own_engine(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    seed = Engine(settings)
    key, _ = seed.create_api_key("admin", "admin")
    seed.close(save_index=False)

    app = create_app(settings=settings)
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while client.get("/v1/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the index never became ready"
            time.sleep(0.05)
        headers = {"Authorization": f"Bearer {key}"}
        assert client.post("/v1/banks", json={"name": "b"}, headers=headers).status_code == 201
        r = client.post("/v1/banks/b/entries", headers=headers,
                        json={"entries": [{"signal": "pdq", "value": PDQ}]})
        assert r.status_code == 201
        r = client.post("/v1/scan/hashes", headers=headers,
                        json={"hashes": [{"signal": "pdq", "value": PDQ}]})
        assert r.json()["decision"] == "block"
    # Shutdown closed the engine and saved the index that held the new entry.
    assert (tmp_path / "data" / "index" / "pdq").is_dir()
    reopened = Engine(settings)
    try:
        assert reopened.indexes.loaded_from == "files"
        assert len(reopened.indexes.pdq) == 1
    finally:
        reopened.close()
