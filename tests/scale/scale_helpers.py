"""Building blocks for the scale tests and benchmarks: a store folder of generated
neutral images (with corrupt, truncated and empty files), and hashes near a given one."""

from __future__ import annotations

import random
from pathlib import Path

from fixtures_media import encode, make_image

BROKEN = {"corrupt.jpg": "corrupt_media", "truncated.png": "truncated_media",
          "empty.gif": "empty_file", "notes.txt": "unsupported_format"}


def image_bytes(seed: int, fmt: str = "JPEG") -> bytes:
    return encode(make_image(seed), fmt)


def make_folder(root: Path, images: int, *, broken: bool = True) -> Path:
    """``images`` JPEGs named img00000.jpg... in two sub-folders, plus broken files."""
    for i in range(images):
        folder = root / ("a" if i % 2 == 0 else "b/deeper")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img{i:05d}.jpg").write_bytes(image_bytes(i))
    if broken:
        root.mkdir(parents=True, exist_ok=True)
        png = image_bytes(10_001, "PNG")
        (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
        (root / "truncated.png").write_bytes(png[: len(png) // 2])
        (root / "empty.gif").write_bytes(b"")
        (root / "notes.txt").write_bytes(b"not media at all\n")
    return root


def flip_bits(hash_hex: str, count: int, seed: int = 0) -> str:
    """``hash_hex`` with ``count`` distinct bits flipped."""
    value = int(hash_hex, 16)
    for bit in random.Random(seed).sample(range(256), count):
        value ^= 1 << bit
    return f"{value:064x}"
