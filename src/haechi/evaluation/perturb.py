"""The re-encodings an image meets on its way round the internet, applied to file bytes.

Each perturbation takes the uploaded file's bytes and returns new bytes, so detectors
that read metadata (provenance) lose it exactly as they would in the wild: a JPEG
re-encode or a screenshot keeps the pixels roughly and drops the rest.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageOps

#: A common phone screen width in pixels, and the heights of the bars a screenshot shows.
PHONE_WIDTH = 1080
STATUS_BAR = 96
NAV_BAR = 144

Perturbation = Callable[[bytes], bytes]


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return (ImageOps.exif_transpose(img) or img).convert("RGB")


def _save(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def jpeg(quality: int) -> Perturbation:
    def apply(data: bytes) -> bytes:
        return _save(_open(data), "JPEG", quality=quality)
    return apply


def resize(factor: float) -> Perturbation:
    """Scale both sides by ``factor`` (Lanczos) and save losslessly: only the resize."""
    def apply(data: bytes) -> bytes:
        img = _open(data)
        size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
        return _save(img.resize(size, Image.Resampling.LANCZOS), "PNG")
    return apply


def screenshot(data: bytes) -> bytes:
    """As if shown full-width on a phone and screenshotted, then shared: scaled to the
    phone's width, framed by a status bar and a navigation bar, saved as PNG, then
    re-encoded as JPEG 85 by the messenger."""
    img = _open(data)
    height = max(1, round(img.height * PHONE_WIDTH / img.width))
    shown = img.resize((PHONE_WIDTH, height), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (PHONE_WIDTH, height + STATUS_BAR + NAV_BAR), (18, 18, 18))
    canvas.paste(shown, (0, STATUS_BAR))
    draw = ImageDraw.Draw(canvas)
    draw.text((36, STATUS_BAR // 3), "9:41", fill=(235, 235, 235))
    draw.rectangle((PHONE_WIDTH - 140, 30, PHONE_WIDTH - 60, 62), outline=(235, 235, 235))
    bar_top = STATUS_BAR + height
    for i, x in enumerate((PHONE_WIDTH // 4, PHONE_WIDTH // 2, 3 * PHONE_WIDTH // 4)):
        r = 22 + 4 * i
        draw.ellipse((x - r, bar_top + 50, x + r, bar_top + 50 + 2 * r), outline=(200, 200, 200))
    png = _save(canvas, "PNG")
    return _save(_open(png), "JPEG", quality=85)


#: Name -> perturbation, in the order reports list them. ``None`` is the file as it is.
PERTURBATIONS: dict[str, Perturbation | None] = {
    "original": None,
    "jpeg95": jpeg(95),
    "jpeg75": jpeg(75),
    "jpeg50": jpeg(50),
    "resize0.5": resize(0.5),
    "screenshot": screenshot,
}
