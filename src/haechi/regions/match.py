"""Region matching: retrieve candidate entries, verify, explain.

Two kinds of evidence, both checked from what the bank stores (it holds no pixels):

* keypoints (``find_keypoint_matches``, tried first): the entries sharing the most
  keypoint words with the upload (``WordIndex``) are verified geometrically
  (``regions/verify.py``): at least the bank's ``region_min_inliers`` points (default
  30) must agree on one movement of the picture. This catches crops, rotations,
  mirrored crops, stickers and most framed copies;
* frames (``find_frame_matches``): a video's sampled frames against the frames kept
  of a banked video, each with the same geometric check;
* windows (``find_region_matches``, for flat pictures with few keypoints): two or more
  of the content-box regions (content, centre, the four quarters) agree within the
  bank's ``region_threshold``, all in the same orientation (all mirrored or none).

The thresholds are set from different people's portraits and unrelated images
(benchmarks/bench_evasion.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.banks.service import entry_info
from haechi.index.region_index import RegionIndex, split_key
from haechi.regions.extract import MIN_QUALITY, Regions
from haechi.regions.keypoints import FrameKeypoints, Keypoints, read_record
from haechi.regions.models import EntryKeypoints, EntryRegion
from haechi.regions.verify import Verified, verify
from haechi.regions.windows import MIRRORED_SLOT, SLOT_NAMES, Window
from haechi.results import Match, RegionPair
from haechi.signals.pdq import hamming
from haechi.store.models import Bank, BankEntry

log = logging.getLogger(__name__)

#: Sampled upload frames that must each land on one of a banked video's frames.
MIN_VIDEO_FRAMES = 2
#: Candidates come from regions this close; verification then uses the bank's threshold.
RETRIEVE_THRESHOLD = 15
#: Box regions that must agree for a match.
MIN_BOX_REGIONS = 2
#: Keypoint candidates verified per scan (the best by shared words).
KEYPOINT_CANDIDATES = 4
#: Once a candidate is confirmed, others are checked only if they score this share of it
#: (the same picture banked twice scores alike; noise scores far below a true copy).
_AFTER_MATCH = 0.5
#: Until one is confirmed, the best candidate (in either orientation) is always checked
#: and the others only if they share this many words: on uploads that match nothing the
#: runners-up score alike and each check costs about half a millisecond, while a copy
#: whose entry ranks below another's shares fewer words than this in 2 of about 1,400
#: edited copies measured.
_RUNNER_UP_WORDS = 12


@dataclass(frozen=True)
class _Hit:
    window: Window
    entry_slot: int
    distance: int
    mirrored: bool


def find_region_matches(session: Session, index: RegionIndex, banks: dict[int, Bank],
                        query: Regions) -> list[Match]:
    """Verified window matches of ``query`` in the region-enabled ``banks``.

    Retrieval asks the index for content-box regions within ``RETRIEVE_THRESHOLD``;
    verification then compares every region of the upload with every stored region of
    each candidate at the bank's own threshold. Retrieval at 15 needs no bit flips per
    16-bit chunk in the multi-index hash, about 17 times fewer candidates than at 28.
    """
    usable = {bid: b for bid, b in banks.items() if b.regions_enabled}
    windows = query.usable
    if not usable or not windows:
        return []
    threshold = max(b.region_threshold for b in usable.values())
    asks: list[tuple[Window, bool]] = [(w, False) for w in windows]
    asks += [(w, True) for w in windows if w.mirror_hash is not None]
    found = index.query([_hash(w, m) for w, m in asks], min(RETRIEVE_THRESHOLD, threshold))
    candidates: set[int] = set()
    for (window, mirrored), hits in zip(asks, found, strict=True):
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
            agreed = _verify(per_slot, bank.region_threshold)
            if agreed and (best is None or len(agreed) > best[0]):
                best = (len(agreed), agreed)
        if best is not None:
            out.append(_match(row, bank, best[1], boxes))
    return out


def find_keypoint_matches(session: Session, index: RegionIndex, banks: dict[int, Bank],
                          query: Keypoints) -> list[Match]:
    """Verified keypoint matches of ``query`` (the upload's keypoints) in the
    region-enabled ``banks``: the best candidates by shared words, each checked against
    the entry's own points or its mirror image's, as the words came."""
    usable = {bid: b for bid, b in banks.items() if b.regions_enabled}
    if not usable or not len(query):
        return []
    found = index.candidates(query.descriptors, limit=KEYPOINT_CANDIDATES)
    if not found:
        return []
    stored = _stored_keypoints(session, index, sorted({c[0] for c in found}), set(usable))
    checked: dict[int, tuple[Verified, bool]] = {}
    confirmed = 0.0
    tried: set[int] = set()
    # Candidates come best first, an entry possibly in both orientations (portraits are
    # nearly symmetric): each is checked until one orientation of the entry holds; the
    # mirror image's points are stored, so a mirrored check costs no second detection.
    for entry_id, mirrored, shared, score in found:
        bank_id, entry = stored.get(entry_id, (0, None))
        # A video's frames (find_frame_matches) never take an image's place.
        if not isinstance(entry, Keypoints) or entry_id in checked:
            continue
        if confirmed and score < _AFTER_MATCH * confirmed:
            continue
        if (not confirmed and tried and entry_id not in tried
                and shared < _RUNNER_UP_WORDS):
            continue
        tried.add(entry_id)
        target = entry.mirror if mirrored else entry
        bank = usable[bank_id]
        result = (verify(query, target, min_inliers=bank.region_min_inliers)
                  if target is not None else None)
        if result is not None:
            confirmed = max(confirmed, score)
            checked[entry_id] = (result, mirrored)
    if not checked:
        return []
    entries = _live(session, sorted(checked), usable)
    out = {entry_id: _keypoint_match(row, usable[row.bank_id], *checked[entry_id])
           for entry_id, row in entries.items()}
    return list(out.values())


def find_frame_matches(session: Session, index: RegionIndex, banks: dict[int, Bank],
                       frames: Sequence[Keypoints]) -> list[Match]:
    """Videos banked from their file that an upload's sampled ``frames`` show (cropped,
    framed or re-encoded): each upload frame's best candidates (as for an image) are
    checked against every kept frame of the entry, and an entry matches when at least
    ``MIN_VIDEO_FRAMES`` upload frames (all of them, if fewer were sampled) land on one
    of its frames."""
    usable = {bid: b for bid, b in banks.items() if b.regions_enabled}
    looked = [f for f in frames if len(f)]
    if not usable or not looked:
        return []
    agreeing: dict[int, list[Verified]] = {}
    for position, points in enumerate(looked):
        found = index.candidates(points.descriptors, limit=KEYPOINT_CANDIDATES)
        stored = _stored_keypoints(session, index, sorted({c[0] for c in found}), set(usable))
        tried: set[int] = set()
        for entry_id, mirrored, shared, _score in found:
            record = stored.get(entry_id, (0, None))[1]
            if mirrored or entry_id in tried or not isinstance(record, FrameKeypoints):
                continue
            if tried and shared < _RUNNER_UP_WORDS:
                continue
            tried.add(entry_id)
            bank = usable[stored[entry_id][0]]
            # The kept frame at the same place in the video first: a copy of the whole
            # video usually agrees there, and the first that agrees is enough.
            where = position / max(1, len(looked) - 1) * (len(record) - 1)
            for j in sorted(range(len(record)), key=lambda j: abs(j - where)):
                found_here = verify(points, record.frames[j],
                                    min_inliers=bank.region_min_inliers)
                if found_here is not None:
                    agreeing.setdefault(entry_id, []).append(found_here)
                    break
    needed = min(MIN_VIDEO_FRAMES, len(looked))
    held = {e: v for e, v in agreeing.items() if len(v) >= needed}
    if not held:
        return []
    entries = _live(session, sorted(held), usable)
    return [_frame_match(row, usable[row.bank_id], held[row.id], len(looked), needed)
            for row in entries.values()]


def _hash(window: Window, mirrored: bool) -> str:
    value = window.mirror_hash if mirrored else window.hash
    assert value is not None
    return value


def _pairs(window: Window, mirrored: bool, entry_slot: int) -> bool:
    """Whether the upload's ``window`` (mirrored or not) stands for ``entry_slot``."""
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


