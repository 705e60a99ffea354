"""The columns kept beside an update's raw JSON, read without trusting it."""

from __future__ import annotations

from typing import Any

from haechi.telegram.store import UpdateFields

MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post")
_INT64 = 1 << 63


def as_int(value: Any) -> int | None:
    """An integer the store can hold (64-bit), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    return None


def update_fields(raw: dict[str, Any]) -> UpdateFields:
    """The columns kept beside the raw JSON; never raises on malformed input."""
    message = next((raw[k] for k in MESSAGE_KEYS if isinstance(raw.get(k), dict)), None)
    fields = UpdateFields()
    if message is None:
        return fields

    chat, sender = message.get("chat"), message.get("from") or message.get("sender_chat")
    fields.chat_id = as_int(chat.get("id")) if isinstance(chat, dict) else None
    fields.message_id = as_int(message.get("message_id"))
    fields.sender_id = as_int(sender.get("id")) if isinstance(sender, dict) else None
    group = message.get("media_group_id")
    fields.media_group_id = str(group)[:100] if group is not None else None
    origin = message.get("forward_origin")
    fields.forward_origin = origin if isinstance(origin, dict) else None
    photo = message.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict):
        fields.media_kind = "photo"
        biggest = photo[-1]
    else:
        kind = next((k for k in ("video", "animation", "video_note", "document", "sticker")
                     if isinstance(message.get(k), dict)), "")
        fields.media_kind, biggest = kind, message.get(kind) if kind else {}
    if isinstance(biggest, dict):
        unique = biggest.get("file_unique_id")
        fields.file_unique_id = str(unique)[:200] if unique else None
        fields.file_size = as_int(biggest.get("file_size"))
    return fields
