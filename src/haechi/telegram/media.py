"""Which file of a Bot API message is scanned, read from the raw message JSON.

Photos arrive as several sizes of one picture; the largest that may be downloaded is
scanned, and every size's ``file_unique_id`` is remembered, since a re-post or forward
carries the same ones. Documents count only when they are images or videos; animated
(TGS) stickers are vector drawings, not images, and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haechi.errors import MediaError

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                   ".heic", ".avif")
_VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")


@dataclass(frozen=True)
class MediaRef:
    kind: str
    file_id: str
    file_unique_id: str
    file_size: int | None
    mime_type: str
    #: Every file_unique_id of the message's file (all sizes of a photo).
    unique_ids: tuple[str, ...]
    #: Declared size over the limit: the file is reported, not downloaded.
    oversize: bool = False


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ids(obj: dict[str, Any]) -> tuple[str, str]:
    file_id, unique = obj.get("file_id"), obj.get("file_unique_id")
    if not isinstance(file_id, str) or not isinstance(unique, str) or not file_id or not unique:
        raise MediaError("the file has no file_id or file_unique_id", code="bad_media_field")
    return file_id, unique


def _photo(sizes: list[Any], limit: int) -> MediaRef:
    usable = [p for p in sizes if isinstance(p, dict)]
    if not usable:
        raise MediaError("the photo lists no sizes", code="bad_media_field")
    usable.sort(key=lambda p: (_size(p.get("width")) or 0) * (_size(p.get("height")) or 0))
    fitting = [p for p in usable if (_size(p.get("file_size")) or 0) <= limit]
    chosen = fitting[-1] if fitting else usable[-1]
    file_id, unique = _ids(chosen)
    uniques = tuple(dict.fromkeys(_ids(p)[1] for p in usable))
    return MediaRef("photo", file_id, unique, _size(chosen.get("file_size")), "image/jpeg",
                    uniques, oversize=not fitting)


def _is_visual(mime: str, name: str) -> bool:
    if mime.startswith(("image/", "video/")):
        return True
    return not mime and name.lower().endswith(_IMAGE_SUFFIXES + _VIDEO_SUFFIXES)


def find_media(message: dict[str, Any], *, limit: int) -> MediaRef | None:
    """The message's image or video file, None when it carries none.

    Raises MediaError (``bad_media_field``) when a media field is present but malformed.
    """
    photo = message.get("photo")
    if photo is not None:
        if not isinstance(photo, list):
            raise MediaError("photo is not a list of sizes", code="bad_media_field")
        return _photo(photo, limit)
    for kind in ("video", "animation", "video_note", "document", "sticker"):
        obj = message.get(kind)
        if obj is None:
            continue
        if not isinstance(obj, dict):
            raise MediaError(f"{kind} is not an object", code="bad_media_field")
        mime = str(obj.get("mime_type") or "")
        if kind == "document" and not _is_visual(mime, str(obj.get("file_name") or "")):
            return None
        if kind == "sticker":
            if obj.get("is_animated"):
                return None
            mime = "video/webm" if obj.get("is_video") else "image/webp"
        file_id, unique = _ids(obj)
        size = _size(obj.get("file_size"))
        return MediaRef(kind, file_id, unique, size, mime or "video/mp4", (unique,),
                        oversize=size is not None and size > limit)
    return None
