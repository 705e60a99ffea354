"""A self-contained HTML report: every style, script and picture is inline.

A Content-Security-Policy forbids loading anything else, so opening the report (which
names suspects and rooms) never contacts a server. Everything from the chats is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any
from urllib.parse import quote

from haechi.tracking.report.plots import spread_timeline_svg
from haechi.tracking.schemas import Analysis, ClusterInfo, RoomInfo, UserInfo
from haechi.version import __version__

MAX_USERS = 500
MAX_CLUSTERS = 200
MAX_GRAPH_NODES = 300

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:1em 0;font-size:14px;width:100%}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f2f2f2}.flag{color:#b00;font-weight:bold}
.score{font-weight:bold}.muted{color:#777}ul{margin:0;padding-left:1.2em}
#network{border:1px solid #ccc;width:100%;max-width:900px;height:auto}
details>summary{cursor:pointer}
"""
_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _list(items: Iterable[str]) -> str:
    inner = "".join(f"<li>{_e(i)}</li>" for i in items)
    return f"<ul>{inner}</ul>" if inner else ""


def render_report(analysis: Analysis, *, title: str = "Tracking report") -> str:
    script = resources.files("haechi.tracking.report").joinpath("network.js").read_text("utf-8")
    graph = json.dumps(_graph(analysis), ensure_ascii=False).replace("<", "\\u003c")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>Generated {analysis.generated_at:%Y-%m-%d %H:%M} UTC by Haechi "
        f"{_e(__version__)}: {analysis.messages} messages, {len(analysis.rooms)} rooms, "
        f"{len(analysis.users)} users, {len(analysis.clusters)} content clusters "
        f"({sum(c.flagged for c in analysis.clusters)} flagged). Roles and scores are "
        "estimates for an investigator to verify; each lists what it rests on.</p>",
        "<h2>Rooms by risk</h2>", _rooms(analysis.rooms),
        "<h2>Content clusters</h2>", _timeline(analysis.clusters), _clusters(analysis.clusters),
        "<h2>Participants</h2>", _users(analysis.users),
        "<h2>Network</h2>", _network(analysis),
        f"<script type='application/json' id='network-data'>{graph}</script>",
        f"<script>{script}</script></body></html>",
    ]
    return "\n".join(parts)


def _rooms(rooms: list[RoomInfo]) -> str:
    rows = []
    for rank, r in enumerate(rooms, start=1):
        hits = "".join(
            f"<li>#{h.message_id} {_e(h.user_key)} {h.sent_at:%Y-%m-%d %H:%M}: "
            f"<q>{_e(h.text[:300])}</q> <span class='muted'>[{_e(', '.join(h.categories))}: "
            f"{_e(', '.join(h.terms))}]</span></li>" for h in r.hits)
        detail = (f"<details><summary>{len(r.hits)} matching message(s)</summary>"
                  f"<ul>{hits}</ul></details>") if hits else ""
        rows.append(
            f"<tr><td>{rank}</td><td>{_e(r.title)}<br><span class='muted'>{_e(r.service)} "
            f"{_e(r.chat_id)} {_e(r.kind)}</span></td><td class='score'>{r.risk_score:g}</td>"
            f"<td>{r.messages}</td><td>{r.users}</td>"
            f"<td>{r.flagged_messages}/{r.media_messages}</td>"
            f"<td>{r.community if r.community is not None else ''}</td>"
            f"<td>{_list(r.reasons)}{detail}</td></tr>")
    return ("<table><tr><th>#</th><th>room</th><th>risk</th><th>messages</th><th>users</th>"
            "<th>flagged media</th><th>community</th><th>why</th></tr>"
            + "".join(rows) + "</table>")


def _timeline(clusters: list[ClusterInfo]) -> str:
    svg = spread_timeline_svg(clusters)
    return f"<figure>{svg}<figcaption>Spread of the widest clusters</figcaption></figure>" \
        if svg else ""


