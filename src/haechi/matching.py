"""From hashes to matches to a decision. One place, used by every kind of scan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from haechi.banks.service import entry_info, lookup_key
from haechi.index.bank_index import BankIndexes
from haechi.results import Decision, Match
from haechi.signals.pdq import DIHEDRAL_TRANSFORMS
from haechi.signals.vpdq import VpdqFeature, frame_shares, parse_compact, usable_hashes
from haechi.store.models import Bank, BankEntry


@dataclass(frozen=True)
class Query:
    """What an upload (or a caller who only has hashes) brings to the banks."""

    #: (signal, canonical value) for exact signals: sha256, md5.
    exact: Sequence[tuple[str, str]] = ()
    #: PDQ hash variants, index i produced by DIHEDRAL_TRANSFORMS[i]; one when no media.
    pdq_variants: Sequence[str] = ()
    pdq_quality: int | None = None
    video_frames: Sequence[VpdqFeature] = ()


def enabled_banks(session: Session) -> dict[int, Bank]:
    """The enabled banks by id: read once per scan, and shared by both layers."""
    return {b.id: b for b in session.scalars(select(Bank).where(Bank.enabled.is_(True)))}


def find_matches(session: Session, indexes: BankIndexes, query: Query,
                 banks: dict[int, Bank] | None = None) -> list[Match]:
    """Matches of ``query`` in ``banks`` (default: the enabled banks)."""
    if banks is None:
        banks = enabled_banks(session)
    if not banks:
        return []
    matches: list[Match] = []
    matches.extend(_exact(session, banks, query))
    if query.pdq_variants:
        matches.extend(_pdq(session, indexes, banks, query))
    if query.video_frames:
        matches.extend(_video(session, indexes, banks, query))
    matches.sort(key=lambda m: (m.bank_kind != "allow", m.bank, m.entry_id, m.signal))
    return matches


def _live_entries(session: Session, ids: Sequence[int], banks: dict[int, Bank]) -> list[BankEntry]:
    rows: list[BankEntry] = []
    for start in range(0, len(ids), 1000):
        rows.extend(session.scalars(
            select(BankEntry).where(BankEntry.id.in_(ids[start:start + 1000]),
                                    BankEntry.enabled.is_(True))
        ))
    # The database, not the index, has the last word on disabled entries and banks.
    return [r for r in rows if r.bank_id in banks]


def _exact(session: Session, banks: dict[int, Bank], query: Query) -> list[Match]:
    if not query.exact:
        return []
    clauses = [and_(BankEntry.signal == s, BankEntry.lookup == lookup_key(s, v))
               for s, v in query.exact]
    rows = session.scalars(
        select(BankEntry).where(or_(*clauses), BankEntry.enabled.is_(True))
    ).all()
    out = []
    for row in rows:
        bank = banks.get(row.bank_id)
        if bank is None:
            continue
        out.append(Match(bank=bank.name, bank_kind=bank.kind, entry_id=row.id,  # type: ignore[arg-type]
                         signal=row.signal, distance=0, entry=entry_info(row, bank.name)))
    return out


def _pdq(session: Session, indexes: BankIndexes, banks: dict[int, Bank],
         query: Query) -> list[Match]:
    usable = [b for b in banks.values()
              if query.pdq_quality is None or query.pdq_quality >= b.pdq_min_quality]
    if not usable:
        return []
    threshold = max(b.pdq_threshold for b in usable)
    best = indexes.query_pdq(query.pdq_variants, threshold)
    out = []
    for row in _live_entries(session, list(best), banks):
        bank = banks[row.bank_id]
        distance, variant = best[row.id]
        if distance > bank.pdq_threshold:
            continue
        if query.pdq_quality is not None and query.pdq_quality < bank.pdq_min_quality:
            continue
        transform = DIHEDRAL_TRANSFORMS[variant] if len(query.pdq_variants) > 1 else "original"
        out.append(Match(bank=bank.name, bank_kind=bank.kind, entry_id=row.id,  # type: ignore[arg-type]
                         signal="pdq", distance=distance, transform=transform,
                         threshold=bank.pdq_threshold, entry=entry_info(row, bank.name)))
    return out


def _video(session: Session, indexes: BankIndexes, banks: dict[int, Bank],
           query: Query) -> list[Match]:
    min_quality = min(b.pdq_min_quality for b in banks.values())
    threshold = max(b.pdq_threshold for b in banks.values())
    candidates = indexes.query_frames(usable_hashes(query.video_frames, min_quality), threshold)
    out = []
    for row in _live_entries(session, sorted(candidates), banks):
        bank = banks[row.bank_id]
        mine = usable_hashes(query.video_frames, bank.pdq_min_quality)
        theirs = usable_hashes(parse_compact(row.value), bank.pdq_min_quality)
        query_share, entry_share = frame_shares(mine, theirs, bank.pdq_threshold)
        if query_share < bank.video_match_percent:
            continue
        out.append(Match(bank=bank.name, bank_kind=bank.kind, entry_id=row.id,  # type: ignore[arg-type]
                         signal="vpdq", query_share=round(query_share, 2),
                         entry_share=round(entry_share, 2),
                         threshold=bank.video_match_percent, entry=entry_info(row, bank.name)))
    return out


def decide(matches: Sequence[Match]) -> tuple[Decision, str]:
    """Block on any blocking bank match unless an allow-list bank also matched."""
    allows = [m for m in matches if m.bank_kind == "allow"]
    blocks = [m for m in matches if m.bank_kind == "block"]
    if allows:
        what = "; ".join(_describe(m) for m in allows)
        if blocks:
            return "allow", (f"allow-list matched ({what}), overriding "
                             f"{len(blocks)} block match(es) in "
                             f"{', '.join(sorted({m.bank for m in blocks}))}")
        return "allow", f"allow-list matched ({what})"
    if blocks:
        return "block", "matched known media: " + "; ".join(_describe(m) for m in blocks)
    return "allow", "no bank matched"


def _describe(m: Match) -> str:
    if m.layer == "regions" and m.transform == "frames" and m.regions:
        p = m.regions[0]
        return (f"bank '{m.bank}' entry {m.entry_id} by keypoints in {m.score:.0f} of the "
                f"upload's sampled frames ({m.threshold:.0f} needed); in the best, the "
                f"frame's {_box(p.query_box)} lands on the entry's "
                f"{_box(p.entry_box or (0, 0, 0, 0))} under one movement (the picture "
                f"scaled {p.scale}x and turned {p.rotation} degrees)")
    if m.layer == "regions" and m.signal == "vpdq" and m.regions:
        return (f"bank '{m.bank}' entry {m.entry_id} by vpdq once the bars around the "
                f"frames were trimmed (content {_box(m.regions[0].query_box)}): "
                f"{m.query_share:.0f}% of the upload's frames found")
    if m.layer == "regions" and m.regions and m.regions[0].query_region == "keypoints":
        p = m.regions[0]
        flip = " (upload mirrored)" if p.mirrored else ""
        return (f"bank '{m.bank}' entry {m.entry_id} by keypoints{flip}: {m.score:.0f} points "
                f"of the upload's {_box(p.query_box)} land on the entry's "
                f"{_box(p.entry_box or (0, 0, 0, 0))} under one movement (the picture "
                f"scaled {p.scale}x and turned {p.rotation} degrees; {m.threshold:.0f} "
                "needed)")
    if m.layer == "regions" and m.regions:
        parts = ", ".join(
            f"{p.query_region} {_box(p.query_box)} ~ {p.entry_region} "
            f"{_box(p.entry_box or (0, 0, 0, 0))} "
            f"at {p.distance}" for p in m.regions)
        flip = " (upload mirrored)" if m.regions[0].mirrored else ""
        return (f"bank '{m.bank}' entry {m.entry_id} by regions{flip}: {len(m.regions)} "
                f"region(s) agree within {m.threshold:.0f} ({parts})")
    if m.signal == "vpdq":
        return (f"bank '{m.bank}' entry {m.entry_id} by vpdq: {m.query_share:.0f}% of the "
                f"upload's frames found, {m.entry_share:.0f}% of the entry's")
    if m.signal == "pdq":
        how = "" if m.transform in (None, "original") else (
            f", once the upload is {_TRANSFORM_WORDS.get(m.transform, m.transform)}")
        return (f"bank '{m.bank}' entry {m.entry_id} by pdq at distance {m.distance} "
                f"(threshold {m.threshold:.0f}){how}")
    return f"bank '{m.bank}' entry {m.entry_id} by identical {m.signal}"


_TRANSFORM_WORDS = {
    "rotate_90_ccw": "rotated 90 degrees counter-clockwise",
    "rotate_180": "rotated 180 degrees",
    "rotate_90_cw": "rotated 90 degrees clockwise",
    "flip_vertical": "flipped upside down",
    "mirror": "mirrored",
    "transpose": "transposed",
    "anti_transpose": "anti-transposed",
}


def _box(box: tuple[int, int, int, int]) -> str:
    return f"[{box[0]},{box[1]},{box[2]},{box[3]}]"
