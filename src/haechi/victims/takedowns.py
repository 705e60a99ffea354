"""Takedown requests advocates send to services, their replies and deadlines.

The deadline defaults to 48 hours from sending (the US TAKE IT DOWN Act's removal
window); a follow-up restarts it. Open requests are listed overdue first, then by how
soon they fall due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.moderation import audit
from haechi.victims.models import VictimCase, VictimTakedown
from haechi.victims.schemas import TakedownInfo, TakedownRequest

if TYPE_CHECKING:
    from haechi.victims.service import VictimsService

REPLY_STATES = ("removed", "refused", "no_reply")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def info(row: VictimTakedown, number: str, now: datetime) -> TakedownInfo:
    return TakedownInfo(
        id=row.id, case_number=number, locator=row.locator, service=row.service,
        legal_ground=row.legal_ground, sent_at=row.sent_at, due_at=row.due_at,
        state=row.state,  # type: ignore[arg-type]
        overdue=row.state == "open" and _aware(row.due_at) < now, reply=row.reply,
        replied_at=row.replied_at, follow_ups=row.follow_ups,
        last_follow_up_at=row.last_follow_up_at)


class TakedownDesk:
    def __init__(self, service: VictimsService) -> None:
        self._svc = service

    def record(self, *, number: str, organisation: str | None, request: TakedownRequest,
               actor: str) -> TakedownInfo:
        from haechi.victims.records import case_for

        now = self._svc.now()
        sent = request.sent_at or now
        if sent.tzinfo is None:
            raise InvalidRequestError("sent_at needs a time zone (e.g. 2026-11-25T10:00Z)")
        with self._svc.engine.db.session() as s:
            case_row = case_for(s, number, organisation)
            row = VictimTakedown(
                case_id=case_row.id, locator=request.locator, service=request.service,
                legal_ground=request.legal_ground, sent_at=sent,
                due_at=sent + timedelta(hours=request.deadline_hours), created_by=actor[:200])
            s.add(row)
            s.flush()
            audit.record(s, actor=actor, action="victim_takedown_sent",
                         target=f"case {case_row.number}", now=now, takedown=row.id,
                         service=request.service)
            return info(row, case_row.number, now)

    def _get(self, s: Session, takedown_id: int,
             organisation: str | None) -> tuple[VictimTakedown, VictimCase]:
        found = s.execute(select(VictimTakedown, VictimCase)
                          .join(VictimCase, VictimCase.id == VictimTakedown.case_id)
                          .where(VictimTakedown.id == takedown_id)
                          .with_for_update()).first()
        if found is None or (organisation is not None and found[1].organisation != organisation):
            raise NotFoundError(f"no takedown request {takedown_id} in this organisation")
        return found[0], found[1]

    def reply(self, *, takedown_id: int, organisation: str | None, state: str, reply: str,
              actor: str) -> TakedownInfo:
        if state not in REPLY_STATES:
            raise InvalidRequestError(f"state must be one of {', '.join(REPLY_STATES)}")
        if len(reply) > 10_000 or "\x00" in reply:
            raise InvalidRequestError("a reply has at most 10000 characters")
        now = self._svc.now()
        with self._svc.engine.db.session() as s:
            row, case_row = self._get(s, takedown_id, organisation)
            if row.state != "open":
                raise ConflictError(f"takedown request {takedown_id} is already {row.state}")
            row.state, row.reply, row.replied_at = state, reply.strip(), now
            audit.record(s, actor=actor, action="victim_takedown_reply",
                         target=f"case {case_row.number}", now=now, takedown=row.id,
                         state=state)
            return info(row, case_row.number, now)

    def follow_up(self, *, takedown_id: int, organisation: str | None, actor: str,
                  deadline_hours: float = 48.0) -> TakedownInfo:
        if not 0 < deadline_hours <= 24 * 365:
            raise InvalidRequestError("deadline_hours must be in (0, 8760]")
        now = self._svc.now()
        with self._svc.engine.db.session() as s:
            row, case_row = self._get(s, takedown_id, organisation)
            if row.state != "open":
                raise ConflictError(f"takedown request {takedown_id} is already {row.state}")
            row.follow_ups += 1
            row.last_follow_up_at = now
            row.due_at = now + timedelta(hours=deadline_hours)
            audit.record(s, actor=actor, action="victim_takedown_follow_up",
                         target=f"case {case_row.number}", now=now, takedown=row.id)
            return info(row, case_row.number, now)

    @staticmethod
    def for_case(s: Session, row: VictimCase, now: datetime) -> list[TakedownInfo]:
        return [info(t, row.number, now) for t in s.scalars(
            select(VictimTakedown).where(VictimTakedown.case_id == row.id)
            .order_by(VictimTakedown.sent_at, VictimTakedown.id))]

    def listing(self, *, organisation: str | None, state: str = "open",
                limit: int = 100) -> list[TakedownInfo]:
        """Overdue first, then soonest due."""
        if not 1 <= limit <= 1000:
            raise InvalidRequestError("limit must be 1..1000")
        now = self._svc.now()
        query = (select(VictimTakedown, VictimCase.number)
                 .join(VictimCase, VictimCase.id == VictimTakedown.case_id)
                 .where(VictimTakedown.state == state)
                 .order_by(case((VictimTakedown.due_at < now, 0), else_=1),
                           VictimTakedown.due_at, VictimTakedown.id).limit(limit))
        if organisation is not None:
            query = query.where(VictimCase.organisation == organisation)
        with self._svc.engine.db.session() as s:
            return [info(r, number, now) for r, number in s.execute(query)]
