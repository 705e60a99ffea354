"""The in-memory near-duplicate indexes of all banks, kept in step with the store.

The store is the truth; the index files are a cache of it up to a change-feed sequence
number (the watermark). On start the files are loaded and the feed is replayed from the
watermark, so a restart costs a file load, not a rebuild, and several processes (CLI
invocations, API replicas) converge on the same state by reading the same feed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.index.feed_index import FeedFollowingIndex
from haechi.index.pdq_index import PdqIndex
from haechi.signals.vpdq import parse_compact
from haechi.store.models import BankEntry, EntryChange

log = logging.getLogger(__name__)

_BATCH = 50_000


def _frame_hashes(value: str) -> list[str]:
    return list(dict.fromkeys(f.pdq for f in parse_compact(value)))


class BankIndexes(FeedFollowingIndex):
    """PDQ entries and vPDQ frames, each keyed by bank entry id."""

    FILES = ("pdq", "vpdq")
    LABEL = "index"
    pdq: PdqIndex
    frames: PdqIndex

    def _get_parts(self) -> tuple[PdqIndex, PdqIndex]:
        return self.pdq, self.frames

    def _set_parts(self, first: PdqIndex, second: PdqIndex) -> None:
        self.pdq, self.frames = first, second

    # -- lifecycle -----------------------------------------------------------------

    def _rebuild(self) -> tuple[PdqIndex, PdqIndex, int]:
        seq = self._max_seq()  # first: see FeedFollowingIndex._rebuild
        pdq_values, pdq_keys = self._enabled_values("pdq")
        pdq = PdqIndex.build(pdq_values, pdq_keys)
        video_values, video_keys = self._enabled_values("vpdq")
        frame_hashes: list[str] = []
        frame_keys: list[int] = []
        for key, value in zip(video_keys, video_values, strict=True):
            hashes = _frame_hashes(value)
            frame_hashes.extend(hashes)
            frame_keys.extend([key] * len(hashes))
        return pdq, PdqIndex.build(frame_hashes, frame_keys), seq

    def _enabled_values(self, signal: str) -> tuple[list[str], list[int]]:
        values: list[str] = []
        keys: list[int] = []
        last = 0
        with self.db.session() as s:
            while True:
                rows = s.execute(
                    select(BankEntry.id, BankEntry.value)
                    .where(BankEntry.signal == signal, BankEntry.enabled.is_(True),
                           BankEntry.id > last)
                    .order_by(BankEntry.id).limit(_BATCH)
                ).all()
                if not rows:
                    return values, keys
                for entry_id, value in rows:
                    keys.append(entry_id)
                    values.append(value)
                last = rows[-1][0]

    # -- keeping up ----------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> int:
        """Apply changes made since the last refresh (by this or any other process).

        Database reads happen outside the index lock, and the lock is never held while
        waiting for a connection: scans hold a connection while they query the index, so
        the opposite order could deadlock a full connection pool.
        """
        now = time.monotonic()
        if not force and now - self._last_refresh < self.refresh_seconds:
            return 0
        # One refresher at a time; others go on with the index as it is, unless forced
        # (a writer in this process wants its own change visible before returning).
        if not self._refresh_lock.acquire(blocking=force):
            return 0
        applied = 0
        try:
            while True:
                with self.db.session() as s:
                    changes = s.execute(
                        select(EntryChange.seq, EntryChange.entry_id, EntryChange.signal,
                               EntryChange.op)
                        .where(EntryChange.seq > self.seq).order_by(EntryChange.seq)
                        .limit(_BATCH)
                    ).all()
                    if not changes:
                        break
                    final: dict[tuple[str, int], str] = {}
                    for _seq, entry_id, signal, op in changes:
                        final[(signal, entry_id)] = op
                    live = self._live_values(s, final)
                with self._lock:
                    self._apply(final, live)
                    self.seq = changes[-1][0]
                applied += len(changes)
            self._last_refresh = now
            if self.seq - self.saved_seq >= self.save_after_changes:
                self.save()
        finally:
            self._refresh_lock.release()
        return applied

    @staticmethod
    def _live_values(session: Session, final: dict[tuple[str, int], str]) -> dict[int, str]:
        """Current values of the touched entries that should be in the index."""
        ids = [i for (_sig, i), op in final.items() if op == "add"]
        live: dict[int, str] = {}
        for start in range(0, len(ids), 1000):
            for entry_id, value in session.execute(
                select(BankEntry.id, BankEntry.value).where(
                    BankEntry.id.in_(ids[start:start + 1000]), BankEntry.enabled.is_(True)
                )
            ):
                live[entry_id] = value
        return live

    def _apply(self, final: dict[tuple[str, int], str], live: dict[int, str]) -> None:
        for signal, index in (("pdq", self.pdq), ("vpdq", self.frames)):
            ids = [i for (sig, i) in final if sig == signal]
            if not ids:
                continue
            # Replace, never duplicate: drop every touched key, then re-add the live ones.
            index.remove_keys(ids)
            keep = [(i, live[i]) for i in ids if final[(signal, i)] == "add" and i in live]
            if not keep:
                continue
            if signal == "pdq":
                index.add([v for _, v in keep], [i for i, _ in keep])
            else:
                hashes: list[str] = []
                keys: list[int] = []
                for i, v in keep:
                    frame_hashes = _frame_hashes(v)
                    hashes.extend(frame_hashes)
                    keys.extend([i] * len(frame_hashes))
                index.add(hashes, keys)

    # -- queries -------------------------------------------------------------------

    def query_pdq(self, hashes: Sequence[str], threshold: int) -> dict[int, tuple[int, int]]:
        """Best (distance, index of the query hash) per entry id within ``threshold``."""
        best: dict[int, tuple[int, int]] = {}
        with self._lock:
            results = self.pdq.query_many(list(hashes), threshold)
        for qi, hits in enumerate(results):
            for key, distance in hits:
                if key not in best or distance < best[key][0]:
                    best[key] = (distance, qi)
        return best

    def query_frames(self, hashes: Iterable[str], threshold: int) -> set[int]:
        hashes = list(hashes)
        if not hashes:
            return set()
        with self._lock:
            results = self.frames.query_many(hashes, threshold)
        return {key for hits in results for key, _ in hits}

    def status(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "loaded_from": self.loaded_from,
            "seq": self.seq,
            "saved_seq": self.saved_seq,
            "pdq_entries": len(self.pdq),
            "vpdq_frames": len(self.frames),
        }
