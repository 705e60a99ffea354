"""The in-memory index of region hashes, kept in step with the store like the
whole-image index: it follows the same ``entry_changes`` feed (PDQ entries) from its
own watermark, persists as ``.npy`` files, and rebuilds from ``entry_regions`` when its
files are missing or unusable.

Keys are ``entry_id * SLOTS_PER_ENTRY + slot``, so a hit names its entry and slot with
no side table; boxes are read from the store for the few entries that are verified.
Face regions live in an index of their own: they are queried at the bank's threshold,
the content-box regions at a tighter retrieval threshold, and the faces' index is
about a seventh of the size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.index.feed_index import FeedFollowingIndex
from haechi.index.pdq_index import PdqIndex
from haechi.regions.extract import MIN_QUALITY
from haechi.regions.models import EntryRegion
from haechi.regions.windows import FACE_SLOTS, SLOTS_PER_ENTRY
from haechi.store.models import BankEntry, EntryChange

log = logging.getLogger(__name__)

_BATCH = 50_000


def region_key(entry_id: int, slot: int) -> int:
    return entry_id * SLOTS_PER_ENTRY + slot


def split_key(key: int) -> tuple[int, int]:
    """``(entry_id, slot)`` of an index key."""
    return divmod(key, SLOTS_PER_ENTRY)


class RegionIndex(FeedFollowingIndex):
    """Region hashes of every enabled PDQ entry, keyed by (entry, slot)."""

    FILES = ("regions", "region_faces")
    LABEL = "region index"
    index: PdqIndex
    faces: PdqIndex

    def _get_parts(self) -> tuple[PdqIndex, PdqIndex]:
        return self.index, self.faces

    def _set_parts(self, first: PdqIndex, second: PdqIndex) -> None:
        self.index, self.faces = first, second

    # -- lifecycle -----------------------------------------------------------------

    def _rebuild(self) -> tuple[PdqIndex, PdqIndex, int]:
        seq = self._max_seq()  # first: see FeedFollowingIndex._rebuild
        hashes: list[str] = []
        keys: list[int] = []
        face_hashes: list[str] = []
        face_keys: list[int] = []
        last = 0
        with self.db.session() as s:
            while True:
                rows = s.execute(
                    select(EntryRegion.id, EntryRegion.entry_id, EntryRegion.slot,
                           EntryRegion.hash)
                    .join(BankEntry, BankEntry.id == EntryRegion.entry_id)
                    .where(BankEntry.enabled.is_(True), EntryRegion.quality >= MIN_QUALITY,
                           EntryRegion.id > last)
                    .order_by(EntryRegion.id).limit(_BATCH)
                ).all()
                if not rows:
                    break
                for _id, entry_id, slot, value in rows:
                    face = slot in FACE_SLOTS
                    (face_keys if face else keys).append(region_key(entry_id, slot))
                    (face_hashes if face else hashes).append(value)
                last = rows[-1][0]
        return PdqIndex.build(hashes, keys), PdqIndex.build(face_hashes, face_keys), seq

    # -- keeping up ----------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> int:
        """Apply PDQ entry changes made since the last refresh, by any process."""
        now = time.monotonic()
        if not force and now - self._last_refresh < self.refresh_seconds:
            return 0
        if not self._refresh_lock.acquire(blocking=force):
            return 0
        applied = 0
        try:
            while True:
                with self.db.session() as s:
                    changes = s.execute(
                        select(EntryChange.seq, EntryChange.entry_id, EntryChange.op)
                        .where(EntryChange.seq > self.seq, EntryChange.signal == "pdq")
                        .order_by(EntryChange.seq).limit(_BATCH)
                    ).all()
                    top = s.scalar(select(func.max(EntryChange.seq))) or 0
                    final = {entry_id: op for _seq, entry_id, op in changes}
                    live = self._live_regions(s, [i for i, op in final.items() if op == "add"])
                with self._lock:
                    self._apply(final, live)
                    # Changes of other signals are skipped, not waited for.
                    self.seq = changes[-1][0] if len(changes) == _BATCH else max(self.seq, top)
                applied += len(changes)
                if len(changes) < _BATCH:
                    break
            self._last_refresh = now
            if self.seq - self.saved_seq >= self.save_after_changes:
                self.save()
        finally:
            self._refresh_lock.release()
        return applied

    @staticmethod
    def _live_regions(session: Session, ids: list[int]) -> dict[int, list[tuple[int, str]]]:
        live: dict[int, list[tuple[int, str]]] = {}
        for start in range(0, len(ids), 1000):
            for entry_id, slot, value in session.execute(
                select(EntryRegion.entry_id, EntryRegion.slot, EntryRegion.hash)
                .join(BankEntry, BankEntry.id == EntryRegion.entry_id)
                .where(EntryRegion.entry_id.in_(ids[start:start + 1000]),
                       BankEntry.enabled.is_(True), EntryRegion.quality >= MIN_QUALITY)
            ):
                live.setdefault(entry_id, []).append((slot, value))
        return live

    def _apply(self, final: dict[int, str], live: dict[int, list[tuple[int, str]]]) -> None:
        if not final:
            return
        # Replace, never duplicate: drop every touched entry's keys, re-add the live ones.
        touched = [region_key(i, s) for i in final for s in range(SLOTS_PER_ENTRY)]
        self.index.remove_keys(touched)
        self.faces.remove_keys(touched)
        rows = [(region_key(i, s), s, v) for i in final if final[i] == "add"
                for s, v in live.get(i, [])]
        for index, face in ((self.index, False), (self.faces, True)):
            mine = [(k, v) for k, s, v in rows if (s in FACE_SLOTS) == face]
            if mine:
                index.add([v for _k, v in mine], [k for k, _v in mine])

    # -- queries -------------------------------------------------------------------

    def query(self, hashes: Sequence[str], threshold: int, *,
              faces: bool = False) -> list[list[tuple[int, int]]]:
        """Per query hash, ``(key, distance)`` of every content-box region (or, with
        ``faces``, every face region) within ``threshold``."""
        if not hashes:
            return []
        with self._lock:
            return (self.faces if faces else self.index).query_many(list(hashes), threshold)

    def status(self) -> dict[str, object]:
        return {"ready": self.ready, "loaded_from": self.loaded_from, "seq": self.seq,
                "region_hashes": len(self.index), "face_hashes": len(self.faces),
                "memory_bytes": self.index.memory_bytes() + self.faces.memory_bytes()}
