"""The contract every signal plugin fulfils.

A signal turns media into a string value and compares two values. Its ``name`` is a
permanent storage key and its ``version`` is stored beside every value, so a changed
algorithm can never silently be compared with values of the old one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from haechi.media import Media, MediaKind


@dataclass(frozen=True)
class SignalValue:
    signal: str
    version: int
    value: str
    #: 0-100 where the algorithm rates its own input (PDQ); None otherwise.
    quality: int | None = None


@dataclass(frozen=True)
class Comparison:
    matched: bool
    #: Hamming distance for perceptual hashes, 0 for exact equality.
    distance: int | None = None
    #: Video: share of the query's frames that matched the other side, in percent.
    query_share: float | None = None
    #: Video: share of the other side's frames that matched the query, in percent.
    other_share: float | None = None


@dataclass(frozen=True)
class SignalExample:
    """A pair of values and whether they should match, for the conformance tests."""

    a: str
    b: str
    matches: bool


class Signal(ABC):
    """Base class. Subclasses set ``name``, ``version`` and ``media_kinds``."""

    name: ClassVar[str]
    version: ClassVar[int]
    media_kinds: ClassVar[frozenset[MediaKind]]
    #: Whether matching is exact equality of the normalised value (database lookup).
    exact: ClassVar[bool] = False

    @abstractmethod
    def compute(self, media: Media) -> SignalValue:
        """Hash ``media``. Raises :class:`haechi.errors.MediaError` if it cannot."""

    @abstractmethod
    def parse(self, value: str) -> str:
        """Validate ``value`` and return its canonical form, or raise InvalidHashError."""

    @abstractmethod
    def compare(self, a: str, b: str, *, threshold: float | None = None) -> Comparison:
        """Compare two canonical values; ``threshold`` overrides the default."""

    @classmethod
    @abstractmethod
    def examples(cls) -> Sequence[SignalExample]:
        """Known pairs that must (or must not) match, used by the conformance tests."""

    def applies_to(self, media: Media) -> bool:
        return media.kind in self.media_kinds
