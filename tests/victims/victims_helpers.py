"""Helpers shared by the victims tests (a module name unique in the suite)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image

from haechi.samples import encode


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def recompressed(data: bytes, quality: int = 40) -> bytes:
    """The re-upload a platform sees: decoded and saved again as a smaller JPEG."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    return encode(img.resize((img.width * 3 // 4, img.height * 3 // 4)), "JPEG",
                  quality=quality)
