"""Verify an exported package with nothing but the package and the public key.

The signed manifest is the reference: it lists each item's hash and each custody
event's leaf hash under the signed checkpoint, so a changed byte or a dropped, edited or
moved line is named even when the bag's own manifests were rewritten to match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

import bagit  # type: ignore[import-untyped]

from haechi.evidence.merkle import leaf_hash, verify_consistency, verify_inclusion
from haechi.evidence.note import Checkpoint, NoteError, Verifier, open_note
from haechi.evidence.package import ManifestNote
from haechi.evidence.schemas import CaptureMetadata, Finding, VerifyReport
from haechi.evidence.service import capture_digest
from haechi.evidence.timestamp import TimestampError, tsa_from_env, verify_token


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def verify_package(path: Path, verifier: Verifier | None = None) -> VerifyReport:
    findings: list[Finding] = []
    notes: list[str] = []
    data = path / "data"
    custody_dir = data / "custody"
    report = VerifyReport(ok=False, target=f"package {path}")
    if not (path / "bagit.txt").is_file():
        findings.append(Finding(code="package_invalid", path=str(path),
                                message=f"{path} is not a BagIt package (no bagit.txt)"))
        return _done(report, findings, notes)

    _check_bag(path, findings)

    if verifier is None:
        vkey = _read(custody_dir / "public-key.vkey")
        try:
            verifier = Verifier.from_vkey(vkey or "")
        except NoteError as exc:
            findings.append(Finding(code="key_missing", path="data/custody/public-key.vkey",
                                    message=exc.message))
            return _done(report, findings, notes)
        notes.append(f"checked with the key inside the package ({verifier.vkey()}); make "
                     "sure it is the key the sender gave you separately (--public-key)")

    try:
        checkpoint = Checkpoint.parse(open_note(_read(custody_dir / "checkpoint.txt") or "",
                                                verifier))
        manifest = ManifestNote.parse(open_note(_read(custody_dir / "manifest.txt") or "",
                                                verifier))
    except NoteError as exc:
        findings.append(Finding(code="checkpoint_invalid", path="data/custody",
                                message=f"the signed checkpoint or manifest: {exc.message}"))
        return _done(report, findings, notes)
    except (ValueError, IndexError) as exc:
        findings.append(Finding(code="manifest_invalid", path="data/custody/manifest.txt",
                                message=f"the signed manifest does not parse: {exc}"))
        return _done(report, findings, notes)
    if manifest.checkpoint != checkpoint:
        findings.append(Finding(code="manifest_invalid", path="data/custody/manifest.txt",
                                message="the manifest was signed for another checkpoint"))
    report.checkpoints_checked = 1
    _check_timestamp(custody_dir, findings, notes)
    report.checkpoints_checked += _check_consistency(custody_dir, checkpoint, verifier,
                                                     findings)
    report.tree_size, report.root = checkpoint.size, checkpoint.root.hex()

    entries = _check_entries(custody_dir, manifest, checkpoint, findings)
    report.entries_checked = len(manifest.entries)
    report.items_checked = _check_items(data, manifest, entries, findings)
    return _done(report, findings, notes)


def _done(report: VerifyReport, findings: list[Finding], notes: list[str]) -> VerifyReport:
    return report.model_copy(update={"ok": not findings, "findings": findings,
                                     "notes": notes})


def _check_bag(path: Path, findings: list[Finding]) -> None:
    try:
        bag = bagit.Bag(str(path))
        bag.validate()
    except bagit.BagValidationError as exc:
        details = list(exc.details or [])
        if not details:
            # The size/count (Payload-Oxum) check fails before files are compared; compare
            # them anyway so the report names the files.
            findings.append(Finding(code="package_invalid", message=f"bag: {exc.message}"))
            try:
                bag._validate_completeness()
                bag._validate_entries(1)
            except bagit.BagValidationError as inner:
                details = list(inner.details or [])
        seen: set[str] = set()
        for detail in details:
            if str(detail.path) in seen:
                continue  # one finding per file, not one per checksum algorithm
            seen.add(str(detail.path))
            if isinstance(detail, bagit.ChecksumMismatch):
                findings.append(Finding(code="package_invalid", path=str(detail.path),
                                        message=f"{detail.path} differs from the bag "
                                                f"manifest ({detail.algorithm})"))
            elif isinstance(detail, bagit.FileMissing):
                findings.append(Finding(code="package_invalid", path=str(detail.path),
                                        message=f"{detail.path} is listed but missing"))
            elif isinstance(detail, bagit.UnexpectedFile):
                findings.append(Finding(code="package_invalid", path=str(detail.path),
                                        message=f"{detail.path} is not in the bag manifest"))
    except bagit.BagError as exc:
        findings.append(Finding(code="package_invalid", message=f"bag: {exc}"))


def _check_entries(custody_dir: Path, manifest: ManifestNote, checkpoint: Checkpoint,
                   findings: list[Finding]) -> dict[int, dict[str, Any]]:
    """Each signed entry must be in the log file, unchanged, in order, and proven in the
    signed tree. Returns the parsed entries by seq."""
    proofs: dict[int, list[bytes]] = {}
    try:
        raw = json.loads(_read(custody_dir / "proofs.json") or "{}")
        for p in raw.get("entries", []):
            proofs[int(p["seq"])] = [base64.b64decode(x, validate=True) for x in p["inclusion"]]
    except (ValueError, KeyError, TypeError, binascii.Error):
        findings.append(Finding(code="proof_invalid", path="data/custody/proofs.json",
                                message="the inclusion proofs file does not parse"))
    lines = (_read(custody_dir / "log.jsonl") or "").splitlines()
    parsed: dict[int, dict[str, Any]] = {}
    texts: dict[int, str] = {}
    last = -1
    for number, text in enumerate(lines, 1):
        try:
            body = json.loads(text)
            seq = int(body["seq"])
        except (ValueError, KeyError, TypeError):
            findings.append(Finding(code="entry_altered", path="data/custody/log.jsonl",
                                    message=f"line {number} of the custody log is not an "
                                            "entry"))
            continue
        if seq <= last:
            findings.append(Finding(code="entry_reordered", seq=seq, message=(
                f"entry {seq} (line {number}) comes after entry {last}: the log was "
                "reordered")))
        last = max(last, seq)
        parsed[seq], texts[seq] = body, text
        if seq not in manifest.entries:
            findings.append(Finding(code="entry_added", seq=seq, message=(
                f"entry {seq} (line {number}) is not in the signed manifest")))
    for seq, expected in sorted(manifest.entries.items()):
        if seq not in texts:
            findings.append(Finding(code="entry_missing", seq=seq,
                                    message=f"log entry {seq} was removed from the package"))
            continue
        if leaf_hash(texts[seq].encode()).hex() != expected:
            findings.append(Finding(code="entry_altered", seq=seq, message=(
                f"log entry {seq} was altered: it no longer has its signed hash")))
        if not verify_inclusion(bytes.fromhex(expected), seq, checkpoint.size,
                                proofs.get(seq, []), checkpoint.root):
            findings.append(Finding(code="proof_invalid", seq=seq, message=(
                f"the inclusion proof of entry {seq} does not lead to the signed root")))
    return parsed


def _check_items(data: Path, manifest: ManifestNote, entries: dict[int, dict[str, Any]],
                 findings: list[Finding]) -> int:
    try:
        records = {int(r["id"]): r for r in
                   json.loads(_read(data / "items.json") or "{}").get("items", [])}
    except (ValueError, KeyError, TypeError, AttributeError):
        findings.append(Finding(code="package_invalid", path="data/items.json",
                                message="items.json does not parse"))
        records = {}
    captured = {body.get("item"): (seq, body) for seq, body in entries.items()
                if body.get("event") in ("captured", "derived")}
    files = {p.name.split(".")[0]: p for p in (data / "originals").glob("*")}
    for item_id, sha in sorted(manifest.items.items()):
        record = records.get(item_id)
        if record is None or (record.get("sha256") not in (sha, None) and sha != "-"):
            findings.append(Finding(code="item_altered", item_id=item_id, path="data/items.json",
                                    message=f"item {item_id}'s record in items.json is "
                                            "missing or names another hash"))
        elif item_id in captured:
            seq, body = captured[item_id]
            try:
                digest = capture_digest(CaptureMetadata.model_validate(record["capture"]))
            except (ValueError, KeyError):
                digest = ""
            if body.get("capture") != digest:
                findings.append(Finding(code="item_altered", item_id=item_id, seq=seq, message=(
                    f"item {item_id}'s capture metadata differs from what log entry {seq} "
                    "recorded")))
        if sha == "-":
            continue  # content deleted under a retention rule before export
        path = files.get(sha)
        if path is None:
            findings.append(Finding(code="item_missing", item_id=item_id, sha256=sha,
                                    message=f"item {item_id}: its file {sha} is missing"))
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha:
            findings.append(Finding(code="item_altered", item_id=item_id, sha256=sha,
                                    path=f"data/originals/{path.name}", message=(
                                        f"item {item_id}: data/originals/{path.name} was "
                                        "altered (its SHA-256 no longer matches)")))
    return len(manifest.items)


def _check_timestamp(custody_dir: Path, findings: list[Finding], notes: list[str]) -> None:
    token_path = custody_dir / "checkpoint.tsr"
    if not token_path.exists():
        notes.append("the checkpoint carries no RFC 3161 timestamp")
        return
    _, tsa_cert = tsa_from_env()
    try:
        when = verify_token(token_path.read_bytes(),
                            (custody_dir / "checkpoint.txt").read_bytes(), tsa_cert=tsa_cert)
    except TimestampError as exc:
        findings.append(Finding(code="checkpoint_invalid", path="data/custody/checkpoint.tsr",
                                message=f"the checkpoint's timestamp: {exc.message}"))
        return
    pinned = "" if tsa_cert else " (TSA certificate not pinned: set HAECHI_EVIDENCE_TSA_CERT)"
    notes.append(f"the checkpoint was timestamped at {when.isoformat()}{pinned}")


def _check_consistency(custody_dir: Path, checkpoint: Checkpoint, verifier: Verifier,
                       findings: list[Finding]) -> int:
    """Each earlier checkpoint is signed and the signed tree extends it."""
    try:
        earlier = json.loads(_read(custody_dir / "consistency.json") or "[]")
        pairs = [(e["note"], [base64.b64decode(p, validate=True) for p in e["consistency"]])
                 for e in earlier]
    except (ValueError, KeyError, TypeError, binascii.Error):
        findings.append(Finding(code="proof_invalid", path="data/custody/consistency.json",
                                message="the consistency proofs file does not parse"))
        return 0
    for note, proof in pairs:
        try:
            old = Checkpoint.parse(open_note(note, verifier))
        except NoteError as exc:
            findings.append(Finding(code="checkpoint_invalid",
                                    path="data/custody/consistency.json",
                                    message=f"an earlier checkpoint: {exc.message}"))
            continue
        if not verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof):
            findings.append(Finding(code="checkpoint_mismatch", seq=old.size, message=(
                f"the signed tree of size {checkpoint.size} does not extend the earlier "
                f"checkpoint of size {old.size}: the log was rewritten in between")))
    return len(pairs)
