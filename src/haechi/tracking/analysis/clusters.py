"""Per content cluster: patient zero, timeline, rooms reached and the path it took."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.tracking.ingest.records import as_utc
from haechi.tracking.linking import Clusters, MediaFacts, cluster_media
from haechi.tracking.models import TrackedMedia, TrackedMessage
from haechi.tracking.schemas import ClusterInfo, ForwardHop, Sighting

#: Sightings listed per cluster; the counts cover all of them.
MAX_TIMELINE = 200
YIELD = 10_000


@dataclass(slots=True)
class MediaRow:
    id: int
    flagged: bool
    flag_detail: str
    kind: str
    path: str


@dataclass(slots=True)
class SightingRow:
    row_id: int
    message_id: int
    chat_id: str
    user_key: str
    sent_at: datetime
    forwarded: bool
    fwd_user_key: str | None
    fwd_chat_id: str | None
    media_id: int


def load_clusters(s: Session) -> tuple[Clusters, dict[int, MediaRow]]:
    facts: dict[int, MediaFacts] = {}
    rows: dict[int, MediaRow] = {}
    query = select(TrackedMedia.id, TrackedMedia.pdq, TrackedMedia.pdq_quality,
                   TrackedMedia.vpdq, TrackedMedia.file_unique_id, TrackedMedia.flagged,
                   TrackedMedia.flag_detail, TrackedMedia.kind, TrackedMedia.path)
    for mid, pdq, quality, vpdq, fuid, flagged, detail, kind, path in s.execute(query):
        facts[mid] = MediaFacts(mid, pdq, quality, vpdq, {fuid} if fuid else set())
        rows[mid] = MediaRow(mid, bool(flagged), detail, kind, path)
    # A message may name a file_unique_id its medium row does not (first seen without one).
    pairs = select(TrackedMessage.media_id, TrackedMessage.file_unique_id).where(
        TrackedMessage.media_id.is_not(None), TrackedMessage.file_unique_id.is_not(None)
    ).distinct()
    for linked_id, fuid in s.execute(pairs):
        if linked_id is not None and fuid and linked_id in facts:
            facts[linked_id].file_unique_ids.add(fuid)
    return cluster_media(facts.values()), rows


def load_sightings(s: Session) -> list[SightingRow]:
    query = (select(TrackedMessage.id, TrackedMessage.message_id, TrackedMessage.chat_id,
                    TrackedMessage.user_key, TrackedMessage.sent_at, TrackedMessage.is_forward,
                    TrackedMessage.fwd_user_key, TrackedMessage.fwd_chat_id,
                    TrackedMessage.media_id)
             .where(TrackedMessage.media_id.is_not(None))
             .order_by(TrackedMessage.sent_at, TrackedMessage.id)
             .execution_options(yield_per=YIELD))
    return [SightingRow(rid, mid, chat, user, as_utc(at), bool(fwd), fuser, fchat,
                        int(media or 0))
            for rid, mid, chat, user, at, fwd, fuser, fchat, media in s.execute(query)]


def analyse_clusters(clusters: Clusters, media: dict[int, MediaRow],
                     sightings: list[SightingRow], membership: dict[str, set[str]],
                     titles: dict[str, str]) -> list[ClusterInfo]:
    """``membership``: user key -> chat ids the user posted in (to infer unmarked hops)."""
    by_cluster: dict[int, list[SightingRow]] = defaultdict(list)
    for row in sightings:  # already in time order
        by_cluster[clusters.of.get(row.media_id, row.media_id)].append(row)
    out: list[ClusterInfo] = []
    members = clusters.members()
    for cluster_id, rows in by_cluster.items():
        ids = members.get(cluster_id, [cluster_id])
        flagged_rows = [media[i] for i in ids if i in media and media[i].flagged]
        zero = next((r for r in rows if not r.forwarded), rows[0])
        out.append(ClusterInfo(
            id=cluster_id, media_ids=ids,
            linked_by=sorted(clusters.linked_by.get(cluster_id, set())
                             | {_identity(media.get(i)) for i in ids}),
            flagged=bool(flagged_rows),
            flag_detail="; ".join(m.flag_detail for m in flagged_rows)[:1000],
            messages=len(rows), rooms=list(dict.fromkeys(r.chat_id for r in rows)),
            users=list(dict.fromkeys(r.user_key for r in rows if r.user_key)),
            patient_zero=_sighting(zero, media, titles), first_seen=rows[0].sent_at,
            last_seen=rows[-1].sent_at, path=_path(rows, zero, membership, titles),
            timeline=[_sighting(r, media, titles) for r in rows[:MAX_TIMELINE]],
        ))
    # Flagged first, then the widest spread: what an investigator reads first.
    out.sort(key=lambda c: (not c.flagged, -len(c.rooms), -c.messages, c.id))
    return out


def _identity(medium: MediaRow | None) -> str:
    """What makes copies of one medium the same: its bytes, or only Telegram's file id."""
    return "sha256" if medium is not None and medium.kind != "unknown" else "file_unique_id"


def _sighting(row: SightingRow, media: dict[int, MediaRow],
              titles: dict[str, str]) -> Sighting:
    medium = media.get(row.media_id)
    return Sighting(message_id=row.message_id, chat_id=row.chat_id,
                    room=titles.get(row.chat_id, row.chat_id), user_key=row.user_key,
                    sent_at=row.sent_at, forwarded=row.forwarded,
                    forwarded_from=row.fwd_chat_id or row.fwd_user_key,
                    media_ref=medium.path if medium else "")


def _path(rows: list[SightingRow], zero: SightingRow, membership: dict[str, set[str]],
          titles: dict[str, str]) -> list[ForwardHop]:
    """How the content reached each room after the first.

    The source room of a hop is, in order of confidence: the chat a forward names (by id
    or, in Desktop exports, by title); the
    latest earlier room holding the content in which the poster also took part; else
    the room of the latest earlier sighting (written with a '?').
    """
    known = {title: chat for chat, title in titles.items() if title}
    known.update({chat: chat for chat in titles})
    reached: dict[str, datetime] = {zero.chat_id: zero.sent_at}
    hops: list[ForwardHop] = []
    earlier: list[SightingRow] = []
    for row in rows:
        if row.chat_id not in reached and earlier:
            source = _source(row, earlier, membership, known)
            hops.append(ForwardHop(from_room=titles.get(source, source) if source else "?",
                                   to_room=titles.get(row.chat_id, row.chat_id),
                                   by_user=row.user_key, at=row.sent_at))
            reached[row.chat_id] = row.sent_at
        reached.setdefault(row.chat_id, row.sent_at)
        earlier.append(row)
    return hops


def _source(row: SightingRow, earlier: list[SightingRow], membership: dict[str, set[str]],
            known: dict[str, str]) -> str:
    if row.fwd_chat_id:
        return row.fwd_chat_id
    origin = (row.fwd_user_key or "").removeprefix("name:")
    if origin in known:  # forwarded from a room we hold (Desktop names it by title)
        return known[origin]
    rooms = membership.get(row.user_key, set())
    for previous in reversed(earlier):
        if previous.chat_id != row.chat_id and previous.chat_id in rooms:
            return previous.chat_id
    for previous in reversed(earlier):
        if previous.chat_id != row.chat_id:
            return previous.chat_id + "?"
    return ""
