"""Retro-hunt: search new bank entries in everything already scanned, by stored hashes.

The worker tails ``entry_changes`` from its own watermark (``scale_cursors``). Stored
items are the index and new entries are the queries: exact digests by database lookup,
PDQ through an exact in-memory :class:`PdqIndex` of the items' hashes, vPDQ through an
index of the items' frame hashes followed by the frame-share test a scan applies. Each
match is recorded once and the item goes back to the moderation policy with all its
matches. Media is never read again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.banks.service import entry_info
from haechi.index.pdq_index import PdqIndex
from haechi.results import Match
from haechi.scale.gaps import Gaps
from haechi.scale.models import BackscanItem, BackscanMatch, ScaleCursor
from haechi.scale.records import match_row, put_to_policy
from haechi.signals.vpdq import frame_shares, parse_compact, usable_hashes
from haechi.store.models import Bank, BankEntry, EntryChange

if TYPE_CHECKING:
    from haechi.engine import Engine

CURSOR = "retrohunt"
#: Digest entries (sha256, md5) have no rows in ``entry_changes`` (no in-memory index
#: needs them), so they are followed by entry id under a watermark of their own.
EXACT_CURSOR = "retrohunt-exact"
EXACT_SIGNALS = ("sha256", "md5")
_LOAD_BATCH = 50_000
#: New items beyond this many are loaded by rebuilding the index, not by adding rows.
_REBUILD_ABOVE = 65_536


#: (entry id, item id, PDQ distance, vPDQ shares: the item's frames found, the entry's).
_Found = tuple[int, int, int | None, tuple[float, float] | None]


class RetrohuntReport(BaseModel):
    #: Feed changes and new digest entries read, and live entries searched.
    changes: int
    entries: int
    #: New (item, entry) matches recorded, and the items they touched.
    matches: int
    items: int
    cursor: int
    elapsed_s: float


class RetrohuntStatus(BaseModel):
    cursor: int
    feed_seq: int
    #: Feed changes and digest entries not yet searched.
    behind: int
    indexed_items: int
    indexed_frames: int


class StoredHashes:
    """Exact PDQ indexes over stored items' hashes, keyed by item id, grown as items
    are recorded (items are only ever added)."""

    def __init__(self) -> None:
        self.pdq = PdqIndex()
        self.frames = PdqIndex()
        self.last_item = 0
        self.gaps = Gaps()

    @classmethod
    def from_arrays(cls, pdq: np.ndarray, keys: np.ndarray) -> StoredHashes:
        """An index over (N, 32) uint8 hashes with item ids, built in one go."""
        stored = cls()
        stored.pdq = PdqIndex.build(pdq, keys)
        stored.last_item = int(keys.max()) if len(keys) else 0
        return stored

    def catch_up(self, session: Session) -> int:
        """Index items recorded since the last call (and late ones the last calls
        passed over); returns how many were added."""
        pdq_values: list[str] = []
        pdq_keys: list[int] = []
        frame_values: list[str] = []
        frame_keys: list[int] = []

        def take(rows: Sequence[Any]) -> None:
            for item_id, status, pdq, vpdq in rows:
                if status != "ok":
                    continue
                if pdq:
                    pdq_values.append(pdq)
                    pdq_keys.append(item_id)
                if vpdq:
                    hashes = list(dict.fromkeys(f.pdq for f in parse_compact(vpdq)))
                    frame_values.extend(hashes)
                    frame_keys.extend([item_id] * len(hashes))

        columns = (BackscanItem.id, BackscanItem.status, BackscanItem.pdq, BackscanItem.vpdq)
        pending = self.gaps.pending()
        for start in range(0, len(pending), 1000):
            late = session.execute(select(*columns).where(
                BackscanItem.id.in_(pending[start:start + 1000]))).all()
            self.gaps.found(r[0] for r in late)
            take(late)
        while True:
            rows = session.execute(select(*columns).where(BackscanItem.id > self.last_item)
                                   .order_by(BackscanItem.id).limit(_LOAD_BATCH)).all()
            if not rows:
                break
            self.gaps.note(self.last_item, (r[0] for r in rows))
            take(rows)
            self.last_item = rows[-1][0]
        self.pdq = _grow(self.pdq, pdq_values, pdq_keys)
        self.frames = _grow(self.frames, frame_values, frame_keys)
        return len(pdq_keys) + len(set(frame_keys))


def _grow(index: PdqIndex, values: list[str], keys: list[int]) -> PdqIndex:
    if not values:
        return index
    if len(index) == 0 and len(values) > _REBUILD_ABOVE:
        return PdqIndex.build(values, keys)
    index.add(values, keys)
    return index


def pdq_hits(stored: StoredHashes, entries: Sequence[BankEntry],
             banks: dict[int, Bank]) -> list[tuple[int, int, int]]:
    """(entry id, item id, distance) for PDQ entries within their bank's threshold."""
    if not entries or len(stored.pdq) == 0:
        return []
    threshold = max(banks[e.bank_id].pdq_threshold for e in entries)
    results = stored.pdq.query_many([e.value for e in entries], threshold)
    return [(e.id, key, distance) for e, hits in zip(entries, results, strict=True)
            for key, distance in hits if distance <= banks[e.bank_id].pdq_threshold]


