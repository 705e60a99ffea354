"""Geometric verification: do enough keypoints of the upload land on the banked image's
keypoints under one movement of the picture (shift, scale, rotation)?

Descriptor matches alone are weak evidence: two portraits share plenty of similar
corners (eyes, hair, collars). A copy of the same picture is different in kind: its
matches agree on a single similarity transform, so RANSAC finds a large consensus set.
Measured on 10,000 UTKFace portraits, different photographs never reach ``MIN_INLIERS``
(benchmarks/bench_evasion.py lists the figures), while edited copies keep dozens to
hundreds of inliers.

Aligned portraits are the hard case: eyes, nose and mouth sit at the same places in
every one of them, so a few dozen chance matches can agree on the identity transform.
Over all pairs of the 10,000 portraits, two different people reached 33 inliers, and
two different photographs of one person 35 and 48, but with only 61-70 % of the
ratio-test matches agreeing; edited copies of one picture keep 80-97 %. So between
``MIN_INLIERS`` and ``MIN_INLIERS + SURE_MARGIN`` inliers, at least ``MIN_SHARE`` of the
matches must agree.

Two more checks keep a shared overlay (a logo, a watermark, the same caption text) from
counting as the same picture: the inliers must cover a real part of the banked image
(``MIN_SPREAD`` of its width and of its height), and the scale must be plausible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from haechi.regions.keypoints import Keypoints

#: Inliers needed to call two images the same picture.
MIN_INLIERS = 30
#: Below ``min_inliers + SURE_MARGIN`` inliers, this share of the matches must agree.
MIN_SHARE = 0.7
SURE_MARGIN = 20
#: Lowe's ratio test and an absolute ceiling on descriptor distance (of 256 bits).
_RATIO = 0.8
_MAX_DISTANCE = 64
#: RANSAC's reprojection error allowed, in work pixels (longer side 320).
_REPROJECTION = 4.0
_ITERATIONS = 1000
#: The inliers span at least this share of the banked image's width and height.
MIN_SPREAD = 0.3
#: Copies are scaled by at most this factor either way (against the work copies, which
#: already have the same longer side).
_MAX_SCALE = 4.0

_matcher = cv2.BFMatcher(cv2.NORM_HAMMING)


@dataclass(frozen=True)
class Verified:
    """A confirmed copy: how many points agree, and how the picture moved.

    ``scale`` is how much larger the picture appears in the upload than in the banked
    image (both content boxes at the work size: a 20 % crop shows it about 1.25 times
    larger), ``rotation_degrees`` how far it was turned counter-clockwise.
    """

    inliers: int
    #: Of the query's points that found a descriptor match, the share that agreed.
    inlier_share: float
    scale: float
    rotation_degrees: float
    #: Median descriptor distance (bits of 256) of the agreeing points.
    distance: int
    query_box: tuple[int, int, int, int]
    entry_box: tuple[int, int, int, int]


def verify(query: Keypoints, entry: Keypoints, *, min_inliers: int = MIN_INLIERS,
           min_share: float = MIN_SHARE) -> Verified | None:
    """``Verified`` when ``query`` shows the picture ``entry`` was computed from."""
    if len(query) < min_inliers or len(entry) < min_inliers:
        return None
    pairs = _matcher.knnMatch(query.descriptors, entry.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance <= _MAX_DISTANCE
            and p[0].distance < _RATIO * p[1].distance]
    if len(good) < min_inliers:
        return None
    src = query.points[[m.queryIdx for m in good]]
    dst = entry.points[[m.trainIdx for m in good]]
    # A fixed seed: the same upload gets the same answer every time.
    cv2.setRNGSeed(0)
    model, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=_REPROJECTION,
        maxIters=_ITERATIONS, confidence=0.995)
    if model is None or mask is None:
        return None
    keep = mask.ravel().astype(bool)
    inliers = int(keep.sum())
    if inliers < min_inliers:
        return None
    if inliers < min_inliers + SURE_MARGIN and inliers < min_share * len(good):
        return None
    # As if both work copies had the same longer side (a small upload's may be smaller).
    scale = math.hypot(float(model[0, 0]), float(model[1, 0])) * (
        max(query.work_size) / max(1, max(entry.work_size)))
    if not 1 / _MAX_SCALE <= scale <= _MAX_SCALE:
        return None
    ew, eh = entry.work_size
    spread = dst[keep].max(axis=0) - dst[keep].min(axis=0)
    if spread[0] < MIN_SPREAD * ew or spread[1] < MIN_SPREAD * eh:
        return None
    distances = [m.distance for m, k in zip(good, keep, strict=True) if k]
    # The model maps the upload onto the banked image; report the other way round: how
    # the banked picture was enlarged and turned (counter-clockwise) to give the upload.
    rotation = math.degrees(math.atan2(float(model[1, 0]), float(model[0, 0])))
    return Verified(
        inliers=inliers, inlier_share=round(inliers / len(good), 3),
        scale=round(1 / scale, 3), rotation_degrees=round(rotation, 1) + 0.0,
        distance=int(np.median(distances)),
        query_box=query.to_image_box(src[keep]), entry_box=entry.to_image_box(dst[keep]))
