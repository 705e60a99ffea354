"""Telegram Desktop exports: ``result.json`` plus media folders, read as a stream.

The file is parsed event by event with ijson, and each message object is built alone,
so memory stays flat however many messages the export holds. Both layouts are read: a
single chat (``{"name", "type", "id", "messages": [...]}``) and a full account export
(``{"chats": {"list": [chat, ...]}, "left_chats": {"list": [...]}}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ijson  # type: ignore[import-untyped]

from haechi.tracking.ingest.records import (
    MAX_TEXT,
    RawMessage,
    SkippedItem,
    clip,
    to_datetime,
)

OnSkip = Callable[[SkippedItem], None] | None
SERVICE = "telegram"
SOURCE = "telegram_export"
#: ijson prefixes under which a chat object starts ("" is a single-chat export).
_CHAT_PREFIXES = ("", "chats.list.item", "left_chats.list.item")
_MEDIA_FIELDS = ("photo", "file", "thumbnail")
#: What Desktop writes instead of a path when media was not downloaded.
_NOT_INCLUDED = "(File not included."


def _text(value: Any) -> str:
    """Desktop writes text as a string or as a list of strings and entity objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", ""))
                       for p in value if isinstance(p, str | dict))
    return ""


def _user_key(raw_id: Any, name: Any) -> str:
    if raw_id not in (None, ""):
        return clip(raw_id)
    return clip(f"name:{name}") if name else ""


def read_export(path: Path, on_skip: OnSkip = None) -> Iterator[RawMessage]:
    """Messages of ``path`` (a ``result.json`` or the folder holding it).

    ``on_skip`` is called with a :class:`SkippedItem` for each message that cannot be
    used (no id, bad date); the rest continue.
    """
    result = path / "result.json" if path.is_dir() else path
    base = result.parent
    chat: dict[str, Any] = {}
    message_prefixes = {f"{p}.messages.item" if p else "messages.item" for p in _CHAT_PREFIXES}
    meta_prefixes = {f"{p}.{k}" if p else k: k for p in _CHAT_PREFIXES
                     for k in ("name", "type", "id")}
    read = 0
    with result.open("rb") as handle:
        events = ijson.parse(handle, use_float=True)
        try:
            for prefix, event, value in events:
                if prefix in meta_prefixes and event in ("string", "number"):
                    chat[meta_prefixes[prefix]] = value
                elif event == "start_map" and prefix in _chat_starts():
                    chat = {}
                elif event == "start_map" and prefix in message_prefixes:
                    item = _build(events, prefix)
                    read += 1
                    message = _message(item, chat, base, on_skip)
                    if message is not None:
                        yield message
        except ijson.JSONError as exc:
            # Everything read so far is kept; the report says where the file broke.
            if on_skip is not None:
                on_skip(SkippedItem(f"{result.name} after {read} messages", "bad_json",
                                    f"the JSON is malformed or truncated: {exc}"[:500]))


def _chat_starts() -> frozenset[str]:
    return frozenset(p for p in _CHAT_PREFIXES if p)


def _build(events: Iterator[tuple[str, str, Any]], prefix: str) -> dict[str, Any]:
    """Consume events up to the end of the object that just started at ``prefix``.

    A hand-rolled builder: about twice as fast as ``ijson.ObjectBuilder`` here, which
    matters at a million messages.
    """
    root: dict[str, Any] = {}
    stack: list[Any] = [root]
    keys: list[str] = []
    key = ""
    for _prefix, event, value in events:
        if event == "map_key":
            key = value
            continue
        top = stack[-1]
        if event == "start_map" or event == "start_array":
            child: Any = {} if event == "start_map" else []
            if type(top) is dict:
                top[key] = child
            else:
                top.append(child)
            keys.append(key)
            stack.append(child)
        elif event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                break
            key = keys.pop()
        elif type(top) is dict:
            top[key] = value
        else:
            top.append(value)
    return root


def _message(item: dict[str, Any], chat: dict[str, Any], base: Path,
             on_skip: OnSkip) -> RawMessage | None:
    chat_id = clip(chat.get("id", ""), 100)
    where = f"chat {chat_id or '?'} message {item.get('id', '?')}"
    if item.get("type", "message") != "message":
        return None  # service messages (joins, pins) carry no content
    try:
        message_id = int(item["id"])
        sent_at = to_datetime(item.get("date_unixtime") or item["date"])
    except (KeyError, TypeError, ValueError) as exc:
        if on_skip is not None:
            on_skip(SkippedItem(where, "bad_message", f"missing or invalid id/date: {exc}"))
        return None
    ref = next((item[k] for k in _MEDIA_FIELDS if isinstance(item.get(k), str)), "")
    media_path = None
    if ref and not ref.startswith(_NOT_INCLUDED):
        candidate = (base / ref).resolve()
        # A crafted export must not point the reader outside its own folder.
        if candidate.is_relative_to(base.resolve()):
            media_path = candidate
    forwarded = item.get("forwarded_from")
    fwd_id = item.get("forwarded_from_id")
    reply = item.get("reply_to_message_id")
    return RawMessage(
        service=SERVICE, chat_id=chat_id, message_id=message_id, sent_at=sent_at,
        user_key=_user_key(item.get("from_id") or item.get("actor_id"), item.get("from")),
        user_name=clip(item.get("from") or "", 300),
        chat_title=clip(chat.get("name") or "", 300), chat_kind=clip(chat.get("type", ""), 40),
        text=clip(_text(item.get("text")), MAX_TEXT),
        media_path=media_path, media_ref=clip(ref, 500) if media_path else "",
        is_forward=forwarded is not None or fwd_id is not None,
        fwd_user_key=_user_key(fwd_id, forwarded) or None if (forwarded or fwd_id) else None,
        fwd_name=clip(forwarded or "", 300),
        reply_to=int(reply) if isinstance(reply, int | float) else None,
        source=SOURCE,
    )
