"""All region windows of one image, as the bank stores them and as a scan queries them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from haechi.regions.content import Box, content_box_small, refine
from haechi.regions.faces import face_windows
from haechi.regions.windows import Window, box_windows, work_copy

#: Windows flatter than this (PDQ quality) say too little to match on.
MIN_QUALITY = 50


@dataclass(frozen=True)
class Regions:
    """An image's content box and its hashed windows (the usable ones)."""

    width: int
    height: int
    content: Box
    #: Every window, flat ones included (the bank keeps the content box's place).
    windows: list[Window] = field(default_factory=list)

    @property
    def usable(self) -> list[Window]:
        return [w for w in self.windows if w.quality >= MIN_QUALITY]


def compute_regions(rgb: np.ndarray, *, faces: bool = True, mirror: bool = False) -> Regions:
    """Hash the content-box slots and the faces of ``rgb``.

    ``mirror`` also hashes each window's mirror image, which a scan needs to catch a
    mirrored copy; the bank side never needs it.
    """
    h, w = rgb.shape[:2]
    image, scale = work_copy(rgb)
    small = np.asarray(image)
    content = refine(rgb, content_box_small(small), small.shape[1], small.shape[0])
    windows = box_windows(image, scale, content, mirror=mirror)
    if faces:
        windows += face_windows(rgb, content, mirror=mirror)
    return Regions(w, h, content, windows)
