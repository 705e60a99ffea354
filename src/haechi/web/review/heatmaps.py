"""Face-swap evidence on the item page: each face's score without pixels, and the heat
maps as one PNG strip that is sent only on a (logged) reveal, like the original."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image

from haechi.detection import get_detector
from haechi.detection.base import Detection
from haechi.errors import HaechiError
from haechi.media import Limits, load_media


@dataclass(frozen=True)
class FaceSwapView:
    detection: Detection | None
    #: Why there is no detection (the model is missing, the media unreadable).
    problem: str | None = None


def face_swap(data: bytes, limits: Limits) -> FaceSwapView:
    try:
        return FaceSwapView(get_detector("face-swap").detect(load_media(data, limits=limits)))
    except HaechiError as exc:
        return FaceSwapView(None, f"face-swap not assessed: [{exc.code}] {exc.message}")


def heatmap_strip(detection: Detection) -> bytes:
    """The detection's heat maps side by side, in region order, as one PNG."""
    tiles = [Image.open(io.BytesIO(base64.b64decode(h.png_base64))).convert("RGB")
             for h in sorted(detection.heatmaps, key=lambda h: h.region)]
    if not tiles:
        raise ValueError("no heat maps to draw")
    strip = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)))
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, 0))
        x += tile.width
    out = io.BytesIO()
    strip.save(out, "PNG", optimize=True)
    return out.getvalue()
