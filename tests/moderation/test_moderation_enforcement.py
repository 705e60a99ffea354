"""Uploads through ``moderate_upload``: removal, warnings, strikes, bans everywhere,
expiry, severe categories and appeals, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from moderation_helpers import Clock

from haechi.engine import Engine
from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.moderation import ModerationService

Image = Callable[[int], bytes]


@pytest.fixture
def known(engine: Engine, image: Image) -> list[bytes]:
    """Three known abusive items (neutral stand-ins) in a block bank."""
    engine.create_bank("known")
    items = [image(100 + i) for i in range(3)]
    for data in items:
        engine.add_media("known", data)
    return items


def test_known_upload_is_deleted_and_uploader_warned(mod: ModerationService,
                                                     known: list[bytes]) -> None:
    out = mod.moderate_upload(known[0], user_id="alice", room_id="general", name="a.jpg")
    assert out.decision.action == "block" and out.item.status == "removed"
    assert out.decision.rule == "known-bank-match"
    assert [e.type for e in out.events] == ["delete_item", "warn_user"]
    assert out.events[0].payload["item_id"] == out.item.id
    assert out.events[1].payload["first_offence"] is True
    assert out.strike is not None and out.strike.weight == 1 and out.strike.active
    notices = mod.user_notices(user_id="alice")
    assert [n.kind for n in notices] == ["warning"]
    assert "permanent removal" in notices[0].message
    statement = mod.statements()[0]
    assert statement["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert statement["automated_decision"] == "AUTOMATED_DECISION_FULLY"


def test_clean_upload_is_published_without_events(mod: ModerationService, known: list[bytes],
                                                  image: Image) -> None:
    out = mod.moderate_upload(image(5), user_id="bob", room_id="general")
    assert (out.decision.action, out.item.status, out.events) == ("allow", "published", [])
    assert mod.get_user(user_id="bob").active_strike_weight == 0


def test_third_strike_bans_in_every_room(mod: ModerationService, known: list[bytes],
                                         image: Image) -> None:
    mod.moderate_upload(image(1), user_id="carol", room_id="cats")  # seen in a third room
    first = mod.moderate_upload(known[0], user_id="carol", room_id="general")
    second = mod.moderate_upload(known[1], user_id="carol", room_id="memes")
    assert [e.type for e in second.events] == ["delete_item", "warn_user"]
    assert second.events[1].payload["first_offence"] is False
    assert not second.user.banned
    third = mod.moderate_upload(known[2], user_id="carol", room_id="memes")
    assert [e.type for e in third.events] == ["delete_item", "ban_user"]
    ban = third.events[1].payload
    assert ban["scope"] == "platform" and ban["rooms"] == ["cats", "general", "memes"]
    assert third.user.banned and "strikes reached 3 of 3" in third.user.ban_reason
    assert first.strike is not None
    # banned everywhere: a clean upload in a room never used before is refused
    assert not mod.may_post(user_id="carol", room_id="elsewhere")
    later = mod.moderate_upload(image(2), user_id="carol", room_id="elsewhere")
    assert (later.decision.action, later.decision.rule) == ("block", "banned-user")
    assert later.strike is None
    assert [n.kind for n in mod.user_notices(user_id="carol")] == ["warning", "strike", "ban"]
    account = [s for s in mod.statements() if s["decision_account"]]
    assert account[0]["decision_account"] == "DECISION_ACCOUNT_TERMINATED"


def test_strikes_expire(mod: ModerationService, known: list[bytes], clock: Clock) -> None:
    mod.moderate_upload(known[0], user_id="dan", room_id="r")
    mod.moderate_upload(known[1], user_id="dan", room_id="r")
    clock.advance(days=366)
    out = mod.moderate_upload(known[2], user_id="dan", room_id="r")
    assert not out.user.banned and out.user.active_strike_weight == 1
    assert [s.active for s in mod.strikes(user_id="dan")] == [False, False, True]


def test_severe_category_bans_at_once(engine: Engine, clock: Clock, image: Image) -> None:
    from haechi.moderation import parse_policy
    policy = parse_policy("""
