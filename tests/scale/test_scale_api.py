"""The scale routes: admin keys only; back-scan results and the retro-hunt over HTTP."""

from __future__ import annotations

import warnings
from pathlib import Path

from scale_helpers import make_folder

from haechi.api import create_app
from haechi.engine import Engine
from haechi.scale.backscan import BackscanOptions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's test client warns about httpx at import
    from fastapi.testclient import TestClient


def test_jobs_matches_and_retrohunt_over_http(engine: Engine, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "store", images=3)
    engine.scale.backscan.run(BackscanOptions(source=str(folder), job="api", workers=0))
    admin, _ = engine.create_api_key("admin", "admin")
    service, _ = engine.create_api_key("platform", "service")
    with TestClient(create_app(engine)) as client:
        def get(path: str, key: str = admin) -> tuple[int, object]:
            r = client.get(path, headers={"Authorization": f"Bearer {key}"})
            return r.status_code, r.json()

        assert client.get("/v1/backscan/jobs/api").status_code == 401
        assert get("/v1/backscan/jobs/api", service)[0] == 403
        status, job = get("/v1/backscan/jobs/api")
        assert status == 200 and isinstance(job, dict)
        assert (job["items"], job["errors"], job["status"]) == (7, 4, "done")
        assert get("/v1/backscan/jobs/none")[0] == 404

        engine.create_bank("later")
        engine.add_media("later", (folder / "a" / "img00000.jpg").read_bytes())
        assert get("/v1/retrohunt")[1] == {
            "cursor": 0, "feed_seq": 1, "behind": 3, "indexed_items": 0, "indexed_frames": 0}
        ran = client.post("/v1/retrohunt", headers={"Authorization": f"Bearer {admin}"})
        assert ran.status_code == 200 and ran.json()["items"] == 1
        status, matches = get("/v1/backscan/jobs/api/matches")
        assert status == 200 and isinstance(matches, list)
        assert {m["signal"] for m in matches} == {"sha256", "md5", "pdq"}
        assert {m["action"] for m in matches} == {"block"}
