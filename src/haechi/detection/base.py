"""The contract every detector plugin fulfils.

A detector looks at one piece of media and says how strongly it shows something
(sexual content, a face, signs of generation), where it saw it, and why, in one line.
Its ``name`` is a permanent key and its ``version`` travels with every result, so a new
model never silently mixes with scores of the old one. Detectors run with onnxruntime
or dlib only: no torch at run time, and nothing is downloaded.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, Field

from haechi.media import Media, MediaKind

#: Detector names are storage keys: lowercase, digits, ``-`` and ``_``.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")


class Region(BaseModel):
    """A labelled box in the coordinates of the image the detector saw (``media.rgb``)."""

    label: str
    #: ``[left, top, right, bottom]``, inclusive pixels.
    box: tuple[int, int, int, int]
    score: float = Field(ge=0.0, le=1.0)
    #: Landmark points ``(x, y)``, where the model gives them (faces: 5 points).
    landmarks: list[tuple[int, int]] = Field(default_factory=list)
    #: A descriptor for later matching (faces: the 128-d dlib embedding).
    embedding: list[float] | None = None
    #: Further per-region estimates, e.g. ``{"age": 31.2, "p_minor": 0.02}``.
    attributes: dict[str, float] = Field(default_factory=dict)
    #: Video: timestamps (seconds) of the frames that decided this region's score
    #: (face tracks: the frames the track's score is the mean of).
    frames_s: list[float] = Field(default_factory=list)


class Heatmap(BaseModel):
    """Where in one region the model saw what it scores, for reviewers: a small PNG of
    the model's crop with its evidence overlaid (brighter and warmer = stronger)."""

    #: Index into :attr:`Detection.regions`.
    region: int = Field(ge=0)
    png_base64: str


class Detection(BaseModel):
    """What one detector found in one piece of media."""

    detector: str
    version: int
    #: The headline score in 0..1 (how strongly the media shows what the detector seeks).
    score: float = Field(ge=0.0, le=1.0)
    #: Further named scores in 0..1, e.g. ``{"p_minor": 0.7}``.
    scores: dict[str, float] = Field(default_factory=dict)
    regions: list[Region] = Field(default_factory=list)
    #: One line a reviewer can read: what was seen and why the score is what it is.
    reason: str
    #: Exact findings that are not scores (provenance: the metadata that was found).
    findings: list[str] = Field(default_factory=list)
    #: Heat maps of regions (face-swap: one per scored face), for the review page.
    heatmaps: list[Heatmap] = Field(default_factory=list)


@dataclass(frozen=True)
class DetectorExample:
    """Media the detector must handle, and a check its result must pass.

    ``make`` builds the media (generated in code: no files, no real people); ``check``
    returns None when the result is right, or a sentence saying what is wrong.
    """

    description: str
    make: Callable[[], Media]
    check: Callable[[Detection], str | None]


class Detector(ABC):
    """Base class. Subclasses set ``name``, ``version`` and ``media_kinds``."""

    name: ClassVar[str]
    version: ClassVar[int]
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE})

    @abstractmethod
    def detect(self, media: Media) -> Detection:
        """Look at ``media``. Raises :class:`haechi.errors.MediaError` if it cannot."""

    @classmethod
    @abstractmethod
    def examples(cls) -> Sequence[DetectorExample]:
        """Cases for the conformance tests; at least one."""

    def applies_to(self, media: Media) -> bool:
        return media.kind in self.media_kinds

    def result(self, score: float, reason: str, **fields: object) -> Detection:
        """Build a :class:`Detection` stamped with this detector's name and version."""
        return Detection.model_validate({
            "detector": self.name, "version": self.version,
            "score": min(1.0, max(0.0, float(score))), "reason": reason, **fields,
        })
