"""The reviewer pages in a real headless Chromium (Debian's, driven by Playwright):
blurred greyscale media, a logged reveal, one-key decisions, appeals, the report form,
and what an account without rights cannot do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from moderation_helpers import DEEPFAKE

from browser_support import launched, missing_browser, serving
from haechi.api import create_app
from haechi.engine import Engine
from haechi.moderation import ModerationService
from haechi.samples import encode, make_image

if (why := missing_browser()) is not None:
    pytest.skip(why, allow_module_level=True)

PASSWORD = "correct horse battery"


@dataclass
class Site:
    url: str
    engine: Engine
    mod: ModerationService


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:

    engine = Engine(data_dir=tmp_path / "data")
    mod = ModerationService(engine)
    engine.moderation = mod
    with serving(create_app(engine)) as url:
        yield Site(url, engine, mod)
    engine.close()


@pytest.fixture
def browser() -> Iterator[object]:
    with launched() as b:
        yield b


def login(browser: object, site: Site, username: str) -> object:
    page = browser.new_context().new_page()  # type: ignore[attr-defined]
    page.goto(site.url + "/review/queue")
    assert page.url.endswith("/review/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/review/queue")
    return page


def test_review_in_the_browser(site: Site, browser: object) -> None:
    mod = site.mod
    mod.accounts.create(username="alice", password=PASSWORD, role="reviewer", can_reveal=True)
    mod.accounts.create(username="trainee", password=PASSWORD, role="reviewer")
    picture = encode(make_image(11, (320, 240)))
    held = mod.moderate_upload(picture, user_id="uploader", room_id="general",
                               detections=DEEPFAKE)
    assert held.item.status == "held"

    page = login(browser, site, "alice")
    assert "1 pending" in page.inner_text("main")
    page.click("#claim-next")
    page.wait_for_url("**/review/items/*")
    media = page.locator("#media")
    assert "/blurred" in (media.get_attribute("src") or "")
    style = page.evaluate("getComputedStyle(document.getElementById('media')).filter")
    assert "blur" in style and "grayscale" in style
    assert page.evaluate("document.getElementById('media').naturalWidth") > 0
    assert "synthetic-sexual-real-face" in page.inner_text("#signals")
    assert mod.audit_log(action="reveal") == []

    page.keyboard.press("r")  # one key reveals; the server logs it
    # polled from here: wait_for_function would evaluate strings inside the page, which
    # the page's Content-Security-Policy rightly forbids
    shown = "(() => { const m = document.getElementById('media'); " \
            "return m.src.endsWith('/original') && m.complete && m.naturalWidth > 0; })()"
    deadline = time.monotonic() + 10
    while not page.evaluate(shown):
        assert time.monotonic() < deadline, "the revealed image did not load"
        time.sleep(0.05)
    assert "revealed" in (media.get_attribute("class") or "")
    reveals = mod.audit_log(action="reveal")
    assert [(e.actor, e.target) for e in reveals] == [("alice", f"item {held.item.id}")]

    page.fill("#decision-reason", "sexual deepfake of a real person")
    page.locator("h1").click()  # leave the text box so the key is a command
    page.keyboard.press("c")
    page.wait_for_url("**/review/queue*")
    assert "confirm" in page.inner_text("#flash")

    # the same picture again: blocked by the bank, no human involved
    again = mod.moderate_upload(picture, user_id="someone", room_id="other")
    assert (again.decision.action, again.decision.rule) == ("block", "known-bank-match")

    # the uploader appeals; alice overturns it in the browser
    appeal = mod.appeal(item_id=held.item.id, user_id="uploader", statement="it is me")
    page.goto(site.url + "/review/appeals")
    row = page.locator("#appeals tr", has_text="it is me")
    row.locator("input[name=reason]").fill("the uploader is the person shown, consenting")
    row.locator("button[value=overturn]").click()
    page.wait_for_url("**/review/appeals*")
    assert f"Appeal {appeal.id}: overturn" in page.inner_text("#flash")
    assert mod.get_item(item_id=held.item.id).status == "reinstated"
    assert [e.action for e in mod.audit_log(limit=10)][:3] == [
        "appeal_overturn", "review_confirm", "reveal"]


def test_reviewer_without_rights(site: Site, browser: object) -> None:
    mod = site.mod
    mod.accounts.create(username="trainee", password=PASSWORD, role="reviewer")
    held = mod.moderate_upload(encode(make_image(12, (320, 240))), user_id="u",
                               room_id="r", detections=DEEPFAKE)
    page = login(browser, site, "trainee")
    page.click("#claim-next")
    page.wait_for_url("**/review/items/*")
    assert page.locator("#reveal").count() == 0
    assert "may not reveal" in page.inner_text("#no-reveal")
    page.keyboard.press("r")
    assert "/blurred" in (page.locator("#media").get_attribute("src") or "")
    direct = page.request.get(f"{site.url}/review/media/{held.item.id}/original")
    assert direct.status == 403
    assert [e.actor for e in mod.audit_log(action="reveal_denied")] == ["trainee"]
    admin = page.goto(site.url + "/review/admin")
    assert admin is not None and admin.status == 403
    # a form posted without the session's CSRF token is refused
    forged = page.request.post(f"{site.url}/review/claim", form={"csrf": "forged"})
    assert forged.status == 403


def test_public_report_form(site: Site, browser: object) -> None:
    page = browser.new_context().new_page()  # type: ignore[attr-defined]
    page.goto(site.url + "/report")
    page.fill("#location", "https://chat.example/room/5/message/9")
    page.fill("#explanation", "a fake sexual image of me")
    page.check("#good_faith")
    page.click("#send")
    assert "report number is 1" in page.inner_text("#receipt")
    cases = site.mod.notices.cases()
    assert [c.location for c in cases] == ["https://chat.example/room/5/message/9"]
