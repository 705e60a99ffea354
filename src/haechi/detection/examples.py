"""Neutral media generated in code for detector examples: shapes, gradients, text."""

from __future__ import annotations

from haechi.media import Media, load_media
from haechi.samples import encode, make_image


def neutral_image(seed: int = 1, size: tuple[int, int] = (640, 480), fmt: str = "PNG") -> Media:
    return load_media(encode(make_image(seed, size), fmt), name=f"neutral-{seed}.{fmt.lower()}")
