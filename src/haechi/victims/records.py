"""Case records in the store, inside the caller's transaction: hashes in and out of the
victims bank, case endings, counted outcomes and alerts. The service opens the
transactions; these functions never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.banks import service as banks
from haechi.errors import InvalidRequestError, NotFoundError
from haechi.results import EntryMetadata
from haechi.signals import get_signal
from haechi.signals.pdq import MIN_QUALITY
from haechi.store.models import BankEntry
from haechi.victims import pins
from haechi.victims.feed import publish
from haechi.victims.models import VictimAlert, VictimBlock, VictimCase, VictimHash
from haechi.victims.schemas import AlertInfo, CaseRequest

VICTIMS_BANK = "victims"
#: Cases whose hashes should match.
LIVE = ("received", "active")


@dataclass(frozen=True)
class CleanHash:
    item: int
    kind: str
    signal: str
    value: str
    quality: int | None


def clean_hashes(request: CaseRequest) -> tuple[list[CleanHash], list[str]]:
    """Canonical values, or InvalidHashError before anything is written. PDQ hashes of
    quality below 50 are skipped (they match unrelated pictures); digests are kept."""
    kept: list[CleanHash] = []
    skipped: list[str] = []
    for n, item in enumerate(request.items):
        for h in item.hashes:
            value = get_signal(h.signal).parse(h.value)
            if h.signal == "vpdq" and item.kind != "video":
                raise InvalidRequestError(f"file {n + 1}: a vpdq hash belongs to a video")
            if h.signal == "pdq" and item.kind != "image":
                raise InvalidRequestError(f"file {n + 1}: a pdq hash belongs to an image")
            if h.signal == "pdq" and (h.quality is None or h.quality < MIN_QUALITY):
                skipped.append(f"file {n + 1}: pdq quality {h.quality} is below "
                               f"{MIN_QUALITY}; only identical copies will match")
                continue
            kept.append(CleanHash(n, item.kind, h.signal, value, h.quality))
    if not kept:
        raise InvalidRequestError("none of the hashes can be registered: " + "; ".join(skipped))
    return kept, skipped



def alert_info(alert: VictimAlert, case: VictimCase) -> AlertInfo:
    return AlertInfo(id=alert.id, case_number=case.number, minor=case.minor,
                     contact=case.contact, blocks=alert.blocks, first_at=alert.first_at,
                     last_at=alert.last_at, delivered_at=alert.delivered_at)


def case_for(s: Session, number: str, organisation: str | None) -> VictimCase:
    """A case an advocate of ``organisation`` (None: any) may see; others do not exist."""
    row = s.scalar(select(VictimCase).where(VictimCase.number == pins.normalise_number(number)))
    if row is None or (organisation is not None and row.organisation != organisation):
        raise NotFoundError(f"no case {number!r} in this organisation")
    return row


def get_case_row(s: Session, case_id: int) -> VictimCase:
    row = s.get(VictimCase, case_id)
    if row is None:
        raise NotFoundError(f"no case {case_id}")
    return row


def in_victims_bank(s: Session, entry_id: int) -> bool:
    entry = s.get(BankEntry, entry_id)
    return entry is not None and entry.bank.name == VICTIMS_BANK


def link_entries(s: Session, hashes: Sequence[VictimHash], row: VictimCase) -> None:
    """Add the hashes to the victims bank (in this transaction) and point each at its
    entry; a value another case already registered shares that entry, re-enabled."""
    bank = banks.get_bank_row(s, VICTIMS_BANK)
    meta = EntryMetadata(source="victims", category="ncii_minor" if row.minor else "ncii",
                               external_id=row.number, added_by=row.organisation[:200])
    banks.add_entries(s, bank_name=VICTIMS_BANK, entries=[
        banks.NewEntry(h.signal, h.value, h.quality, meta) for h in hashes])
    for h in hashes:
        entry = s.scalar(select(BankEntry).where(
            BankEntry.bank_id == bank.id, BankEntry.signal == h.signal,
            BankEntry.lookup == banks.lookup_key(h.signal, h.value)))
        assert entry is not None
        h.entry_id = entry.id
        if not entry.enabled:
            banks.set_entry_enabled(s, entry_id=entry.id, enabled=True)


def end_case(s: Session, row: VictimCase, status: str, now: datetime) -> None:
    """Withdraw or delete: entries no other live case holds stop matching (disabled, or
    deleted with the values), and the change goes out on the exchange feed."""
    hashes = s.scalars(select(VictimHash).where(VictimHash.case_id == row.id)).all()
    if row.origin == "":
        publish(s, row, hashes, "withdraw" if status == "withdrawn" else "delete", now)
    for h in hashes:
        if h.entry_id is None or _shared(s, h.entry_id, row.id):
            continue
        entry = s.get(BankEntry, h.entry_id)
        if entry is None:
            continue
        if status == "deleted":
            banks.delete_entry(s, entry_id=entry.id)
        elif entry.enabled:
            banks.set_entry_enabled(s, entry_id=entry.id, enabled=False)
    if status == "deleted":
        for h in hashes:
            h.value, h.entry_id = "", None
        row.contact = ""
    row.status, row.updated_at = status, now


def _shared(s: Session, entry_id: int, case_id: int) -> bool:
    return s.scalar(select(VictimHash.id).join(VictimCase, VictimCase.id == VictimHash.case_id)
                    .where(VictimHash.entry_id == entry_id, VictimHash.case_id != case_id,
                           VictimCase.status.in_(LIVE)).limit(1)) is not None


def count_outcome(s: Session, entry_ids: Iterable[int], service: str, outcome: str,
           now: datetime, details: dict[int, tuple[str, int | None]]) -> int:
    service = (service or "unknown").strip()[:200] or "unknown"
    ids = list(entry_ids)
    rows = s.execute(select(VictimHash.case_id, VictimHash.entry_id)
                     .join(VictimCase, VictimCase.id == VictimHash.case_id)
                     .where(VictimHash.entry_id.in_(ids), VictimCase.status == "active")
                     .order_by(VictimHash.case_id, VictimHash.entry_id)).all()
    first: dict[int, int] = {}
    for case_id, entry_id in rows:
        if entry_id is not None:
            first.setdefault(case_id, entry_id)
    for case_id, entry_id in first.items():
        signal, distance = details.get(entry_id, ("", None))
        s.add(VictimBlock(case_id=case_id, entry_id=entry_id, service=service,
                          outcome=outcome, signal=signal, distance=distance, at=now))
        if outcome == "blocked":
            raise_alert(s, case_id, now)
    return len(first)


def raise_alert(s: Session, case_id: int, now: datetime) -> None:
    pending = s.scalar(select(VictimAlert).where(VictimAlert.case_id == case_id,
                                                 VictimAlert.delivered_at.is_(None))
                       .with_for_update())
    if pending is None:
        s.add(VictimAlert(case_id=case_id, blocks=1, first_at=now, last_at=now))
    else:
        pending.blocks += 1
        pending.last_at = now