def _stored_keypoints(session: Session, index: RegionIndex, ids: Sequence[int],
                      banks: set[int]) -> dict[int, tuple[int, Keypoints | FrameKeypoints]]:
    """Bank id and stored keypoints of the entries of ``banks`` among ``ids``, from the
    index's cache or the store (columns only: rows are loaded for the verified few); a record
    that cannot be read is left out. Disabled entries never get here: the word index
    drops them, and matches are checked against the store once more."""
    points: dict[int, tuple[int, Keypoints | FrameKeypoints]] = {}
    missing = []
    for entry_id in ids:
        cached = index.cached_keypoints(entry_id)
        if cached is None:
            missing.append(entry_id)
        elif cached[0] in banks:
            points[entry_id] = cached
    for start in range(0, len(missing), 1000):
        for entry_id, bank_id, data in session.execute(
            select(BankEntry.id, BankEntry.bank_id, EntryKeypoints.data)
            .join(EntryKeypoints, EntryKeypoints.entry_id == BankEntry.id)
            .where(BankEntry.id.in_(missing[start:start + 1000]),
                   BankEntry.enabled.is_(True))
        ):
            try:
                parsed = read_record(data)
            except ValueError as exc:
                log.warning("entry %d: stored keypoints unreadable: %s", entry_id, exc)
                continue
            index.cache_keypoints(entry_id, bank_id, parsed)
            if bank_id in banks:
                points[entry_id] = (bank_id, parsed)
    return points


