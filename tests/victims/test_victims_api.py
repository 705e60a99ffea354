"""The victims HTTP routes: the public case routes (CORS, same answer for a wrong PIN
and an unknown case, throttling), advocates scoped to their organisation, the signed
feed and platform feedback behind keys."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest
from victims_helpers import Clock, recompressed

from haechi.api import create_app
from haechi.engine import Engine
from haechi.victims import VictimsService
from haechi.victims.schemas import CaseRequest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx, as in tests/api
    from fastapi.testclient import TestClient


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client(engine: Engine, victims: VictimsService) -> Iterator[TestClient]:
    engine.victims = victims
    app = create_app(engine)
    with TestClient(app) as c:
        yield c


def test_public_case_routes(client: TestClient, engine: Engine,
                            photo: Callable[[int], bytes],
                            request_for: Callable[..., CaseRequest]) -> None:
    page = client.get("/victims")
    assert page.status_code == 200 and "HaechiHash" in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    pre = client.options("/v1/victims/cases", headers={
        "Origin": "null", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"

    body = request_for(photo(51)).model_dump(mode="json")
    opened = client.post("/v1/victims/cases", json=body)
    assert opened.status_code == 201, opened.text
    assert opened.headers["access-control-allow-origin"] == "*"
    number, pin = opened.json()["case_number"], opened.json()["pin"]
    assert engine.scan_bytes(recompressed(photo(51))).decision == "block"

    seen = client.post(f"/v1/victims/cases/{number}/view", json={"pin": pin})
    assert seen.status_code == 200 and seen.json()["status"] == "active"
    wrong = client.post(f"/v1/victims/cases/{number}/view", json={"pin": "NOPE2345"})
    unknown = client.post("/v1/victims/cases/ZZZZZ-ZZZZZ/view", json={"pin": pin})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert wrong.headers["access-control-allow-origin"] == "*"  # readable from a saved page
    for _ in range(4):
        client.post(f"/v1/victims/cases/{number}/view", json={"pin": "NOPE2345"})
    locked = client.post(f"/v1/victims/cases/{number}/withdraw", json={"pin": pin})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "too_many_attempts"
    assert engine.scan_bytes(recompressed(photo(51))).decision == "block"  # not withdrawn

    bad = client.post("/v1/victims/cases", json={"items": [{"kind": "image", "hashes": [
        {"signal": "pdq", "value": "zz", "quality": 90}]}]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_hash"
    assert client.post("/v1/victims/cases", json={"items": []}).status_code == 422


def test_advocates_see_only_their_organisation(
        client: TestClient, engine: Engine, victims: VictimsService,
        photo: Callable[[int], bytes], request_for: Callable[..., CaseRequest]) -> None:
    ours = victims.submit(request=request_for(photo(52), contact="v@example.org"))
    theirs = victims.submit(request=request_for(photo(53)), organisation="other-centre")
    advocate, info = engine.create_api_key("advocate-kim", "victim_advocate")
    service, _ = engine.create_api_key("platform", "service")
    assert client.get("/v1/victims/advocate/cases").status_code == 401
    assert client.get("/v1/victims/advocate/cases", headers=bearer(service)).status_code == 403
    unassigned = client.get("/v1/victims/advocate/cases", headers=bearer(advocate))
    assert unassigned.status_code == 403
    victims.assign_advocate(api_key_id=info.id, organisation="default", actor="admin")

    listed = client.get("/v1/victims/advocate/cases", headers=bearer(advocate)).json()
    assert [c["case_number"] for c in listed] == [ours.case_number]
    assert listed[0]["contact"] == "v@example.org"
    other = client.get(f"/v1/victims/advocate/cases/{theirs.case_number}",
                       headers=bearer(advocate))
    assert other.status_code == 404

    sent = client.post(f"/v1/victims/advocate/cases/{ours.case_number}/takedowns",
                       headers=bearer(advocate), json={
                           "locator": "https://host.example/v/1", "service": "host.example",
                           "legal_ground": "TAKE IT DOWN Act", "sent_at": "2026-11-20T09:00Z"})
    assert sent.status_code == 201, sent.text
    fresh = client.post(f"/v1/victims/advocate/cases/{ours.case_number}/takedowns",
                        headers=bearer(advocate), json={
                            "locator": "https://b.example/2", "service": "b.example",
                            "legal_ground": "art. 16 DSA"})
    assert fresh.status_code == 201
    queue = client.get("/v1/victims/advocate/takedowns", headers=bearer(advocate)).json()
    assert [(t["service"], t["overdue"]) for t in queue] == [
        ("host.example", True), ("b.example", False)]  # overdue first
    followed = client.post(f"/v1/victims/advocate/takedowns/{sent.json()['id']}/follow-up",
                           headers=bearer(advocate), json={})
    assert followed.json()["follow_ups"] == 1 and not followed.json()["overdue"]
    replied = client.post(f"/v1/victims/advocate/takedowns/{fresh.json()['id']}/reply",
                          headers=bearer(advocate), json={"state": "removed", "reply": "done"})
    assert replied.json()["state"] == "removed"
    case = client.get(f"/v1/victims/advocate/cases/{ours.case_number}",
                      headers=bearer(advocate)).json()
    assert case["open_takedowns"] == 1 and case["overdue_takedowns"] == 0

    withdrawn = client.post(f"/v1/victims/advocate/cases/{ours.case_number}/withdraw",
                            headers=bearer(advocate))
    assert withdrawn.json()["status"] == "withdrawn"
    log = [(e.actor, e.action) for e in engine.moderation.audit_log(limit=100)]
    assert ("advocate-kim", "victim_case_withdrawn") in log
    assert ("advocate-kim", "victim_takedown_sent") in log


def test_feed_and_feedback_need_a_service_key(
        client: TestClient, engine: Engine, victims: VictimsService,
        photo: Callable[[int], bytes], request_for: Callable[..., CaseRequest]) -> None:
    request = request_for(photo(54))
    receipt = victims.submit(request=request)
    assert client.get("/v1/victims/feed").status_code == 401
    advocate, _ = engine.create_api_key("advocate", "victim_advocate")
    assert client.get("/v1/victims/feed", headers=bearer(advocate)).status_code == 403
    service, _ = engine.create_api_key("video.example", "service")
    feed = client.get("/v1/victims/feed", params={"after": 0}, headers=bearer(service))
    assert feed.status_code == 200 and feed.text.startswith("haechi victims feed v1\n")
    assert receipt.case_number in feed.text and "\n\n\u2014 " in feed.text
    vkey = client.get("/v1/victims/feed/key", headers=bearer(service)).text.strip()
    assert vkey == victims.exchange.vkey()

    md5 = request.items[0].hashes[1].value
    sent = client.post("/v1/victims/feedback", headers=bearer(service),
                       json={"signal": "md5", "value": md5, "outcome": "not_blocked"})
    assert sent.json() == {"cases": 1}
    view = victims.view(number=receipt.case_number, pin=receipt.pin)
    assert view.feedback == {"not_blocked": 1} and view.blocked == 0
    unknown = client.post("/v1/victims/feedback", headers=bearer(service),
                          json={"signal": "md5", "value": "0" * 32, "outcome": "blocked"})
    assert unknown.status_code == 404


def test_monthly_report_pdf(client: TestClient, engine: Engine, victims: VictimsService,
                            clock: Clock, photo: Callable[[int], bytes],
                            request_for: Callable[..., CaseRequest]) -> None:
    receipt = victims.submit(request=request_for(photo(55)))
    scan = engine.scan_bytes(recompressed(photo(55)))
    victims.record_scan(scan=scan, service="chat.example")
    victims.record_scan(scan=scan, service="chat.example")
    clock.advance(days=40)  # next month: not in November's report
    victims.record_scan(scan=scan, service="late.example")
    url = f"/v1/victims/cases/{receipt.case_number}/report"
    pdf = client.post(url, params={"month": "2026-11"}, json={"pin": receipt.pin})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = pdf.content
    assert b"chat.example" in text and b"late.example" not in text
    assert b"2026-11" in text
    wrong = client.post(url, params={"month": "2026-11"}, json={"pin": "NOPE2345"})
    assert wrong.status_code == 404
    assert client.post(url, params={"month": "11/2026"},
                       json={"pin": receipt.pin}).status_code == 422


def test_pin_checks_are_limited_per_client(engine: Engine, clock: Clock) -> None:
    from haechi.victims.settings import VictimsSettings

    engine.victims = VictimsService(  # type: ignore[attr-defined]
        engine, clock=clock, settings=VictimsSettings(pin_checks_per_window=3))
    app = create_app(engine)
    with TestClient(app) as client:
        codes = [client.post(f"/v1/victims/cases/2222{n}-22222/view",
                             json={"pin": "ABCDEFGH"}).status_code for n in range(2, 6)]
    assert codes == [404, 404, 404, 429]


def test_new_blocks_raise_one_alert_until_delivered(
        client: TestClient, engine: Engine, victims: VictimsService, clock: Clock,
        photo: Callable[[int], bytes], request_for: Callable[..., CaseRequest]) -> None:
    receipt = victims.submit(request=request_for(photo(56), contact="+82-10-0000-0000"))
    other_org = victims.submit(request=request_for(photo(57)), organisation="elsewhere")
    advocate, info = engine.create_api_key("advocate-lee", "victim_advocate")
    victims.assign_advocate(api_key_id=info.id, organisation="default", actor="admin")
    for seed in (56, 56, 57):
        victims.record_scan(scan=engine.scan_bytes(recompressed(photo(seed))),
                            service="chat.example")
        clock.advance(minutes=5)
    pending = client.get("/v1/victims/advocate/alerts", headers=bearer(advocate)).json()
    assert [(a["case_number"], a["blocks"], a["contact"]) for a in pending] == [
        (receipt.case_number, 2, "+82-10-0000-0000")]
    assert other_org.case_number not in str(pending)
    done = client.post(f"/v1/victims/advocate/alerts/{pending[0]['id']}/delivered",
                       headers=bearer(advocate))
    assert done.json()["delivered_at"] is not None
    assert client.get("/v1/victims/advocate/alerts", headers=bearer(advocate)).json() == []
    victims.record_scan(scan=engine.scan_bytes(recompressed(photo(56))), service="b.example")
    fresh = client.get("/v1/victims/advocate/alerts", headers=bearer(advocate)).json()
    assert [a["blocks"] for a in fresh] == [1]


def test_platform_scans_count_on_the_case(client: TestClient, engine: Engine,
                                          victims: VictimsService,
                                          photo: Callable[[int], bytes],
                                          request_for: Callable[..., CaseRequest]) -> None:
    """A platform's scan through the API counts on the case under the key's name, with
    no other step; an unrelated scan counts nothing."""
    receipt = victims.submit(request=request_for(photo(55)))
    key, _ = engine.create_api_key("chat.example", "service")
    copy = client.post("/v1/scan", headers=bearer(key),
                       files={"file": ("copy.jpg", recompressed(photo(55)))})
    assert copy.status_code == 200 and copy.json()["decision"] == "block"
    other = client.post("/v1/scan", headers=bearer(key),
                        files={"file": ("other.jpg", recompressed(photo(62)))})
    assert other.json()["decision"] == "allow"
    view = victims.view(number=receipt.case_number, pin=receipt.pin)
    assert view.blocked == 1
    assert "chat.example" in view.model_dump_json()
