"""The review queue: order, leases, concurrent claimers, and what confirm, decline and
escalate do, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from moderation_helpers import DEEPFAKE, Clock
from PIL import Image as PILImage

from haechi.engine import Engine
from haechi.errors import ConflictError, InvalidRequestError
from haechi.moderation import ModerationService
from haechi.samples import encode, make_image

Image = Callable[[int], bytes]


def hold(mod: ModerationService, data: bytes, user: str = "uploader",
         **scores: float) -> int:
    out = mod.moderate_upload(data, user_id=user, room_id="r", detections=scores or DEEPFAKE)
    assert out.review_id is not None, out.decision
    return out.review_id


def test_highest_priority_first_then_oldest(mod: ModerationService, clock: Clock,
                                            image: Image) -> None:
    unscannable = mod.moderate_upload(b"junk", user_id="u", room_id="r").review_id
    clock.advance(minutes=1)
    older = hold(mod, image(1))
    clock.advance(minutes=1)
    newer = hold(mod, image(2))
    clock.advance(minutes=1)
    minor = hold(mod, image(3), **DEEPFAKE, minor=0.9)
    page = mod.list_reviews(view="pending")
    assert [r.id for r in page.data] == [minor, older, newer, unscannable]
    assert [r.priority for r in page.data] == [1000, 500, 500, 100]
    claimed = [mod.claim_next(reviewer=f"r{i}") for i in range(5)]
    assert [c.id if c else None for c in claimed] == [minor, older, newer, unscannable, None]


def test_two_reviewers_never_get_the_same_item(mod: ModerationService) -> None:
    total = 40
    for i in range(total):
        mod.moderate_upload(b"junk %d" % i, user_id="u", room_id="r")
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        mine: list[int] = []
        try:
            while (review := mod.claim_next(reviewer=name)) is not None:
                mine.append(review.id)
        except BaseException as exc:  # surfaced below, with the thread's name
            errors.append(exc)
        got[name] = mine

    threads = [threading.Thread(target=work, args=(f"reviewer-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == total


def test_lease_expires_and_only_the_holder_decides(mod: ModerationService, clock: Clock,
                                                   image: Image) -> None:
    review_id = hold(mod, image(1))
    assert mod.claim_next(reviewer="alice") is not None
    assert mod.claim_next(reviewer="bob") is None
    with pytest.raises(ConflictError):
        mod.claim(review_id=review_id, reviewer="bob")
    with pytest.raises(ConflictError) as info:
        mod.decide(review_id=review_id, reviewer="bob", decision="confirm", reason="x")
    assert info.value.code == "not_claimed"
    clock.advance(minutes=16)
    taken = mod.claim_next(reviewer="bob")
    assert taken is not None and taken.id == review_id and taken.claimed_by == "bob"
    with pytest.raises(ConflictError):
        mod.decide(review_id=review_id, reviewer="alice", decision="decline", reason="ok")
    with pytest.raises(InvalidRequestError):
        mod.decide(review_id=review_id, reviewer="bob", decision="confirm", reason="  ")
    mod.decide(review_id=review_id, reviewer="bob", decision="confirm", reason="deepfake")
    with pytest.raises(ConflictError):
        mod.claim(review_id=review_id, reviewer="bob")


def test_confirm_banks_the_hashes_so_copies_are_blocked_without_a_human(
        mod: ModerationService, engine: Engine) -> None:
    picture = make_image(42, (320, 240))
    review_id = hold(mod, encode(picture), user="mallory")
    mod.claim(review_id=review_id, reviewer="alice")
    result = mod.decide(review_id=review_id, reviewer="alice", decision="confirm",
                        reason="sexual deepfake of a real person")
    assert result.item.status == "removed" and result.bank_entries_added == 3
    assert [e.type for e in result.events] == ["delete_item", "warn_user"]
    assert result.strike is not None and result.user.active_strike_weight == 1
    bank = engine.get_bank("moderation-confirmed")
    assert (bank.kind, bank.entry_count) == ("block", 3)
    # a re-upload by someone else, resized: blocked by the bank, nobody reviews it
    copy = encode(picture.resize((160, 120), PILImage.Resampling.BILINEAR))
    again = mod.moderate_upload(copy, user_id="nina", room_id="other")
    assert (again.decision.action, again.decision.rule) == ("block", "known-bank-match")
    assert "moderation-confirmed" in again.decision.reason
    assert again.review_id is None and again.events[0].type == "delete_item"
    assert again.decision.match_category == "synthetic_sexual"
    auto = next(s for s in mod.statements() if s["puid"] == f"item-{again.item.id}")
    assert auto["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert "CONTENT_TYPE_SYNTHETIC_MEDIA" in auto["content_type"]
    statement = next(s for s in mod.statements() if s["puid"] == f"item-{result.item.id}")
    assert statement["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"
    assert "CONTENT_TYPE_SYNTHETIC_MEDIA" in statement["content_type"]
    assert statement["category_specification"] == ["KEYWORD_NON_CONSENSUAL_ITEMS_DEEPFAKE"]


def test_overturned_confirmation_stops_blocking_copies(mod: ModerationService,
                                                       image: Image) -> None:
    review_id = hold(mod, image(7))
    mod.claim(review_id=review_id, reviewer="alice")
    confirmed = mod.decide(review_id=review_id, reviewer="alice", decision="confirm",
                           reason="looks real")
    appeal = mod.appeal(item_id=confirmed.item.id, user_id="uploader", statement="it is me")
    assert [r.id for r in mod.list_reviews(view="appealed").data] == [review_id]
    mod.resolve_appeal(appeal_id=appeal.id, reviewer="lead", outcome="overturn",
                       reason="consensual, uploader is the person shown")
    assert mod.list_reviews(view="appealed").count == 0
    again = mod.moderate_upload(image(7), user_id="other", room_id="r")
    assert again.decision.action == "allow"


def test_decline_allow_lists_the_file(mod: ModerationService, engine: Engine,
                                      image: Image) -> None:
    review_id = hold(mod, image(8))
    mod.claim(review_id=review_id, reviewer="alice")
    result = mod.decide(review_id=review_id, reviewer="alice", decision="decline",
                        reason="a painting, no real person")
    assert result.item.status == "published" and result.strike is None
    assert [e.type for e in result.events] == ["release_item"]
    bank = engine.get_bank("moderation-declined")
    assert (bank.kind, bank.entry_count) == ("allow", 2)  # digests only, no perceptual hash
    again = mod.moderate_upload(image(8), user_id="u2", room_id="r", detections=DEEPFAKE)
    assert (again.decision.action, again.decision.rule) == ("allow", "allow-listed")
    assert again.review_id is None


def test_escalate_returns_the_item_marked_for_senior_review(mod: ModerationService,
                                                           image: Image) -> None:
    review_id = hold(mod, image(9))
    mod.claim(review_id=review_id, reviewer="alice")
    mod.decide(review_id=review_id, reviewer="alice", decision="escalate",
               reason="unsure whether the face is real")
    assert mod.claim_next(reviewer="bob", escalated=False) is None
    assert [r.id for r in mod.list_reviews(view="escalated").data] == [review_id]
    senior = mod.claim_next(reviewer="lead", escalated=True)
    assert senior is not None and senior.escalated
    assert [h["step"] for h in senior.history] == ["claim", "escalate", "claim"]
    mod.decide(review_id=review_id, reviewer="lead", decision="decline", reason="drawn")
    decided = mod.list_reviews(view="decided")
    assert decided.count == 1 and decided.data[0].decided_by == "lead"


def test_bad_queue_requests(mod: ModerationService) -> None:
    with pytest.raises(InvalidRequestError):
        mod.list_reviews(view="everything")
    with pytest.raises(InvalidRequestError):
        mod.list_reviews(limit=0)
    with pytest.raises(InvalidRequestError):
        mod.claim_next(reviewer="a", lease_seconds=1)
    with pytest.raises(InvalidRequestError):
        mod.claim_next(reviewer="")
