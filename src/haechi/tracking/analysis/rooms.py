"""Per room: activity, share of flagged media and solicitation text, as a risk score."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.tracking.analysis.lexicon import Lexicon
from haechi.tracking.ingest.records import as_utc
from haechi.tracking.models import TrackedMedia, TrackedMessage, TrackedRoom
from haechi.tracking.schemas import RoomInfo, RuleHit

#: Text points at which the text half of the score is full.
TEXT_SATURATION = 20.0
#: Matching messages kept per room and per user as reasons.
MAX_HITS = 20
MAX_USER_HITS = 5
YIELD = 10_000
#: Categories that make a photo poster a requester (asking for or trading in photos).
SOLICITATION = frozenset({"acquaintance", "photo_request", "synthesis"})


@dataclass(slots=True)
class TextFindings:
    points: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    hits: dict[str, list[RuleHit]] = field(default_factory=lambda: defaultdict(list))
    user_hits: dict[str, list[RuleHit]] = field(default_factory=lambda: defaultdict(list))


def scan_text(s: Session, lexicon: Lexicon) -> TextFindings:
    """Stream every message's text once through the lexicon."""
    found = TextFindings()
    query = (select(TrackedMessage.chat_id, TrackedMessage.message_id, TrackedMessage.user_key,
                    TrackedMessage.sent_at, TrackedMessage.text)
             .where(TrackedMessage.text != "")
             .execution_options(yield_per=YIELD))
    for chat_id, message_id, user_key, sent_at, text in s.execute(query):
        hit = lexicon.match(text)
        if hit is None:
            continue
        found.points[chat_id] += hit.points
        rule_hit = RuleHit(message_id=message_id, user_key=user_key, sent_at=as_utc(sent_at),
                           categories=list(hit.categories), terms=list(hit.terms),
                           text=text[:500])
        _keep_best(found.hits[chat_id], rule_hit, MAX_HITS)
        if SOLICITATION.intersection(hit.categories):
            _keep_best(found.user_hits[user_key], rule_hit, MAX_USER_HITS)
    return found


def _keep_best(hits: list[RuleHit], hit: RuleHit, limit: int) -> None:
    """Keep the ``limit`` hits with the most categories (earliest first among equals)."""
    if len(hits) < limit:
        hits.append(hit)
        return
    weakest = min(range(len(hits)), key=lambda i: (len(hits[i].categories), -i))
    if len(hit.categories) > len(hits[weakest].categories):
        hits[weakest] = hit


def analyse_rooms(s: Session, text: TextFindings) -> list[RoomInfo]:
    stats = {chat: (service, count, users, media) for chat, service, count, users, media in
             s.execute(select(TrackedMessage.chat_id, func.min(TrackedMessage.service),
                              func.count(), func.count(TrackedMessage.user_key.distinct()),
                              func.count(TrackedMessage.media_id))
                       .group_by(TrackedMessage.chat_id))}
    flagged: dict[str, int] = {chat: n for chat, n in s.execute(
        select(TrackedMessage.chat_id, func.count())
        .join(TrackedMedia, TrackedMedia.id == TrackedMessage.media_id)
        .where(TrackedMedia.flagged.is_(True)).group_by(TrackedMessage.chat_id))}
    rooms = {chat: (title, kind) for chat, title, kind in
             s.execute(select(TrackedRoom.chat_id, TrackedRoom.title, TrackedRoom.kind))}
    out: list[RoomInfo] = []
    for chat, (service, count, users, media) in stats.items():
        bad = flagged.get(chat, 0)
        share = bad / media if media else 0.0
        points = text.points.get(chat, 0.0)
        score = 50.0 * share + 50.0 * min(1.0, points / TEXT_SATURATION)
        hits = sorted(text.hits.get(chat, []), key=lambda h: h.sent_at)
        title, kind = rooms.get(chat, ("", ""))
        out.append(RoomInfo(
            chat_id=chat, service=service, title=title or chat, kind=kind, messages=count,
            users=users, media_messages=media, flagged_messages=bad,
            flagged_share=round(share, 4), text_points=round(points, 2),
            risk_score=round(score, 1), reasons=_reasons(bad, media, points, hits), hits=hits,
        ))
    out.sort(key=lambda r: (-r.risk_score, -r.messages, r.chat_id))
    return out


def _reasons(bad: int, media: int, points: float, hits: list[RuleHit]) -> list[str]:
    reasons = []
    if bad:
        reasons.append(f"{bad} of {media} media messages matched a bank ({bad / media:.0%})")
    if hits:
        categories: dict[str, int] = defaultdict(int)
        for hit in hits:
            for c in hit.categories:
                categories[c] += 1
        listed = ", ".join(f"{c} ({n})" for c, n in sorted(categories.items(),
                                                            key=lambda kv: -kv[1]))
        reasons.append(f"solicitation text scored {points:g} points; categories in the "
                       f"listed messages: {listed}")
    return reasons
