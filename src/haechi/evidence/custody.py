"""The custody log: append events as Merkle leaves, sign checkpoints of the tree.

An entry is canonical JSON (sorted keys, no spaces, UTF-8) holding its own ``seq``, so a
row moved to another position, renumbered or dropped is named by verification. Entries
are appended in the same transaction as the change they record: an item is visible
exactly when its ``captured`` event is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from haechi.errors import HaechiError
from haechi.evidence.merkle import MerkleTree, leaf_hash
from haechi.evidence.models import EvidenceCheckpoint, EvidenceLogEntry, EvidenceLogHead
from haechi.evidence.note import Checkpoint, Signer

ENTRY_VERSION = 1


class LogTampered(HaechiError):
    """The stored log no longer matches a checkpoint signed earlier: refuse to sign over it."""

    code = "log_tampered"
    http_status = 409


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def utc_text(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def append(session: Session, *, event: str, actor: str, item_id: int | None = None,
           case_id: int | None = None, **fields: Any) -> EvidenceLogEntry:
    """Append one event in the caller's transaction and return its row."""
    size = session.execute(
        update(EvidenceLogHead).where(EvidenceLogHead.id == 1)
        .values(size=EvidenceLogHead.size + 1).returning(EvidenceLogHead.size)
    ).scalar_one()
    seq = size - 1
    body: dict[str, Any] = {"v": ENTRY_VERSION, "seq": seq, "event": event, "actor": actor,
                            "at": utc_text()}
    if item_id is not None:
        body["item"] = item_id
    if case_id is not None:
        body["case_id"] = case_id
    body.update({k: v for k, v in fields.items() if v is not None})
    data = canonical(body)
    row = EvidenceLogEntry(seq=seq, entry=data.decode(), leaf_hash=leaf_hash(data).hex(),
                           event=event, item_id=item_id, case_id=case_id)
    session.add(row)
    return row


def entries(session: Session, *, start: int = 0, batch: int = 5000
            ) -> Iterable[EvidenceLogEntry]:
    """Every row in seq order, read in batches (the log may be large)."""
    while True:
        rows = list(session.scalars(select(EvidenceLogEntry)
                                    .where(EvidenceLogEntry.seq >= start)
                                    .order_by(EvidenceLogEntry.seq).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        start = rows[-1].seq + 1


def stored_tree(session: Session) -> MerkleTree:
    """The tree over the stored leaf hashes, in seq order."""
    hashes = session.scalars(select(EvidenceLogEntry.leaf_hash).order_by(EvidenceLogEntry.seq))
    return MerkleTree([bytes.fromhex(h) for h in hashes])


def checkpoints(session: Session) -> Sequence[EvidenceCheckpoint]:
    return list(session.scalars(select(EvidenceCheckpoint).order_by(EvidenceCheckpoint.id)))


def sign_checkpoint(session: Session, signer: Signer, origin: str) -> EvidenceCheckpoint:
    """Sign the current tree, after checking it still has the root of the last checkpoint
    at that size (a log edited since then is refused, not blessed)."""
    tree = stored_tree(session)
    last = session.scalars(select(EvidenceCheckpoint)
                           .order_by(EvidenceCheckpoint.id.desc()).limit(1)).first()
    if last is not None:
        if last.size > len(tree) or tree.root(last.size).hex() != last.root:
            raise LogTampered(f"the custody log no longer matches the checkpoint at size "
                              f"{last.size}; run 'haechi evidence verify'")
        if last.size == len(tree):
            return last
    cp = Checkpoint(origin, len(tree), tree.root())
    row = EvidenceCheckpoint(size=cp.size, root=cp.root.hex(), note=signer.sign(cp.text()))
    session.add(row)
    session.flush()
    return row
