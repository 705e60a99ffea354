"""The held-out validation split as two folders, ``real/`` and ``fake/``, so any
evaluation tool can reproduce the model card: the untouched faces (copied byte for
byte) and one self-blend of each (fixed seed per file name, lossless PNG)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from haechi.training.faceswap.blend import self_blend
from haechi.training.faceswap.data import list_faces, load_rgb, locate_faces, split


def validation_seed(name: str) -> int:
    """The fixed seed of one validation face's self-blend (training validates on the same)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"faceswap-validation:{name}".encode()).digest()[:8],
                          "big")


def write_validation(data: Path, out: Path, *, limit: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Write ``out/real`` and ``out/fake``; returns (faces, of which dlib located)."""
    _, held_out = split(list_faces(data))
    if limit is not None:
        held_out = held_out[:limit]
    records = locate_faces(held_out, out / "landmarks.json")
    (out / "real").mkdir(parents=True, exist_ok=True)
    (out / "fake").mkdir(parents=True, exist_ok=True)
    for i, record in enumerate(records):
        shutil.copyfile(record.path, out / "real" / record.path.name)
        fake, _ = self_blend(load_rgb(record.path), record.landmarks,
                             np.random.default_rng(validation_seed(record.path.name)))
        Image.fromarray(fake).save(out / "fake" / (record.path.stem + ".png"))
        if progress is not None:
            progress(i + 1, len(records))
    return len(records), sum(r.found for r in records)
