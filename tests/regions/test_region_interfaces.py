"""The region layer through the CLI and the HTTP API: bank settings and the explanation."""

from __future__ import annotations

import json
import random
import sys
import warnings
from pathlib import Path

from typer.testing import CliRunner

from fixtures_media import encode, make_image
from haechi.api import create_app
from haechi.cli.main import app
from haechi.engine import Engine
from haechi.regions.verify import MIN_INLIERS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.evasion import transforms

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about httpx, as in tests/api
    from fastapi.testclient import TestClient

runner = CliRunner()


def _run(data: Path, *args: str) -> str:
    result = runner.invoke(app, ["--data-dir", str(data), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_cli_bank_region_settings_and_scan(tmp_path: Path) -> None:
    data = tmp_path / "data"
    img = make_image(4)
    (tmp_path / "known.png").write_bytes(encode(img, "PNG"))
    (tmp_path / "captioned.jpg").write_bytes(
        encode(transforms.caption_top(img, random.Random(0)), "JPEG"))
    _run(data, "bank", "create", "known", "--no-regions", "--region-threshold", "24")
    [bank] = [json.loads(line) for line in _run(data, "bank", "list", "--json").splitlines()]
    assert bank["regions_enabled"] is False and bank["region_threshold"] == 24
    _run(data, "bank", "add", "known", str(tmp_path / "known.png"))
    [off] = map(json.loads, _run(data, "scan", "--json", str(tmp_path / "captioned.jpg"))
                .splitlines())
    assert off["decision"] == "allow"
    _run(data, "bank", "update", "known", "--regions", "--region-threshold", "28")
    [on] = map(json.loads, _run(data, "scan", "--json", str(tmp_path / "captioned.jpg"))
               .splitlines())
    assert on["decision"] == "block"
    [match] = on["matches"]
    # A picture with corners to find: its keypoints catch the captioned copy.
    assert match["layer"] == "regions" and match["score"] >= MIN_INLIERS
    [pair] = match["regions"]
    assert pair["query_region"] == pair["entry_region"] == "keypoints"
    assert len(pair["query_box"]) == len(pair["entry_box"]) == 4
    assert "by keypoints" in on["reason"]


def test_api_bank_region_settings_and_scan(tmp_path: Path) -> None:
    with Engine(data_dir=tmp_path / "data") as eng:
        key = eng.create_api_key("admin", "admin")[0]
        headers = {"Authorization": f"Bearer {key}"}
        img = make_image(4)
        with TestClient(create_app(eng)) as client:
            r = client.post("/v1/banks", headers=headers,
                            json={"name": "known", "region_threshold": 26})
            assert r.status_code == 201, r.text
            assert r.json()["regions_enabled"] is True and r.json()["region_threshold"] == 26
            bad = client.patch("/v1/banks/known", headers=headers,
                               json={"region_threshold": 99})
            assert bad.status_code == 422, bad.text
            assert bad.json()["error"]["code"] == "invalid_request"
            r = client.post("/v1/banks/known/media", headers=headers,
                            files={"file": ("known.png", encode(img, "PNG"), "image/png")})
            assert r.status_code == 201, r.text
            framed = encode(transforms.letterbox(img, random.Random(0)), "JPEG")
            r = client.post("/v1/scan", headers=headers,
                            files={"file": ("up.jpg", framed, "image/jpeg")})
            body = r.json()
            assert body["decision"] == "block", body["reason"]
            [match] = body["matches"]
            assert match["layer"] == "regions" and match["threshold"] == MIN_INLIERS
            [pair] = match["regions"]
            assert pair["query_region"] == "keypoints" and len(pair["query_box"]) == 4
            assert pair["scale"] > 0 and pair["rotation"] is not None
            assert pair["mirrored"] is False
            off = client.patch("/v1/banks/known", headers=headers,
                               json={"regions_enabled": False})
            assert off.status_code == 200 and off.json()["regions_enabled"] is False
            r = client.post("/v1/scan", headers=headers,
                            files={"file": ("up.jpg", framed, "image/jpeg")})
            assert r.json()["decision"] == "allow"
            # Without a key nothing is revealed.
            assert client.post("/v1/scan", files={"file": ("up.jpg", framed)}).status_code == 401


def test_cli_keypoint_inliers_setting_decides(tmp_path: Path) -> None:
    data = tmp_path / "data"
    img = make_image(4)
    (tmp_path / "known.png").write_bytes(encode(img, "PNG"))
    w, h = img.size
    (tmp_path / "crop.jpg").write_bytes(encode(img.crop((20, 15, w - 20, h - 15)), "JPEG"))
    _run(data, "bank", "create", "known", "--region-inliers", "250")
    [bank] = [json.loads(line) for line in _run(data, "bank", "list", "--json").splitlines()]
    assert bank["region_min_inliers"] == 250
    _run(data, "bank", "add", "known", str(tmp_path / "known.png"))
    [strict] = map(json.loads, _run(data, "scan", "--json", str(tmp_path / "crop.jpg"))
                   .splitlines())
    # A crop keeps fewer than all 250 points: at 250 the bank asks for more than exists.
    assert strict["decision"] == "allow", strict["reason"]
    _run(data, "bank", "update", "known", "--region-inliers", "40")
    [normal] = map(json.loads, _run(data, "scan", "--json", str(tmp_path / "crop.jpg"))
                   .splitlines())
    assert normal["decision"] == "block", normal["reason"]
    [match] = normal["matches"]
    assert match["threshold"] == 40 and 40 <= match["score"] < 250
    assert "40 needed" in normal["reason"]
    for bad in ("15", "251"):
        result = runner.invoke(app, ["--data-dir", str(data), "bank", "update", "known",
                                     "--region-inliers", bad])
        assert result.exit_code != 0
        assert "region_min_inliers must be between 16 and 250" in result.output


def test_api_keypoint_inliers_setting_is_validated(tmp_path: Path) -> None:
    with Engine(data_dir=tmp_path / "data") as eng:
        key = eng.create_api_key("admin", "admin")[0]
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(eng)) as client:
            r = client.post("/v1/banks", headers=headers,
                            json={"name": "known", "region_min_inliers": 45})
            assert r.status_code == 201, r.text
            assert r.json()["region_min_inliers"] == 45
            for bad in (0, 15, 251):
                r = client.patch("/v1/banks/known", headers=headers,
                                 json={"region_min_inliers": bad})
                assert r.status_code == 422, r.text
            r = client.patch("/v1/banks/known", headers=headers,
                             json={"region_min_inliers": 60})
            assert r.status_code == 200 and r.json()["region_min_inliers"] == 60
