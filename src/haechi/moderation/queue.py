"""The review queue: highest priority first, oldest first within a priority, and a
claim with a lease so two reviewers never get the same item.

PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` lets concurrent claimers pass over
each other's candidate rows. SQLite has one writer at a time, so one conditional
``UPDATE ... WHERE id = (oldest free) AND still free RETURNING id`` is atomic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.moderation.models import ModAppeal, ModItem, ModReview
from haechi.moderation.records import aware, item_info, platform_ids
from haechi.moderation.schemas import ReviewInfo, ReviewPage

DEFAULT_LEASE = timedelta(minutes=15)
QUEUE_ORDER = (ModReview.priority.desc(), ModReview.created_at, ModReview.id)
VIEWS = ("pending", "decided", "appealed", "escalated")


def _free(now: datetime) -> ColumnElement[bool]:
    return and_(ModReview.state == "pending",
                or_(ModReview.lease_expires_at.is_(None), ModReview.lease_expires_at <= now))


def _step(row: ModReview, **entry: Any) -> None:
    # JSON columns change only by assignment: append to a copy.
    row.history = [*row.history, entry]


def claim_next(s: Session, *, reviewer: str, now: datetime, lease: timedelta = DEFAULT_LEASE,
               escalated: bool | None = None) -> ModReview | None:
    conditions = [_free(now)]
    if escalated is not None:
        conditions.append(ModReview.escalated.is_(escalated))
    until = now + lease
    if s.get_bind().dialect.name == "postgresql":
        row = s.scalar(select(ModReview).where(*conditions).order_by(*QUEUE_ORDER).limit(1)
                       .with_for_update(skip_locked=True))
        if row is None:
            return None
        row.claimed_by, row.lease_expires_at = reviewer, until
    else:
        oldest = select(ModReview.id).where(*conditions).order_by(*QUEUE_ORDER).limit(1)
        claimed = s.scalar(update(ModReview).where(ModReview.id == oldest.scalar_subquery(),
                                                   _free(now))
                           .values(claimed_by=reviewer, lease_expires_at=until)
                           .returning(ModReview.id)
                           .execution_options(synchronize_session=False))
        if claimed is None:
            return None
        row = s.get(ModReview, claimed, populate_existing=True)
        assert row is not None
    _step(row, step="claim", by=reviewer, at=now.isoformat())
    s.flush()
    return row


def claim(s: Session, *, review_id: int, reviewer: str, now: datetime,
          lease: timedelta = DEFAULT_LEASE) -> ModReview:
    """Claim one given item (or renew one's own lease on it)."""
    mine = and_(ModReview.state == "pending", ModReview.claimed_by == reviewer)
    claimed = s.scalar(update(ModReview)
                       .where(ModReview.id == review_id, or_(_free(now), mine))
                       .values(claimed_by=reviewer, lease_expires_at=now + lease)
                       .returning(ModReview.id)
                       .execution_options(synchronize_session=False))
    if claimed is None:
        row = s.get(ModReview, review_id)
        if row is None:
            raise NotFoundError(f"no review {review_id}")
        if row.state != "pending":
            raise ConflictError(f"review {review_id} is already decided")
        raise ConflictError(f"review {review_id} is claimed by someone else until "
                            f"{aware(row.lease_expires_at or now).isoformat()}")
    row = s.get(ModReview, review_id, populate_existing=True)
    assert row is not None
    _step(row, step="claim", by=reviewer, at=now.isoformat())
    return row


def locked_for_decision(s: Session, *, review_id: int, reviewer: str,
                        now: datetime) -> ModReview:
    """The review, locked, if ``reviewer`` holds an unexpired lease on it."""
    row = s.get(ModReview, review_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no review {review_id}")
    if row.state != "pending":
        raise ConflictError(f"review {review_id} is already decided ({row.decision})")
    if row.claimed_by != reviewer or row.lease_expires_at is None \
            or aware(row.lease_expires_at) <= now:
        raise ConflictError(f"claim review {review_id} before deciding it (or the claim "
                            "expired)", code="not_claimed")
    return row


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 5000 or "\x00" in reason:
        raise InvalidRequestError("a decision needs a reason of 1-5000 characters")
    return reason


def release(row: ModReview, *, reviewer: str, now: datetime, step: str, reason: str) -> None:
    row.claimed_by, row.lease_expires_at = None, None
    _step(row, step=step, by=reviewer, at=now.isoformat(), reason=reason)


def close(row: ModReview, *, reviewer: str, now: datetime, decision: str, reason: str) -> None:
    row.state, row.decision, row.reason = "decided", decision, reason
    row.decided_by, row.decided_at = reviewer, now
    row.lease_expires_at = None
    _step(row, step=decision, by=reviewer, at=now.isoformat(), reason=reason)


def review_info(s: Session, row: ModReview, item: ModItem | None = None,
                names: dict[tuple[str, int], str] | None = None) -> ReviewInfo:
    item = item or s.get(ModItem, row.item_id)
    assert item is not None
    return ReviewInfo(
        id=row.id, item=item_info(s, item, names), priority=row.priority, state=row.state,
        escalated=row.escalated, created_at=aware(row.created_at), claimed_by=row.claimed_by,
        lease_expires_at=aware(row.lease_expires_at) if row.lease_expires_at else None,
        decision=row.decision, reason=row.reason, decided_by=row.decided_by,
        decided_at=aware(row.decided_at) if row.decided_at else None,
        history=list(row.history),
    )


def page(s: Session, *, view: str, limit: int, offset: int) -> ReviewPage:
    if view not in VIEWS:
        raise InvalidRequestError(f"view must be one of {', '.join(VIEWS)}")
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidRequestError("limit must be 1..500 and offset >= 0")
    conditions: list[ColumnElement[bool]]
    order: tuple[Any, ...] = QUEUE_ORDER
    if view == "pending":
        conditions = [ModReview.state == "pending"]
    elif view == "escalated":
        conditions = [ModReview.state == "pending", ModReview.escalated.is_(True)]
    elif view == "decided":
        conditions = [ModReview.state == "decided"]
        order = (ModReview.decided_at.desc(), ModReview.id.desc())
    else:
        appealed = select(ModAppeal.item_id).where(ModAppeal.state == "open")
        conditions = [ModReview.item_id.in_(appealed)]
        order = (ModReview.id,)
    count = s.scalar(select(func.count(ModReview.id)).where(*conditions)) or 0
    # Items in the same query: one round trip for the page, not one per row.
    query = (select(ModReview, ModItem).join(ModItem, ModItem.id == ModReview.item_id)
             .where(*conditions).order_by(*order).limit(limit).offset(offset))
    rows = s.execute(query).all()
    names = platform_ids(s, [item for _, item in rows])
    return ReviewPage(data=[review_info(s, r, item, names) for r, item in rows], count=count)
