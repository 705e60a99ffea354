"""The in-memory index of region hashes, kept in step with the store like the
whole-image index: it follows the same ``entry_changes`` feed (PDQ and vPDQ entries) from its
own watermark, persists as ``.npy`` files, and rebuilds from ``entry_regions`` when its
files are missing or unusable.

Two halves: the PDQ hashes of the content-box windows, keyed ``entry_id *
SLOTS_PER_ENTRY + slot`` (a hit names its entry and slot with no side table), and the
keypoint words of each entry (:class:`WordIndex`: an image's, or the sampled frames'
of a video banked from its file). Boxes and keypoints are read from the store only for
the few candidates that are verified.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.index.feed_index import FeedFollowingIndex
from haechi.index.pdq_index import PdqIndex
from haechi.index.word_index import U8, WordIndex
from haechi.regions.extract import MIN_QUALITY
from haechi.regions.keypoints import FrameKeypoints, Keypoints, read_record
from haechi.regions.models import EntryKeypoints, EntryRegion
from haechi.regions.windows import BOX_SLOTS, SLOTS_PER_ENTRY
from haechi.store.models import BankEntry, EntryChange

log = logging.getLogger(__name__)

_BATCH = 50_000


def region_key(entry_id: int, slot: int) -> int:
    return entry_id * SLOTS_PER_ENTRY + slot


def split_key(key: int) -> tuple[int, int]:
    """``(entry_id, slot)`` of an index key."""
    return divmod(key, SLOTS_PER_ENTRY)


class RegionIndex(FeedFollowingIndex):
    """Region hashes and keypoint words of every enabled PDQ entry."""

    FILES = ("regions", "region_words")
    LABEL = "region index"
    PART_TYPES = (PdqIndex, WordIndex)
    #: Parsed keypoints of recently verified entries (about 20 KB each): an entry's
    #: keypoints never change, and the same few entries are checked again and again.
    CACHED_KEYPOINTS = 2048
    index: PdqIndex
    words: WordIndex

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keypoints: OrderedDict[int, tuple[int, Keypoints | FrameKeypoints]] = OrderedDict()
        #: Enabled entries with windows but no keypoints: banked before keypoints were
        #: kept. While there are any, scans that keypoints did not match try the windows
        #: too, so those entries keep the matching they had.
        self.without_keypoints: set[int] = set()

    def load(self) -> None:
        super().load()
        self._count_without_keypoints()

    def rebuild(self) -> None:
        super().rebuild()
        self._count_without_keypoints()

    def _count_without_keypoints(self) -> None:
        with self.db.session() as s:
            ids = set(s.scalars(
                select(EntryRegion.entry_id).distinct()
                .join(BankEntry, BankEntry.id == EntryRegion.entry_id)
                .outerjoin(EntryKeypoints, EntryKeypoints.entry_id == EntryRegion.entry_id)
                .where(BankEntry.enabled.is_(True), EntryKeypoints.entry_id.is_(None))))
        with self._lock:
            self.without_keypoints = ids

    def cached_keypoints(self, entry_id: int) -> tuple[int, Keypoints | FrameKeypoints] | None:
        """``(bank id, keypoints)`` of an entry seen lately, or None."""
        with self._lock:
            found = self._keypoints.get(entry_id)
            if found is not None:
                self._keypoints.move_to_end(entry_id)
            return found

    def cache_keypoints(self, entry_id: int, bank_id: int,
                        keypoints: Keypoints | FrameKeypoints) -> None:
        with self._lock:
            self._keypoints[entry_id] = (bank_id, keypoints)
            while len(self._keypoints) > self.CACHED_KEYPOINTS:
                self._keypoints.popitem(last=False)

    def _get_parts(self) -> tuple[PdqIndex, WordIndex]:
        return self.index, self.words

    def _set_parts(self, first: PdqIndex, second: WordIndex) -> None:
        self.index, self.words = first, second

    # -- lifecycle -----------------------------------------------------------------

    def _rebuild(self) -> tuple[PdqIndex, WordIndex, int]:
        seq = self._max_seq()  # first: see FeedFollowingIndex._rebuild
        hashes: list[str] = []
        keys: list[int] = []
        last = 0
        with self.db.session() as s:
            while True:
                rows = s.execute(
                    select(EntryRegion.id, EntryRegion.entry_id, EntryRegion.slot,
                           EntryRegion.hash)
                    .join(BankEntry, BankEntry.id == EntryRegion.entry_id)
                    .where(BankEntry.enabled.is_(True), EntryRegion.quality >= MIN_QUALITY,
                           EntryRegion.slot.in_(list(BOX_SLOTS)), EntryRegion.id > last)
                    .order_by(EntryRegion.id).limit(_BATCH)
                ).all()
                if not rows:
                    break
                for _id, entry_id, slot, value in rows:
                    keys.append(region_key(entry_id, slot))
                    hashes.append(value)
                last = rows[-1][0]
            described: list[tuple[int, U8, U8]] = []
            last = 0
            while True:
                kp_rows = s.execute(
                    select(EntryKeypoints.entry_id, EntryKeypoints.data)
                    .join(BankEntry, BankEntry.id == EntryKeypoints.entry_id)
                    .where(BankEntry.enabled.is_(True), EntryKeypoints.entry_id > last)
                    .order_by(EntryKeypoints.entry_id).limit(_BATCH // 10)
                ).all()
                if not kp_rows:
                    break
                described += [d for entry_id, data in kp_rows
                              if (d := _described(entry_id, data)) is not None]
                last = kp_rows[-1][0]
        return PdqIndex.build(hashes, keys), WordIndex.build(described), seq

    # -- keeping up ----------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> int:
        """Apply PDQ and vPDQ entry changes made since the last refresh, by any process."""
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
                        .where(EntryChange.seq > self.seq,
                               EntryChange.signal.in_(("pdq", "vpdq")))
                        .order_by(EntryChange.seq).limit(_BATCH)
                    ).all()
                    top = s.scalar(select(func.max(EntryChange.seq))) or 0
                    final = {entry_id: op for _seq, entry_id, op in changes}
                    added = [i for i, op in final.items() if op == "add"]
                    live = self._live_regions(s, added)
                    described = self._live_keypoints(s, added)
                with self._lock:
                    self._apply(final, live, described)
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
                       BankEntry.enabled.is_(True), EntryRegion.quality >= MIN_QUALITY,
                       EntryRegion.slot.in_(list(BOX_SLOTS)))
            ):
                live.setdefault(entry_id, []).append((slot, value))
        return live

    @staticmethod
    def _live_keypoints(session: Session, ids: list[int]) -> list[tuple[int, U8, U8]]:
        out = []
        for start in range(0, len(ids), 1000):
            for entry_id, data in session.execute(
                select(EntryKeypoints.entry_id, EntryKeypoints.data)
                .join(BankEntry, BankEntry.id == EntryKeypoints.entry_id)
                .where(EntryKeypoints.entry_id.in_(ids[start:start + 1000]),
                       BankEntry.enabled.is_(True))
            ):
                if (d := _described(entry_id, data)) is not None:
                    out.append(d)
        return out

    def _apply(self, final: dict[int, str], live: dict[int, list[tuple[int, str]]],
               described: list[tuple[int, U8, U8]]) -> None:
        if not final:
            return
        for entry_id in final:  # an id may come back with another picture (SQLite)
            self._keypoints.pop(entry_id, None)
        # Replace, never duplicate: drop every touched entry's keys, re-add the live ones.
        touched = [region_key(i, s) for i in final for s in range(SLOTS_PER_ENTRY)]
        self.index.remove_keys(touched)
        rows = [(region_key(i, s), v) for i in final if final[i] == "add"
                for s, v in live.get(i, [])]
        if rows:
            self.index.add([v for _k, v in rows], [k for k, _v in rows])
        kept = {entry_id for entry_id, _o, _m in described}
        self.words.remove([i for i in final if i not in kept])
        self.words.add(described)
        for entry_id, op in final.items():
            if op == "add" and live.get(entry_id) and entry_id not in kept:
                self.without_keypoints.add(entry_id)
            else:
                self.without_keypoints.discard(entry_id)

    # -- queries -------------------------------------------------------------------

    def query(self, hashes: Sequence[str], threshold: int) -> list[list[tuple[int, int]]]:
        """Per query hash, ``(key, distance)`` of every content-box region within
        ``threshold``."""
        if not hashes:
            return []
        with self._lock:
            return self.index.query_many(list(hashes), threshold)

    def candidates(self, descriptors: U8, *, limit: int) -> list[tuple[int, bool, int, float]]:
        """Entries sharing the most keypoint words with an upload (see WordIndex.query)."""
        with self._lock:
            return self.words.query(descriptors, limit=limit)

    def status(self) -> dict[str, object]:
        return {"ready": self.ready, "loaded_from": self.loaded_from, "seq": self.seq,
                "region_hashes": len(self.index), "keypoint_entries": len(self.words),
                "entries_without_keypoints": len(self.without_keypoints),
                "memory_bytes": self.index.memory_bytes() + self.words.memory_bytes()}


def _described(entry_id: int, data: bytes) -> tuple[int, U8, U8] | None:
    """What the word index takes from a stored keypoint record (None, logged, for a
    record that cannot be read: one bad row must not stop the index)."""
    try:
        original, mirrored = read_record(data).indexed()
    except ValueError as exc:
        log.warning("entry %d: keypoints skipped: %s", entry_id, exc)
        return None
    return entry_id, original, mirrored
