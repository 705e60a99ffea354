"""Cryptographic digests of the exact bytes: catch byte-identical re-uploads."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from typing import ClassVar

from haechi.errors import InvalidHashError
from haechi.media import Media, MediaKind
from haechi.signals.base import Comparison, Signal, SignalExample, SignalValue

_HEX = frozenset(string.hexdigits)


class _DigestSignal(Signal):
    algorithm: ClassVar[str]
    hex_length: ClassVar[int]
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    exact = True
    version = 1

    def compute(self, media: Media) -> SignalValue:
        return SignalValue(self.name, self.version, self.digest(media.data))

    @classmethod
    def digest(cls, data: bytes) -> str:
        return hashlib.new(cls.algorithm, data).hexdigest()

    def parse(self, value: str) -> str:
        value = value.strip().lower()
        if len(value) != self.hex_length or not _HEX.issuperset(value):
            raise InvalidHashError(
                f"a {self.name} value is {self.hex_length} hexadecimal characters, "
                f"got {value[:80]!r}"
            )
        return value

    def compare(self, a: str, b: str, *, threshold: float | None = None) -> Comparison:
        same = self.parse(a) == self.parse(b)
        return Comparison(matched=same, distance=0 if same else None)


class Sha256Signal(_DigestSignal):
    name = "sha256"
    algorithm = "sha256"
    hex_length = 64

    @classmethod
    def examples(cls) -> Sequence[SignalExample]:
        a, b = cls.digest(b"haechi"), cls.digest(b"haechi!")
        return [SignalExample(a, a.upper(), True), SignalExample(a, b, False)]


class Md5Signal(_DigestSignal):
    name = "md5"
    algorithm = "md5"
    hex_length = 32

    @classmethod
    def examples(cls) -> Sequence[SignalExample]:
        a, b = cls.digest(b"haechi"), cls.digest(b"haechi!")
        return [SignalExample(a, a.upper(), True), SignalExample(a, b, False)]
