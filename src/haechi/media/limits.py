from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds applied before and during decoding.

    Every bound exists because a hostile upload can exhaust memory or CPU with a small
    file: a 50 kB PNG can declare 10 gigapixels; a tiny video can claim a day of frames.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    max_video_pixels_per_frame: int = 16_000_000
    max_video_seconds: float = 4 * 3600.0
    max_video_frames: int = 20_000
    #: Images are decoded (JPEG) or reduced to at least this short side before hashing;
    #: 0 keeps the full resolution.
    working_short_side: int = 512
    #: vPDQ samples one frame per this many seconds (Meta's tools default to 1.0).
    video_seconds_per_hash: float = 1.0
