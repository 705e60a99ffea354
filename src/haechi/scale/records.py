"""Recording stored items and their matches, and putting them to the moderation policy.

Stored media has no known uploader, so the policy's decision is recorded on the item
(action, rule, the whole decision) and nothing is enforced against anyone: the platform
reads the decisions (``haechi backscan-report``, the API) and acts on its own store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.matching import decide
from haechi.moderation.policy import PolicyDecision
from haechi.results import Match, MediaInfo, ScanError, ScanResult
from haechi.scale.models import BackscanItem, BackscanMatch

if TYPE_CHECKING:
    from haechi.engine import Engine


def uri_key(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8", "surrogateescape")).hexdigest()


def recorded_keys(session: Session, job_id: int, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` (URI keys) the job has recorded already."""
    found: set[str] = set()
    for start in range(0, len(keys), 1000):
        found.update(session.scalars(
            select(BackscanItem.uri_key).where(BackscanItem.job_id == job_id,
                                               BackscanItem.uri_key.in_(keys[start:start + 1000]))
        ))
    return found


def put_to_policy(engine: Engine, item: BackscanItem, matches: Sequence[Match]) -> PolicyDecision:
    """Evaluate the policy for ``item`` as for an upload with these matches, and record
    the decision on the item."""
    decision, reason = decide(matches)
    error = (ScanError(code=item.error_code or "error", message=item.error_message or "")
             if item.status == "error" else None)
    media = (MediaInfo(kind=item.media_kind, format="", bytes=item.bytes or 0, width=0,
                       height=0) if item.media_kind else None)
    scan = ScanResult(name=item.uri, media=media, matches=list(matches),
                      decision="error" if error else decision, reason=reason, error=error)
    verdict = engine.moderation.evaluate(scan=scan, detections=item.detections or None)
    item.action, item.rule = verdict.action, verdict.rule or None
    item.decision = None if verdict.action == "allow" and not matches \
        else verdict.model_dump()
    item.match_count = len({(m.entry_id, m.signal) for m in matches})
    return verdict


def match_row(item_id: int, match: Match, origin: str) -> BackscanMatch:
    return BackscanMatch(item_id=item_id, entry_id=match.entry_id, bank=match.bank,
                         signal=match.signal, distance=match.distance,
                         query_share=match.query_share, entry_share=match.entry_share,
                         origin=origin)
