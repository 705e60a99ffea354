"""Participant rosters as CSV: everyone in a room, a network community, or everything."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from haechi.errors import NotFoundError
from haechi.tracking.schemas import Analysis, UserInfo

COLUMNS = ("user_key", "name", "role", "roles", "posts", "forwards", "media_posts",
           "flagged_posts", "rooms", "community", "betweenness", "first_seen", "last_seen",
           "reasons")
#: Spreadsheets run cells starting with these as formulas; names come from the suspects.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def select_users(analysis: Analysis, *, room: str | None = None,
                 community: int | None = None) -> list[UserInfo]:
    users = analysis.users
    if room is not None:
        if room not in {r.chat_id for r in analysis.rooms}:
            raise NotFoundError(f"no room with chat id {room!r}")
        users = [u for u in users if room in u.rooms]
    if community is not None:
        if not 0 <= community < len(analysis.network.communities):
            raise NotFoundError(f"no community {community}; there are "
                                f"{len(analysis.network.communities)}")
        users = [u for u in users if u.community == community]
    return users


def roster_rows(analysis: Analysis, *, room: str | None = None,
                community: int | None = None) -> Iterator[str]:
    """CSV text, a line at a time (header first)."""
    users = select_users(analysis, room=room, community=community)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: list[object]) -> str:
        writer.writerow([_safe(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(list(COLUMNS))
    for u in users:
        yield line([u.user_key, u.name, u.role, ";".join(u.roles), u.posts, u.forwards,
                    u.media_posts, u.flagged_posts, ";".join(u.rooms), u.community,
                    u.betweenness, u.first_seen.isoformat() if u.first_seen else "",
                    u.last_seen.isoformat() if u.last_seen else "", " | ".join(u.reasons)])
