"""vPDQ: PDQ hashes of video frames sampled once a second, matched by share of frames.

Interoperable with Meta's tools in both directions:

* the canonical value is python-threatexchange's compact form, a JSON list of
  ``"<pdq hex>,<quality>,<timestamp>"`` strings;
* :func:`read_features` also reads the ``vpdq`` CLI's file format, one
  ``<frame number>,<quality>,<pdq hex>,<timestamp>`` line per frame, and
  :func:`write_cli_format` writes it.

Frames are decoded with PyAV and hashed at full resolution with the same PDQ as images,
sampled at the same frames as Meta's tool; on the test clips the two give identical
hashes (``tests/test_signals.py`` checks agreement whenever Meta's ``vpdq`` is installed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from haechi.errors import InvalidHashError
from haechi.media import Media, MediaKind
from haechi.signals.base import Comparison, Signal, SignalExample, SignalValue
from haechi.signals.pdq import DEFAULT_THRESHOLD, MIN_QUALITY, PdqSignal, pdq_of_rgb

DEFAULT_MATCH_PERCENT = 80.0
#: More frames than a 24-hour video sampled every second is not a vPDQ hash but an attack.
MAX_FRAMES = 100_000
_BLOCK = 256


@dataclass(frozen=True)
class VpdqFeature:
    pdq: str
    quality: int
    timestamp: float
    frame_number: int | None = None

    def compact(self) -> str:
        return f"{self.pdq},{self.quality},{self.timestamp:.3f}"


def _check(pdq_hex: str, quality: int, timestamp: float) -> VpdqFeature:
    pdq_hex = PdqSignal().parse(pdq_hex)
    if not 0 <= quality <= 100:
        raise InvalidHashError(f"vpdq frame quality must be 0..100, got {quality}")
    if not timestamp >= 0:  # also rejects NaN
        raise InvalidHashError(f"vpdq frame timestamp must be >= 0, got {timestamp}")
    return VpdqFeature(pdq_hex, quality, round(timestamp, 3))


def parse_compact(value: str) -> list[VpdqFeature]:
    try:
        items = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidHashError(f"a vpdq value is a JSON list of frame strings: {exc}") from exc
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidHashError("a vpdq value is a JSON list of 'hex,quality,timestamp' strings")
    if len(items) > MAX_FRAMES:
        raise InvalidHashError(f"a vpdq value holds at most {MAX_FRAMES} frames")
    features = []
    for item in items:
        parts = item.split(",")
        if len(parts) != 3:
            raise InvalidHashError(f"a vpdq frame is 'hex,quality,timestamp', got {item[:100]!r}")
        try:
            features.append(_check(parts[0], int(parts[1]), float(parts[2])))
        except ValueError as exc:
            raise InvalidHashError(f"malformed vpdq frame {item[:100]!r}: {exc}") from exc
    if not features:
        raise InvalidHashError("a vpdq value needs at least one frame")
    return features


def read_features(text: str) -> list[VpdqFeature]:
    """Read either the compact JSON value or the vpdq CLI's line format."""
    stripped = text.strip()
    if stripped.startswith("["):
        return parse_compact(stripped)
    features = []
    lines = stripped.splitlines()
    if len(lines) > MAX_FRAMES:
        raise InvalidHashError(f"a vpdq file holds at most {MAX_FRAMES} frames")
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        if len(parts) != 4:
            raise InvalidHashError(
                f"line {lineno}: the vpdq file format is 'frame,quality,hex,timestamp'"
            )
        try:
            feature = _check(parts[2], int(parts[1]), float(parts[3]))
            features.append(
                VpdqFeature(feature.pdq, feature.quality, feature.timestamp, int(parts[0]))
            )
        except ValueError as exc:
            raise InvalidHashError(f"line {lineno}: {exc}") from exc
    if not features:
        raise InvalidHashError("the vpdq file holds no frames")
    return features


def to_compact(features: Iterable[VpdqFeature]) -> str:
    return json.dumps([f.compact() for f in features])


