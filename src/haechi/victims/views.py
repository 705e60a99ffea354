"""Build what victims and advocates see from the store: counts and dates, no content."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.victims.models import VictimBlock, VictimCase, VictimHash, VictimTakedown
from haechi.victims.schemas import AdvocateCaseView, CaseView, ServiceBlocks


def case_view(s: Session, row: VictimCase) -> CaseView:
    items = s.scalar(select(func.count(func.distinct(VictimHash.item)))
                     .where(VictimHash.case_id == row.id)) or 0
    hashes = s.scalar(select(func.count()).where(VictimHash.case_id == row.id)) or 0
    per_service = s.execute(
        select(VictimBlock.service, func.count(), func.max(VictimBlock.at))
        .where(VictimBlock.case_id == row.id, VictimBlock.outcome == "blocked")
        .group_by(VictimBlock.service).order_by(VictimBlock.service)).all()
    feedback = dict(s.execute(
        select(VictimBlock.outcome, func.count()).where(VictimBlock.case_id == row.id)
        .group_by(VictimBlock.outcome)).all())
    services = [ServiceBlocks(service=name, blocked=n, last_at=_utc(last))
                for name, n, last in per_service]
    return CaseView(
        case_number=row.number, status=row.status,  # type: ignore[arg-type]
        minor=row.minor, priority=row.priority, created_at=row.created_at,
        updated_at=row.updated_at, items=items, hashes=hashes,
        blocked=sum(x.blocked for x in services),
        last_blocked_at=max((x.last_at for x in services), default=None),
        blocked_by_service=services, feedback={k: int(v) for k, v in feedback.items()})


def advocate_view(s: Session, row: VictimCase, now: datetime) -> AdvocateCaseView:
    base = case_view(s, row)
    open_q = select(func.count()).where(VictimTakedown.case_id == row.id,
                                        VictimTakedown.state == "open")
    return AdvocateCaseView(
        **base.model_dump(), contact=row.contact, organisation=row.organisation,
        origin=row.origin, open_takedowns=s.scalar(open_q) or 0,
        overdue_takedowns=s.scalar(open_q.where(VictimTakedown.due_at < now)) or 0)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
