"""Per user: activity, rooms, and a role estimate with the reasons for it.

Roles (a user may fit several; the first that fits is the main one):

* producer: first to post content of a flagged cluster, not as a forward;
* requester: posted ordinary (unflagged) photos and also wrote solicitation text;
* distributor: forwarded media, or re-posted flagged content someone else posted first;
* participant: none of the above.

An estimate for an investigator to check, never a verdict: the reasons say what it
rests on.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from haechi.tracking.ingest.records import as_utc
from haechi.tracking.models import TrackedMedia, TrackedMessage, TrackedUser
from haechi.tracking.schemas import ClusterInfo, Role, RuleHit, UserInfo

_ORDER: tuple[Role, ...] = ("producer", "requester", "distributor")


def membership(s: Session) -> dict[str, dict[str, int]]:
    """user key -> {chat id: messages posted there}."""
    rooms: dict[str, dict[str, int]] = defaultdict(dict)
    for user, chat, count in s.execute(
            select(TrackedMessage.user_key, TrackedMessage.chat_id, func.count())
            .where(TrackedMessage.user_key != "")
            .group_by(TrackedMessage.user_key, TrackedMessage.chat_id)):
        rooms[user][chat] = count
    return rooms


def interactions(s: Session) -> dict[tuple[str, str], int]:
    """(user, other user) -> replies and forwards from one to the other's messages."""
    m = TrackedMessage
    parent = aliased(TrackedMessage)
    edges: dict[tuple[str, str], int] = defaultdict(int)
    replies = (select(m.user_key, parent.user_key, func.count())
               .join(parent, (parent.service == m.service) & (parent.chat_id == m.chat_id)
                     & (parent.message_id == m.reply_to))
               .where(m.user_key != "", parent.user_key != "", m.user_key != parent.user_key)
               .group_by(m.user_key, parent.user_key))
    forwards = (select(m.user_key, m.fwd_user_key, func.count())
                .join(TrackedUser, (TrackedUser.service == m.service)
                      & (TrackedUser.user_key == m.fwd_user_key))
                .where(m.user_key != "", m.user_key != m.fwd_user_key)
                .group_by(m.user_key, m.fwd_user_key))
    for query in (replies, forwards):
        for user, other, count in s.execute(query):
            if other and other != user:
                edges[(user, other)] += count
    # Desktop exports name a forward's author only by display name: link it when exactly
    # one known user has that name. Matched here rather than in SQL, where a join on a
    # grouped subquery has no index and gets slow at a million messages.
    owners: dict[tuple[str, str], str | None] = {}
    for service, key, name in s.execute(select(TrackedUser.service, TrackedUser.user_key,
                                               TrackedUser.name).where(TrackedUser.name != "")):
        owners[(service, name)] = key if (service, name) not in owners else None
    for service, user, name, count in s.execute(
            select(m.service, m.user_key, m.fwd_name, func.count())
            .where(m.user_key != "", m.fwd_user_key.like("name:%"))
            .group_by(m.service, m.user_key, m.fwd_name)):
        other = owners.get((service, name))
        if other and other != user:
            edges[(user, other)] += count
    return dict(edges)


def analyse_users(s: Session, clusters: list[ClusterInfo],
                  rooms_of: dict[str, dict[str, int]],
                  solicitation: dict[str, list[RuleHit]]) -> list[UserInfo]:
    m = TrackedMessage
    totals = {user: (posts, int(fwd or 0), media, first, last)
              for user, posts, fwd, media, first, last in s.execute(
                  select(m.user_key, func.count(), func.sum(case((m.is_forward, 1), else_=0)),
                         func.count(m.media_id), func.min(m.sent_at), func.max(m.sent_at))
                  .where(m.user_key != "").group_by(m.user_key))}
    media_stats: dict[str, dict[tuple[bool, bool, str], int]] = defaultdict(dict)
    for user, flagged, forwarded, kind, count in s.execute(
            select(m.user_key, TrackedMedia.flagged, m.is_forward, TrackedMedia.kind, func.count())
            .join(TrackedMedia, TrackedMedia.id == m.media_id).where(m.user_key != "")
            .group_by(m.user_key, TrackedMedia.flagged, m.is_forward, TrackedMedia.kind)):
        media_stats[user][(bool(flagged), bool(forwarded), kind)] = count
    names = {key: name for key, name in s.execute(select(TrackedUser.user_key,
                                                          TrackedUser.name))}
    produced: dict[str, list[ClusterInfo]] = defaultdict(list)
    for cluster in clusters:
        if cluster.flagged and not cluster.patient_zero.forwarded:
            produced[cluster.patient_zero.user_key].append(cluster)

    out: list[UserInfo] = []
    for user, (posts, forwards, media, first, last) in totals.items():
        stats = media_stats.get(user, {})
        flagged_posts = sum(n for (flag, _f, _k), n in stats.items() if flag)
        flagged_forwards = sum(n for (flag, fwd, _k), n in stats.items() if flag and fwd)
        flagged_reposts = sum(n for (flag, fwd, _k), n in stats.items() if flag and not fwd)
        photos = sum(n for (flag, fwd, kind), n in stats.items()
                     if not flag and not fwd and kind == "image")
        media_forwards = sum(n for (_flag, fwd, _k), n in stats.items() if fwd)
        roles: list[Role] = []
        reasons: list[str] = []
        if user in produced:
            roles.append("producer")
            first_cluster = produced[user][0]
            reasons.append(
                f"first to post {len(produced[user])} flagged cluster(s), e.g. cluster "
                f"{first_cluster.id} in {first_cluster.patient_zero.room} at "
                f"{first_cluster.patient_zero.sent_at:%Y-%m-%d %H:%M}, not as a forward")
        hits = solicitation.get(user, [])
        if photos and hits:
            roles.append("requester")
            reasons.append(f"posted {photos} unflagged photo(s) and solicitation text, e.g. "
                           f"{hits[0].text[:120]!r} ({', '.join(hits[0].terms)})")
        reposts = flagged_reposts - sum(1 for c in produced.get(user, []))
        if media_forwards or reposts > 0:
            roles.append("distributor")
            reason = f"forwarded {media_forwards} media message(s), {flagged_forwards} flagged"
            if reposts > 0:
                reason += f"; re-posted flagged content first posted by others {reposts} time(s)"
            reasons.append(reason)
        rooms = sorted(rooms_of.get(user, {}), key=lambda c: -rooms_of[user][c])
        out.append(UserInfo(
            user_key=user, name=names.get(user, ""), posts=posts, forwards=forwards,
            media_posts=media, flagged_posts=flagged_posts, rooms=rooms,
            first_seen=as_utc(first) if first else None,
            last_seen=as_utc(last) if last else None,
            role=next((r for r in _ORDER if r in roles), "participant"),
            roles=roles or ["participant"], reasons=reasons,
        ))
    rank = {r: i for i, r in enumerate((*_ORDER, "participant"))}
    out.sort(key=lambda u: (rank[u.role], -u.flagged_posts, -u.posts, u.user_key))
    return out
