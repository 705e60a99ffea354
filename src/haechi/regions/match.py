"""Region matching: retrieve candidate entries by region hashes, verify, explain.

Verification, from the stored region hashes and boxes only (banks hold no pixels):

* two or more of the content-box regions (content, centre, the four quarters) agree
  within the bank's region threshold, all in the same orientation (all mirrored or
  none); or
* a face agrees within the threshold and its place passes the geometric check: its size
  relative to the content box, and its centre's position in it, are about the same in
  the upload and in the banked image (a crop of up to 20 % moves them little; a face
  close-up never lines up with a small face in a wider picture).

The thresholds are set from the distance distribution of different people's faces and
of unrelated images (benchmarks/bench_evasion.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.banks.service import entry_info
from haechi.index.region_index import RegionIndex, split_key
from haechi.regions.extract import MIN_QUALITY, Regions
from haechi.regions.models import EntryRegion
from haechi.regions.windows import FACE_SLOTS, MIRRORED_SLOT, SLOT_NAMES, Window
from haechi.results import Match, RegionPair
from haechi.signals.pdq import hamming
from haechi.store.models import Bank, BankEntry

#: Candidates come from regions this close; verification then uses the bank's threshold.
RETRIEVE_THRESHOLD = 15
#: Box regions that must agree for a match without a face.
MIN_BOX_REGIONS = 2
#: Face check: relative size within this factor, centre within this share of the box.
_FACE_SCALE = 1.6
_FACE_SHIFT = 0.25


@dataclass(frozen=True)
class _Hit:
    window: Window
    entry_slot: int
    distance: int
    mirrored: bool


def find_region_matches(session: Session, index: RegionIndex, banks: dict[int, Bank],
                        query: Regions) -> list[Match]:
    """Verified region matches of ``query`` in the region-enabled ``banks``.

    Retrieval asks the index for content-box regions within ``RETRIEVE_THRESHOLD`` and
    for faces within the bank's threshold (one region close enough makes a candidate);
    verification then compares every region of the upload with every stored region of
    each candidate at the bank's own threshold. Retrieval at 15 needs no bit flips per
    16-bit chunk in the multi-index hash, about 17 times fewer candidates than at 28;
    faces are kept apart and are one or two per entry, so their index is small.
    """
    usable = {bid: b for bid, b in banks.items() if b.regions_enabled}
    windows = query.usable
    if not usable or not windows:
        return []
    threshold = max(b.region_threshold for b in usable.values())
    asks: list[tuple[Window, bool]] = [(w, False) for w in windows]
    asks += [(w, True) for w in windows if w.mirror_hash is not None]
    box_asks = [(w, m) for w, m in asks if w.slot not in FACE_SLOTS]
    face_asks = [(w, m) for w, m in asks if w.slot in FACE_SLOTS]
    found = index.query([_hash(w, m) for w, m in box_asks],
                        min(RETRIEVE_THRESHOLD, threshold))
    found += index.query([_hash(w, m) for w, m in face_asks], threshold, faces=True)
    candidates: set[int] = set()
    for (window, mirrored), hits in zip(box_asks + face_asks, found, strict=True):
        for key, _distance in hits:
            entry_id, slot = split_key(key)
            if _pairs(window, mirrored, slot):
                candidates.add(entry_id)
    if not candidates:
        return []
    entries = _live(session, sorted(candidates), usable)
    stored = _entry_regions(session, list(entries))
    out = []
    for entry_id, row in entries.items():
        bank = usable[row.bank_id]
        regions = stored.get(entry_id, {})
        boxes = {slot: box for slot, (_h, _q, box) in regions.items()}
        best: tuple[float, list[_Hit]] | None = None
        for mirrored in (False, True):
            per_slot: dict[int, _Hit] = {}
            for window, m in asks:
                if m != mirrored:
                    continue
                for slot, (value, quality, _box) in regions.items():
                    if quality < MIN_QUALITY or not _pairs(window, mirrored, slot):
                        continue
                    distance = hamming(_hash(window, mirrored), value)
                    if slot not in per_slot or distance < per_slot[slot].distance:
                        per_slot[slot] = _Hit(window, slot, distance, mirrored)
            agreed = _verify(per_slot, bank.region_threshold, query, boxes, mirrored)
            if agreed and (best is None or len(agreed) > best[0]):
                best = (len(agreed), agreed)
        if best is not None:
            out.append(_match(row, bank, best[1], boxes))
    return out


def _hash(window: Window, mirrored: bool) -> str:
    value = window.mirror_hash if mirrored else window.hash
    assert value is not None
    return value


def _pairs(window: Window, mirrored: bool, entry_slot: int) -> bool:
    """Whether the upload's ``window`` (mirrored or not) stands for ``entry_slot``."""
    if window.slot in FACE_SLOTS:
        return entry_slot in FACE_SLOTS
    return entry_slot == (MIRRORED_SLOT[window.slot] if mirrored else window.slot)