class RetrohuntService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stored = StoredHashes()
        self.change_gaps = Gaps()
        self.entry_gaps = Gaps()
        self._lock = threading.Lock()

    def status(self) -> RetrohuntStatus:
        with self.engine.db.session() as s:
            cursor = s.get(ScaleCursor, CURSOR)
            exact = s.get(ScaleCursor, EXACT_CURSOR)
            seq = cursor.seq if cursor else 0
            feed = s.scalar(select(func.max(EntryChange.seq))) or 0
            behind = (s.scalar(select(func.count()).select_from(EntryChange)
                               .where(EntryChange.seq > seq)) or 0) + (s.scalar(
                select(func.count()).select_from(BankEntry).where(
                    BankEntry.id > (exact.seq if exact else 0),
                    BankEntry.signal.in_(EXACT_SIGNALS))) or 0)
        return RetrohuntStatus(cursor=seq, feed_seq=feed, behind=behind,
                               indexed_items=len(self.stored.pdq),
                               indexed_frames=len(self.stored.frames))

    def run_once(self, *, max_changes: int = 10_000) -> RetrohuntReport:
        """Search the entries added since the watermark (at most ``max_changes`` feed
        rows) and move the watermark past them, in one transaction with the matches."""
        started = time.perf_counter()
        with self._lock, self.engine.db.session() as s:
            cursor = _cursor(s, CURSOR)
            exact_cursor = _cursor(s, EXACT_CURSOR)
            change_cols = (EntryChange.seq, EntryChange.entry_id, EntryChange.op)
            changes = s.execute(select(*change_cols).where(EntryChange.seq > cursor.seq)
                                .order_by(EntryChange.seq).limit(max_changes)).all()
            late_changes = _by_ids(s, change_cols, EntryChange.seq,
                                   self.change_gaps.pending())
            self.change_gaps.found(c[0] for c in late_changes)
            self.change_gaps.note(cursor.seq, (c[0] for c in changes))
            # All entries are read to see the id sequence whole; digest ones are hunted.
            entry_cols = (BankEntry.id, BankEntry.signal)
            new_entries = s.execute(select(*entry_cols).where(BankEntry.id > exact_cursor.seq)
                                    .order_by(BankEntry.id).limit(max_changes)).all()
            late_entries = _by_ids(s, entry_cols, BankEntry.id, self.entry_gaps.pending())
            self.entry_gaps.found(e[0] for e in late_entries)
            self.entry_gaps.note(exact_cursor.seq, (e[0] for e in new_entries))
            exact = [i for i, signal in [*new_entries, *late_entries] if signal in EXACT_SIGNALS]
            top_entry = new_entries[-1][0] if new_entries else exact_cursor.seq
            changes = [*changes, *late_changes]
            if not changes and not new_entries and not late_entries:
                return RetrohuntReport(changes=0, entries=0, matches=0, items=0,
                                       cursor=cursor.seq, elapsed_s=_since(started))
            added = sorted({entry_id for _seq, entry_id, op in changes if op == "add"}
                           | set(exact))
            self.stored.catch_up(s)
            banks = {b.id: b for b in s.scalars(select(Bank).where(Bank.enabled.is_(True)))}
            entries = [e for start in range(0, len(added), 1000) for e in s.scalars(
                select(BankEntry).where(BankEntry.id.in_(added[start:start + 1000]),
                                        BankEntry.enabled.is_(True)))
                if e.bank_id in banks]
            found = self._find(s, entries, banks)
            new, items = self._record(s, found, banks)
            now = datetime.now(UTC)
            cursor.seq = max([cursor.seq, *(c[0] for c in changes)])
            exact_cursor.seq = top_entry
            cursor.updated_at = exact_cursor.updated_at = now
            return RetrohuntReport(changes=len(changes) + len(exact), entries=len(entries),
                                   matches=new, items=items, cursor=cursor.seq,
                                   elapsed_s=_since(started))

    def follow(self, *, poll_seconds: float = 1.0, stop: threading.Event | None = None,
               on_report: Callable[[RetrohuntReport], None] | None = None) -> None:
        """Run until ``stop`` is set, sleeping ``poll_seconds`` when the feed is quiet."""
        stop = stop or threading.Event()
        while not stop.is_set():
            report = self.run_once()
            if on_report and report.changes:
                on_report(report)
            if not report.changes:
                stop.wait(poll_seconds)

    # -- finding -----------------------------------------------------------------

    def _find(self, s: Session, entries: Sequence[BankEntry],
              banks: dict[int, Bank]) -> list[_Found]:
        """(entry id, item id, distance, frame share) of every stored item matching."""
        found: list[_Found] = []
        for signal, column in (("sha256", BackscanItem.sha256), ("md5", BackscanItem.md5)):
            by_value: dict[str, list[int]] = {}
            for e in entries:
                if e.signal == signal:
                    by_value.setdefault(e.value, []).append(e.id)
            values = list(by_value)
            for start in range(0, len(values), 1000):
                chunk = values[start:start + 1000]
                for item_id, value in s.execute(
                        select(BackscanItem.id, column).where(column.in_(chunk))):
                    found.extend((entry_id, item_id, 0, None)
                                 for entry_id in by_value.get(value or "", []))
        pdq_entries = [e for e in entries if e.signal == "pdq"]
        hits = pdq_hits(self.stored, pdq_entries, banks)
        qualities = self._qualities(s, sorted({item for _, item, _ in hits}))
        entry_bank = {e.id: banks[e.bank_id] for e in pdq_entries}
        found.extend((entry_id, item_id, distance, None) for entry_id, item_id, distance in hits
                     if qualities.get(item_id, 0) >= entry_bank[entry_id].pdq_min_quality)
        for e in entries:
            if e.signal == "vpdq":
                found.extend(self._video(s, e, banks[e.bank_id]))
        return found

    @staticmethod
    def _qualities(s: Session, ids: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for start in range(0, len(ids), 1000):
            out.update((i, q or 0) for i, q in s.execute(
                select(BackscanItem.id, BackscanItem.pdq_quality)
                .where(BackscanItem.id.in_(ids[start:start + 1000]))))
        return out

    def _video(self, s: Session, entry: BankEntry,
               bank: Bank) -> list[_Found]:
        theirs = usable_hashes(parse_compact(entry.value), bank.pdq_min_quality)
        if not theirs or len(self.stored.frames) == 0:
            return []
        candidates = sorted({key for hits in self.stored.frames.query_many(
            theirs, bank.pdq_threshold) for key, _ in hits})
        out: list[_Found] = []
        for start in range(0, len(candidates), 1000):
            for item_id, vpdq in s.execute(select(BackscanItem.id, BackscanItem.vpdq).where(
                    BackscanItem.id.in_(candidates[start:start + 1000]))):
                mine = usable_hashes(parse_compact(vpdq or ""), bank.pdq_min_quality)
                # The stored item plays the upload: its share of frames found decides.
                share, entry_share = frame_shares(mine, theirs, bank.pdq_threshold)
                if share >= bank.video_match_percent:
                    out.append((entry.id, item_id, None,
                                (round(share, 2), round(entry_share, 2))))
        return out

    # -- recording ---------------------------------------------------------------

    def _record(self, s: Session, found: Sequence[_Found],
                banks: dict[int, Bank]) -> tuple[int, int]:
        if not found:
            return 0, 0
        item_ids = sorted({item for _, item, _, _ in found})
        existing: set[tuple[int, int]] = set()
        for start in range(0, len(item_ids), 1000):
            existing.update((item, entry) for item, entry in s.execute(
                select(BackscanMatch.item_id, BackscanMatch.entry_id)
                .where(BackscanMatch.item_id.in_(item_ids[start:start + 1000]))))
        entries = {e.id: e for e in s.scalars(select(BankEntry).where(
            BankEntry.id.in_(sorted({entry for entry, _, _, _ in found}))))}
        new = 0
        touched: set[int] = set()
        for entry_id, item_id, distance, shares in found:
            if (item_id, entry_id) in existing:
                continue
            existing.add((item_id, entry_id))
            entry = entries[entry_id]
            bank = banks[entry.bank_id]
            s.add(match_row(item_id, _match(entry, bank, distance, shares), "retrohunt"))
            new += 1
            touched.add(item_id)
        s.flush()
        for item_id in sorted(touched):
            item = s.get_one(BackscanItem, item_id)
            put_to_policy(self.engine, item, self._item_matches(s, item_id, banks))
        return new, len(touched)

    @staticmethod
    def _item_matches(s: Session, item_id: int, banks: dict[int, Bank]) -> list[Match]:
        """Every recorded match of the item whose entry and bank are still live."""
        rows = s.execute(select(BackscanMatch, BankEntry)
                         .join(BankEntry, BankEntry.id == BackscanMatch.entry_id)
                         .where(BackscanMatch.item_id == item_id,
                                BankEntry.enabled.is_(True))).all()
        return [_match(entry, banks[entry.bank_id], m.distance,
                       None if m.query_share is None else (m.query_share, m.entry_share or 0.0))
                for m, entry in rows if entry.bank_id in banks]


def _match(entry: BankEntry, bank: Bank, distance: int | None,
           shares: tuple[float, float] | None) -> Match:
    threshold = (bank.video_match_percent if entry.signal == "vpdq"
                 else bank.pdq_threshold if entry.signal == "pdq" else None)
    return Match(bank=bank.name, bank_kind=bank.kind, entry_id=entry.id,  # type: ignore[arg-type]
                 signal=entry.signal, distance=distance,
                 query_share=shares[0] if shares else None,
                 entry_share=shares[1] if shares else None,
                 threshold=threshold, entry=entry_info(entry, bank.name))


def _by_ids(s: Session, columns: tuple[Any, ...], key: Any, ids: Sequence[int]) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(ids), 1000):
        rows.extend(s.execute(select(*columns).where(key.in_(ids[start:start + 1000]))))
    return rows


def _cursor(s: Session, name: str) -> ScaleCursor:
    cursor = s.get(ScaleCursor, name, with_for_update=True)
    if cursor is None:
        cursor = ScaleCursor(name=name, seq=0, updated_at=datetime.now(UTC))
        s.add(cursor)
        s.flush()
    return cursor


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
