"""The audit log: every decision and every reveal of sensitive media, by whom, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.moderation.models import ModAudit
from haechi.moderation.records import aware


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def record(s: Session, *, actor: str, action: str, target: str, now: datetime,
           **detail: Any) -> None:
    s.add(ModAudit(at=now, actor=actor[:200], action=action[:40], target=target[:200],
                   detail=detail))


def entries(s: Session, *, limit: int, action: str | None = None) -> list[AuditEntry]:
    query = select(ModAudit).order_by(ModAudit.id.desc()).limit(limit)
    if action is not None:
        query = query.where(ModAudit.action == action)
    return [AuditEntry(id=r.id, at=aware(r.at), actor=r.actor, action=r.action,
                       target=r.target, detail=dict(r.detail)) for r in s.scalars(query)]
