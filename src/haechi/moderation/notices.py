"""Public notices (DSA art. 16; TAKE IT DOWN Act requests): anyone may report, without
an account; each report opens a case due 48 hours later, and overdue cases come first."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.moderation.models import ModItem, ModNotice
from haechi.moderation.records import aware
from haechi.moderation.schemas import NoticeInfo, NoticeMetrics

#: The TAKE IT DOWN Act's removal deadline.
DEADLINE = timedelta(hours=48)
OUTCOMES = ("removed", "no_action")


def _text(value: str, what: str, low: int, high: int) -> str:
    value = value.strip()
    if not low <= len(value) <= high or "\x00" in value:
        raise InvalidRequestError(f"{what} must be {low}-{high} characters")
    return value


def submit(s: Session, *, location: str, explanation: str, good_faith: bool, category: str,
           contact: str, is_victim: bool, item_id: int | None, now: datetime) -> ModNotice:
    if not good_faith:
        raise InvalidRequestError("a notice needs the statement that it is made in good "
                                  "faith and is accurate", code="good_faith_required")
    if item_id is not None and s.get(ModItem, item_id) is None:
        item_id = None  # the public cannot probe item ids; staff link the item later
    row = ModNotice(
        location=_text(location, "where the content is", 1, 2000),
        explanation=_text(explanation, "why it is abusive", 1, 10_000),
        category=_text(category, "the category", 0, 100),
        contact=_text(contact, "the contact", 0, 320), is_victim=is_victim,
        item_id=item_id,
        received_at=now, due_at=now + DEADLINE,
    )
    s.add(row)
    s.flush()
    return row


def info(row: ModNotice, now: datetime) -> NoticeInfo:
    due = aware(row.due_at)
    return NoticeInfo(
        id=row.id, location=row.location, explanation=row.explanation, category=row.category,
        contact=row.contact, is_victim=row.is_victim, item_id=row.item_id, state=row.state,
        outcome=row.outcome, outcome_reason=row.outcome_reason,
        received_at=aware(row.received_at), due_at=due,
        closed_at=aware(row.closed_at) if row.closed_at else None,
        overdue=row.state == "open" and due <= now,
    )


def listing(s: Session, *, state: str, limit: int, offset: int) -> list[ModNotice]:
    if state not in ("open", "closed"):
        raise InvalidRequestError("state must be open or closed")
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidRequestError("limit must be 1..500 and offset >= 0")
    # Open cases by deadline: every overdue case sorts before every case still in time.
    order = (ModNotice.due_at, ModNotice.id) if state == "open" else (
        ModNotice.closed_at.desc(), ModNotice.id.desc())
    return list(s.scalars(select(ModNotice).where(ModNotice.state == state)
                          .order_by(*order).limit(limit).offset(offset)))


def close(s: Session, *, notice_id: int, outcome: str, reason: str, item_id: int | None,
          now: datetime) -> ModNotice:
    if outcome not in OUTCOMES:
        raise InvalidRequestError(f"outcome must be one of {', '.join(OUTCOMES)}")
    row = s.get(ModNotice, notice_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no notice {notice_id}")
    if row.state != "open":
        raise ConflictError(f"notice {notice_id} is already closed ({row.outcome})")
    row.state, row.outcome, row.closed_at = "closed", outcome, now
    row.outcome_reason = _text(reason, "the reason", 1, 5000)
    if item_id is not None:
        row.item_id = item_id
    return row


def metrics(s: Session, now: datetime) -> NoticeMetrics:
    is_open = ModNotice.state == "open"
    row = s.execute(select(
        func.count(case((is_open, 1))),
        func.count(case((is_open & (ModNotice.due_at <= now), 1))),
        func.count(case((~is_open, 1))),
        func.count(case((~is_open & (ModNotice.closed_at > ModNotice.due_at), 1))),
    )).one()
    return NoticeMetrics(open=row[0], overdue=row[1], closed=row[2], closed_late=row[3])
