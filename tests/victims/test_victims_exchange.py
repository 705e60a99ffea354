"""Hash exchange: a second instance (its own data folder and database) pulls the signed
feed by checkpoint; a withdrawal upstream stops matching downstream after a pull."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from victims_helpers import Clock, recompressed

from browser_support import serving
from haechi.engine import Engine
from haechi.evidence.note import NoteError
from haechi.victims import VictimsService
from haechi.victims.exchange import FeedError
from haechi.victims.pins import CaseAccessDenied
from haechi.victims.schemas import CaseRequest
from haechi.victims.settings import VictimsSettings


@pytest.fixture
def downstream(tmp_path: Path, clock: Clock) -> Iterator[VictimsService]:
    other = Engine(data_dir=tmp_path / "platform", database_url=None)
    yield VictimsService(other, clock=clock,
                         settings=VictimsSettings(feed_origin="platform.example"))
    other.close()


def test_withdrawal_upstream_disappears_downstream_after_a_pull(
        victims: VictimsService, downstream: VictimsService,
        photo: Callable[[int], bytes], request_for: Callable[..., CaseRequest]) -> None:
    upstream_name = victims.settings.feed_origin
    downstream.exchange.add_peer(name=upstream_name, vkey=victims.exchange.vkey(),
                                 actor="admin")
    images = [photo(41), photo(42)]
    receipt = victims.submit(request=request_for(*images, minor=True))
    copy = recompressed(images[0])
    assert downstream.engine.scan_bytes(copy).decision == "allow"  # not pulled yet

    fetch = lambda after: victims.exchange.feed(after=after, limit=3)  # noqa: E731
    first = downstream.exchange.pull(peer=upstream_name, fetch=fetch)
    assert first.applied == 4 and first.checkpoint == 4  # 2 files x (pdq, md5), 2 pages
    scan = downstream.engine.scan_bytes(copy)
    assert scan.decision == "block"
    (imported,) = downstream.list_cases(organisation=None)
    assert imported.case_number == receipt.case_number and imported.origin == upstream_name
    assert imported.minor and imported.priority == 0
    assert downstream.record_scan(scan=scan, service="platform.example") == 1
    assert downstream.exchange.pull(peer=upstream_name, fetch=fetch).applied == 0

    victims.withdraw(number=receipt.case_number, pin=receipt.pin)
    second = downstream.exchange.pull(peer=upstream_name, fetch=fetch)
    assert second.applied == 4 and second.checkpoint == 8
    assert downstream.engine.scan_bytes(copy).decision == "allow"
    assert downstream.list_cases(organisation=None)[0].status == "withdrawn"
    # The imported case has no PIN: nobody can open it downstream.
    with pytest.raises(CaseAccessDenied):
        downstream.view(number=receipt.case_number, pin=receipt.pin)


def test_a_feed_that_is_not_signed_by_the_peer_is_refused(
        victims: VictimsService, downstream: VictimsService,
        photo: Callable[[int], bytes], request_for: Callable[..., CaseRequest]) -> None:
    name = victims.settings.feed_origin
    downstream.exchange.add_peer(name=name, vkey=victims.exchange.vkey(), actor="admin")
    victims.submit(request=request_for(photo(43)))
    genuine = victims.exchange.feed(after=0)
    forged = genuine.replace(" add ", " delete ", 1)
    with pytest.raises(NoteError):
        downstream.exchange.pull(peer=name, fetch=lambda after: forged)
    impostor = downstream.exchange.feed(after=0)  # signed, by the wrong key
    with pytest.raises(NoteError):
        downstream.exchange.pull(peer=name, fetch=lambda after: impostor)
    with pytest.raises(FeedError):  # a replayed page from the wrong checkpoint
        downstream.exchange.pull(peer=name, fetch=lambda after: victims.exchange.feed(
            after=after + 1))
    assert downstream.list_cases(organisation=None) == []


def test_pull_over_http_with_a_service_key(
        victims: VictimsService, downstream: VictimsService,
        photo: Callable[[int], bytes], request_for: Callable[..., CaseRequest]) -> None:
    from haechi.api import create_app

    victims.engine.victims = victims  # type: ignore[attr-defined]
    app = create_app(victims.engine)
    key, _ = victims.engine.create_api_key("platform.example", "service")
    name = victims.settings.feed_origin
    downstream.exchange.add_peer(name=name, vkey=victims.exchange.vkey(), actor="admin")
    receipt = victims.submit(request=request_for(photo(44)))
    with serving(app) as url:
        assert downstream.exchange.pull_url(peer=name, url=url, api_key=key).applied == 2
        victims.delete(number=receipt.case_number, pin=receipt.pin)
        report = downstream.exchange.pull_url(peer=name, url=url, api_key=key)
        with pytest.raises(FeedError, match="401"):
            downstream.exchange.pull_url(peer=name, url=url, api_key="hk_wrong")
    assert report.applied == 2 and report.checkpoint == 4
    assert downstream.engine.scan_bytes(photo(44)).decision == "allow"
    assert downstream.list_cases(organisation=None)[0].status == "deleted"
    assert downstream.engine.get_bank("victims").entry_count == 0
