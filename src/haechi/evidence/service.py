"""EvidenceService: the vault, cases and custody log behind every evidence interface.

Each change commits its database rows together with the custody event that records
it, and only after any blob it refers to is durable on disk.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.evidence import custody
from haechi.evidence.keys import KeyRing, WrappedKey, load_signing_key, log_origin
from haechi.evidence.models import (
    EvidenceBlob,
    EvidenceCase,
    EvidenceCaseItem,
    EvidenceCheckpoint,
    EvidenceItem,
    EvidenceLogEntry,
)
from haechi.evidence.note import Signer
from haechi.evidence.schemas import (
    CaptureMetadata,
    CaseInfo,
    ImportOutcome,
    ItemInfo,
    LogEntry,
    as_utc,
)
from haechi.evidence.timestamp import TimestampError, fetch_token, tsa_from_env
from haechi.evidence.vault import Vault

if TYPE_CHECKING:
    from haechi.engine import Engine

SIGNING_KEY_FILE = "log-signing-key.pem"


def capture_digest(capture: CaptureMetadata) -> str:
    """SHA-256 of the canonical capture metadata, logged so later edits are caught."""
    return hashlib.sha256(custody.canonical(capture.model_dump(mode="json"))).hexdigest()


class EvidenceService:
    """Build one per engine. ``keys`` and ``signer`` default to the configured ones
    (``HAECHI_VAULT_KEY*``, ``HAECHI_EVIDENCE_SIGNING_KEY_FILE``), read on first use."""

    def __init__(self, engine: Engine, *, keys: KeyRing | None = None,
                 signer: Signer | None = None, origin: str | None = None) -> None:
        self.engine = engine
        self.root = engine.settings.data_dir / "vault"
        self._keys = keys
        self._signer = signer
        self._vault: Vault | None = None
        self.origin = origin or log_origin()

    # -- keys ---------------------------------------------------------------------

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = Vault(self.root, self._keys or KeyRing.from_env())
        return self._vault

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = Signer(self.origin,
                                  load_signing_key(self.root / SIGNING_KEY_FILE))
        return self._signer

    def public_key(self) -> str:
        """The verifier key (``name+id+base64``) that checks this log's checkpoints."""
        return self.signer.verifier.vkey()

    @contextmanager
    def _vault_lock(self) -> Iterator[None]:
        """Serialise 'is the blob stored? write it, commit its row' between processes, so
        two imports of the same content never overwrite each other's file."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- capture ------------------------------------------------------------------

    def import_bytes(self, data: bytes, *, capture: CaptureMetadata, actor: str,
                     capture_key: str | None = None, scan: bool = True) -> ImportOutcome:
        """Store one captured file, scanned, with its ``captured`` custody event.

        A ``capture_key`` already held makes this a no-op that reports ``duplicate``, so
        an interrupted batch can simply be run again.
        """
        name = capture.filename or capture_key or "-"
        if capture_key is not None:
            with self.engine.db.session() as s:
                known = s.scalar(select(EvidenceItem.id)
                                 .where(EvidenceItem.capture_key == capture_key))
            if known is not None:
                return ImportOutcome(name=name, status="duplicate", item_id=known)
        if not data:
            return ImportOutcome(name=name, status="error", error="empty_file: no bytes")
        if len(data) > self.engine.limits.max_bytes:
            return ImportOutcome(name=name, status="error",
                                 error=f"too_large: {len(data)} bytes, the limit is "
                                       f"{self.engine.limits.max_bytes}")
        sha256 = hashlib.sha256(data).hexdigest()
        result = self.engine.scan_bytes(data, name=capture.filename or None) if scan else None
        scan_json = result.model_dump(mode="json", exclude={"timings_ms"}) if result else {}
        fmt = result.media.format if result and result.media else ""
        with self._vault_lock():
            if capture_key is not None:
                with self.engine.db.session() as s:  # another process may have won
                    known = s.scalar(select(EvidenceItem.id)
                                     .where(EvidenceItem.capture_key == capture_key))
                if known is not None:
                    return ImportOutcome(name=name, status="duplicate", item_id=known)
            wrapped = self._blob_for(sha256, data)
            with self.engine.db.session() as s:
                if wrapped is not None:
                    self._save_blob(s, sha256, len(data), wrapped)
                item = EvidenceItem(
                    sha256=sha256, size=len(data), kind="original", capture_key=capture_key,
                    filename=capture.filename, media_format=fmt, service=capture.service,
                    room=capture.room, message_id=capture.message_id,
                    captured_at=capture.captured_at, capturer=capture.capturer,
                    capture=json.dumps(capture.model_dump(mode="json"), ensure_ascii=False),
                    scan=json.dumps(scan_json, ensure_ascii=False),
                    decision=result.decision if result else "",
                )
                s.add(item)
                s.flush()
                custody.append(s, event="captured", actor=actor, item_id=item.id,
                               sha256=sha256, size=len(data), capture=capture_digest(capture),
                               captured_at=custody.utc_text(capture.captured_at),
                               decision=item.decision)
        return ImportOutcome(name=name, status="imported", item_id=item.id, sha256=sha256,
                             decision=item.decision)

    def _blob_for(self, sha256: str, data: bytes) -> WrappedKey | None:
        """Write the blob unless a committed row already has it on disk; returns the new
        wrapped key, or None when the stored blob is reused."""
        with self.engine.db.session() as s:
            row = s.get(EvidenceBlob, sha256)
        if row is not None and self.vault.path(sha256).exists():
            return None
        _, wrapped = self.vault.put(data, sha256)
        return wrapped

    @staticmethod
    def _save_blob(s: Session, sha256: str, size: int, wrapped: WrappedKey) -> None:
        row = s.get(EvidenceBlob, sha256)
        if row is None:
            s.add(EvidenceBlob(sha256=sha256, size=size, kek_id=wrapped.kek_id,
                               wrapped_key=wrapped.blob))
        else:  # the file had been deleted (legal-hold rule) and is stored again
            row.kek_id, row.wrapped_key = wrapped.kek_id, wrapped.blob

    def import_path(self, path: Path, *, capture: CaptureMetadata, actor: str,
                    capture_key: str | None = None) -> ImportOutcome:
        try:
            data = self.engine.read_file(path)
        except Exception as exc:  # a MediaError with the code, or an OS error
            code = getattr(exc, "code", "unreadable_file")
            return ImportOutcome(name=str(path), status="error", error=f"{code}: {exc}")
        if not capture.filename:
            capture = capture.model_copy(update={"filename": path.name})
        return self.import_bytes(data, capture=capture, actor=actor, capture_key=capture_key)

    def add_derivation(self, item_id: int, data: bytes, *, description: str,
                       actor: str) -> ItemInfo:
        """Store a working copy (crop, redaction, transcode) as a derivation of an item."""
        if not description:
            raise InvalidRequestError("describe how the working copy was made")
        sha256 = hashlib.sha256(data).hexdigest()
        with self._vault_lock():
            with self.engine.db.session() as s:
                original = self._item_row(s, item_id)
            wrapped = self._blob_for(sha256, data)
            with self.engine.db.session() as s:
                if wrapped is not None:
                    self._save_blob(s, sha256, len(data), wrapped)
                capture = CaptureMetadata.model_validate_json(original.capture)
                capture = capture.model_copy(update={
                    "method": "derivation", "captured_at": datetime.now(UTC),
                    "capturer": actor, "raw_record": None})
                item = EvidenceItem(
                    sha256=sha256, size=len(data), kind="derivation", derived_from=item_id,
                    derivation=description, filename=original.filename,
                    media_format="", service=original.service, room=original.room,
                    message_id=original.message_id, captured_at=capture.captured_at,
                    capturer=actor, capture=capture.model_dump_json(), scan="{}")
                s.add(item)
                s.flush()
                custody.append(s, event="derived", actor=actor, item_id=item.id,
                               sha256=sha256, size=len(data), derived_from=item_id,
                               original_sha256=original.sha256, derivation=description,
                               capture=capture_digest(capture))
                return self._info(s, item)

    # -- reading ------------------------------------------------------------------

    @staticmethod
    def _item_row(s: Session, item_id: int) -> EvidenceItem:
        row = s.get(EvidenceItem, item_id)
        if row is None:
            raise NotFoundError(f"no evidence item {item_id}")
        return row

    @staticmethod
    def _info(s: Session, row: EvidenceItem) -> ItemInfo:
        cases = s.scalars(select(EvidenceCase.name).join(
            EvidenceCaseItem, EvidenceCaseItem.case_id == EvidenceCase.id)
            .where(EvidenceCaseItem.item_id == row.id).order_by(EvidenceCase.name))
        return ItemInfo(
            id=row.id, sha256=row.sha256, size=row.size,
            kind="derivation" if row.kind == "derivation" else "original",
            derived_from=row.derived_from, derivation=row.derivation,
            media_format=row.media_format,
            capture=CaptureMetadata.model_validate_json(row.capture),
            decision=row.decision, scan=json.loads(row.scan),
            imported_at=as_utc(row.imported_at), deleted=row.deleted_at is not None,
            cases=list(cases))

    def get_item(self, item_id: int) -> ItemInfo:
        """Metadata only: no decryption, no custody event."""
        with self.engine.db.session() as s:
            return self._info(s, self._item_row(s, item_id))

    def list_items(self, *, limit: int = 100, offset: int = 0) -> tuple[list[ItemInfo], int]:
        if not 1 <= limit <= 10_000 or offset < 0:
            raise InvalidRequestError("limit must be 1..10000 and offset >= 0")
        with self.engine.db.session() as s:
            total = s.scalar(select(func.count()).select_from(EvidenceItem)) or 0
            rows = s.scalars(select(EvidenceItem).order_by(EvidenceItem.id)
                             .limit(limit).offset(offset))
            return [self._info(s, r) for r in rows], total

    def view(self, item_id: int, *, actor: str, purpose: str = "") -> tuple[bytes, ItemInfo]:
        """Decrypt an item in memory; the ``viewed`` event is committed before the bytes
        are returned, so no view goes unrecorded."""
        with self.engine.db.session() as s:
            row = self._item_row(s, item_id)
            if row.deleted_at is not None:
                raise NotFoundError(f"evidence item {item_id} was deleted")
            blob = s.get(EvidenceBlob, row.sha256)
            assert blob is not None  # foreign key
            wrapped = WrappedKey(blob.kek_id, blob.wrapped_key)
        data = self.vault.get(row.sha256, wrapped)
        with self.engine.db.session() as s:
            custody.append(s, event="viewed", actor=actor, item_id=item_id,
                           sha256=row.sha256, purpose=purpose or None)
            return data, self._info(s, self._item_row(s, item_id))

    def item_history(self, item_id: int) -> list[LogEntry]:
        with self.engine.db.session() as s:
            rows = s.scalars(select(EvidenceLogEntry).where(EvidenceLogEntry.item_id == item_id)
                             .order_by(EvidenceLogEntry.seq))
            return [_log_entry(r) for r in rows]

    def log_entries(self, *, start: int = 0, limit: int = 1000) -> list[LogEntry]:
        with self.engine.db.session() as s:
            rows = s.scalars(select(EvidenceLogEntry).where(EvidenceLogEntry.seq >= start)
                             .order_by(EvidenceLogEntry.seq).limit(limit))
            return [_log_entry(r) for r in rows]

    # -- cases --------------------------------------------------------------------

    @staticmethod
    def _case_row(s: Session, name: str) -> EvidenceCase:
        row = s.scalar(select(EvidenceCase).where(EvidenceCase.name == name))
        if row is None:
            raise NotFoundError(f"no case named {name!r}")
        return row

    @staticmethod
    def _case_info(s: Session, row: EvidenceCase) -> CaseInfo:
        count = s.scalar(select(func.count()).select_from(EvidenceCaseItem)
                         .where(EvidenceCaseItem.case_id == row.id)) or 0
        return CaseInfo(id=row.id, name=row.name, title=row.title,
                        description=row.description, created_by=row.created_by,
                        created_at=as_utc(row.created_at), sealed=row.sealed_at is not None,
                        item_count=count)

    def create_case(self, name: str, *, actor: str, title: str = "",
                    description: str = "") -> CaseInfo:
        if not name or len(name) > 100 or any(c.isspace() or c == "/" for c in name):
            raise InvalidRequestError("a case name is 1-100 characters, no spaces or '/'")
        with self.engine.db.session() as s:
            if s.scalar(select(EvidenceCase.id).where(EvidenceCase.name == name)) is not None:
                raise ConflictError(f"a case named {name!r} exists")
            row = EvidenceCase(name=name, title=title, description=description,
                               created_by=actor)
            s.add(row)
            s.flush()
            custody.append(s, event="case_created", actor=actor, case_id=row.id, case=name,
                           title=title or None)
            return self._case_info(s, row)

    def add_to_case(self, name: str, item_ids: list[int], *, actor: str) -> CaseInfo:
        with self.engine.db.session() as s:
            case = self._case_row(s, name)
            if case.sealed_at is not None:
                raise ConflictError(f"case {name!r} is sealed; nothing can be added")
            for item_id in item_ids:
                item = self._item_row(s, item_id)
                if s.get(EvidenceCaseItem, (case.id, item_id)) is not None:
                    continue
                s.add(EvidenceCaseItem(case_id=case.id, item_id=item_id))
                custody.append(s, event="added_to_case", actor=actor, item_id=item_id,
                               case_id=case.id, case=name, sha256=item.sha256)
            s.flush()
            return self._case_info(s, case)

    def list_cases(self) -> list[CaseInfo]:
        with self.engine.db.session() as s:
            rows = s.scalars(select(EvidenceCase).order_by(EvidenceCase.name))
            return [self._case_info(s, r) for r in rows]

    def get_case(self, name: str) -> tuple[CaseInfo, list[ItemInfo]]:
        with self.engine.db.session() as s:
            case = self._case_row(s, name)
            rows = s.scalars(select(EvidenceItem).join(
                EvidenceCaseItem, EvidenceCaseItem.item_id == EvidenceItem.id)
                .where(EvidenceCaseItem.case_id == case.id).order_by(EvidenceItem.id))
            return self._case_info(s, case), [self._info(s, r) for r in rows]

    def seal_case(self, name: str, *, actor: str) -> CaseInfo:
        """Seal a case: no more items, and its items are under legal hold (not deletable)."""
        with self.engine.db.session() as s:
            case = self._case_row(s, name)
            if case.sealed_at is None:
                case.sealed_at = datetime.now(UTC)
                custody.append(s, event="sealed", actor=actor, case_id=case.id, case=name)
            return self._case_info(s, case)

    def record_transfer(self, name: str, *, actor: str, recipient: str,
                        note: str = "") -> LogEntry:
        """Log a hand-over of a case (e.g. the exported package to a police officer)."""
        if not recipient:
            raise InvalidRequestError("name who received the case")
        with self.engine.db.session() as s:
            case = self._case_row(s, name)
            row = custody.append(s, event="transferred", actor=actor, case_id=case.id,
                                 case=name, recipient=recipient, note=note or None)
            return _log_entry(row)

    def delete_item(self, item_id: int, *, actor: str, rule: str) -> ItemInfo:
        """Delete an item's content under a retention rule; its record and custody history
        stay. Items in a sealed case are on legal hold and are refused."""
        if not rule:
            raise InvalidRequestError("name the retention or legal rule the deletion follows")
        with self._vault_lock():
            return self._delete(item_id, actor=actor, rule=rule)

    def _delete(self, item_id: int, *, actor: str, rule: str) -> ItemInfo:
        with self.engine.db.session() as s:
            row = self._item_row(s, item_id)
            held = s.scalar(select(EvidenceCase.name).join(
                EvidenceCaseItem, EvidenceCaseItem.case_id == EvidenceCase.id)
                .where(EvidenceCaseItem.item_id == item_id, EvidenceCase.sealed_at.is_not(None))
                .limit(1))
            if held is not None:
                raise ConflictError(f"item {item_id} is on legal hold in sealed case {held!r}")
            if row.deleted_at is None:
                row.deleted_at = datetime.now(UTC)
                custody.append(s, event="deleted", actor=actor, item_id=item_id,
                               sha256=row.sha256, rule=rule)
                s.flush()
            unlink = not s.scalar(select(func.count()).select_from(EvidenceItem).where(
                EvidenceItem.sha256 == row.sha256, EvidenceItem.deleted_at.is_(None)))
            info = self._info(s, row)
        if unlink:
            # Only once the deletion is committed: a crash in between leaves the file of a
            # deleted item (removed by deleting again), never a live item without its file.
            self.vault.delete(info.sha256)
        return info

    # -- keys and checkpoints -----------------------------------------------------

    def rotate_keys(self, *, actor: str) -> int:
        """Re-wrap every data key not under the active KEK; media is not re-encrypted."""
        active = self.vault.keys.active_id
        moved = 0
        with self.engine.db.session() as s:
            for blob in s.scalars(select(EvidenceBlob).where(EvidenceBlob.kek_id != active)):
                new = self.vault.rewrap(blob.sha256, WrappedKey(blob.kek_id, blob.wrapped_key))
                blob.kek_id, blob.wrapped_key = new.kek_id, new.blob
                moved += 1
            custody.append(s, event="key_rotated", actor=actor, kek=active, rewrapped=moved)
        return moved

    def key_usage(self) -> dict[str, int]:
        with self.engine.db.session() as s:
            rows = s.execute(select(EvidenceBlob.kek_id, func.count())
                             .group_by(EvidenceBlob.kek_id))
            return {k: n for k, n in rows}

    def checkpoint(self) -> EvidenceCheckpoint:
        """Sign the log as it is now (returns the last checkpoint if nothing was added).

        With a timestamp authority configured (``HAECHI_EVIDENCE_TSA_URL``) a new
        checkpoint is also timestamped; a TSA that is down leaves it without a token
        (verification says so) rather than failing the import that asked for it.
        """
        with self.engine.db.session() as s:
            row = custody.sign_checkpoint(s, self.signer, self.origin)
        url, cert = tsa_from_env()
        if url and row.timestamp_token is None:
            with suppress(TimestampError):
                row = self.timestamp_checkpoint(row.id, url=url, tsa_cert=cert)
        return row

    def timestamp_checkpoint(self, checkpoint_id: int, *, url: str,
                             tsa_cert: x509.Certificate | None = None) -> EvidenceCheckpoint:
        """Get an RFC 3161 token for a checkpoint's signed note and keep it with it."""
        with self.engine.db.session() as s:
            row = s.get(EvidenceCheckpoint, checkpoint_id)
            if row is None:
                raise NotFoundError(f"no checkpoint {checkpoint_id}")
            note = row.note
        token = fetch_token(url, note.encode(), tsa_cert=tsa_cert)
        with self.engine.db.session() as s:
            row = s.get(EvidenceCheckpoint, checkpoint_id)
            assert row is not None
            row.timestamp_token = base64.b64encode(token).decode()
            return row

    def latest_checkpoint(self) -> EvidenceCheckpoint | None:
        with self.engine.db.session() as s:
            return s.scalars(select(EvidenceCheckpoint)
                             .order_by(EvidenceCheckpoint.id.desc()).limit(1)).first()

    def log_event(self, *, event: str, actor: str, **fields: Any) -> LogEntry:
        with self.engine.db.session() as s:
            return _log_entry(custody.append(s, event=event, actor=actor, **fields))


def _log_entry(row: EvidenceLogEntry) -> LogEntry:
    return LogEntry(seq=row.seq, event=row.event, leaf_hash=row.leaf_hash,
                    entry=json.loads(row.entry))
