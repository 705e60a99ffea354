"""Import and export in other tools' words.

* StopNCII's case states (Received, Active, Withdrawn, Deleted) and platform feedback
  states (Blocked, NotBlocked, PendingReview), as JSON Lines, one case per line.
* python-threatexchange's ``<signal type> <value>`` lines, for the hashes that should
  block now (active cases only): ``pdq``, and a file's MD5 as ``video_md5`` for videos
  (python-threatexchange's name) and ``md5`` for pictures, as :mod:`haechi.banks.formats`
  reads them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.errors import InvalidRequestError
from haechi.signals.pdq import MIN_QUALITY
from haechi.victims.models import VictimBlock, VictimCase, VictimHash
from haechi.victims.schemas import CaseRequest, HashIn, ItemIn

CASE_STATES = {"received": "Received", "active": "Active", "withdrawn": "Withdrawn",
               "deleted": "Deleted"}
FEEDBACK_STATES = {"blocked": "Blocked", "not_blocked": "NotBlocked",
                   "pending_review": "PendingReview"}
_TE_NAMES = {("pdq", "image"): "pdq", ("md5", "image"): "md5", ("md5", "video"): "video_md5",
             ("sha256", "video"): "video_sha256", ("sha256", "image"): "sha256",
             ("vpdq", "video"): "vpdq"}


def stopncii_cases(s: Session, organisation: str | None) -> Iterator[str]:
    query = select(VictimCase).order_by(VictimCase.id)
    if organisation is not None:
        query = query.where(VictimCase.organisation == organisation)
    for row in s.scalars(query):
        hashes = s.scalars(select(VictimHash).where(VictimHash.case_id == row.id)
                           .order_by(VictimHash.id)).all()
        feedback = dict(s.execute(select(VictimBlock.outcome, func.count())
                                  .where(VictimBlock.case_id == row.id)
                                  .group_by(VictimBlock.outcome)).all())
        yield json.dumps({
            "caseNumber": row.number, "status": CASE_STATES[row.status],
            "minor": row.minor, "createdAt": row.created_at.isoformat(),
            "hashes": [{"type": h.signal.upper(), "contentType": h.kind, "value": h.value}
                       for h in hashes if h.value],
            "feedback": {FEEDBACK_STATES[k]: int(v) for k, v in sorted(feedback.items())},
        }, sort_keys=True) + "\n"


def threatexchange_lines(s: Session, organisation: str | None) -> Iterator[str]:
    query = (select(VictimHash.signal, VictimHash.kind, VictimHash.value)
             .join(VictimCase, VictimCase.id == VictimHash.case_id)
             .where(VictimCase.status == "active").order_by(VictimHash.id))
    if organisation is not None:
        query = query.where(VictimCase.organisation == organisation)
    rows = s.execute(query).all()
    seen: set[tuple[str, str]] = set()
    for signal, kind, value in rows:
        name = _TE_NAMES.get((signal, kind))
        if name is None or (name, value) in seen:
            continue
        seen.add((name, value))
        yield f"{name} {value}\n"


def request_from_threatexchange(text: str) -> CaseRequest:
    """One case from python-threatexchange lines: each line one file."""
    back = {"pdq": ("pdq", "image"), "md5": ("md5", "image"),
            "video_md5": ("md5", "video"), "sha256": ("sha256", "image"),
            "video_sha256": ("sha256", "video"), "vpdq": ("vpdq", "video")}
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.strip().partition(" ")
        if name not in back or not value.strip():
            raise InvalidRequestError(f"line {number}: expected '<signal type> <value>' "
                                      f"with a type of {', '.join(back)}")
        signal, kind = back[name]
        # PDQ lines carry no quality; exporters (this one included) write only hashes of
        # at least the minimum quality, so that is what the line is taken to have.
        items.append(ItemIn(kind=kind, hashes=[HashIn(  # type: ignore[arg-type]
            signal=signal, value=value.strip(),  # type: ignore[arg-type]
            quality=MIN_QUALITY if signal == "pdq" else None)]))
    if not items:
        raise InvalidRequestError("no hashes in the file")
    return CaseRequest(items=items)
