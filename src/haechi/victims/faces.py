"""Face alert (opt-in): a victim registers a face reference, and sexual content showing a
face close to it is held and her case alerted, even when no hash matches.

Only the 128-d dlib ResNet embedding is kept; the selfie it came from is discarded (the
CLI computes it on the victim's own machine). Matching is by Euclidean distance below
``FACE_THRESHOLD``: stricter than dlib's usual 0.6, because a false match here holds an
innocent upload. ``benchmarks/bench_victims.py --faces 400`` measured it on the shared
face set (pairs of different people): 0.055 % of pairs fall below 0.45, against 1.7 % below
0.6. The rate is per registered face, so it grows with the number of references; an
alert therefore only ever holds content for review, never blocks it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.errors import InvalidRequestError
from haechi.victims.models import VictimCase, VictimFace

EMBEDDING_SIZE = 128
FACE_THRESHOLD = 0.45
MAX_FACES_PER_CASE = 5


def check_embedding(values: Sequence[float]) -> list[float]:
    if len(values) != EMBEDDING_SIZE or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values):
        raise InvalidRequestError(f"a face embedding is {EMBEDDING_SIZE} finite numbers "
                                  "(dlib's ResNet face descriptor)")
    return [float(v) for v in values]


def register(s: Session, row: VictimCase, embedding: Sequence[float]) -> int:
    count = len(s.scalars(select(VictimFace.id).where(VictimFace.case_id == row.id)).all())
    if count >= MAX_FACES_PER_CASE:
        raise InvalidRequestError(f"a case holds at most {MAX_FACES_PER_CASE} face references")
    face = VictimFace(case_id=row.id, embedding=check_embedding(embedding))
    s.add(face)
    s.flush()
    return face.id


def matching_cases(s: Session, embeddings: Sequence[Sequence[float]],
                   threshold: float = FACE_THRESHOLD) -> dict[int, float]:
    """Active cases with a reference within ``threshold`` of any given face: case id to
    the smallest distance."""
    if not embeddings:
        return {}
    query = np.asarray([check_embedding(e) for e in embeddings], dtype=np.float64)
    rows = s.execute(select(VictimFace.case_id, VictimFace.embedding)
                     .join(VictimCase, VictimCase.id == VictimFace.case_id)
                     .where(VictimCase.status == "active")).all()
    found: dict[int, float] = {}
    for case_id, embedding in rows:
        distance = float(np.min(np.linalg.norm(query - np.asarray(embedding), axis=1)))
        if distance < threshold and distance < found.get(case_id, math.inf):
            found[case_id] = distance
    return found


def embed_faces(data: bytes) -> list[list[float]]:
    """Embeddings of every face in an upload (needs dlib and face_recognition_models);
    nothing of the upload is kept."""
    from haechi.detection.faces import DlibFaceDetector
    from haechi.media import load_media

    found = DlibFaceDetector().faces(load_media(data).rgb, embed=True)
    return [[float(v) for v in f.embedding] for f in found if f.embedding is not None]


def embed_selfie(data: bytes) -> list[float]:
    """The embedding of the one face in a selfie (needs the detection extra: dlib and
    face_recognition_models). The bytes are not kept."""
    from haechi.detection.faces import DlibFaceDetector
    from haechi.media import load_media

    faces = DlibFaceDetector().faces(load_media(data).rgb, embed=True)
    if len(faces) != 1:
        raise InvalidRequestError(f"the selfie must show exactly one face; found {len(faces)}")
    embedding = faces[0].embedding
    assert embedding is not None  # asked for with embed=True
    return [float(v) for v in embedding]