def _verify(per_slot: dict[int, _Hit], threshold: int) -> list[_Hit]:
    close = sorted((h for h in per_slot.values() if h.distance <= threshold),
                   key=lambda h: h.distance)
    return close if len(close) >= MIN_BOX_REGIONS else []


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


def _keypoint_match(row: BankEntry, bank: Bank, checked: Verified, mirrored: bool) -> Match:
    pair = RegionPair(query_region="keypoints", entry_region="keypoints",
                      query_box=checked.query_box, entry_box=checked.entry_box,
                      distance=checked.distance, mirrored=mirrored, scale=checked.scale,
                      rotation=checked.rotation_degrees)
    return Match(bank=bank.name, bank_kind=bank.kind, entry_id=row.id,  # type: ignore[arg-type]
                 signal=row.signal, transform="mirror" if mirrored else "original",
                 threshold=bank.region_min_inliers,
                 entry=entry_info(row, bank.name), layer="regions", regions=[pair],
                 score=float(checked.inliers))


def _frame_match(row: BankEntry, bank: Bank, agreeing: list[Verified], looked: int,
                 needed: int) -> Match:
    """A video matched by keypoints: the best frame's evidence, and how many frames."""
    best = max(agreeing, key=lambda c: c.inliers)
    pair = RegionPair(query_region="keypoints", entry_region="keypoints",
                      query_box=best.query_box, entry_box=best.entry_box,
                      distance=best.distance, scale=best.scale,
                      rotation=best.rotation_degrees)
    return Match(bank=bank.name, bank_kind=bank.kind, entry_id=row.id,  # type: ignore[arg-type]
                 signal=row.signal, transform="frames", threshold=float(needed),
                 entry=entry_info(row, bank.name), layer="regions", regions=[pair],
                 score=float(len(agreeing)), query_share=round(100 * len(agreeing) / looked, 1))
