"""Verify a live evidence store: every item against its hash and its custody record,
every log entry against its position and hash, every checkpoint against the key."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from haechi.errors import HaechiError
from haechi.evidence import custody
from haechi.evidence.keys import VaultKeyError, WrappedKey
from haechi.evidence.merkle import MerkleTree, leaf_hash
from haechi.evidence.models import EvidenceBlob, EvidenceItem, EvidenceLogHead
from haechi.evidence.note import Checkpoint, NoteError, Verifier, open_note
from haechi.evidence.schemas import CaptureMetadata, Finding, VerifyReport
from haechi.evidence.service import EvidenceService, capture_digest
from haechi.evidence.timestamp import TimestampError, tsa_from_env, verify_token
from haechi.evidence.vault import BlobAltered, BlobMissing, Vault

#: Gaps longer than this are reported as one range, not entry by entry.
MAX_LISTED_GAP = 100


def _missing(findings: list[Finding], start: int, end: int) -> None:
    if end - start <= MAX_LISTED_GAP:
        findings.extend(Finding(code="entry_missing", seq=q,
                                message=f"log entry {q} was removed") for q in range(start, end))
    else:
        findings.append(Finding(code="entry_missing", seq=start,
                                message=f"log entries {start}..{end - 1} were removed"))


def check_log(rows: Sequence[tuple[int, str, str | None]], findings: list[Finding]
              ) -> tuple[MerkleTree, dict[int, dict[str, Any]]]:
    """Check (position, entry text, stored leaf hash) rows; returns the tree over what
    the entries actually say and the parsed entries by seq. Shared with package checks."""
    tree = MerkleTree()
    parsed: dict[int, dict[str, Any]] = {}
    expected = 0
    for pos, text, stored in rows:
        if pos > expected:
            _missing(findings, expected, pos)
        expected = pos + 1
        computed = leaf_hash(text.encode())
        if stored is not None and computed.hex() != stored:
            findings.append(Finding(code="entry_altered", seq=pos, message=(
                f"log entry {pos} was altered: its content no longer has its recorded hash")))
        try:
            body = json.loads(text)
            claimed = body["seq"]
        except (ValueError, KeyError, TypeError):
            findings.append(Finding(code="entry_altered", seq=pos,
                                    message=f"log entry {pos} is not a valid entry"))
            body, claimed = {}, pos
        if claimed != pos:
            findings.append(Finding(code="entry_reordered", seq=pos, message=(
                f"log position {pos} holds entry {claimed}: entries were reordered "
                "or renumbered")))
        parsed[pos] = body
        tree.append(computed)
    return tree, parsed


def verify_store(service: EvidenceService, verifier: Verifier | None = None) -> VerifyReport:
    findings: list[Finding] = []
    notes: list[str] = []
    verifier = verifier or service.signer.verifier
    db = service.engine.db
    with db.session() as s:
        rows = [(r.seq, r.entry, r.leaf_hash) for r in custody.entries(s)]
        head = s.get(EvidenceLogHead, 1)
        head_size = head.size if head is not None else 0
        tree, parsed = check_log(rows, findings)
        if head_size > (rows[-1][0] + 1 if rows else 0):
            _missing(findings, rows[-1][0] + 1 if rows else 0, head_size)
        cps = list(custody.checkpoints(s))
        items = list(s.scalars(select(EvidenceItem).order_by(EvidenceItem.id)))
        blobs = {b.sha256: b for b in s.scalars(select(EvidenceBlob))}

    check_checkpoints(cps, tree, verifier, findings)

    recorded: dict[int, tuple[int, dict[str, Any]]] = {}
    deleted: set[int] = set()
    for seq, body in parsed.items():
        item = body.get("item")
        if isinstance(item, int) and body.get("event") in ("captured", "derived"):
            recorded[item] = (seq, body)
        if isinstance(item, int) and body.get("event") == "deleted":
            deleted.add(item)

    try:
        vault: Vault | None = service.vault
    except VaultKeyError as exc:
        vault = None
        findings.append(Finding(code="key_missing", message=(
            f"the items' contents were not checked: {exc.message}")))
    present = set()
    for row in items:
        present.add(row.id)
        if row.id not in recorded:
            findings.append(Finding(code="item_unlogged", item_id=row.id, sha256=row.sha256,
                                    message=f"item {row.id} has no capture event in the log"))
            continue
        seq, body = recorded[row.id]
        digest = capture_digest(CaptureMetadata.model_validate_json(row.capture))
        if body.get("sha256") != row.sha256 or body.get("capture") != digest:
            findings.append(Finding(code="item_altered", item_id=row.id, sha256=row.sha256,
                                    seq=seq, message=(
                                        f"item {row.id}'s record differs from what log entry "
                                        f"{seq} recorded at capture (hash or metadata)")))
        if row.id in deleted:
            continue
        if row.deleted_at is not None:
            findings.append(Finding(code="item_altered", item_id=row.id, sha256=row.sha256,
                                    message=f"item {row.id} is marked deleted without a "
                                            "custody event"))
            continue
        blob = blobs.get(row.sha256)
        if vault is None:
            continue
        try:
            if blob is None:
                raise BlobMissing(f"no key is stored for the blob {row.sha256}")
            vault.get(row.sha256, WrappedKey(blob.kek_id, blob.wrapped_key))
        except BlobMissing as exc:
            findings.append(Finding(code="item_missing", item_id=row.id, sha256=row.sha256,
                                    message=f"item {row.id}: {exc.message}"))
        except BlobAltered as exc:
            findings.append(Finding(code="item_altered", item_id=row.id, sha256=row.sha256,
                                    message=f"item {row.id}: {exc.message}"))
        except HaechiError as exc:  # a KEK not configured, or a wrapped key altered
            findings.append(Finding(code="key_missing", item_id=row.id, sha256=row.sha256,
                                    message=f"item {row.id}: {exc.message}"))
    for item_id, (seq, body) in sorted(recorded.items()):
        if item_id not in present:
            findings.append(Finding(code="item_missing", item_id=item_id, seq=seq,
                                    sha256=body.get("sha256"), message=(
                                        f"item {item_id}, captured at log entry {seq}, is "
                                        "gone from the store")))
    stray = vault.stray_files(set(blobs)) if vault is not None else []
    if stray:
        notes.append(f"{len(stray)} vault file(s) belong to no item (left by an interrupted "
                     f"import; harmless): {', '.join(stray[:5])}")
    return VerifyReport(ok=not findings, target=f"store {service.root}",
                        items_checked=len(items), entries_checked=len(rows),
                        checkpoints_checked=len(cps), tree_size=len(tree),
                        root=tree.root().hex(), findings=findings, notes=notes)


def check_checkpoints(cps: list[Any], tree: MerkleTree, verifier: Verifier,
                       findings: list[Finding]) -> None:
    good = 0  # the largest size whose checkpoint matched
    for cp in cps:
        try:
            signed = Checkpoint.parse(open_note(cp.note, verifier))
        except NoteError as exc:
            findings.append(Finding(code="checkpoint_invalid", seq=cp.size, message=(
                f"checkpoint {cp.id} (size {cp.size}): {exc.message}")))
            continue
        if cp.timestamp_token:
            try:
                verify_token(base64.b64decode(cp.timestamp_token), cp.note.encode(),
                             tsa_cert=tsa_from_env()[1])
            except TimestampError as exc:
                findings.append(Finding(code="checkpoint_invalid", seq=cp.size, message=(
                    f"checkpoint {cp.id} (size {cp.size}): timestamp: {exc.message}")))
        if signed.size > len(tree) or tree.root(signed.size) != signed.root:
            findings.append(Finding(code="checkpoint_mismatch", seq=signed.size, message=(
                f"the log differs from checkpoint {cp.id} signed at size {signed.size}: "
                f"some entry in {good}..{signed.size - 1} was altered, removed or "
                "reordered")))
        else:
            good = max(good, signed.size)
