"""Bot API logs: JSON Lines of updates (``{"update_id", "message": {...}}``) or messages.

Forward origins follow Bot API 7: ``forward_origin`` of type ``user``, ``hidden_user``,
``chat`` or ``channel``; the older ``forward_from``/``forward_from_chat`` fields are read
too. Media are identified by ``file_unique_id`` (the same file has the same one for every
bot). A log may name a downloaded copy of the file in ``media_path`` (relative to the log).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from haechi.tracking.ingest.records import (
    MAX_TEXT,
    RawMessage,
    SkippedItem,
    clip,
    to_datetime,
)

SERVICE = "telegram"
SOURCE = "bot_api"
_MESSAGE_KEYS = ("message", "channel_post", "edited_message", "edited_channel_post")
_FILE_KEYS = ("video", "animation", "document", "video_note", "sticker", "audio", "voice")
#: Longest line read; a longer one is skipped whole rather than exhausting memory.
MAX_LINE = 1 << 20

OnSkip = Callable[[SkippedItem], None] | None


def read_jsonl(path: Path, on_skip: OnSkip = None) -> Iterator[RawMessage]:
    base = path.parent.resolve()
    with path.open("rb") as handle:
        for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE + 1), b""),
                                      start=1):
            where = f"{path.name} line {number}"
            if len(line) > MAX_LINE:
                _skip(on_skip, where, "line_too_long", f"longer than {MAX_LINE} bytes")
                _discard_rest(handle, line)
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                _skip(on_skip, where, "bad_json", str(exc))
                continue
            message = _unwrap(obj)
            if message is None:
                _skip(on_skip, where, "not_a_message", "no message in this update")
                continue
            try:
                yield _message(message, base)
            except (KeyError, TypeError, ValueError) as exc:
                _skip(on_skip, where, "bad_message", f"missing or invalid field: {exc}")


def _discard_rest(handle: Any, line: bytes) -> None:
    while not line.endswith(b"\n"):
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return


def _skip(on_skip: OnSkip, where: str, code: str, message: str) -> None:
    if on_skip is not None:
        on_skip(SkippedItem(where, code, message))


def _unwrap(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    for key in _MESSAGE_KEYS:
        if isinstance(obj.get(key), dict):
            found: dict[str, Any] = obj[key]
            return found
    return obj if "message_id" in obj else None


def _name(user: dict[str, Any]) -> str:
    full = " ".join(str(user.get(k, "")) for k in ("first_name", "last_name")).strip()
    return full or str(user.get("title") or user.get("username") or "")


def _file_unique_id(message: dict[str, Any]) -> str | None:
    photo = message.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict):
        value = photo[-1].get("file_unique_id")  # the largest size is last
        return clip(value) if value else None
    for key in _FILE_KEYS:
        item = message.get(key)
        if isinstance(item, dict) and item.get("file_unique_id"):
            return clip(item["file_unique_id"])
    return None


def _forward(message: dict[str, Any]) -> tuple[bool, str | None, str | None, int | None, str]:
    """(is forward, origin user key, origin chat id, origin message id, origin name)."""
    origin = message.get("forward_origin")
    if isinstance(origin, dict):
        kind = origin.get("type")
        if kind == "user" and isinstance(origin.get("sender_user"), dict):
            user = origin["sender_user"]
            return True, f"user{user['id']}", None, None, _name(user)
        if kind == "hidden_user":
            name = str(origin.get("sender_user_name", ""))
            return True, f"name:{name}" if name else None, None, None, name
        chat = origin.get("chat") or origin.get("sender_chat")
        if isinstance(chat, dict):
            mid = origin.get("message_id")
            return (True, None, str(chat["id"]), int(mid) if isinstance(mid, int) else None,
                    _name(chat))
        return True, None, None, None, ""
    if isinstance(message.get("forward_from"), dict):
        user = message["forward_from"]
        return True, f"user{user['id']}", None, None, _name(user)
    if isinstance(message.get("forward_from_chat"), dict):
        chat = message["forward_from_chat"]
        mid = message.get("forward_from_message_id")
        return (True, None, str(chat["id"]), int(mid) if isinstance(mid, int) else None,
                _name(chat))
    return False, None, None, None, ""


def _message(message: dict[str, Any], base: Path) -> RawMessage:
    chat = message["chat"]
    sender = message.get("from") if isinstance(message.get("from"), dict) else None
    sender_chat = message.get("sender_chat")
    if sender is not None:
        user_key, user_name = f"user{sender['id']}", _name(sender)
    elif isinstance(sender_chat, dict):
        user_key, user_name = f"chat{sender_chat['id']}", _name(sender_chat)
    else:
        user_key, user_name = "", ""
    is_fwd, fwd_user, fwd_chat, fwd_mid, fwd_name = _forward(message)
    reply = message.get("reply_to_message")
    media_path = None
    ref = message.get("media_path")
    if isinstance(ref, str) and ref:
        candidate = (base / ref).resolve()
        if candidate.is_relative_to(base):  # never read outside the log's folder
            media_path = candidate
    return RawMessage(
        service=SERVICE, chat_id=clip(chat["id"], 100), message_id=int(message["message_id"]),
        sent_at=to_datetime(message["date"]), user_key=clip(user_key),
        user_name=clip(user_name, 300), chat_title=clip(_name(chat), 300),
        chat_kind=clip(chat.get("type", ""), 40),
        text=clip(message.get("text") or message.get("caption") or "", MAX_TEXT),
        media_path=media_path, media_ref=clip(ref, 500) if media_path else "",
        file_unique_id=_file_unique_id(message), is_forward=is_fwd,
        fwd_user_key=clip(fwd_user) if fwd_user else None,
        fwd_chat_id=clip(fwd_chat, 100) if fwd_chat else None, fwd_message_id=fwd_mid,
        fwd_name=clip(fwd_name, 300),
        reply_to=int(reply["message_id"]) if isinstance(reply, dict) else None,
        source=SOURCE,
    )
