"""Face windows: dlib's frontal face detector and 5-point landmarks, tight crops.

The crop is the least-squares similarity that puts the 5 landmarks (eye corners and
nose) on a mirror-symmetric template, so the crop of a mirrored face is the mirror of
the original crop and a mirrored upload matches through the crop's mirror hash. dlib's
own chip template is not symmetric (measured: 28-40 bits between a face's chip and the
mirror of its mirror image's chip). The template is dlib's 5-point mean face made
symmetric, measured on aligned portraits; the crop is tight (eyebrows to chin), since
padding pulls in the image's edges and whatever was added there. The 68-point model
(non-commercial) is never loaded.
"""

from __future__ import annotations

from functools import cache
from threading import Lock
from typing import Any

import dlib  # type: ignore[import-untyped,import-not-found,unused-ignore]
import numpy as np
from PIL import Image

from haechi.detection.weights import model_file
from haechi.regions.content import Box
from haechi.regions.windows import FACE_SLOTS, SIDE, Window, hash_patch

#: Faces are looked for on a copy whose longer side is at most this.
_DETECT_SIDE = 360
#: Faces smaller than this (pixels, in the detection copy) carry too little to hash.
_MIN_FACE = 40
#: Where the 5 landmarks go in the crop (fractions of its side): outer and inner corner
#: of one eye, of the other, and the nose; symmetric about the vertical centre line.
_TEMPLATE = np.array([(0.869, 0.2104), (0.6589, 0.228), (0.131, 0.2104), (0.3411, 0.228),
                      (0.5, 0.6143)]) * SIDE


#: Detection-box scales whose landmark estimates are averaged.
_BOX_SCALES = (0.85, 0.95, 1.05, 1.15)


@cache
def _models() -> tuple[Any, Any, Lock]:
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(model_file(
        "face_recognition_models", "models/shape_predictor_5_face_landmarks.dat")))
    # dlib objects are not safe to share between threads at once.
    return detector, landmarks, Lock()


def _crop(image: Image.Image, points: np.ndarray) -> np.ndarray:
    """The 64 x 64 crop that best puts ``points`` (5 x 2, image pixels) on the template."""
    # Similarity z = a * w + b in complex numbers, from crop (w) to image (z) points.
    w = _TEMPLATE[:, 0] + 1j * _TEMPLATE[:, 1]
    z = points[:, 0] + 1j * points[:, 1]
    wc, zc = w - w.mean(), z - z.mean()
    a = complex(np.sum(np.conj(wc) * zc) / np.sum(np.abs(wc) ** 2))
    b = complex(z.mean() - a * w.mean())
    coeffs = [a.real, -a.imag, b.real, a.imag, a.real, b.imag]
    scale = abs(a)  # image pixels per crop pixel
    small = image
    if scale > 1.5:
        # Reduce first so that the bilinear sampling does not alias.
        small = image.reduce(max(1, int(scale / 1.2)))
        shrink = image.width / small.width
        coeffs = [c / shrink for c in coeffs]
    crop = small.transform((SIDE, SIDE), Image.Transform.AFFINE, tuple(coeffs),
                           resample=Image.Resampling.BILINEAR)
    return np.asarray(crop)


def _landmarks(predictor: Any, pixels: np.ndarray, rect: Any) -> np.ndarray:
    """The 5 landmarks, averaged over the detection box at a few scales.

    The predictor's points move with the box it is given; averaging over boxes 0.85-1.15
    times the detector's steadies them (measured on portraits: the crop's hash stays
    within 28 bits after recompression in 95 % of cases instead of 84 %).
    """
    centre = rect.center()
    points = []
    for factor in _BOX_SCALES:
        half_w, half_h = rect.width() * factor / 2, rect.height() * factor / 2
        box = dlib.rectangle(round(centre.x - half_w), round(centre.y - half_h),
                             round(centre.x + half_w), round(centre.y + half_h))
        points.append([(p.x, p.y) for p in predictor(pixels, box).parts()])
    mean: np.ndarray = np.asarray(points, dtype=np.float64).mean(axis=0)
    return mean


def face_windows(rgb: np.ndarray, content: Box | None = None, *,
                 mirror: bool = False) -> list[Window]:
    """Up to two faces (surest first), each a tight 64 x 64 crop, hashed.

    Faces are looked for inside ``content`` (the trimmed picture): in a screenshot or a
    letterboxed copy the face is then as large, relative to what is searched, as in the
    original, and HOG finds faces down to ~80 px of the reduced copy.
    """
    detector, landmarks, lock = _models()
    h, w = rgb.shape[:2]
    ox, oy, ox1, oy1 = content or (0, 0, w, h)
    cw, ch = ox1 - ox, oy1 - oy
    scale = min(1.0, _DETECT_SIDE / max(ch, cw))
    full = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    inner = full.crop((ox, oy, ox1, oy1))
    img = inner if scale == 1.0 else inner.resize(
        (max(1, round(cw * scale)), max(1, round(ch * scale))), Image.Resampling.BOX)
    pixels = np.ascontiguousarray(np.asarray(img))
    found = []
    with lock:
        rects, scores, _ = detector.run(pixels, 0, 0.0)
        ranked = sorted(zip(rects, scores, strict=True), key=lambda rs: -rs[1])
        for rect, _score in ranked[:len(FACE_SLOTS)]:
            if min(rect.width(), rect.height()) < _MIN_FACE:
                continue
            pts = _landmarks(landmarks, pixels, rect) / scale + (ox, oy)
            found.append((rect, pts))
    out: list[Window] = []
    for slot, (rect, pts) in zip(FACE_SLOTS, found, strict=False):
        value, quality, mirrored = hash_patch(_crop(full, pts), mirror=mirror)
        box = (max(0, ox + round(rect.left() / scale)), max(0, oy + round(rect.top() / scale)),
               min(w, ox + round(rect.right() / scale)), min(h, oy + round(rect.bottom() / scale)))
        out.append(Window(slot, box, value, quality, mirrored))
    return out
