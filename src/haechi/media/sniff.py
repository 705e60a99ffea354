"""Recognise a file's real format from its first bytes, never from its name.

Uploaders rename files to slip past filters (a video called ``.jpg``), so the name is
only used to report a mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


IMAGE_FORMATS = frozenset({"jpeg", "png", "gif", "webp", "bmp", "tiff", "heic", "avif"})
VIDEO_FORMATS = frozenset({"mp4", "mov", "webm", "mkv"})

_EXTENSIONS: dict[str, str] = {
    "jpg": "jpeg", "jpeg": "jpeg", "jpe": "jpeg", "jfif": "jpeg",
    "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp", "dib": "bmp",
    "tif": "tiff", "tiff": "tiff", "heic": "heic", "heif": "heic", "avif": "avif",
    "mp4": "mp4", "m4v": "mp4", "mov": "mov", "qt": "mov", "webm": "webm", "mkv": "mkv",
}

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_MOV_BRANDS = {b"qt  "}
#: The DIB header sizes that follow "BM" in real bitmaps (core, info, v2-v5, OS/2).
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def sniff(head: bytes) -> str | None:
    """Return the format name for the leading bytes, or None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(
        head[14:18], "little"
    ) in _BMP_HEADER_SIZES:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # Matroska and WebM share EBML; the DocType says which.
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "avif"
        if brand in _HEIC_BRANDS:
            return "heic"
        if brand in _MOV_BRANDS:
            return "mov"
        return "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mov"
    return None


def kind_of(fmt: str) -> MediaKind:
    return MediaKind.VIDEO if fmt in VIDEO_FORMATS else MediaKind.IMAGE


def format_from_name(name: str | None) -> str | None:
    if not name or "." not in name:
        return None
    return _EXTENSIONS.get(name.rsplit(".", 1)[1].lower())
