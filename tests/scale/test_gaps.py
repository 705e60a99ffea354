"""Rows that commit after a later id was read are still picked up (PostgreSQL takes ids
at insert, not at commit)."""

from __future__ import annotations

import time

from sqlalchemy import insert

from haechi.engine import Engine
from haechi.scale.gaps import Gaps
from haechi.scale.models import BackscanItem, BackscanJob
from haechi.scale.retrohunt import StoredHashes


def test_gaps_are_remembered_found_and_expire() -> None:
    gaps = Gaps(patience=0.2)
    gaps.note(10, [11, 14, 15])
    assert gaps.pending() == [12, 13]
    gaps.found([12])
    assert gaps.pending() == [13]
    gaps.note(15, [])
    assert len(gaps) == 1
    time.sleep(0.3)
    assert gaps.pending() == []


def _item(job_id: int, item_id: int, pdq: str) -> dict[str, object]:
    return {"id": item_id, "job_id": job_id, "uri": f"/m/{item_id}", "uri_key": f"{item_id:064x}",
            "run": 1, "status": "ok", "pdq": pdq, "pdq_quality": 100, "detections": {},
            "match_count": 0}


def test_an_item_committed_late_below_the_watermark_is_indexed(engine: Engine) -> None:
    with engine.db.session() as s:
        job = BackscanJob(name="j", source="x", status="done")
        s.add(job)
        s.flush()
        job_id = job.id
        s.execute(insert(BackscanItem), [_item(job_id, i, f"{i:064x}") for i in (1, 2, 4)])
    stored = StoredHashes()
    with engine.db.session() as s:
        assert stored.catch_up(s) == 3
    assert stored.last_item == 4 and stored.gaps.pending() == [3]
    with engine.db.session() as s:  # the transaction that took id 3 commits now
        s.execute(insert(BackscanItem), [_item(job_id, 3, "ab" * 32)])
    with engine.db.session() as s:
        assert stored.catch_up(s) == 1
    assert len(stored.pdq) == 4 and stored.gaps.pending() == []
    assert stored.pdq.query("ab" * 32, 0) == [(3, 0)]
