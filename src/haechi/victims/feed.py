"""The outgoing feed rows: one per hash per change of a case this instance owns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from haechi.victims.models import VictimCase, VictimFeedItem, VictimHash

OPS = ("add", "withdraw", "delete")


def publish(s: Session, row: VictimCase, hashes: Sequence[VictimHash], op: str,
            now: datetime) -> None:
    assert op in OPS, op
    s.add_all(VictimFeedItem(op=op, case_number=row.number, signal=h.signal,
                             value=h.value if op != "delete" else "", quality=h.quality,
                             minor=row.minor, at=now) for h in hashes if h.value)
