"""What the detection benchmarks share: the 1080p test images and per-call timings.

Images are generated photo-like JPEGs (``fixtures_media.make_photo``); every other one
gets a real face crop from ``../shared/datasets/faces-real`` pasted in at 360x360, when
that folder is there, so the face detectors have something to find.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from fixtures_media import encode, make_photo

ROOT = Path(__file__).resolve().parent.parent
FACES = ROOT.parent / "shared" / "datasets" / "faces-real" / "utkface-adults"


def make_images(count: int) -> list[tuple[str, bytes]]:
    """``count`` 1920x1080 JPEGs (quality 90), labelled "one face" or "no face"."""
    crops = sorted(FACES.glob("*.jpg"))[::500] if FACES.is_dir() else []
    images = []
    for i in range(count):
        photo = make_photo(100 + i, (1920, 1080))
        label = "no face"
        if crops and i % 2 == 0:
            face = Image.open(crops[i // 2 % len(crops)]).convert("RGB").resize((360, 360))
            photo.paste(face, (780, 300))
            label = "one face"
        images.append((label, encode(photo, "JPEG", quality=90)))
    return images


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds one call of ``fn`` took."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1),
            "mean_ms": round(statistics.fmean(ordered), 1), "n": len(ordered)}
