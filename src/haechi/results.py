"""The objects every interface returns: the library, the CLI's JSON and the HTTP API.

They are pydantic models so the API documents them and the CLI serialises them the same
way; nothing else defines their shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from haechi.detection.verdicts import Verdicts

Decision = Literal["block", "allow", "error"]
BankKind = Literal["block", "allow"]


class BankInfo(BaseModel):
    id: int
    name: str
    description: str
    kind: BankKind
    enabled: bool
    pdq_threshold: int
    pdq_min_quality: int
    video_match_percent: float
    created_at: datetime
    entry_count: int = 0
    #: Region matching of edited copies: on/off, its PDQ distance per window, and the
    #: keypoints that must agree for a keypoint match.
    regions_enabled: bool = True
    region_threshold: int = 28
    region_min_inliers: int = 30


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and no legitimate metadata needs it.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class EntryMetadata(BaseModel):
    """What a bank keeps about where an entry came from."""

    source: str = Field(default="", max_length=200)
    category: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=10_000)
    added_by: str = Field(default="", max_length=200)
    external_id: str = Field(default="", max_length=200)

    @field_validator("source", "category", "note", "added_by", "external_id")
    @classmethod
    def _text(cls, value: str) -> str:
        return _no_nul(value)


class EntryInfo(EntryMetadata):
    id: int
    bank: str
    signal: str
    signal_version: int
    value: str
    quality: int | None
    enabled: bool
    added_at: datetime


class MediaInfo(BaseModel):
    kind: str
    format: str
    bytes: int
    width: int
    height: int
    duration_s: float | None = None
    warnings: list[str] = Field(default_factory=list)


class HashValue(BaseModel):
    signal: str
    version: int
    value: str
    quality: int | None = None


class RegionPair(BaseModel):
    """One region of the upload that matched one region of the bank entry."""

    #: Slot names: "content", "centre", "top-left" ... "bottom-right"; "keypoints" for
    #: the part of each image where the agreeing keypoints lie.
    query_region: str
    entry_region: str
    #: (x0, y0, x1, y1) in the upload's pixels and in the banked image's pixels (None
    #: where the bank holds no boxes: a video's frames).
    query_box: tuple[int, int, int, int]
    entry_box: tuple[int, int, int, int] | None
    #: PDQ distance (0 for a video, matched by its share of frames); for keypoints the
    #: median descriptor distance (bits of 256) of the agreeing points.
    distance: int
    #: The upload's region matched once mirrored left to right.
    mirrored: bool = False
    #: Keypoints only: how much larger the picture appears in the upload than in the
    #: banked image (content boxes at the work size), and how far it was turned
    #: (degrees, counter-clockwise).
    scale: float | None = None
    rotation: float | None = None


class Match(BaseModel):
    bank: str
    bank_kind: BankKind
    entry_id: int
    signal: str
    #: Hamming distance (PDQ), 0 for exact digests; None for videos and keypoint matches
    #: (whose ``score`` counts the agreeing keypoints instead).
    distance: int | None = None
    #: PDQ: the rotation or flip of the upload that matched ("original" when none).
    transform: str | None = None
    #: vPDQ: percent of the upload's frames found in the entry, and the reverse.
    query_share: float | None = None
    entry_share: float | None = None
    #: The bank's threshold that applied: PDQ bits, the video match percent, the region
    #: threshold (windows), or the keypoints needed (keypoint matches).
    threshold: float | None = None
    entry: EntryInfo
    #: Which matching layer found it: None for the whole-image and exact layers,
    #: "regions" for the region layer (cropped, framed, captioned, stickered copies).
    layer: str | None = None
    #: Region layer: the regions that agreed, and the verification score (how many
    #: independent regions agreed within the bank's region threshold, or how many
    #: keypoints agreed under one movement of the picture).
    regions: list[RegionPair] | None = None
    score: float | None = None


class ScanError(BaseModel):
    code: str
    message: str


class ScanResult(BaseModel):
    name: str | None = None
    media: MediaInfo | None = None
    hashes: list[HashValue] = Field(default_factory=list)
    matches: list[Match] = Field(default_factory=list)
    decision: Decision
    reason: str
    error: ScanError | None = None
    #: Index state the decision was made against: the last change-feed sequence applied.
    index_seq: int = 0
    timings_ms: dict[str, float] = Field(default_factory=dict)
    #: Detection verdicts (sexual, real_person_face, synthetic, possible_minor) with
    #: scores, thresholds and reasons; None unless HAECHI_DETECTION_ENABLED is set.
    detections: Verdicts | None = None


class HashResult(BaseModel):
    name: str | None = None
    media: MediaInfo | None = None
    hashes: list[HashValue] = Field(default_factory=list)
    error: ScanError | None = None


class ImportReport(BaseModel):
    bank: str
    added: int = 0
    duplicates: int = 0
    errors: list[str] = Field(default_factory=list)
    #: The entries created (empty for bulk imports, which can be large).
    entries: list[EntryInfo] = Field(default_factory=list)


class ApiKeyInfo(BaseModel):
    id: int
    name: str
    prefix: str
    role: str
    created_at: datetime
    revoked: bool
