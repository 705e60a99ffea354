"""Cases: hashes only in, case number and PIN out, Received -> Active, blocks counted,
withdrawal that stops matching in every replica, deletion, and a throttled PIN."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from victims_helpers import Clock, recompressed

from haechi.engine import Engine
from haechi.errors import InvalidHashError, InvalidRequestError
from haechi.moderation.models import ModAudit
from haechi.victims import VICTIMS_BANK, VictimsService
from haechi.victims.models import VictimCase, VictimHash
from haechi.victims.pins import CaseAccessDenied, CaseLocked
from haechi.victims.schemas import CaseRequest, HashIn, ItemIn

Photo = Callable[[int], bytes]
Build = Callable[..., CaseRequest]


def test_case_blocks_a_recompressed_copy_until_withdrawn_everywhere(
        victims: VictimsService, engine: Engine, make_engine: Callable[..., Engine],
        photo: Photo, request_for: Build) -> None:
    images = [photo(1), photo(2), photo(3)]
    receipt = victims.submit(request=request_for(*images))
    assert receipt.case.status == "active"
    assert receipt.case.items == 3 and receipt.case.hashes == 6
    replica = make_engine()  # a second API replica on the same store
    copy = recompressed(images[1])
    scan = replica.scan_bytes(copy)
    assert scan.decision == "block"
    assert {m.bank for m in scan.matches} == {VICTIMS_BANK}
    assert victims.record_scan(scan=scan, service="chat.example") == 1
    assert engine.scan_bytes(photo(4)).decision == "allow"  # unrelated picture

    seen = victims.view(number=receipt.case_number, pin=receipt.pin)
    assert seen.blocked == 1
    assert [(b.service, b.blocked) for b in seen.blocked_by_service] == [("chat.example", 1)]
    assert "chat.example" not in seen.model_dump_json().replace('"chat.example"', "")

    withdrawn = victims.withdraw(number=receipt.case_number, pin=receipt.pin)
    assert withdrawn.status == "withdrawn"
    replica.indexes.refresh(force=True)  # what the replica does within refresh_seconds
    after = replica.scan_bytes(copy)
    assert after.decision == "allow", after.reason
    assert engine.scan_bytes(images[0]).decision == "allow"
    assert victims.record_scan(scan=after, service="chat.example") == 0


def test_pin_is_kept_only_as_argon2_and_wrong_pins_reveal_nothing(
        victims: VictimsService, engine: Engine, photo: Photo, request_for: Build) -> None:
    receipt = victims.submit(request=request_for(photo(5)))
    with engine.db.session() as s:
        row = s.scalar(select(VictimCase).where(VictimCase.number == receipt.case_number))
        assert row is not None
        assert row.pin_hash.startswith("$argon2id$") and receipt.pin not in row.pin_hash
    with pytest.raises(CaseAccessDenied) as wrong:
        victims.view(number=receipt.case_number, pin="WRONGPIN")
    with pytest.raises(CaseAccessDenied) as unknown:
        victims.view(number="22222-22222", pin=receipt.pin)
    assert wrong.value.code == unknown.value.code == "case_not_found"
    assert wrong.value.message == unknown.value.message
    # Lower case and spaces are forgiven, as people type them.
    assert victims.view(number=receipt.case_number.lower().replace("-", " "),
                        pin=receipt.pin.lower()).status == "active"


def test_guessing_is_throttled_per_case_across_processes(
        victims: VictimsService, make_engine: Callable[..., Engine], clock: Clock,
        photo: Photo, request_for: Build) -> None:
    receipt = victims.submit(request=request_for(photo(6)))
    for _ in range(5):
        with pytest.raises(CaseAccessDenied):
            victims.view(number=receipt.case_number, pin="AAAAAAAA")
    other = VictimsService(make_engine(), clock=clock)  # another process, same store
    with pytest.raises(CaseLocked) as locked:
        other.view(number=receipt.case_number, pin=receipt.pin)  # even the right PIN
    assert locked.value.http_status == 429
    clock.advance(seconds=61)
    with pytest.raises(CaseAccessDenied):
        other.view(number=receipt.case_number, pin="AAAAAAAA")  # sixth miss: 2 minutes
    clock.advance(seconds=61)
    with pytest.raises(CaseLocked):
        victims.view(number=receipt.case_number, pin=receipt.pin)
    clock.advance(seconds=60)
    assert victims.view(number=receipt.case_number, pin=receipt.pin).status == "active"


def test_minor_cases_come_first_for_advocates(
        victims: VictimsService, photo: Photo, request_for: Build) -> None:
    adult = victims.submit(request=request_for(photo(7)))
    minor = victims.submit(request=request_for(photo(8), minor=True, contact="a@b.example"))
    listed = victims.list_cases(organisation="default")
    assert [c.case_number for c in listed] == [minor.case_number, adult.case_number]
    assert listed[0].priority == 0 and listed[0].minor and listed[0].contact == "a@b.example"
    assert victims.list_cases(organisation="another-org") == []


def test_a_hash_two_cases_share_keeps_matching_until_both_withdraw(
        victims: VictimsService, engine: Engine, photo: Photo, request_for: Build) -> None:
    first = victims.submit(request=request_for(photo(9)))
    second = victims.submit(request=request_for(photo(9)))
    victims.withdraw(number=first.case_number, pin=first.pin)
    assert engine.scan_bytes(recompressed(photo(9))).decision == "block"
    victims.withdraw(number=second.case_number, pin=second.pin)
    assert engine.scan_bytes(recompressed(photo(9))).decision == "allow"


def test_deleting_forgets_values_and_contact(
        victims: VictimsService, engine: Engine, photo: Photo, request_for: Build) -> None:
    receipt = victims.submit(request=request_for(photo(10), contact="me@example.org"))
    assert victims.delete(number=receipt.case_number, pin=receipt.pin).status == "deleted"
    assert engine.scan_bytes(photo(10)).decision == "allow"
    assert engine.get_bank(VICTIMS_BANK).entry_count == 0
    with engine.db.session() as s:
        assert set(s.scalars(select(VictimHash.value))) == {""}
        assert s.scalar(select(VictimCase.contact)) == ""
        actions = set(s.scalars(select(ModAudit.action)))
    assert {"victim_case_open", "victim_case_delete"} <= actions


def test_bad_hashes_are_refused_before_anything_is_written(
        victims: VictimsService, engine: Engine) -> None:
    bad = CaseRequest(items=[ItemIn(kind="image", hashes=[
        HashIn(signal="md5", value="0" * 32), HashIn(signal="pdq", value="xyz", quality=90)])])
    with pytest.raises(InvalidHashError):
        victims.submit(request=bad)
    flat = CaseRequest(items=[ItemIn(kind="image", hashes=[
        HashIn(signal="pdq", value="f" * 64, quality=10)])])
    with pytest.raises(InvalidRequestError, match="quality 10"):
        victims.submit(request=flat)
    with engine.db.session() as s:
        assert s.scalar(select(VictimCase.id)) is None


def test_low_quality_pdq_is_skipped_but_the_digest_kept(victims: VictimsService) -> None:
    receipt = victims.submit(request=CaseRequest(items=[ItemIn(kind="image", hashes=[
        HashIn(signal="pdq", value="f" * 64, quality=10), HashIn(signal="md5", value="a" * 32)])]))
    assert receipt.case.hashes == 1 and "quality 10" in receipt.skipped[0]


def test_platform_feedback_reaches_the_case(
        victims: VictimsService, photo: Photo, request_for: Build) -> None:
    request = request_for(photo(11))
    receipt = victims.submit(request=request)
    md5 = request.items[0].hashes[1].value
    assert victims.feedback(signal="md5", value=md5, service="video.example",
                            outcome="pending_review") == 1
    assert victims.feedback(signal="md5", value=md5.upper(), service="video.example",
                            outcome="blocked") == 1
    view = victims.view(number=receipt.case_number, pin=receipt.pin)
    assert view.feedback == {"pending_review": 1, "blocked": 1} and view.blocked == 1
