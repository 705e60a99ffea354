"""All region windows of one image, as the bank stores them and as a scan queries them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from haechi.regions.content import Box, content_box_small, refine
from haechi.regions.keypoints import WORK_SIDE, Keypoints, image_keypoints
from haechi.regions.windows import Window, box_windows, work_copy

#: Windows flatter than this (PDQ quality) say too little to match on.
MIN_QUALITY = 50


@dataclass(frozen=True)
class Regions:
    """An image's content box, its hashed windows and its keypoints."""

    width: int
    height: int
    content: Box
    #: Every window, flat ones included (the bank keeps the content box's place).
    windows: list[Window] = field(default_factory=list)
    keypoints: Keypoints | None = None

    @property
    def usable(self) -> list[Window]:
        return [w for w in self.windows if w.quality >= MIN_QUALITY]


@dataclass(frozen=True)
class Located:
    """Where the picture is in an image: its reduced work copy and the content box."""

    image: Image.Image
    scale: float
    content: Box
    width: int
    height: int


def locate(rgb: np.ndarray) -> Located:
    """Trim borders, bars and interface chrome: the content box of ``rgb``."""
    h, w = rgb.shape[:2]
    image, scale = work_copy(rgb)
    small = np.asarray(image)
    content = refine(rgb, content_box_small(small), small.shape[1], small.shape[0])
    return Located(image, scale, content, w, h)


def window_regions(located: Located, *, mirror: bool = True) -> Regions:
    """The content-box windows of a located upload (with their mirror hashes, to catch
    a mirrored copy), without keypoints."""
    windows = box_windows(located.image, located.scale, located.content, mirror=mirror)
    return Regions(located.width, located.height, located.content, windows)


def compute_regions(rgb: np.ndarray, *, bank: bool = False) -> Regions:
    """Hash the content-box windows of ``rgb``; for the bank, also its keypoints.

    A scan (the default) hashes each window's mirror image too, to catch a mirrored
    copy, and finds keypoints with ``query_keypoints``; the bank (``bank=True``) keeps
    keypoints, with its mirror image's strongest descriptors for the word index, and
    never needs mirrored window hashes.
    """
    located = locate(rgb)
    regions = window_regions(located, mirror=not bank)
    if not bank:
        return regions
    return replace(regions, keypoints=image_keypoints(rgb, located.content, bank=True))


def query_keypoints(rgb: np.ndarray, regions: Regions | Located) -> Keypoints:
    """An upload's keypoints, in its content box at the full work size (the bank's): a
    picture inside a wide frame gets back the points the frame took."""
    return image_keypoints(rgb, regions.content, min_side=WORK_SIDE)
