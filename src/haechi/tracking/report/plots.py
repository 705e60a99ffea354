"""Spread timelines drawn with matplotlib into inline SVG (no files, no pyplot state)."""

from __future__ import annotations

import io
import warnings

import matplotlib
from matplotlib.figure import Figure

from haechi.tracking.schemas import ClusterInfo

MAX_CLUSTERS = 8


def spread_timeline_svg(clusters: list[ClusterInfo]) -> str:
    """One row per room, one marker per sighting, a line per cluster: how each spread.

    Text stays text in the SVG (``svg.fonttype: none``), so the browser draws room names
    in any script (Hangul included) with its own fonts; matplotlib's bundled font lacks
    Hangul, so its warnings about missing glyphs while measuring are expected.
    """
    with matplotlib.rc_context({"svg.fonttype": "none"}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        return _draw(clusters)


def _draw(clusters: list[ClusterInfo]) -> str:
    shown = [c for c in clusters if len(c.rooms) > 1][:MAX_CLUSTERS] or clusters[:1]
    if not shown:
        return ""
    rooms: list[str] = []
    for cluster in shown:
        for s in cluster.timeline:
            if s.room not in rooms:
                rooms.append(s.room)
    figure = Figure(figsize=(9, 1.2 + 0.35 * len(rooms)))
    axes = figure.add_subplot()
    for cluster in shown:
        # Matplotlib's date unit: days since its epoch (1970-01-01 by default).
        xs = [s.sent_at.timestamp() / 86_400 for s in cluster.timeline]
        ys = [rooms.index(s.room) for s in cluster.timeline]
        label = f"cluster {cluster.id}" + (" (flagged)" if cluster.flagged else "")
        axes.plot(xs, ys, marker="o", linewidth=1, label=label)
        forwarded = [(x, y) for x, y, s in zip(xs, ys, cluster.timeline, strict=True)
                     if s.forwarded]
        if forwarded:
            axes.scatter([x for x, _ in forwarded], [y for _, y in forwarded], marker="x",
                         color="black", zorder=3)
    axes.xaxis_date()
    axes.set_yticks(range(len(rooms)), labels=[r[:40] for r in rooms])
    axes.set_xlabel("time (UTC); x = forwarded copy")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and doctype for inlining
