"""Import a Telegram Desktop chat export (``result.json`` plus its media folders).

The export file itself is stored first, byte for byte, so every raw message (with or
without media, service messages included) is preserved. Then every photo and file a
message refers to becomes an item whose capture metadata carries the message JSON
verbatim, the sender's identifiers and the forward origin. Re-running the import skips
what is already held, so an interrupted import is resumed by running it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from haechi.errors import InvalidRequestError
from haechi.evidence.schemas import CaptureMetadata, ImportOutcome, ImportReport
from haechi.evidence.service import EvidenceService

MEDIA_FIELDS = ("photo", "file")
METHOD = "telegram-desktop-export"


@dataclass(frozen=True)
class MediaRef:
    chat_id: str
    chat_name: str
    message: dict[str, Any]
    field: str
    relpath: str


def chats(export: dict[str, Any]) -> list[dict[str, Any]]:
    """The chats of a single-chat export or of a whole-account export."""
    if isinstance(export.get("messages"), list):
        return [export]
    listed = export.get("chats", {}).get("list") if isinstance(export.get("chats"), dict) else None
    if isinstance(listed, list):
        return [c for c in listed if isinstance(c, dict)]
    raise InvalidRequestError("not a Telegram Desktop export: result.json has neither "
                              "'messages' nor 'chats.list'")


def media_refs(export: dict[str, Any]) -> Iterator[MediaRef | dict[str, Any]]:
    """Each media reference, or the message itself when it carries none."""
    for chat in chats(export):
        chat_id, name = str(chat.get("id", "")), str(chat.get("name", ""))
        for msg in chat.get("messages", []):
            if not isinstance(msg, dict):
                continue
            fields = [f for f in MEDIA_FIELDS if isinstance(msg.get(f), str)]
            if not fields:
                yield msg
            for f in fields:
                yield MediaRef(chat_id, name, msg, f, msg[f])


def forward_origin(msg: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(msg.get("forward_origin"), dict):  # Bot API shape, kept as is
        return dict(msg["forward_origin"])
    if "forwarded_from" in msg or "forwarded_from_id" in msg:
        origin = {"name": msg.get("forwarded_from"), "id": msg.get("forwarded_from_id")}
        return {k: v for k, v in origin.items() if v is not None} | {"source": "desktop"}
    if "saved_from" in msg:
        return {"name": msg["saved_from"], "source": "saved_from"}
    return None


def _uploader(msg: dict[str, Any]) -> dict[str, str]:
    pairs = {"id": msg.get("from_id") or msg.get("actor_id"),
             "name": msg.get("from") or msg.get("actor")}
    return {k: str(v) for k, v in pairs.items() if v is not None}


def _resolve(folder: Path, relpath: str) -> Path | None:
    """The media path, or None if it points outside the export (hostile or broken)."""
    target = (folder / relpath).resolve()
    return target if target.is_relative_to(folder.resolve()) else None


def import_telegram(service: EvidenceService, folder: Path, *, actor: str,
                    case: str | None = None, captured_at: datetime | None = None,
                    progress: Callable[[ImportOutcome], None] | None = None) -> ImportReport:
    folder = folder if folder.is_dir() else folder.parent
    result = folder / "result.json"
    try:
        raw = service.engine.read_file(result)
        export = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"{result} is not valid JSON: {exc}") from None
    if not isinstance(export, dict):
        raise InvalidRequestError(f"{result} is not a Telegram Desktop export")
    when = captured_at or datetime.now(UTC)
    report = ImportReport()
    added: list[int] = []

    def record(outcome: ImportOutcome) -> None:
        report.add(outcome)
        if outcome.item_id is not None:
            added.append(outcome.item_id)
        if progress is not None:
            progress(outcome)

    digest = hashlib.sha256(raw).hexdigest()
    record(service.import_bytes(raw, actor=actor, scan=False,
                                capture_key=f"telegram-export:{digest}",
                                capture=CaptureMetadata(
                                    service="telegram", method=METHOD, capturer=actor,
                                    captured_at=when, filename="result.json",
                                    room=str(export.get("name", "")),
                                    note="the export file as received: every raw message")))
    for ref in media_refs(export):
        if not isinstance(ref, MediaRef):
            report.messages_without_media += 1
            continue
        key = f"telegram:{ref.chat_id}:{ref.message.get('id')}:{ref.field}"
        path = _resolve(folder, ref.relpath)
        if path is None or not path.is_file():
            why = ("points outside the export" if path is None else
                   "was not included in the export" if ref.relpath.startswith("(") else
                   "is missing from the export folder")
            record(ImportOutcome(name=ref.relpath, status="error",
                                 error=f"media_missing: message {ref.message.get('id')}: "
                                       f"{ref.relpath} {why}"))
            continue
        capture = CaptureMetadata(
            service="telegram", room=f"{ref.chat_name} ({ref.chat_id})",
            message_id=str(ref.message.get("id", "")), uploader=_uploader(ref.message),
            captured_at=when, capturer=actor, method=METHOD, raw_record=ref.message,
            forward_origin=forward_origin(ref.message), filename=ref.relpath)
        record(service.import_path(path, capture=capture, actor=actor, capture_key=key))
    if case is not None and added:
        service.add_to_case(case, sorted(set(added)), actor=actor)
    report.checkpoint_size = service.checkpoint().size
    return report
