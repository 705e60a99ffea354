"""The one shape every reader produces, whatever the source format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: Longest message text kept; solicitation rules need the words, not whole essays.
MAX_TEXT = 4000
MAX_KEY = 200


@dataclass(slots=True)
class RawMessage:
    service: str
    chat_id: str
    message_id: int
    sent_at: datetime
    user_key: str = ""
    user_name: str = ""
    chat_title: str = ""
    chat_kind: str = ""
    text: str = ""
    #: A media file on disk, when the source ships it.
    media_path: Path | None = None
    #: Where the file is named in the source (export-relative), for reports.
    media_ref: str = ""
    file_unique_id: str | None = None
    is_forward: bool = False
    fwd_user_key: str | None = None
    fwd_chat_id: str | None = None
    fwd_message_id: int | None = None
    fwd_name: str = ""
    reply_to: int | None = None
    source: str = ""


@dataclass(slots=True)
class SkippedItem:
    """An item a reader could not use: where it was and why (a stable code)."""

    where: str
    code: str
    message: str


def clip(value: object, limit: int = MAX_KEY) -> str:
    text = "" if value is None else str(value)
    # PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "")[:limit]


def to_datetime(value: object) -> datetime:
    """Unix seconds or ISO 8601 to an aware UTC datetime; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time stored here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stable_id(*parts: object) -> int:
    """A positive 63-bit id derived from ``parts``, for sources without message ids."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
