"""Bank and entry operations on the store. Keyword-only, one transaction each.

Every change that alters what can match appends to the ``entry_changes`` feed in the same
transaction, so an index never misses a change and never sees one that was rolled back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.results import BankInfo, EntryInfo, EntryMetadata
from haechi.signals import get_signal
from haechi.store.models import Bank, BankEntry, EntryChange

#: Signals whose entries live in an in-memory near-duplicate index.
INDEXED_SIGNALS = ("pdq", "vpdq")

BANK_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class NewEntry:
    signal: str
    value: str
    quality: int | None = None
    metadata: EntryMetadata = field(default_factory=EntryMetadata)


def lookup_key(signal: str, canonical_value: str) -> str:
    if len(canonical_value) <= 64:
        return canonical_value
    return hashlib.sha256(canonical_value.encode()).hexdigest()


def bank_info(bank: Bank, entry_count: int = 0) -> BankInfo:
    return BankInfo(
        id=bank.id, name=bank.name, description=bank.description, kind=bank.kind,  # type: ignore[arg-type]
        enabled=bank.enabled, pdq_threshold=bank.pdq_threshold,
        pdq_min_quality=bank.pdq_min_quality, video_match_percent=bank.video_match_percent,
        created_at=bank.created_at, entry_count=entry_count,
        regions_enabled=bank.regions_enabled, region_threshold=bank.region_threshold,
        region_min_inliers=bank.region_min_inliers,
    )


def entry_info(entry: BankEntry, bank_name: str) -> EntryInfo:
    return EntryInfo(
        id=entry.id, bank=bank_name, signal=entry.signal, signal_version=entry.signal_version,
        value=entry.value, quality=entry.quality, enabled=entry.enabled, added_at=entry.added_at,
        source=entry.source, category=entry.category, note=entry.note,
        added_by=entry.added_by, external_id=entry.external_id,
    )


def validate_bank_settings(
    *, kind: str | None = None, pdq_threshold: int | None = None,
    pdq_min_quality: int | None = None, video_match_percent: float | None = None,
    region_threshold: int | None = None, region_min_inliers: int | None = None,
) -> None:
    if kind is not None and kind not in ("block", "allow"):
        raise InvalidRequestError(f"a bank's kind is 'block' or 'allow', got {kind!r}")
    if pdq_threshold is not None and not 0 <= pdq_threshold <= 63:
        raise InvalidRequestError("pdq_threshold must be between 0 and 63 (default 31)")
    if pdq_min_quality is not None and not 0 <= pdq_min_quality <= 100:
        raise InvalidRequestError("pdq_min_quality must be between 0 and 100 (default 50)")
    if video_match_percent is not None and not 0 < video_match_percent <= 100:
        raise InvalidRequestError("video_match_percent must be in (0, 100] (default 80)")
    if region_threshold is not None and not 0 <= region_threshold <= 40:
        raise InvalidRequestError("region_threshold must be between 0 and 40 (default 28)")
    # Different photographs keep at most ~15 agreeing keypoints (benchmarks/bench_evasion.py).
    if region_min_inliers is not None and not 16 <= region_min_inliers <= 250:
        raise InvalidRequestError("region_min_inliers must be between 16 and 250 (default 30)")


def get_bank_row(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise NotFoundError(f"no bank named {name!r}")
    return bank


def create_bank(
    session: Session, *, name: str, kind: str = "block", description: str = "",
    pdq_threshold: int = 31, pdq_min_quality: int = 50, video_match_percent: float = 80.0,
    regions_enabled: bool = True, region_threshold: int = 28, region_min_inliers: int = 30,
) -> BankInfo:
    if "\x00" in description:
        raise InvalidRequestError("the description must not contain NUL characters")
    if not name or len(name) > 100 or not BANK_NAME_CHARS.issuperset(name):
        raise InvalidRequestError(
            "a bank name is 1-100 characters from letters, digits, '_', '-' and '.'"
        )
    validate_bank_settings(kind=kind, pdq_threshold=pdq_threshold,
                           pdq_min_quality=pdq_min_quality,
                           video_match_percent=video_match_percent,
                           region_threshold=region_threshold,
                           region_min_inliers=region_min_inliers)
    if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
        raise ConflictError(f"a bank named {name!r} already exists")
    bank = Bank(name=name, kind=kind, description=description, pdq_threshold=pdq_threshold,
                pdq_min_quality=pdq_min_quality, video_match_percent=video_match_percent,
                regions_enabled=regions_enabled, region_threshold=region_threshold,
                region_min_inliers=region_min_inliers)
    session.add(bank)
    session.flush()
    return bank_info(bank)


def update_bank(session: Session, *, name: str, **changes: object) -> BankInfo:
    bank = get_bank_row(session, name)
    allowed = {"description", "kind", "enabled", "pdq_threshold", "pdq_min_quality",
               "video_match_percent", "regions_enabled", "region_threshold",
               "region_min_inliers"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidRequestError(f"cannot change {', '.join(sorted(unknown))}")
    validate_bank_settings(**{k: v for k, v in changes.items()  # type: ignore[arg-type]
                              if k in ("kind", "pdq_threshold", "pdq_min_quality",
                                       "video_match_percent", "region_threshold",
                                       "region_min_inliers")
                              and v is not None})
    if "\x00" in str(changes.get("description") or ""):
        raise InvalidRequestError("the description must not contain NUL characters")
    for key, value in changes.items():
        if value is not None:
            setattr(bank, key, value)
    session.flush()
    return bank_info(bank, count_entries(session, bank.id))


def count_entries(session: Session, bank_id: int) -> int:
    return session.scalar(select(func.count()).where(BankEntry.bank_id == bank_id)) or 0


def list_banks(session: Session) -> list[BankInfo]:
    counts = dict(
        session.execute(select(BankEntry.bank_id, func.count()).group_by(BankEntry.bank_id)).all()
    )
    banks = session.scalars(select(Bank).order_by(Bank.name))
    return [bank_info(b, counts.get(b.id, 0)) for b in banks]


def delete_bank(session: Session, *, name: str) -> int:
    bank = get_bank_row(session, name)
    rows = session.execute(
        select(BankEntry.id, BankEntry.signal).where(BankEntry.bank_id == bank.id)
    ).all()
    session.add_all(EntryChange(entry_id=i, signal=s, op="remove") for i, s in rows)
    session.execute(delete(BankEntry).where(BankEntry.bank_id == bank.id))
    session.delete(bank)
    return len(rows)


def add_entries(
    session: Session, *, bank_name: str, entries: Iterable[NewEntry]
) -> tuple[list[EntryInfo], int]:
    """Add entries; values already in the bank are skipped. Returns (added, duplicates).

    Values are validated by their signal before anything is written, so a bad value in
    a batch leaves the bank untouched.
    """
    bank = get_bank_row(session, bank_name)
    prepared: dict[tuple[str, str], BankEntry] = {}
    duplicates = 0
    for item in entries:
        signal = get_signal(item.signal)
        canonical = signal.parse(item.value)
        key = (signal.name, lookup_key(signal.name, canonical))
        if key in prepared:
            duplicates += 1
            continue
        meta = item.metadata
        prepared[key] = BankEntry(
            bank_id=bank.id, signal=signal.name, signal_version=signal.version,
            value=canonical, lookup=key[1], quality=item.quality, source=meta.source,
            category=meta.category, note=meta.note, added_by=meta.added_by,
            external_id=meta.external_id,
        )
    existing: set[tuple[str, str]] = set()
    keys = list(prepared)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        for signal_name in {k[0] for k in chunk}:
            lookups = [k[1] for k in chunk if k[0] == signal_name]
            existing.update(
                (signal_name, v) for v in session.scalars(
                    select(BankEntry.lookup).where(
                        BankEntry.bank_id == bank.id, BankEntry.signal == signal_name,
                        BankEntry.lookup.in_(lookups),
                    )
                )
            )
    fresh = [row for key, row in prepared.items() if key not in existing]
    duplicates += len(prepared) - len(fresh)
    session.add_all(fresh)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent writer added the same value
        raise ConflictError("an entry with this value was added concurrently; retry") from exc
    session.add_all(EntryChange(entry_id=r.id, signal=r.signal, op="add")
                    for r in fresh if r.signal in INDEXED_SIGNALS)
    return [entry_info(r, bank.name) for r in fresh], duplicates


def get_entry_row(session: Session, entry_id: int) -> BankEntry:
    entry = session.get(BankEntry, entry_id)
    if entry is None:
        raise NotFoundError(f"no entry with id {entry_id}")
    return entry


def set_entry_enabled(session: Session, *, entry_id: int, enabled: bool) -> EntryInfo:
    entry = get_entry_row(session, entry_id)
    if entry.enabled != enabled:
        entry.enabled = enabled
        if entry.signal in INDEXED_SIGNALS:
            session.add(EntryChange(entry_id=entry.id, signal=entry.signal,
                                    op="add" if enabled else "remove"))
        session.flush()
    return entry_info(entry, entry.bank.name)


def delete_entry(session: Session, *, entry_id: int) -> None:
    entry = get_entry_row(session, entry_id)
    if entry.signal in INDEXED_SIGNALS:
        session.add(EntryChange(entry_id=entry.id, signal=entry.signal, op="remove"))
    session.delete(entry)


def list_entries(
    session: Session, *, bank_name: str, limit: int = 100, offset: int = 0
) -> tuple[list[EntryInfo], int]:
    bank = get_bank_row(session, bank_name)
    rows = session.scalars(
        select(BankEntry).where(BankEntry.bank_id == bank.id)
        .order_by(BankEntry.id).limit(limit).offset(offset)
    )
    return [entry_info(r, bank.name) for r in rows], count_entries(session, bank.id)


def iter_entries(session: Session, *, bank_name: str, batch: int = 5000) -> Iterable[EntryInfo]:
    bank = get_bank_row(session, bank_name)
    last = 0
    while True:
        rows: Sequence[BankEntry] = session.scalars(
            select(BankEntry).where(BankEntry.bank_id == bank.id, BankEntry.id > last)
            .order_by(BankEntry.id).limit(batch)
        ).all()
        if not rows:
            return
        for r in rows:
            yield entry_info(r, bank.name)
        last = rows[-1].id
