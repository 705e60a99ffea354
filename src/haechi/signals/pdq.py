"""PDQ: Meta's 256-bit perceptual image hash, robust to recompression and resizing.

Values are 64 lowercase hex characters, bit order as in Meta's reference and
python-threatexchange, so hashes move between tools unchanged.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np
import pdqhash

from haechi.errors import InvalidHashError
from haechi.media import Media, MediaKind
from haechi.signals.base import Comparison, Signal, SignalExample, SignalValue

_HEX = frozenset(string.hexdigits)

DEFAULT_THRESHOLD = 31
MIN_QUALITY = 50

#: ``compute_dihedral`` order: what was done to the *query* image to produce each hash.
DIHEDRAL_TRANSFORMS = (
    "original",
    "rotate_90_ccw",
    "rotate_180",
    "rotate_90_cw",
    "flip_vertical",
    "mirror",
    "transpose",
    "anti_transpose",
)


def bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _prepare(rgb: np.ndarray) -> np.ndarray:
    # pdqhash needs a C-contiguous (H, W, 3) uint8 array.
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def pdq_of_rgb(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(_prepare(rgb))
    return bits_to_hex(bits), int(quality)


def dihedral_of_rgb(rgb: np.ndarray) -> tuple[list[str], int]:
    """The 8 rotation/flip variants at the cost of one hash."""
    hashes, quality = pdqhash.compute_dihedral(_prepare(rgb))
    return [bits_to_hex(h) for h in hashes], int(quality)


class PdqSignal(Signal):
    name = "pdq"
    version = 1
    media_kinds = frozenset({MediaKind.IMAGE})

    def compute(self, media: Media) -> SignalValue:
        value, quality = pdq_of_rgb(media.rgb)
        return SignalValue(self.name, self.version, value, quality)

    def parse(self, value: str) -> str:
        value = value.strip().lower()
        if len(value) != 64 or not _HEX.issuperset(value):
            raise InvalidHashError(
                f"a pdq value is 64 hexadecimal characters, got {value[:80]!r}"
            )
        return value

    def compare(self, a: str, b: str, *, threshold: float | None = None) -> Comparison:
        limit = DEFAULT_THRESHOLD if threshold is None else threshold
        distance = hamming(self.parse(a), self.parse(b))
        return Comparison(matched=distance <= limit, distance=distance)

    @classmethod
    def examples(cls) -> Sequence[SignalExample]:
        base = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
        near = format(int(base, 16) ^ ((1 << 31) - 1), "064x")  # 31 bits apart
        far = format(int(base, 16) ^ ((1 << 32) - 1), "064x")  # 32 bits apart
        return [
            SignalExample(base, base.upper(), True),
            SignalExample(base, near, True),
            SignalExample(base, far, False),
        ]
