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

Frames are streamed: a long video leaves only its boxes and a dozen reduced frames in
memory here (``Media`` holds a short video's frames for the next reader).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import cv2
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
#: Frames kept for keypoints are reduced to this longer side (twice the work size: a
#: content box inside bars still has the work size's pixels).
_KEPT_SIDE = 2 * WORK_SIDE


@dataclass(frozen=True)
class _Kept:
    rgb: np.ndarray
    timestamp: float
    #: Reduced pixels per frame pixel.
    scale: float


@dataclass(frozen=True)
class Sampled:
    """What one pass over a video's sampled frames keeps."""

    size: tuple[int, int]
    #: Each frame's content box (empty unless asked for).
    boxes: list[Box]
    #: Reduced frames evenly spread over the video (within a factor of two).
    kept: list[_Kept]

    def common_box(self) -> Box:
        """The frames' common content box (the whole frame when nothing is trimmed)."""
        w, h = self.size
        if not self.boxes:
            return 0, 0, w, h
        x0, y0, x1, y1 = (int(v) for v in np.median(np.array(self.boxes), axis=0))
        if x1 - x0 < w * 0.2 or y1 - y0 < h * 0.2:
            return 0, 0, w, h
        return x0, y0, x1, y1

    def spread(self, count: int = KEYPOINT_FRAMES) -> list[_Kept]:
        if len(self.kept) <= count:
            return list(self.kept)
        picks = np.unique(np.round(np.linspace(0, len(self.kept) - 1, count)).astype(int))
        return [self.kept[i] for i in picks]


def sample(frames: Iterable[Frame], *, boxes: bool) -> Sampled | None:
    """Stream ``frames`` once: their content boxes (if ``boxes``) and a few reduced
    frames, halved in number (every other one dropped) whenever they grow past twice
    ``KEYPOINT_FRAMES``. None for a video without frames."""
    found: list[Box] = []
    kept: list[_Kept] = []
    stride = 1
    size: tuple[int, int] | None = None
    for i, frame in enumerate(frames):
        h, w = frame.rgb.shape[:2]
        size = size or (w, h)
        if boxes:
            found.append(content_box(frame.rgb))
        if i % stride == 0:
            scale = min(1.0, _KEPT_SIDE / max(h, w, 1))
            small = frame.rgb if scale == 1.0 else cv2.resize(
                np.ascontiguousarray(frame.rgb), (max(1, round(w * scale)),
                                                  max(1, round(h * scale))),
                interpolation=cv2.INTER_AREA)
            kept.append(_Kept(small, frame.timestamp, scale))
            if len(kept) > 2 * KEYPOINT_FRAMES:
                kept, stride = kept[::2], stride * 2
    if size is None:
        return None
    return Sampled(size, found, kept)


def trimmed_frames(sampled: Sampled,
                   frames: Callable[[], Iterable[Frame]]) -> tuple[Box, list[VpdqFeature]] | None:
    """The frames' common content box and their hashes over it (``frames`` gives them
    again: a short video's are held by its ``Media``); None without bars."""
    x0, y0, x1, y1 = box = sampled.common_box()
    if box == (0, 0, *sampled.size):
        return None
    features = []
    for f in frames():
        value, quality = pdq_of_rgb(f.rgb[y0:y1, x0:x1])
        features.append(VpdqFeature(value, quality, round(f.timestamp, 3), f.number))
    return box, features


def _in_kept(box: Box, kept: _Kept) -> Box:
    h, w = kept.rgb.shape[:2]
    x0, y0, x1, y1 = (round(v * kept.scale) for v in box)
    return min(x0, w - 1), min(y0, h - 1), max(min(x1, w), 1), max(min(y1, h), 1)


def bank_frame_keypoints(sampled: Sampled) -> FrameKeypoints:
    """What the bank keeps of a video for crops: keypoints of a few frames' content.
    Boxes are given back in the video's own pixels."""
    chosen = sampled.spread()
    if not sampled.boxes:  # boxes of the chosen frames only, in the video's pixels
        found = [tuple(round(v / k.scale) for v in content_box(k.rgb)) for k in chosen]
        sampled = replace(sampled, boxes=found)  # type: ignore[arg-type]
    box = sampled.common_box()
    return FrameKeypoints(
        tuple(replace(frame_keypoints(k.rgb, _in_kept(box, k)), content=box) for k in chosen),
        tuple(round(k.timestamp, 3) for k in chosen))


def upload_frame_keypoints(sampled: Sampled, box: Box | None) -> list[Keypoints]:
    """An upload's keypoints of a few frames, inside ``box`` (bars trimmed) if given, at
    the full work size."""
    inside = box or (0, 0, *sampled.size)
    return [replace(image_keypoints(k.rgb, _in_kept(inside, k), min_side=WORK_SIDE),
                    content=inside) for k in sampled.spread()]
