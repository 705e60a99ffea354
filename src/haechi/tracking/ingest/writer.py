"""Write a stream of messages to the store in batches, hashing and scanning media once.

Each batch is one transaction, so an interrupted ingest keeps every batch before the
failure and a re-run adds only what is missing (natural keys: service, chat id, message
id). Media are keyed by content: a file whose SHA-256 is already stored is not decoded
again; a medium known only by ``file_unique_id`` gets a ``fuid:`` row so it can be linked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from haechi.errors import MediaError
from haechi.tracking.ingest.records import RawMessage, SkippedItem
from haechi.tracking.ingest.sql import insert_ignore
from haechi.tracking.models import TrackedMedia, TrackedMessage, TrackedRoom, TrackedUser
from haechi.tracking.schemas import IngestReport, Skipped

if TYPE_CHECKING:
    from haechi.engine import Engine

BATCH = 2000
#: Skipped items listed in a report; the rest are only counted.
MAX_SKIPPED_LISTED = 100
#: Caches of paths and content keys are cleared when they reach this size, so memory
#: stays bounded on exports with one file per message.
CACHE_LIMIT = 200_000


class IngestWriter:
    def __init__(self, engine: Engine, report: IngestReport,
                 progress: Callable[[int], None] | None = None) -> None:
        self.engine = engine
        self.report = report
        #: Called after each batch with the messages read so far.
        self.progress = progress
        self._rooms: set[tuple[str, str]] = set()
        self._users: set[tuple[str, str]] = set()
        self._media_by_path: dict[Path, int | None] = {}
        self._media_by_key: dict[str, int] = {}

    def skip(self, item: SkippedItem) -> None:
        self.report.skipped_count += 1
        if len(self.report.skipped) < MAX_SKIPPED_LISTED:
            self.report.skipped.append(Skipped(where=item.where, code=item.code,
                                               message=item.message))

    def write(self, messages: Iterable[RawMessage]) -> IngestReport:
        batch: list[RawMessage] = []
        for message in messages:
            self.report.messages_read += 1
            batch.append(message)
            if len(batch) >= BATCH:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)
        return self.report

    def _flush(self, batch: list[RawMessage]) -> None:
        self._write_batch(batch)
        if self.progress is not None:
            self.progress(self.report.messages_read)

    # -- one batch -------------------------------------------------------------------

    def _write_batch(self, batch: list[RawMessage]) -> None:
        with self.engine.db.session() as s:
            existing = _existing_keys(s, batch)
        fresh: list[RawMessage] = []
        seen: set[tuple[str, str, int]] = set()
        for message in batch:
            key = (message.service, message.chat_id, message.message_id)
            if key in existing or key in seen:
                self.report.duplicates += 1
                continue
            seen.add(key)
            fresh.append(message)
        # Media of new messages only, hashed outside the transaction: decoding is slow
        # and must not hold locks. (A concurrent ingest of the same source is still
        # safe: the insert below ignores keys that appeared meanwhile.)
        rows = [_row(m, self._media_for(m)) for m in fresh]
        with self.engine.db.session() as s:
            self._upsert_people_and_rooms(s, batch)
            insert_ignore(s, TrackedMessage.__table__,  # type: ignore[arg-type]
                          rows, ("service", "chat_id", "message_id"))
        self.report.added += len(rows)

    def _upsert_people_and_rooms(self, s: Any, batch: list[RawMessage]) -> None:
        rooms: dict[tuple[str, str], dict[str, Any]] = {}
        users: dict[tuple[str, str], dict[str, Any]] = {}
        for m in batch:
            if (m.service, m.chat_id) not in self._rooms:
                rooms[(m.service, m.chat_id)] = {"service": m.service, "chat_id": m.chat_id,
                                                 "title": m.chat_title, "kind": m.chat_kind}
            if m.user_key and (m.service, m.user_key) not in self._users:
                users[(m.service, m.user_key)] = {"service": m.service, "user_key": m.user_key,
                                                  "name": m.user_name}
        insert_ignore(s, TrackedRoom.__table__, list(rooms.values()),  # type: ignore[arg-type]
                      ("service", "chat_id"))
        insert_ignore(s, TrackedUser.__table__, list(users.values()),  # type: ignore[arg-type]
                      ("service", "user_key"))
        self._rooms.update(rooms)
        self._users.update(users)

    # -- media -----------------------------------------------------------------------

    def _media_for(self, m: RawMessage) -> int | None:
        media_id: int | None = None
        if m.media_path is not None:
            if m.media_path in self._media_by_path:
                media_id = self._media_by_path[m.media_path]
            else:
                media_id = self._media_from_file(m)
                _bounded(self._media_by_path)[m.media_path] = media_id
        if media_id is None and m.file_unique_id:
            media_id = self._media_row(f"fuid:{m.file_unique_id}", lambda: {
                "file_unique_id": m.file_unique_id, "kind": "unknown"})
        elif media_id is not None and m.file_unique_id:
            with self.engine.db.session() as s:
                s.execute(update(TrackedMedia).where(TrackedMedia.id == media_id,
                                                     TrackedMedia.file_unique_id.is_(None))
                          .values(file_unique_id=m.file_unique_id))
        return media_id

    def _media_from_file(self, m: RawMessage) -> int | None:
        assert m.media_path is not None
        try:
            data = self.engine.read_file(m.media_path)
        except MediaError as exc:
            code = "missing_file" if not m.media_path.exists() else exc.code
            self.skip(SkippedItem(f"chat {m.chat_id} message {m.message_id}", code,
                                  f"{m.media_ref}: {exc.message}"))
            return None
        sha = hashlib.sha256(data).hexdigest()
        return self._media_row(f"sha256:{sha}", lambda: self._scan(data, sha, m))

    def _scan(self, data: bytes, sha: str, m: RawMessage) -> dict[str, Any]:
        """Hash the file and match it against the banks: a block decision flags it."""
        result = self.engine.scan_bytes(data, name=m.media_ref)
        values = {h.signal: h for h in result.hashes}
        row: dict[str, Any] = {
            "sha256": sha, "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "size": len(data), "path": m.media_ref,
            "kind": result.media.kind if result.media else "unreadable",
        }
        if "pdq" in values:
            row["pdq"], row["pdq_quality"] = values["pdq"].value, values["pdq"].quality
        if "vpdq" in values:
            row["vpdq"] = values["vpdq"].value
        if result.error is not None:
            row["error_code"] = result.error.code
            self.report.media_errors += 1
        if result.decision == "block":
            row["flagged"] = True
            row["flag_detail"] = "; ".join(
                f"{x.bank} entry {x.entry_id} ({x.signal}"
                + (f", distance {x.distance}" if x.distance is not None else "") + ")"
                for x in result.matches if x.bank_kind == "block")[:2000]
            self.report.media_flagged += 1
        return row

    def _media_row(self, content_key: str, make: Any) -> int:
        cached = self._media_by_key.get(content_key)
        if cached is not None:
            return cached
        query = select(TrackedMedia.id).where(TrackedMedia.content_key == content_key)
        with self.engine.db.session() as s:
            found = s.scalar(query)
        if found is None:
            # Decode and scan outside any transaction: it is the slow part.
            values = {"content_key": content_key, "path": "", "flagged": False,
                      "flag_detail": "", "error_code": "", "kind": ""}
            values.update(make())
            with self.engine.db.session() as s:
                insert_ignore(s, TrackedMedia.__table__, [values],  # type: ignore[arg-type]
                              ("content_key",))
                found = s.scalar(query)
            self.report.media_new += 1
        assert found is not None
        _bounded(self._media_by_key)[content_key] = found
        return found


def _existing_keys(s: Any, batch: list[RawMessage]) -> set[tuple[str, str, int]]:
    """Keys of ``batch`` already stored: one indexed query per chat in the batch.

    (A row-value IN over all three columns is not served by SQLite's index.)
    """
    by_chat: dict[tuple[str, str], list[int]] = {}
    for m in batch:
        by_chat.setdefault((m.service, m.chat_id), []).append(m.message_id)
    found: set[tuple[str, str, int]] = set()
    for (service, chat_id), ids in by_chat.items():
        rows = s.scalars(select(TrackedMessage.message_id).where(
            TrackedMessage.service == service, TrackedMessage.chat_id == chat_id,
            TrackedMessage.message_id.in_(ids)))
        found.update((service, chat_id, mid) for mid in rows)
    return found


def _bounded(cache: dict[Any, Any]) -> dict[Any, Any]:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    return cache


def _row(m: RawMessage, media_id: int | None) -> dict[str, Any]:
    return {
        "service": m.service, "chat_id": m.chat_id, "message_id": m.message_id,
        "user_key": m.user_key, "sent_at": m.sent_at, "text": m.text, "media_id": media_id,
        "file_unique_id": m.file_unique_id, "is_forward": m.is_forward,
        "fwd_user_key": m.fwd_user_key, "fwd_chat_id": m.fwd_chat_id,
        "fwd_message_id": m.fwd_message_id, "fwd_name": m.fwd_name, "reply_to": m.reply_to,
        "source": m.source,
    }
