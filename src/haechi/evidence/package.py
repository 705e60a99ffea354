"""Export a case as a BagIt (RFC 8493) package that verifies on its own.

Payload (under ``data/``):

- ``originals/<sha256>.<ext>``: the captured files, decrypted, named by their hash;
- ``items.json``: every item's capture metadata, scan findings and derivation;
- ``custody/log.jsonl``: the case's custody events, byte-exact leaves, in log order;
- ``custody/proofs.json``: an inclusion proof of each event in the signed tree;
- ``custody/checkpoint.txt``: the signed checkpoint (C2SP signed note), and
  ``checkpoint.tsr``, its RFC 3161 timestamp token, when a TSA is configured;
- ``custody/consistency.json``: earlier signed checkpoints, each with a consistency
  proof to this one (the log only grew);
- ``custody/manifest.txt``: a signed note listing each item's hash and each event's leaf
  hash, so a dropped or edited line is named even if the bag manifests are rewritten;
- ``custody/public-key.vkey``: the verifier key (check its id against one given to you);
- ``cybertipline.json``: a CyberTipline-style report; ``report.pdf`` for police.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bagit  # type: ignore[import-untyped]
from sqlalchemy import or_, select

from haechi.errors import ConflictError
from haechi.evidence import custody
from haechi.evidence.cybertipline import cybertipline_report
from haechi.evidence.keys import WrappedKey
from haechi.evidence.models import (
    EvidenceBlob,
    EvidenceCaseItem,
    EvidenceLogEntry,
)
from haechi.evidence.note import Checkpoint
from haechi.evidence.schemas import ItemInfo
from haechi.evidence.service import EvidenceService
from haechi.version import __version__

MANIFEST_TITLE = "haechi evidence package v1"

# bagit logs every mismatch as a warning; verification reports them itself.
logging.getLogger("bagit").addHandler(logging.NullHandler())

_EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp",
               "tiff": "tif", "avif": "avif", "heic": "heic", "mp4": "mp4", "mov": "mov",
               "webm": "webm", "matroska": "mkv", "mkv": "mkv"}


def original_name(item: ItemInfo) -> str:
    ext = _EXTENSIONS.get(item.media_format)
    if ext is None:
        suffix = Path(item.capture.filename).suffix.lstrip(".").lower()
        ext = suffix if suffix.isalnum() and len(suffix) <= 8 else "bin"
    return f"{item.sha256}.{ext}"


@dataclass(frozen=True)
class ManifestNote:
    case: str
    checkpoint: Checkpoint
    items: dict[int, str]  # item id -> sha256 ("-" when its content was deleted)
    entries: dict[int, str]  # seq -> leaf hash hex

    def text(self) -> str:
        cp = self.checkpoint
        lines = [MANIFEST_TITLE, f"case {self.case}",
                 f"checkpoint {cp.origin} {cp.size} {base64.b64encode(cp.root).decode()}"]
        lines += [f"item {i} {sha}" for i, sha in sorted(self.items.items())]
        lines += [f"entry {q} {h}" for q, h in sorted(self.entries.items())]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> ManifestNote:
        lines = text.rstrip("\n").split("\n")
        if lines[0] != MANIFEST_TITLE or not lines[1].startswith("case "):
            raise ValueError("not a haechi package manifest")
        _, origin, size, root = lines[2].split(" ")
        items: dict[int, str] = {}
        entries: dict[int, str] = {}
        for line in lines[3:]:
            kind, key, value = line.split(" ")
            (items if kind == "item" else entries)[int(key)] = value
        return cls(lines[1][5:], Checkpoint(origin, int(size), base64.b64decode(root)),
                   items, entries)


def export_case(service: EvidenceService, name: str, dest: Path, *, actor: str,
                recipient: str = "", pdf: bool = True) -> Path:
    """Write the package for case ``name`` to ``dest`` (which must not exist yet); the
    ``exported`` event is logged and covered by the package's own checkpoint."""
    if dest.exists():
        raise ConflictError(f"{dest} exists; choose a new folder for the package")
    case, items = service.get_case(name)
    with service.engine.db.session() as s:
        custody.append(s, event="exported", actor=actor, case_id=case.id, case=name,
                       items=len(items), recipient=recipient or None, package=dest.name)
    cp_row = service.checkpoint()
    checkpoint = Checkpoint(service.origin, cp_row.size, bytes.fromhex(cp_row.root))

    with service.engine.db.session() as s:
        item_ids = list(s.scalars(select(EvidenceCaseItem.item_id)
                                  .where(EvidenceCaseItem.case_id == case.id)))
        rows = list(s.scalars(select(EvidenceLogEntry).where(
            EvidenceLogEntry.seq < checkpoint.size,
            or_(EvidenceLogEntry.case_id == case.id, EvidenceLogEntry.item_id.in_(item_ids)))
            .order_by(EvidenceLogEntry.seq)))
        tree = custody.stored_tree(s)
        # Earlier checkpoints, each with a proof that the exported tree extends it, so a
        # recipient who saw one before can confirm the log only grew since.
        earlier = [c for c in custody.checkpoints(s) if c.size < checkpoint.size][-50:]
        keys = {b.sha256: WrappedKey(b.kek_id, b.wrapped_key) for b in s.scalars(
            select(EvidenceBlob).where(EvidenceBlob.sha256.in_([i.sha256 for i in items])))}
    if tree.root(checkpoint.size) != checkpoint.root:
        raise ConflictError("the stored log changed under the checkpoint; run verify")

    staging = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.partial"
    staging.mkdir(parents=True)
    try:
        originals = staging / "originals"
        custody_dir = staging / "custody"
        originals.mkdir()
        custody_dir.mkdir()
        records: list[dict[str, Any]] = []
        for item in items:
            record = item.model_dump(mode="json")
            if not item.deleted:
                data = service.vault.get(item.sha256, keys[item.sha256])
                fname = original_name(item)
                (originals / fname).write_bytes(data)
                record["path"] = f"originals/{fname}"
            records.append(record)
        _write_json(staging / "items.json", {"case": case.model_dump(mode="json"),
                                             "items": records})
        (custody_dir / "log.jsonl").write_text("".join(r.entry + "\n" for r in rows))
        _write_json(custody_dir / "proofs.json", {
            "tree_size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode(),
            "entries": [{"seq": r.seq, "leaf_hash": r.leaf_hash, "inclusion": [
                base64.b64encode(p).decode()
                for p in tree.inclusion_proof(r.seq, checkpoint.size)]} for r in rows],
        })
        (custody_dir / "checkpoint.txt").write_text(cp_row.note)
        _write_json(custody_dir / "consistency.json", [
            {"note": old.note, "consistency": [
                base64.b64encode(p).decode()
                for p in tree.consistency_proof(old.size, checkpoint.size)]}
            for old in earlier])
        if cp_row.timestamp_token:
            (custody_dir / "checkpoint.tsr").write_bytes(
                base64.b64decode(cp_row.timestamp_token))
        manifest = ManifestNote(name, checkpoint,
                                {i.id: "-" if i.deleted else i.sha256 for i in items},
                                {r.seq: r.leaf_hash for r in rows})
        (custody_dir / "manifest.txt").write_text(service.signer.sign(manifest.text()))
        (custody_dir / "public-key.vkey").write_text(service.public_key() + "\n")
        _write_json(staging / "cybertipline.json", cybertipline_report(case, items, actor))
        if pdf:
            from haechi.evidence.report_pdf import write_report

            write_report(staging / "report.pdf", service, case, items, rows, checkpoint)
        bagit.make_bag(str(staging), {
            "Source-Organization": "Haechi evidence vault",
            "External-Identifier": name,
            "External-Description": case.title or f"Evidence case {name}",
            "Bagging-Date": datetime.now(UTC).date().isoformat(),
            "Haechi-Log-Origin": checkpoint.origin,
            "Haechi-Checkpoint-Size": str(checkpoint.size),
            "Haechi-Key-Id": service.signer.verifier.key_id.hex(),
            "Bag-Software-Agent": f"haechi {__version__}",
        }, checksums=["sha256", "sha512"])
        _fsync_tree(staging)
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
