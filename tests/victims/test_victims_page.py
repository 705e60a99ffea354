"""The on-device hashing page in a real headless Chromium (Debian's, driven by
Playwright): its PDQ agrees with the reference ``pdqhash``, its MD5 with hashlib, only
hashes leave the browser, and a victim's case blocks a recompressed copy until she
withdraws it from the same page."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
import pytest
from PIL import Image
from victims_helpers import recompressed

from browser_support import launched, missing_browser, serving
from fixtures_media import encode, make_image, make_photo, make_video
from haechi.api import create_app
from haechi.engine import Engine
from haechi.signals.pdq import bits_to_hex, hamming
from haechi.victims import VictimsService

if (why := missing_browser()) is not None:
    pytest.skip(why, allow_module_level=True)

PAGE = Path(__file__).parents[2] / "src/haechi/victims/static/hash.html"
HEX = re.compile(r"^[0-9a-f]+$")


@dataclass
class Site:
    url: str
    engine: Engine
    victims: VictimsService


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:

    engine = Engine(data_dir=tmp_path / "data")
    victims = VictimsService(engine)
    engine.victims = victims
    app = create_app(engine)
    with serving(app) as url:
        yield Site(url, engine, victims)
    engine.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with launched() as b:
        yield b


@dataclass
class Traffic:
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)


def watch(page: Any) -> Traffic:
    """Route every request through the test, keeping its method, URL and body."""
    traffic = Traffic()

    def handle(route: Any) -> None:
        req = route.request
        traffic.requests.append((req.method, req.url, req.post_data_buffer or b""))
        route.continue_()

    page.route("**/*", handle)
    page.on("request", lambda req: traffic.requests.append((req.method, req.url, b""))
            if not req.url.startswith(("http://", "https://")) else None)
    return traffic


def hash_in_page(page: Any, paths: list[Path]) -> list[list[dict[str, Any]]]:
    page.set_input_files("#pick", [str(p) for p in paths])
    page.wait_for_selector(f"#progress[data-done='{len(paths)}']", timeout=60_000)
    raw = page.eval_on_selector_all("#files li", "els => els.map(e => e.dataset.hashes)")
    return [json.loads(r) for r in raw]


def reference_pdq(data: bytes) -> tuple[str, int]:
    rgb = np.ascontiguousarray(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    bits, quality = pdqhash.compute(rgb)
    return bits_to_hex(bits), int(quality)


def test_page_pdq_agrees_with_pdqhash(browser: Any, tmp_path: Path) -> None:
    """Opened from disk (file://), as a victim who saved the page would."""
    files: list[tuple[Path, bytes]] = []
    for seed in range(10):
        size = [(640, 480), (333, 517), (1024, 768), (200, 200), (1500, 400)][seed % 5]
        img = make_photo(seed, size, noise=4.0) if seed % 3 == 0 else make_image(seed, size)
        fmt = ["png", "jpeg", "webp"][seed % 3]
        data = encode(img, fmt)
        path = tmp_path / f"picture{seed}.{fmt}"
        path.write_bytes(data)
        files.append((path, data))
    page = browser.new_page()
    traffic = watch(page)
    page.goto(PAGE.as_uri())
    results = hash_in_page(page, [p for p, _ in files])
    assert len(results) == len(files)
    checked = 0
    for (path, data), hashes in zip(files, results, strict=True):
        by = {h["signal"]: h for h in hashes}
        assert by["md5"]["value"] == hashlib.md5(data).hexdigest(), path.name
        ref, quality = reference_pdq(data)
        assert abs(by["pdq"]["quality"] - quality) <= 5, path.name
        if quality >= 80:
            checked += 1
            assert hamming(by["pdq"]["value"], ref) <= 10, (path.name, by["pdq"], ref)
    assert checked >= 8
    # Offline: nothing but the page itself was fetched.
    assert [u for _, u, _ in traffic.requests if not u.startswith("file:")] == []


def test_victim_hashes_submits_only_hashes_and_withdraws(
        browser: Any, site: Site, tmp_path: Path) -> None:
    images = [encode(make_image(seed, (480, 360)), "jpeg") for seed in (21, 22, 23)]
    video = make_video(24, seconds=2.0)
    paths = []
    for n, data in enumerate([*images, video]):
        path = tmp_path / (f"mine{n}.jpg" if n < 3 else "mine.mp4")
        path.write_bytes(data)
        paths.append(path)
    page = browser.new_page()
    traffic = watch(page)
    page.goto(site.url + "/victims")
    results = hash_in_page(page, paths)
    assert [len(r) for r in results] == [2, 2, 2, 1]
    assert results[3] == [{"signal": "md5", "value": hashlib.md5(video).hexdigest()}]
    page.check("#minor")
    page.click("#submit")
    page.wait_for_selector("#receipt", state="visible", timeout=30_000)
    number = page.inner_text("#case-number")
    pin = page.inner_text("#case-pin")

    sent = [(m, u, b) for m, u, b in traffic.requests if m != "GET"]
    assert [(m, u.removeprefix(site.url)) for m, u, _ in sent] == [("POST", "/v1/victims/cases")]
    body = json.loads(sent[0][2])
    assert set(body) == {"items", "minor", "contact"} and body["minor"] is True
    for item in body["items"]:
        assert set(item) == {"kind", "hashes"}
        for h in item["hashes"]:
            assert set(h) <= {"signal", "value", "quality"} and HEX.match(h["value"])
    assert len(sent[0][2]) < 2000  # four files' hashes, nothing of their bytes
    gets = [u.removeprefix(site.url) for m, u, _ in traffic.requests if m == "GET"]
    assert gets == ["/victims"]

    copy = recompressed(images[1])
    scan = site.engine.scan_bytes(copy)
    assert scan.decision == "block"
    site.victims.record_scan(scan=scan, service="chat.example")
    assert site.engine.scan_bytes(video).decision == "block"  # the identical video

    page.fill("#q-number", number)
    page.fill("#q-pin", pin)
    page.click("#check")
    page.wait_for_selector("#status:has-text('blocked')")
    status = page.inner_text("#status")
    assert "active" in status and "1 upload(s) blocked" in status and "chat.example" in status

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#withdraw")
    page.wait_for_selector("#status:has-text('withdrawn')")
    assert site.engine.scan_bytes(copy).decision == "allow"
    assert site.engine.scan_bytes(video).decision == "allow"

    page.fill("#q-pin", "WRONGPIN")
    page.click("#check")
    page.wait_for_selector("#status:has-text('no case')")
    assert "withdrawn" not in page.inner_text("#status")


def test_page_saved_to_disk_submits_to_the_server_it_is_told(
        browser: Any, site: Site, tmp_path: Path) -> None:
    saved = tmp_path / "hash.html"
    saved.write_bytes(PAGE.read_bytes())  # "Save page as..."
    picture = tmp_path / "mine.png"
    data = encode(make_image(25, (320, 240)), "png")
    picture.write_bytes(data)
    page = browser.new_page()
    traffic = watch(page)
    page.goto(saved.as_uri())
    hash_in_page(page, [picture])
    page.fill("#server", site.url + "/")
    page.click("#submit")
    page.wait_for_selector("#receipt", state="visible", timeout=30_000)
    number, pin = page.inner_text("#case-number"), page.inner_text("#case-pin")
    assert site.victims.view(number=number, pin=pin).status == "active"
    posted = [b for m, u, b in traffic.requests if m == "POST"]
    assert len(posted) == 1 and data[:64] not in posted[0] and len(posted[0]) < 500
    page.fill("#q-number", number)
    page.fill("#q-pin", "WRONGPIN")
    page.click("#check")
    page.wait_for_selector("#status:has-text('no case')")  # the error is readable too
