"""Public notices: the good-faith statement, the 48-hour clock, overdue first, metrics,
and removal of the reported item."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from moderation_helpers import Clock

from haechi.errors import ConflictError, InvalidRequestError
from haechi.moderation import ModerationService


def report(mod: ModerationService, where: str, **extra: object) -> int:
    receipt = mod.notices.submit(location=where, explanation="a sexual deepfake of me",
                                 good_faith=True, **extra)  # type: ignore[arg-type]
    return receipt.id


def test_good_faith_statement_is_required(mod: ModerationService) -> None:
    with pytest.raises(InvalidRequestError) as info:
        mod.notices.submit(location="https://x/1", explanation="why", good_faith=False)
    assert info.value.code == "good_faith_required"
    with pytest.raises(InvalidRequestError):
        mod.notices.submit(location=" ", explanation="why", good_faith=True)
    assert mod.notices.metrics().open == 0


def test_cases_become_overdue_after_48_hours_and_come_first(mod: ModerationService,
                                                            clock: Clock) -> None:
    first = report(mod, "https://chat.example/room/1/msg/10", is_victim=True)
    receipt_due = mod.notices.cases()[0].due_at
    assert (receipt_due - clock.now).total_seconds() == 48 * 3600
    clock.advance(hours=10)
    second = report(mod, "https://chat.example/room/2/msg/3", contact="me@example.org")
    clock.advance(hours=37)  # 47 h after the first
    assert mod.notices.metrics().overdue == 0
    clock.advance(hours=1)  # exactly 48 h: due now
    third = report(mod, "https://chat.example/room/3/msg/1")
    cases = mod.notices.cases()
    assert [c.id for c in cases] == [first, second, third]
    assert [c.overdue for c in cases] == [True, False, False]
    m = mod.notices.metrics()
    assert (m.open, m.overdue, m.closed) == (3, 1, 0)
    mod.notices.resolve(notice_id=second, reviewer="rita", outcome="no_action",
                        reason="not abusive")
    clock.advance(hours=1)
    mod.notices.resolve(notice_id=first, reviewer="rita", outcome="no_action",
                        reason="already gone")
    m = mod.notices.metrics()
    assert (m.open, m.overdue, m.closed, m.closed_late) == (1, 0, 2, 1)
    assert [c.id for c in mod.notices.cases(state="closed")] == [first, second]
    with pytest.raises(ConflictError):
        mod.notices.resolve(notice_id=first, reviewer="rita", outcome="removed", reason="x")


def test_removal_by_notice_removes_the_item_and_strikes(mod: ModerationService,
                                                         image: Callable[[int], bytes]) -> None:
    out = mod.moderate_upload(image(3), user_id="zed", room_id="r")
    assert out.item.status == "published"
    notice = report(mod, f"item {out.item.id}", item_id=out.item.id, category="ncii")
    closed = mod.notices.resolve(notice_id=notice, reviewer="rita", outcome="removed",
                                 reason="confirmed non-consensual")
    assert closed.item_id == out.item.id and closed.state == "closed"
    assert mod.get_item(item_id=out.item.id).status == "removed"
    assert [e.type for e in mod.events()] == ["delete_item", "warn_user"]
    statement = mod.statements()[-1]
    assert statement["source_type"] == "SOURCE_ARTICLE_16"
    assert statement["automated_detection"] == "No"
    assert mod.get_user(user_id="zed").active_strike_weight == 1


def test_unknown_item_ids_from_the_public_are_dropped(mod: ModerationService) -> None:
    notice = report(mod, "somewhere", item_id=999)
    assert mod.notices.cases()[0].id == notice and mod.notices.cases()[0].item_id is None