def write_cli_format(features: Sequence[VpdqFeature]) -> str:
    lines = []
    for i, f in enumerate(features):
        number = f.frame_number if f.frame_number is not None else i
        lines.append(f"{number},{f.quality},{f.pdq},{f.timestamp:.3f}")
    return "\n".join(lines) + "\n"


def usable_hashes(features: Iterable[VpdqFeature], min_quality: int = MIN_QUALITY) -> list[str]:
    """Distinct frame hashes of sufficient quality, first occurrence order."""
    seen: dict[str, None] = {}
    for f in features:
        if f.quality >= min_quality:
            seen.setdefault(f.pdq, None)
    return list(seen)


def _to_words(hashes: Sequence[str]) -> np.ndarray:
    raw = b"".join(bytes.fromhex(h) for h in hashes)
    return np.frombuffer(raw, dtype=">u8").reshape(len(hashes), 4).astype(np.uint64)


def frame_shares(
    query: Sequence[str], other: Sequence[str], distance: int = DEFAULT_THRESHOLD
) -> tuple[float, float]:
    """Percent of ``query`` frames with a match in ``other``, and vice versa."""
    if not query or not other:
        return 0.0, 0.0
    q, o = _to_words(query), _to_words(other)
    query_hit = np.zeros(len(q), dtype=bool)
    other_hit = np.zeros(len(o), dtype=bool)
    # Blocks of query rows bound memory: two 4-hour videos would otherwise need an
    # (Nq, No, 4) array of several gigabytes.
    for start in range(0, len(q), _BLOCK):
        block = q[start:start + _BLOCK]
        close = np.bitwise_count(block[:, None, :] ^ o[None, :, :]).sum(axis=2) <= distance
        query_hit[start:start + _BLOCK] = close.any(axis=1)
        other_hit |= close.any(axis=0)
    return 100.0 * float(query_hit.mean()), 100.0 * float(other_hit.mean())


class VpdqSignal(Signal):
    name = "vpdq"
    version = 1
    media_kinds = frozenset({MediaKind.VIDEO})

    def compute(self, media: Media) -> SignalValue:
        features = []
        for frame in media.frames():
            pdq_hex, quality = pdq_of_rgb(frame.rgb)
            features.append(VpdqFeature(pdq_hex, quality, round(frame.timestamp, 3),
                                        frame.number))
        usable = [f for f in features if f.quality >= MIN_QUALITY]
        quality = round(100 * len(usable) / len(features)) if features else 0
        return SignalValue(self.name, self.version, to_compact(features), quality)

    def parse(self, value: str) -> str:
        return to_compact(read_features(value))

    def compare(self, a: str, b: str, *, threshold: float | None = None) -> Comparison:
        distance = DEFAULT_THRESHOLD if threshold is None else int(threshold)
        qa = usable_hashes(parse_compact(a))
        qb = usable_hashes(parse_compact(b))
        query_share, other_share = frame_shares(qa, qb, distance)
        return Comparison(
            matched=query_share >= DEFAULT_MATCH_PERCENT,
            query_share=query_share,
            other_share=other_share,
        )

    @classmethod
    def examples(cls) -> Sequence[SignalExample]:
        frames = [
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            "30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af",
            "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064",
            "ad76ddbc9bd2e4c38e51e7c7b9a8bb8ed2aeb2e9e7b8d96e4bb5a35f4fcc2d05",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ]
        full = to_compact(VpdqFeature(h, 100, float(i)) for i, h in enumerate(frames))
        most = to_compact(VpdqFeature(h, 100, float(i)) for i, h in enumerate(frames[:4]))
        few = to_compact(VpdqFeature(h, 100, float(i)) for i, h in enumerate(frames[:2]))
        return [
            SignalExample(full, full, True),
            # every frame of the shorter one is in the longer one
            SignalExample(most, full, True),
            # 2 of 5 frames (40 %) of the query found: below 80 %
            SignalExample(full, few, False),
        ]

