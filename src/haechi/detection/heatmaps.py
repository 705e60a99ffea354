"""Heat maps for reviewers: a model's per-position evidence drawn over its input crop.

Small on purpose (a 96 px palette PNG, a few KB), so they travel inside every detection
and the review page shows them inline without another request.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

#: Side of the rendered heat map in pixels.
HEATMAP_SIDE = 96
_COLOURS = 64


def upsample(grid: np.ndarray, side: int) -> np.ndarray:
    """A coarse ``(h, w)`` grid of values in 0..1 as a smooth ``(side, side)`` array."""
    image = Image.fromarray(np.asarray(grid, dtype=np.float32), mode="F")
    return np.asarray(np.clip(np.asarray(image.resize((side, side), Image.Resampling.BICUBIC)),
                              0.0, 1.0), dtype=np.float32)


def render(crop: np.ndarray, heat: np.ndarray, side: int = HEATMAP_SIDE) -> bytes:
    """PNG bytes: the crop in grey under a black-red-yellow ramp whose opacity and
    brightness grow with ``heat`` (a grid of values in 0..1, not rescaled: a face the
    model finds clean stays dark). The face stays visible under the hottest parts."""
    h = upsample(heat, side)[..., None]
    grey = np.asarray(Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8)).convert("L")
                      .resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)
    base = (grey[..., None] * 0.7).repeat(3, axis=2)
    ramp = np.concatenate([np.clip(2 * h, 0, 1), np.clip(2 * h - 1, 0, 1),
                           np.zeros_like(h)], axis=2) * 255.0
    alpha = 0.1 + 0.5 * h
    out = np.clip(base * (1 - alpha) + ramp * alpha, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(out).quantize(_COLOURS).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def render_base64(crop: np.ndarray, heat: np.ndarray) -> str:
    return base64.b64encode(render(crop, heat)).decode("ascii")
