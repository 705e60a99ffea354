"""Videos re-encoded with bars, or cropped.

Bars (letterbox, pillarbox) are the same in every frame of a re-encode, so the box is
the per-coordinate median of the frames' content boxes (a dark scene that looks like one
big bar is outvoted). Frames are then hashed over that box only and matched as vPDQ
frames are (``trimmed_frames``).

A crop moves every frame's picture, so no frame hash survives it. When a video is banked
from its file, the keypoints of ``KEYPOINT_FRAMES`` frames spread over it are kept
(``bank_frame_keypoints``); a scan looks up as many frames of the upload
(``upload_frame_keypoints``) and each must land on one of the entry's frames under one
movement of the picture, as an image's keypoints must (``regions/match.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from haechi.media.video import Frame
from haechi.regions.content import Box, content_box
from haechi.regions.keypoints import (
    WORK_SIDE,
    FrameKeypoints,
    Keypoints,
    frame_keypoints,
    image_keypoints,
)
from haechi.signals.pdq import pdq_of_rgb
from haechi.signals.vpdq import VpdqFeature

#: Frames of a video whose keypoints the bank keeps, and that a scan looks up.
KEYPOINT_FRAMES = 6


def common_box(frames: Sequence[Frame]) -> Box:
    """The frames' common content box (the whole frame when nothing is trimmed)."""
    boxes = np.array([content_box(f.rgb) for f in frames])
    x0, y0, x1, y1 = (int(v) for v in np.median(boxes, axis=0))
    h, w = frames[0].rgb.shape[:2]
    if x1 - x0 < w * 0.2 or y1 - y0 < h * 0.2:
        return 0, 0, w, h
    return x0, y0, x1, y1


def trimmed_frames(frames: Sequence[Frame]) -> tuple[Box, list[VpdqFeature]] | None:
    """The frames' common content box and their hashes over it; None without bars."""
    if not frames:
        return None
    x0, y0, x1, y1 = common_box(frames)
    h, w = frames[0].rgb.shape[:2]
    if (x0, y0, x1, y1) == (0, 0, w, h):
        return None
    features = []
    for f in frames:
        value, quality = pdq_of_rgb(f.rgb[y0:y1, x0:x1])
        features.append(VpdqFeature(value, quality, round(f.timestamp, 3), f.number))
    return (x0, y0, x1, y1), features


def spread(frames: Sequence[Frame], count: int = KEYPOINT_FRAMES) -> list[Frame]:
    """At most ``count`` frames evenly spread from the first to the last."""
    if len(frames) <= count:
        return list(frames)
    picks = np.unique(np.round(np.linspace(0, len(frames) - 1, count)).astype(int))
    return [frames[i] for i in picks]


def bank_frame_keypoints(frames: Sequence[Frame]) -> FrameKeypoints | None:
    """What the bank keeps of a video for crops: keypoints of a few frames' content."""
    chosen = spread(frames)
    if not chosen:
        return None
    box = common_box(chosen)
    return FrameKeypoints(tuple(frame_keypoints(f.rgb, box) for f in chosen),
                          tuple(round(f.timestamp, 3) for f in chosen))


def upload_frame_keypoints(frames: Sequence[Frame], box: Box | None) -> list[Keypoints]:
    """An upload's keypoints of a few frames, inside ``box`` (bars trimmed) if given."""
    out = []
    for f in spread(frames):
        h, w = f.rgb.shape[:2]
        out.append(image_keypoints(f.rgb, box or (0, 0, w, h), min_side=WORK_SIDE))
    return out
