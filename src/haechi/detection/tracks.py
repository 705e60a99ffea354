"""Face tracks in video: the same face followed over the sampled frames.

A face-swapped clip is judged per person, not per frame: faces are linked from frame to
frame (box overlap, or a centre that moved less than a face width, and embedding
distance when both faces carry one), and each track's score is the mean of its top half
of frame scores, so one noisy frame neither makes nor clears a track. Each track keeps
the timestamps of the frames its score came from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from haechi.detection.base import Detection, Heatmap, Region
from haechi.detection.faces import SAME_PERSON_DISTANCE

#: Boxes overlapping at least this much (intersection over union) are the same face...
MIN_IOU = 0.2
#: ...or else centres closer than this many face widths (faces move between samples).
MAX_CENTRE_SHIFT = 1.0
#: Face sizes may change by at most this factor from one sampled frame to the next.
MAX_SCALE_CHANGE = 1.8


@dataclass
class FaceSighting:
    timestamp: float
    region: Region
    #: Index of the region in its frame's detection (to find its heat map).
    index: int
    detection: Detection


@dataclass
class Track:
    sightings: list[FaceSighting] = field(default_factory=list)

    @property
    def last(self) -> FaceSighting:
        return self.sightings[-1]

    def deciding(self) -> list[FaceSighting]:
        """The top half of the sightings by score (rounded up): the score's frames."""
        ranked = sorted(self.sightings, key=lambda s: -s.region.score)
        return ranked[: math.ceil(len(ranked) / 2)]

    @property
    def score(self) -> float:
        return float(np.mean([s.region.score for s in self.deciding()]))


def iou(a: Sequence[int], b: Sequence[int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = ix * iy
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / float(area_a + area_b - inter) if inter else 0.0


def affinity(a: Region, b: Region) -> float | None:
    """How well ``b`` continues ``a`` (higher is better), or None if it cannot be the
    same face."""
    wa, wb = a.box[2] - a.box[0] + 1, b.box[2] - b.box[0] + 1
    if max(wa, wb) > MAX_SCALE_CHANGE * min(wa, wb):
        return None
    if (a.embedding is not None and b.embedding is not None
            and float(np.linalg.norm(np.subtract(a.embedding, b.embedding)))
            >= SAME_PERSON_DISTANCE):
        return None
    overlap = iou(a.box, b.box)
    ca = ((a.box[0] + a.box[2]) / 2, (a.box[1] + a.box[3]) / 2)
    cb = ((b.box[0] + b.box[2]) / 2, (b.box[1] + b.box[3]) / 2)
    shift = math.dist(ca, cb) / ((wa + wb) / 2)
    if overlap < MIN_IOU and shift > MAX_CENTRE_SHIFT:
        return None
    return overlap + (1.0 - min(shift, MAX_CENTRE_SHIFT) / MAX_CENTRE_SHIFT)


def link(frames: Sequence[tuple[float, Detection]], label: str = "face") -> list[Track]:
    """Tracks from per-frame detections (in time order): each frame's faces join the
    track whose last face they continue best, greedily, best pair first."""
    tracks: list[Track] = []
    for timestamp, detection in frames:
        sightings = [FaceSighting(timestamp, r, i, detection)
                     for i, r in enumerate(detection.regions) if r.label == label]
        pairs = sorted(((score, t, s) for t, track in enumerate(tracks)
                        for s, sighting in enumerate(sightings)
                        if track.last.timestamp < timestamp
                        and (score := affinity(track.last.region, sighting.region)) is not None),
                       reverse=True)
        used_tracks: set[int] = set()
        used_sightings: set[int] = set()
        for _, t, s in pairs:
            if t in used_tracks or s in used_sightings:
                continue
            tracks[t].sightings.append(sightings[s])
            used_tracks.add(t)
            used_sightings.add(s)
        tracks += [Track([s]) for i, s in enumerate(sightings) if i not in used_sightings]
    return tracks


def track_detection(frames: Sequence[tuple[float, Detection]]) -> Detection:
    """One detection for a whole clip: a region per face track (best frame's box, the
    track's score, ``frames_s`` = the timestamps its score came from), the clip's score
    the highest track's, and each track's heat map from its best frame."""
    first = frames[0][1]
    tracks = sorted(link(frames), key=lambda t: -t.score)
    if not tracks:
        return first.model_copy(update={
            "score": 0.0, "regions": [], "heatmaps": [], "scores": {},
            "reason": f"no face in any of the {len(frames)} sampled frames: not assessed "
                      f"(this score says nothing about whether the video is authentic)"})
    regions: list[Region] = []
    heatmaps: list[Heatmap] = []
    for t, track in enumerate(tracks):
        deciding = track.deciding()
        best = deciding[0]
        regions.append(best.region.model_copy(update={
            "score": round(track.score, 4),
            "frames_s": sorted(s.timestamp for s in deciding),
            "attributes": {**best.region.attributes, "frames": float(len(track.sightings)),
                           "track_score": round(track.score, 4),
                           "peak_score": round(best.region.score, 4),
                           "peak_s": best.timestamp,
                           "first_s": track.sightings[0].timestamp,
                           "last_s": track.last.timestamp}}))
        heatmaps += [h.model_copy(update={"region": t}) for h in best.detection.heatmaps
                     if h.region == best.index]
    top = tracks[0]
    times = ", ".join(f"{ts:.1f}s" for ts in regions[0].frames_s)
    reason = (f"{len(tracks)} face track(s) over {len(frames)} sampled frames; highest track "
              f"score {top.score:.2f} (mean of its top {len(top.deciding())} of "
              f"{len(top.sightings)} frames, at {times})")
    return first.model_copy(update={"score": round(top.score, 4), "regions": regions,
                                    "heatmaps": heatmaps, "scores": {}, "reason": reason,
                                    "findings": []})
