"""Videos re-encoded with letterbox or pillarbox bars: hash the frames' content box.

The bars of a re-encode are the same in every frame, so the box is the per-coordinate
median of the frames' content boxes (a dark scene that looks like one big bar is
outvoted). Frames are then hashed over that box only and matched as vPDQ frames are.
"""

from __future__ import annotations

import numpy as np

from haechi.media import Media
from haechi.regions.content import Box, content_box
from haechi.signals.pdq import pdq_of_rgb
from haechi.signals.vpdq import VpdqFeature


def trimmed_frames(media: Media) -> tuple[Box, list[VpdqFeature]] | None:
    """The frames' common content box and their hashes over it; None without bars."""
    frames = list(media.frames())
    if not frames:
        return None
    boxes = np.array([content_box(f.rgb) for f in frames])
    x0, y0, x1, y1 = (int(v) for v in np.median(boxes, axis=0))
    h, w = frames[0].rgb.shape[:2]
    if (x0, y0, x1, y1) == (0, 0, w, h) or x1 - x0 < w * 0.2 or y1 - y0 < h * 0.2:
        return None
    features = []
    for f in frames:
        value, quality = pdq_of_rgb(f.rgb[y0:y1, x0:x1])
        features.append(VpdqFeature(value, quality, round(f.timestamp, 3), f.number))
    return (x0, y0, x1, y1), features