def _live(session: Session, ids: Sequence[int], banks: dict[int, Bank]) -> dict[int, BankEntry]:
    rows: dict[int, BankEntry] = {}
    for start in range(0, len(ids), 1000):
        for row in session.scalars(select(BankEntry).where(
                BankEntry.id.in_(ids[start:start + 1000]), BankEntry.enabled.is_(True))):
            if row.bank_id in banks:
                rows[row.id] = row
    return rows


_Stored = dict[int, tuple[str, int, tuple[int, int, int, int]]]


def _entry_regions(session: Session, ids: Sequence[int]) -> dict[int, _Stored]:
    """Per entry: slot -> (hash, quality, box)."""
    out: dict[int, _Stored] = {}
    for start in range(0, len(ids), 1000):
        for r in session.scalars(select(EntryRegion).where(
                EntryRegion.entry_id.in_(ids[start:start + 1000]))):
            out.setdefault(r.entry_id, {})[r.slot] = (r.hash, r.quality,
                                                      (r.x0, r.y0, r.x1, r.y1))
    return out


def _verify(per_slot: dict[int, _Hit], threshold: int, query: Regions,
            entry_boxes: dict[int, tuple[int, int, int, int]], mirrored: bool) -> list[_Hit]:
    close = [h for h in per_slot.values() if h.distance <= threshold]
    box_hits = [h for h in close if h.entry_slot not in FACE_SLOTS]
    face_hits = [h for h in close if h.entry_slot in FACE_SLOTS
                 and _face_in_place(h, query, entry_boxes, mirrored)]
    if len(box_hits) >= MIN_BOX_REGIONS or face_hits:
        return sorted(box_hits + face_hits[:1], key=lambda h: h.distance)
    return []


def _relative(face: tuple[int, int, int, int],
              content: tuple[int, int, int, int]) -> tuple[float, float, float]:
    """Face size and centre as shares of the content box."""
    cw, ch = max(1, content[2] - content[0]), max(1, content[3] - content[1])
    size = ((face[2] - face[0]) / cw + (face[3] - face[1]) / ch) / 2
    return (size, ((face[0] + face[2]) / 2 - content[0]) / cw,
            ((face[1] + face[3]) / 2 - content[1]) / ch)


def _face_in_place(hit: _Hit, query: Regions, entry_boxes: dict[int, tuple[int, int, int, int]],
                   mirrored: bool) -> bool:
    entry_face = entry_boxes.get(hit.entry_slot)
    entry_content = entry_boxes.get(0)
    if entry_face is None or entry_content is None:
        return False
    qs, qx, qy = _relative(hit.window.box, query.content)
    es, ex, ey = _relative(entry_face, entry_content)
    if mirrored:
        qx = 1 - qx
    if es <= 0 or qs <= 0 or not 1 / _FACE_SCALE <= qs / es <= _FACE_SCALE:
        return False
    return abs(qx - ex) <= _FACE_SHIFT and abs(qy - ey) <= _FACE_SHIFT


def _match(row: BankEntry, bank: Bank, agreed: list[_Hit],
           entry_boxes: dict[int, tuple[int, int, int, int]]) -> Match:
    pairs = [RegionPair(query_region=SLOT_NAMES[h.window.slot],
                        entry_region=SLOT_NAMES[h.entry_slot], query_box=h.window.box,
                        entry_box=entry_boxes.get(h.entry_slot, (0, 0, 0, 0)),
                        distance=h.distance, mirrored=h.mirrored) for h in agreed]
    return Match(bank=bank.name, bank_kind=bank.kind, entry_id=row.id,  # type: ignore[arg-type]
                 signal=row.signal, distance=min(h.distance for h in agreed),
                 transform="mirror" if agreed[0].mirrored else "original",
                 threshold=bank.region_threshold, entry=entry_info(row, bank.name),
                 layer="regions", regions=pairs, score=float(len(agreed)))