def _clusters(clusters: list[ClusterInfo]) -> str:
    rows = []
    for c in clusters[:MAX_CLUSTERS]:
        zero = c.patient_zero
        path = "".join(f"<li>{_e(h.from_room)} → {_e(h.to_room)} by {_e(h.by_user)} "
                       f"{h.at:%Y-%m-%d %H:%M}</li>" for h in c.path)
        refs = sorted({s.media_ref for s in c.timeline if s.media_ref})[:10]
        links = "".join(f"<li>{_media_link(r)}</li>" for r in refs)
        flag = f"<span class='flag'>flagged</span><br>{_e(c.flag_detail[:300])}" \
            if c.flagged else "no bank match"
        rows.append(
            f"<tr><td>{c.id}</td><td>{flag}</td><td>{len(c.media_ids)} file(s) "
            f"linked by {_e(', '.join(c.linked_by))}<ul>{links}</ul></td>"
            f"<td>{_e(zero.user_key)} in {_e(zero.room)}<br>{zero.sent_at:%Y-%m-%d %H:%M}"
            f"{' (forwarded)' if zero.forwarded else ''}</td><td>{c.messages}</td>"
            f"<td>{_list(c.rooms)}</td><td><ul>{path}</ul></td></tr>")
    more = (f"<p class='muted'>{len(clusters) - MAX_CLUSTERS} more clusters are in the "
            "JSON analysis.</p>") if len(clusters) > MAX_CLUSTERS else ""
    return ("<table><tr><th>cluster</th><th>bank</th><th>media</th><th>first posted</th>"
            "<th>messages</th><th>rooms reached</th><th>path</th></tr>" + "".join(rows)
            + "</table>" + more)


def _media_link(ref: str) -> str:
    """A link relative to the export folder; anything with a scheme stays plain text
    (an export could name ``javascript:`` as a file)."""
    if ":" in ref or ref.startswith(("/", "\\")):
        return _e(ref)
    return f"<a href='{_e(quote(ref))}'>{_e(ref)}</a>"


def _users(users: list[UserInfo]) -> str:
    rows = [
        f"<tr><td>{_e(u.user_key)}<br><span class='muted'>{_e(u.name)}</span></td>"
        f"<td>{_e(u.role)}</td><td>{u.posts}</td><td>{u.forwards}</td>"
        f"<td>{u.flagged_posts}</td><td>{len(u.rooms)}</td>"
        f"<td>{u.community if u.community is not None else ''}</td><td>{u.betweenness:.4f}</td>"
        f"<td>{_list(u.reasons)}</td></tr>" for u in users[:MAX_USERS]]
    more = (f"<p class='muted'>{len(users) - MAX_USERS} more participants are in the roster "
            "CSV.</p>") if len(users) > MAX_USERS else ""
    return ("<table><tr><th>user</th><th>role</th><th>posts</th><th>forwards</th>"
            "<th>flagged</th><th>rooms</th><th>community</th><th>betweenness</th>"
            "<th>why</th></tr>" + "".join(rows) + "</table>" + more)


def _network(analysis: Analysis) -> str:
    net = analysis.network
    players = "".join(
        f"<li>{_e(p.user_key)} (betweenness {p.betweenness:.4f}): largest connected part "
        f"{p.largest_component_after} of {net.largest_component_before} nodes after "
        "removal</li>" for p in net.key_players)
    return (f"<p>{net.nodes} nodes, {net.edges} edges, {len(net.communities)} communities "
            "(Louvain). Squares are rooms, circles users, colours communities; a black rim "
            "marks rooms with flagged media and users who posted it. Drag to rearrange."
            f"</p><p>Accounts whose removal most fragments the network (greedy):</p>"
            f"<ol>{players}</ol><svg id='network' viewBox='0 0 900 600' "
            "xmlns='http://www.w3.org/2000/svg'></svg>")


def _graph(analysis: Analysis) -> dict[str, Any]:
    """The most central users and every room they touch, capped for a readable view."""
    rooms = {r.chat_id: r for r in analysis.rooms}
    ranked = sorted(analysis.users, key=lambda u: (-u.betweenness, -u.flagged_posts, -u.posts))
    users = ranked[: MAX_GRAPH_NODES // 2]
    chats = {c for u in users for c in u.rooms if c in rooms}
    nodes = [{"id": f"r:{c}", "kind": "room", "label": f"{rooms[c].title} (risk "
              f"{rooms[c].risk_score:g})", "community": rooms[c].community,
              "flagged": rooms[c].flagged_messages > 0, "size": rooms[c].users}
             for c in sorted(chats)][: MAX_GRAPH_NODES // 2]
    kept = {n["id"] for n in nodes}
    nodes += [{"id": f"u:{u.user_key}", "kind": "user", "label": f"{u.user_key} {u.name} "
               f"({u.role})", "community": u.community, "flagged": u.flagged_posts > 0,
               "size": u.posts} for u in users]
    links = [{"source": f"u:{u.user_key}", "target": f"r:{c}", "w": 1}
             for u in users for c in u.rooms if f"r:{c}" in kept]
    return {"nodes": nodes, "links": links}
