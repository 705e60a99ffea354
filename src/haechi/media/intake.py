"""Turn untrusted bytes into a :class:`Media` whose size is known to be within limits.

Decoding happens here and nowhere else, so every signal sees media that already passed
the same checks, and every failure maps to one error code.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from PIL import Image, ImageOps

from haechi.errors import MediaError
from haechi.media import video as video_io
from haechi.media.limits import Limits
from haechi.media.sniff import IMAGE_FORMATS, MediaKind, format_from_name, kind_of, sniff

__all__ = ["Media", "MediaKind", "load_media"]

#: A video's sampled frames are held for later readers while they take less than this.
HELD_FRAME_BYTES = 64 * 1024 * 1024

# Pillow's own bomb guard is process-global and only warns below 2x its limit; we check
# the declared size ourselves before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None

_PIL_FORMATS = {
    "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP",
    "tiff": "TIFF", "avif": "AVIF", "heic": "HEIF",
}


def _heic_available() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


@dataclass
class Media:
    """One uploaded file, recognised and bounded.

    ``rgb`` (images) decodes once on first use; ``frames`` (videos) streams, and a
    short video's frames (under ``HELD_FRAME_BYTES`` in all) are held after the first
    full pass, read-only, so the next reader (the region layer, detection) does not
    decode them again.
    """

    data: bytes
    kind: MediaKind
    format: str
    name: str | None = None
    width: int = 0
    height: int = 0
    duration_s: float | None = None
    frame_rate: float | None = None
    warnings: list[str] = field(default_factory=list)
    #: The size of ``rgb``: large images are hashed at a reduced size (see Limits).
    working_size: tuple[int, int] | None = None
    limits: Limits = field(default_factory=Limits)
    _image: Image.Image | None = None
    _held: list[video_io.Frame] | None = field(default=None, repr=False)

    @cached_property
    def rgb(self) -> np.ndarray:
        """The image as an ``(H, W, 3) uint8`` array, EXIF orientation applied."""
        if self._image is None:
            raise MediaError("not an image", code="wrong_media_kind")
        return np.asarray(self._image)

    def frames(self) -> Iterator[video_io.Frame]:
        """Frames sampled every ``limits.video_seconds_per_hash`` seconds."""
        if self.kind is not MediaKind.VIDEO:
            raise MediaError("not a video", code="wrong_media_kind")
        if self._held is not None:
            return iter(self._held)
        return self._holding(video_io.sample_frames(
            self.data, self.limits, expected_s=self.duration_s, warnings=self.warnings))

    def _holding(self, frames: Iterator[video_io.Frame]) -> Iterator[video_io.Frame]:
        """Pass ``frames`` on, keeping them while they fit; kept only once the pass
        completes (a reader that stops early leaves nothing half-held)."""
        held: list[video_io.Frame] | None = []
        size = 0
        for frame in frames:
            if held is not None:
                size += frame.rgb.nbytes
                if size <= HELD_FRAME_BYTES:
                    frame.rgb.flags.writeable = False  # shared by every later reader
                    held.append(frame)
                else:
                    held = None
            yield frame
        self._held = held


def load_media(data: bytes, *, name: str | None = None, limits: Limits | None = None) -> Media:
    """Recognise and bound ``data``; decode images fully, probe videos.

    Raises :class:`MediaError` with one of the codes ``empty_file``, ``too_large``,
    ``unsupported_format``, ``corrupt_media``, ``truncated_media``, ``too_many_pixels``,
    ``too_long``, ``too_many_frames``.
    """
    limits = limits or Limits()
    if not data:
        raise MediaError("the file is empty", code="empty_file")
    if len(data) > limits.max_bytes:
        raise MediaError(
            f"the file has {len(data)} bytes; the limit is {limits.max_bytes}", code="too_large"
        )
    fmt = sniff(data[:64])
    if fmt is None:
        raise MediaError(
            "not a supported image or video format (recognised by content: JPEG, PNG, GIF, "
            "WebP, BMP, TIFF, AVIF, HEIC, MP4, MOV, WebM, MKV)",
            code="unsupported_format",
        )
    notes: list[str] = []
    claimed = format_from_name(name)
    if claimed is not None and claimed != fmt and {claimed, fmt} != {"mp4", "mov"}:
        notes.append(f"extension_mismatch: named as {claimed}, content is {fmt}")
    media = Media(data=data, kind=kind_of(fmt), format=fmt, name=name, warnings=notes,
                  limits=limits)
    if fmt in IMAGE_FORMATS:
        _decode_image(media, limits)
    else:
        info = video_io.probe(data, limits)
        media.width, media.height = info.width, info.height
        media.duration_s, media.frame_rate = info.duration_s, info.frame_rate
    return media


def _decode_image(media: Media, limits: Limits) -> None:
    if media.format == "heic" and not _heic_available():
        raise MediaError(
            "HEIC needs the optional extra: pip install 'haechi[heic]'", code="unsupported_format"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(media.data), formats=[_PIL_FORMATS[media.format]])
            width, height = img.size
            if width <= 0 or height <= 0:
                raise MediaError("the image has no pixels", code="corrupt_media")
            if width * height > limits.max_image_pixels:
                raise MediaError(
                    f"the image declares {width}x{height} = {width * height} pixels; the limit "
                    f"is {limits.max_image_pixels} (decompression bomb guard)",
                    code="too_many_pixels",
                )
            # is_animated stops at the second frame; n_frames would walk all of them.
            if getattr(img, "is_animated", False):
                media.warnings.append("animated: hashed the first frame")
            img.seek(0)
            working = _working_copy(img, limits.working_short_side)
            upright = ImageOps.exif_transpose(working) or working
            if upright.size != working.size:  # EXIF turned it a quarter: report as shown
                width, height = height, width
            media._image = upright.convert("RGB")
    except MediaError:
        raise
    except OSError as exc:
        text = str(exc)
        if "truncated" in text.lower() or "premature end" in text.lower():
            raise MediaError(f"the image is truncated: {text}", code="truncated_media") from exc
        raise MediaError(f"the image could not be decoded: {text}", code="corrupt_media") from exc
    except (ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise MediaError(
            f"the image could not be decoded: {exc}", code="corrupt_media"
        ) from exc
    media.width, media.height = width, height
    media.working_size = media._image.size


def _working_copy(img: Image.Image, short_side: int) -> Image.Image:
    """Decode at no less than ``short_side`` pixels on the short side.

    PDQ reduces every picture to 64x64, and its cost grows with the pixel count, so a
    12-megapixel photo hashed at full size spends most of its time in the hash. JPEGs are
    decoded straight at a smaller scale (DCT scaling, cheaper than a full decode); other
    formats are decoded, then box-reduced by an integer factor. Measured on generated
    photos, hashes move by about 1 bit on average (at most 6 at 512) of the 31 allowed.
    """
    width, height = img.size
    short = min(width, height)
    if short_side <= 0 or short < 2 * short_side:
        img.load()
        return img
    if img.format == "JPEG":
        scale = short_side / short
        img.draft("RGB", (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
    img.load()
    factor = min(img.size) // short_side
    return img.reduce(factor) if factor >= 2 else img
