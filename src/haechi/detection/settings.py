"""Detection settings from the environment (``HAECHI_DETECTION_*``) or arguments."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DetectionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAECHI_DETECTION_", extra="ignore")

    #: Run detection on every scan and put the verdicts in the scan result.
    enabled: bool = False

    #: Open-NSFW's own guidance: >= 0.8 is explicit.
    sexual_threshold: float = Field(default=0.8, ge=0, le=1)
    #: 0.5 is exactly dlib's HOG cut-off (SVM margin 0).
    real_person_face_threshold: float = Field(default=0.5, ge=0, le=1)
    synthetic_threshold: float = Field(default=0.5, ge=0, le=1)
    #: P(age under 18) of the youngest-looking face. Low on purpose: a miss costs more
    #: than a review (measured false-flag rate on adult faces: see BENCHMARKS.md).
    possible_minor_threshold: float = Field(default=0.5, ge=0, le=1)

    sexual_detectors: list[str] = Field(default_factory=lambda: ["open-nsfw"])
    face_detectors: list[str] = Field(default_factory=lambda: ["dlib-faces"])
    #: Content-based detectors join provenance here. ``synthetic-image`` (fully generated
    #: images) is opt-in: trained on face crops only, it scores ordinary photographs that
    #: are not face crops up to 0.74 (see its model card), too close to the threshold to
    #: run on every upload by default.
    synthetic_detectors: list[str] = Field(
        default_factory=lambda: ["provenance", "face-swap"])

    #: Videos: at most this many frames, spread over the clip, go through the detectors.
    video_max_frames: int = Field(default=8, ge=1, le=1000)
