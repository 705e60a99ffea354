"""One pass over the store: clusters, rooms, users and the network, joined up."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.tracking.analysis.clusters import analyse_clusters, load_clusters, load_sightings
from haechi.tracking.analysis.lexicon import Lexicon
from haechi.tracking.analysis.network import analyse_network, build_graph
from haechi.tracking.analysis.people import analyse_users, interactions, membership
from haechi.tracking.analysis.rooms import analyse_rooms, scan_text
from haechi.tracking.models import TrackedMessage, TrackedRoom
from haechi.tracking.schemas import Analysis


def analyse(s: Session, lexicon: Lexicon, *, key_players: int = 5) -> Analysis:
    titles = {chat: title or chat for chat, title in
              s.execute(select(TrackedRoom.chat_id, TrackedRoom.title))}
    rooms_of = membership(s)
    member_sets = {user: set(rooms) for user, rooms in rooms_of.items()}
    clustering, media = load_clusters(s)
    clusters = analyse_clusters(clustering, media, load_sightings(s), member_sets, titles)
    text = scan_text(s, lexicon)
    rooms = analyse_rooms(s, text)
    users = analyse_users(s, clusters, rooms_of, text.user_hits)
    network, community_of, betweenness = analyse_network(
        build_graph(rooms_of, interactions(s)), k=key_players)
    for user in users:
        user.community = community_of.get(f"u:{user.user_key}")
        user.betweenness = round(betweenness.get(f"u:{user.user_key}", 0.0), 6)
    for room in rooms:
        room.community = community_of.get(f"r:{room.chat_id}")
    total = s.scalar(select(func.count()).select_from(TrackedMessage)) or 0
    return Analysis(messages=total, rooms=rooms, users=users, clusters=clusters,
                    network=network, generated_at=datetime.now(UTC))
