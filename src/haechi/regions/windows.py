"""Region windows: fixed parts of the content box, hashed with PDQ.

Slots 0-5 are parts of the content box (the whole box, its centre and its four
quarters): once borders, captions and interface chrome are trimmed away they cover the
same pixels in the bank's image and in an upload, and a sticker leaves the quarters it
does not touch intact. Crops and rotations move every fixed window; keypoints
(``regions/keypoints.py``) catch those.

Every window is resampled to 64 x 64 before hashing, so a hash depends on the window's
content, not on the image's size. Measured on portraits: a window that is off by 1.5 %
of its size already moves PDQ by ~40 bits, which is why windows are anchored to the
trimmed content box rather than searched over a grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

from haechi.regions.content import Box
from haechi.signals.pdq import bits_to_hex

#: Slot number -> (name, window in content-box fractions x0, y0, x1, y1).
BOX_SLOTS: dict[int, tuple[str, tuple[float, float, float, float]]] = {
    0: ("content", (0.0, 0.0, 1.0, 1.0)),
    1: ("centre", (0.25, 0.25, 0.75, 0.75)),
    2: ("top-left", (0.0, 0.0, 0.5, 0.5)),
    3: ("top-right", (0.5, 0.0, 1.0, 0.5)),
    4: ("bottom-left", (0.0, 0.5, 0.5, 1.0)),
    5: ("bottom-right", (0.5, 0.5, 1.0, 1.0)),
}
SLOT_NAMES = {k: v[0] for k, v in BOX_SLOTS.items()}
#: What a slot becomes when the picture is mirrored left to right.
MIRRORED_SLOT = {0: 0, 1: 1, 2: 3, 3: 2, 4: 5, 5: 4}
#: Index keys are ``entry_id * SLOTS_PER_ENTRY + slot`` (8: slots 6 and 7 once held
#: faces, and saved keys keep their meaning).
SLOTS_PER_ENTRY = 8

SIDE = 64
#: Images are reduced to this longer side once; windows are cut from the reduced copy.
WORK_SIDE = 256


@dataclass(frozen=True)
class Window:
    """One hashed window: its slot, where it is (image pixels), its hash and quality."""

    slot: int
    box: tuple[int, int, int, int]
    hash: str
    quality: int
    #: The hash of the window mirrored left to right (queries only).
    mirror_hash: str | None = None

    @property
    def name(self) -> str:
        return SLOT_NAMES[self.slot]


def hash_patch(patch: np.ndarray, *, mirror: bool = False) -> tuple[str, int, str | None]:
    """PDQ of a 64 x 64 patch; with ``mirror`` also the hash of its mirror image."""
    data = np.ascontiguousarray(patch, dtype=np.uint8)
    bits, quality = pdqhash.compute(data)
    mirrored = None
    if mirror:
        # Two plain hashes cost half of compute_dihedral's eight on a 64 x 64 patch.
        mirrored = bits_to_hex(pdqhash.compute(np.ascontiguousarray(data[:, ::-1]))[0])
    return bits_to_hex(bits), int(quality), mirrored


def work_copy(rgb: np.ndarray) -> tuple[Image.Image, float]:
    """The image reduced to the work size (longer side 256), and the scale used."""
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    if scale < 1.0:
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                             Image.Resampling.BOX)
    return image, scale


def box_windows(image: Image.Image, scale: float, content: Box, *,
                mirror: bool = False) -> list[Window]:
    """The content-box slots, cut from the work copy ``image`` (``content`` and the
    windows' boxes are in the original image's pixels)."""
    cx0, cy0, cx1, cy1 = content
    # The reduced copy's size is rounded: keep boxes inside it.
    cw, ch = cx1 - cx0, cy1 - cy0
    out = []
    for slot, (_name, (fx0, fy0, fx1, fy1)) in BOX_SLOTS.items():
        box = (cx0 + fx0 * cw, cy0 + fy0 * ch, cx0 + fx1 * cw, cy0 + fy1 * ch)
        sw, sh = image.size
        scaled = (max(0.0, box[0] * scale), max(0.0, box[1] * scale),
                  min(float(sw), box[2] * scale), min(float(sh), box[3] * scale))
        patch = np.asarray(image.resize((SIDE, SIDE), Image.Resampling.BILINEAR, box=scaled))
        value, quality, mirrored = hash_patch(patch, mirror=mirror)
        out.append(Window(slot, (round(box[0]), round(box[1]), round(box[2]), round(box[3])),
                          value, quality, mirrored))
    return out