severe_categories: [csam]
rules:
  - {name: csam-bank, when: {bank_match: {kind: block, banks: [csam]}}, action: block,
     priority: 10, category: csam}
  - {name: other-bank, when: {bank_match: {kind: block}}, action: block, category: ncii}
""")
    mod = ModerationService(engine, policy=policy, clock=clock)
    engine.create_bank("csam")
    engine.create_bank("ncii")
    engine.add_media("csam", image(50))
    engine.add_media("ncii", image(51))
    mild = mod.moderate_upload(image(51), user_id="erin", room_id="r")
    assert mild.decision.rule == "other-bank" and not mild.user.banned
    out = mod.moderate_upload(image(50), user_id="frank", room_id="r")
    assert out.decision.severe and out.user.banned
    assert [e.type for e in out.events] == ["delete_item", "ban_user"]


def test_appeal_overturn_lifts_ban_and_strike(mod: ModerationService,
                                              known: list[bytes]) -> None:
    outs = [mod.moderate_upload(k, user_id="gil", room_id="r") for k in known]
    assert outs[-1].user.banned
    with pytest.raises(NotFoundError):
        mod.appeal(item_id=outs[2].item.id, user_id="someone-else", statement="mine")
    appeal = mod.appeal(item_id=outs[2].item.id, user_id="gil", statement="this is my art")
    with pytest.raises(ConflictError):
        mod.appeal(item_id=outs[2].item.id, user_id="gil", statement="again")
    assert [a.id for a in mod.list_appeals()] == [appeal.id]
    result = mod.resolve_appeal(appeal_id=appeal.id, reviewer="rita", outcome="overturn",
                                reason="licensed artwork")
    assert result.item.status == "reinstated"
    assert not result.user.banned and result.user.active_strike_weight == 2
    assert [e.type for e in result.events] == ["reinstate_item", "unban_user"]
    strikes = mod.strikes(user_id="gil")
    assert [s.active for s in strikes] == [True, True, False]
    assert "licensed artwork" in strikes[2].lifted_reason
    assert mod.may_post(user_id="gil", room_id="r")
    with pytest.raises(ConflictError):
        mod.resolve_appeal(appeal_id=appeal.id, reviewer="rita", outcome="uphold", reason="x")


def test_appeal_upheld_keeps_everything(mod: ModerationService, known: list[bytes]) -> None:
    out = mod.moderate_upload(known[0], user_id="hal", room_id="r")
    appeal = mod.appeal(item_id=out.item.id, user_id="hal", statement="please")
    result = mod.resolve_appeal(appeal_id=appeal.id, reviewer="rita", outcome="uphold",
                                reason="clear match")
    assert result.item.status == "removed" and result.events == []
    assert result.user.active_strike_weight == 1
    assert mod.user_notices(user_id="hal")[-1].kind == "appeal_upheld"


def test_published_items_cannot_be_appealed(mod: ModerationService, image: Image) -> None:
    out = mod.moderate_upload(image(9), user_id="ivy", room_id="r")
    with pytest.raises(ConflictError):
        mod.appeal(item_id=out.item.id, user_id="ivy", statement="?")


def test_bad_input_is_refused_before_anything_is_written(mod: ModerationService,
                                                        image: Image) -> None:
    with pytest.raises(InvalidRequestError):
        mod.moderate_upload(image(1), user_id="", room_id="r")
    with pytest.raises(InvalidRequestError):
        mod.moderate_upload(image(1), user_id="u", room_id="r", detections={"sexual": 2.0})
    with pytest.raises(NotFoundError):
        mod.get_user(user_id="u")


def test_corrupt_upload_is_held_not_published(mod: ModerationService) -> None:
    out = mod.moderate_upload(b"not an image at all", user_id="jo", room_id="r")
    assert out.scan.decision == "error"
    assert (out.decision.action, out.item.status) == ("hold", "held")
    assert out.review_id is not None


def test_concurrent_first_uploads_by_a_new_user(mod: ModerationService, image: Image) -> None:
    import threading
    errors: list[BaseException] = []

    def post(seed: int) -> None:
        try:
            mod.moderate_upload(image(seed), user_id="newcomer", room_id="new-room")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(200 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(mod.user_items(user_id="newcomer")) == 4
    assert mod.get_user(user_id="newcomer").rooms == ["new-room"]
