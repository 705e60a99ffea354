"""Action events: what the platform must do, written with the decision that caused it.

Each event is queued for every registered webhook in the same transaction (an outbox),
so a crash can delay a delivery but never lose or invent one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.moderation.models import ModDelivery, ModEvent, ModWebhook
from haechi.moderation.records import event_info
from haechi.moderation.schemas import EventInfo

#: Every event type, for webhook subscriptions and documentation.
EVENT_TYPES = ("delete_item", "restrict_item", "release_item", "reinstate_item",
               "warn_user", "ban_user", "unban_user")


def emit(s: Session, type_: str, payload: dict[str, Any], now: datetime) -> EventInfo:
    assert type_ in EVENT_TYPES, type_
    event = ModEvent(uid=str(uuid.uuid4()), type=type_, payload=payload, created_at=now)
    s.add(event)
    s.flush()
    for hook in s.scalars(select(ModWebhook).where(ModWebhook.enabled.is_(True))):
        if not hook.events or type_ in hook.events:
            s.add(ModDelivery(event_id=event.id, webhook_id=hook.id, next_attempt_at=now))
    s.flush()
    return event_info(event)
