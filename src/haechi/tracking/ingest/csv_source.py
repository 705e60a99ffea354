"""A plain CSV for services without an export format of their own.

Required columns: ``time`` (ISO 8601 or Unix seconds), ``room``, ``user``. Optional:
``media`` (a file path relative to the CSV), ``forwarded_from`` (a user or room), ``text``,
``message_id``, ``reply_to``, ``file_unique_id``, ``room_title``, ``user_name``. Without a
``message_id`` a stable id is derived from the row's content, so re-ingest stays idempotent.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from haechi.errors import InvalidRequestError
from haechi.tracking.ingest.records import (
    MAX_TEXT,
    RawMessage,
    SkippedItem,
    clip,
    stable_id,
    to_datetime,
)

SOURCE = "csv"
REQUIRED = ("time", "room", "user")
#: Longest field accepted; the csv module refuses longer ones with a clear error.
csv.field_size_limit(1 << 20)


def read_csv(path: Path, *, service: str = "csv",
             on_skip: Callable[[SkippedItem], None] | None = None) -> Iterator[RawMessage]:
    base = path.parent.resolve()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InvalidRequestError(
                f"{path.name}: the CSV lacks the column(s) {', '.join(missing)}; it needs "
                f"{', '.join(REQUIRED)}", code="bad_csv")
        reader.fieldnames = header
        for number, row in enumerate(reader, start=2):
            try:
                yield _row(row, base, service)
            except (csv.Error, KeyError, TypeError, ValueError) as exc:
                if on_skip is not None:
                    on_skip(SkippedItem(f"{path.name} line {number}", "bad_row", str(exc)))


def _row(row: dict[str, str | None], base: Path, service: str) -> RawMessage:
    def get(key: str) -> str:
        return (row.get(key) or "").strip()

    room, user, when = get("room"), get("user"), get("time")
    if not room or not user or not when:
        raise ValueError("time, room and user must not be empty")
    sent_at = to_datetime(when)
    media_ref, forwarded, text = get("media"), get("forwarded_from"), get("text")
    message_id = int(get("message_id")) if get("message_id") else stable_id(
        when, room, user, media_ref, forwarded, text)
    media_path = None
    if media_ref:
        candidate = (base / media_ref).resolve()
        if candidate.is_relative_to(base):  # never read outside the CSV's folder
            media_path = candidate
    # A forward's origin may be a room (seen in this CSV) or a person; keep both guesses.
    return RawMessage(
        service=clip(service, 40), chat_id=clip(room, 100), message_id=message_id,
        sent_at=sent_at, user_key=clip(user), user_name=clip(get("user_name") or user, 300),
        chat_title=clip(get("room_title") or room, 300), text=clip(text, MAX_TEXT),
        media_path=media_path, media_ref=clip(media_ref, 500) if media_path else "",
        file_unique_id=clip(get("file_unique_id")) or None, is_forward=bool(forwarded),
        fwd_user_key=clip(forwarded) if forwarded else None, fwd_name=clip(forwarded, 300),
        reply_to=int(get("reply_to")) if get("reply_to") else None, source=SOURCE,
    )
