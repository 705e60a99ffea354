"""The monthly status report of one case, as a PDF: what was blocked where, platforms'
feedback and takedown requests. Counts, dates and services only: a case holds no media,
and the report names no hash either.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from haechi.errors import InvalidRequestError
from haechi.victims.schemas import CaseView, TakedownInfo


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` to [first instant, first instant of the next month) in UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequestError(f"a month is written YYYY-MM, got {month!r}") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 \
        else start.replace(month=start.month + 1)
    return start, end


def render(*, view: CaseView, month: str, events: Sequence[tuple[datetime, str, str]],
           takedowns: Sequence[TakedownInfo], now: datetime) -> bytes:
    """``events``: (when, service, outcome) of the month, oldest first."""
    styles = getSampleStyleSheet()
    story = [
        Paragraph(f"Case {escape(view.case_number)}: status report for {escape(month)}",
                  styles["Title"]),
        Paragraph(f"Status: <b>{view.status}</b>. Files registered: {view.items}. "
                  f"Uploads blocked since the case opened: {view.blocked}.", styles["Normal"]),
        Paragraph("This report lists counts, dates and services only. No image, video or "
                  "hash of the case appears in it.", styles["Italic"]),
        Spacer(1, 12),
        Paragraph("Blocked uploads and platform feedback this month", styles["Heading2"]),
    ]
    counts = Counter((service, outcome) for _, service, outcome in events)
    if counts:
        rows = [["Service", "Outcome", "Count", "Last"]]
        for (service, outcome), n in sorted(counts.items()):
            last = max(at for at, s, o in events if s == service and o == outcome)
            rows.append([service, outcome.replace("_", " "), str(n),
                         f"{last:%Y-%m-%d %H:%M} UTC"])
        story.append(_table(rows))
    else:
        story.append(Paragraph("No upload matched this case this month.", styles["Normal"]))
    story += [Spacer(1, 12), Paragraph("Takedown requests", styles["Heading2"])]
    if takedowns:
        rows = [["Service", "Sent", "Due", "State", "Follow-ups"]]
        rows += [[t.service, f"{t.sent_at:%Y-%m-%d}", f"{t.due_at:%Y-%m-%d %H:%M}",
                  ("OVERDUE" if t.overdue else t.state), str(t.follow_ups)] for t in takedowns]
        story.append(_table(rows))
    else:
        story.append(Paragraph("No takedown request was recorded.", styles["Normal"]))
    story += [Spacer(1, 12),
              Paragraph(f"Made {now:%Y-%m-%d %H:%M} UTC by Haechi.", styles["Normal"])]
    buffer = io.BytesIO()
    # Uncompressed: a few kilobytes either way, and the text stays checkable with grep.
    SimpleDocTemplate(buffer, pagesize=A4, title=f"Case {view.case_number} {month}",
                      invariant=1, pageCompression=0).build(story)
    return buffer.getvalue()


def _table(rows: list[list[str]]) -> Table:
    table = Table(rows, repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]))
    return table
