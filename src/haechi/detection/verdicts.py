"""The combined verdict every scan can carry: sexual, real_person_face, synthetic,
possible_minor; each with its score, threshold, whether it fired, and why.

A verdict whose detectors could not run has no score (``None``), never 0: the
moderation policy treats a missing score as "not shown", and a reviewer sees why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from haechi.detection import get_detector
from haechi.detection.base import Detection
from haechi.detection.settings import DetectionSettings
from haechi.detection.tracks import track_detection
from haechi.errors import HaechiError
from haechi.media import Media, MediaKind

VERDICT_NAMES = ("sexual", "real_person_face", "synthetic", "possible_minor")
#: The names :mod:`haechi.moderation`'s policy reads (``default_policy.yaml``).
POLICY_NAMES = {"sexual": "sexual", "real_person_face": "real_face",
                "synthetic": "synthetic", "possible_minor": "minor"}


class Verdict(BaseModel):
    score: float | None = None
    threshold: float
    flagged: bool = False
    reasons: list[str] = Field(default_factory=list)
    #: ``name@version`` of each detector that contributed.
    detectors: list[str] = Field(default_factory=list)


class DetectorError(BaseModel):
    detector: str
    code: str
    message: str


class Verdicts(BaseModel):
    sexual: Verdict
    real_person_face: Verdict
    synthetic: Verdict
    possible_minor: Verdict
    #: Every detector's own result (for video: the frame that scored highest, or, for
    #: face detectors that track (face-swap), one region per face track).
    detections: list[Detection] = Field(default_factory=list)
    errors: list[DetectorError] = Field(default_factory=list)
    #: Video: frames (by timestamp, seconds) that went through the detectors.
    frames_s: list[float] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def policy_scores(self) -> dict[str, float]:
        """Scores under the moderation policy's names, leaving out those not measured."""
        return {POLICY_NAMES[name]: v.score for name in VERDICT_NAMES
                if (v := getattr(self, name)).score is not None}


def resolve_settings(source: object) -> DetectionSettings:
    """Settings from ``DetectionSettings``, a :class:`DetectionService`, an engine that
    holds one (``engine.detection``) or carries them (``engine.settings.detection``), or
    else the environment (``HAECHI_DETECTION_*``)."""
    settings = getattr(source, "settings", None)
    for found in (source, settings, getattr(getattr(source, "detection", None), "settings", None),
                  getattr(settings, "detection", None)):
        if isinstance(found, DetectionSettings):
            return found
    return DetectionSettings()


def _frame_media(rgb: np.ndarray, parent: Media) -> Media:
    h, w = rgb.shape[:2]
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    return Media(data=b"", kind=MediaKind.IMAGE, format="frame", name=parent.name, width=w,
                 height=h, working_size=(w, h), limits=parent.limits, _image=image)


def _views(media: Media, settings: DetectionSettings) -> list[tuple[float | None, Media]]:
    """The images the pixel detectors look at: the image, or frames spread over a video."""
    if media.kind is MediaKind.IMAGE:
        return [(None, media)]
    expected = (media.duration_s or 0.0) / media.limits.video_seconds_per_hash
    step = max(1, math.ceil(expected / settings.video_max_frames))
    views: list[tuple[float | None, Media]] = []
    for i, frame in enumerate(media.frames()):
        if i % step == 0:
            views.append((round(frame.timestamp, 3), _frame_media(frame.rgb, media)))
        if len(views) >= settings.video_max_frames:
            break
    return views


def _run(names: Iterable[str], views: list[tuple[float | None, Media]], media: Media,
         errors: list[DetectorError], timings: dict[str, float]
         ) -> list[tuple[Detection, float | None]]:
    """Each detector's best result over the views, with the frame time it came from."""
    results: list[tuple[Detection, float | None]] = []
    for name in names:
        t0 = time.perf_counter()
        try:
            detector = get_detector(name)
            if detector.applies_to(media) and MediaKind.VIDEO in detector.media_kinds:
                results.append((detector.detect(media), None))  # reads the file itself
            else:
                per_view = [(detector.detect(v), ts) for ts, v in views]
                if per_view and media.kind is MediaKind.VIDEO and getattr(
                        detector, "tracks_faces", False):
                    results.append(_tracked(per_view))
                elif per_view:
                    results.append(max(per_view, key=lambda r: r[0].score))
        except HaechiError as exc:
            errors.append(DetectorError(detector=name, code=exc.code, message=exc.message))
        timings[f"{name}_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    return results


def _tracked(per_view: list[tuple[Detection, float | None]]) -> tuple[Detection, float | None]:
    """A face detector's frames joined into face tracks (see :mod:`.tracks`), with the
    time of the frame where the highest track peaked."""
    detection = track_detection([(ts or 0.0, d) for d, ts in per_view])
    peak = detection.regions[0].attributes.get("peak_s") if detection.regions else None
    return detection, peak


def _verdict(results: list[tuple[Detection, float | None]], threshold: float,
             key: str | None = None, unmeasured: str = "no detector ran") -> Verdict:
    scored: list[tuple[Detection, float | None, float]] = []
    for d, ts in results:
        value = d.scores.get(key) if key else d.score
        if value is not None:
            scored.append((d, ts, value))
    if not scored:
        return Verdict(threshold=threshold, reasons=[f"not measured: {unmeasured}"])
    score = max(s for _, _, s in scored)
    reasons = [(f"at {ts:.1f}s: " if ts is not None else "") + d.reason for d, ts, _ in scored]
    return Verdict(score=round(score, 4), threshold=threshold, flagged=score >= threshold,
                   reasons=reasons, detectors=[f"{d.detector}@{d.version}" for d, _, _ in scored])


def detect_all(engine_or_settings: Any, media: Media) -> Verdicts:
    """Run every configured detector on ``media`` and combine them into verdicts.

    Never raises for a detector that cannot run (missing model, undecodable frame): its
    verdict stays unmeasured and ``errors`` says why.
    """
    settings = resolve_settings(engine_or_settings)
    t0 = time.perf_counter()
    errors: list[DetectorError] = []
    timings: dict[str, float] = {}
    try:
        views = _views(media, settings)
    except HaechiError as exc:
        views = []
        errors.append(DetectorError(detector="frames", code=exc.code, message=exc.message))
    sexual = _run(settings.sexual_detectors, views, media, errors, timings)
    faces = _run(settings.face_detectors, views, media, errors, timings)
    synthetic = _run(settings.synthetic_detectors, views, media, errors, timings)
    minor = _verdict([(d, ts) for d, ts in faces if d.regions], settings.possible_minor_threshold,
                     key="p_minor", unmeasured="no face to estimate an age from" if faces
                     else "no face detector ran")
    if faces and any(d.regions for d, _ in faces) and minor.score is None:
        minor.reasons = ["not measured: faces found, but no age model is installed"]
    timings["detection_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    return Verdicts(
        sexual=_verdict(sexual, settings.sexual_threshold),
        real_person_face=_verdict(faces, settings.real_person_face_threshold),
        synthetic=_verdict(synthetic, settings.synthetic_threshold),
        possible_minor=minor,
        detections=[d for d, _ in sexual + faces + synthetic],
        errors=errors,
        frames_s=[ts for ts, _ in views if ts is not None],
        timings_ms=timings,
    )
