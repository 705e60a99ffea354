"""Run one registered detector over folders of real and fake images, as they are and
after each perturbation, and measure how well its score separates the two."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from haechi.detection import Detector, get_detector
from haechi.detection.settings import DetectionSettings
from haechi.errors import HaechiError
from haechi.evaluation.metrics import Confusion, auc, confusion, tpr_at_fpr
from haechi.evaluation.perturb import PERTURBATIONS
from haechi.media import Limits, load_media

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".avif"}
Progress = Callable[[int, int], None]


class EvaluationError(HaechiError):
    code = "evaluation_input"
    http_status = 422


class Unreadable(BaseModel):
    path: str
    condition: str
    code: str
    message: str


class ConditionResult(BaseModel):
    condition: str
    real: int
    fake: int
    auc: float | None
    tpr_at_1pct_fpr: float | None
    tpr_at_5pct_fpr: float | None
    confusion: Confusion
    mean_score_real: float | None
    mean_score_fake: float | None
    #: Kept so the ROC can be drawn and figures recomputed from the JSON output.
    scores_real: list[float] = Field(default_factory=list)
    scores_fake: list[float] = Field(default_factory=list)


class EvalReport(BaseModel):
    detector: str
    version: int
    threshold: float
    threshold_source: str
    real_dir: str
    fake_dir: str
    files_real: int
    files_fake: int
    conditions: list[ConditionResult]
    unreadable: list[Unreadable] = Field(default_factory=list)


def verdict_threshold(detector: str, settings: DetectionSettings) -> tuple[float, str]:
    """The threshold of the verdict ``detector`` feeds, and which setting it is."""
    for names, field in ((settings.sexual_detectors, "sexual_threshold"),
                         (settings.face_detectors, "real_person_face_threshold"),
                         (settings.synthetic_detectors, "synthetic_threshold")):
        if detector in names:
            return float(getattr(settings, field)), f"HAECHI_DETECTION_{field.upper()}"
    return 0.5, "default (the detector feeds no verdict)"


def image_files(folder: Path, limit: int | None, seed: int) -> list[Path]:
    """The folder's images by name; with ``limit``, a seeded sample of that many."""
    if not folder.is_dir():
        raise EvaluationError(f"{folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EvaluationError(f"{folder} holds no images")
    if limit is not None and len(files) > limit:
        picks = np.random.default_rng(seed).choice(len(files), size=limit, replace=False)
        files = [files[int(i)] for i in np.sort(picks)]
    return files


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


def _condition(name: str, real: list[float], fake: list[float], threshold: float
               ) -> ConditionResult:
    scores = np.array(real + fake)
    labels = np.array([0] * len(real) + [1] * len(fake))
    return ConditionResult(
        condition=name, real=len(real), fake=len(fake),
        auc=_finite(auc(scores, labels)),
        tpr_at_1pct_fpr=round(tpr_at_fpr(scores, labels, 0.01), 4) if real and fake else None,
        tpr_at_5pct_fpr=round(tpr_at_fpr(scores, labels, 0.05), 4) if real and fake else None,
        confusion=confusion(scores, labels, threshold),
        mean_score_real=_finite(float(np.mean(real))) if real else None,
        mean_score_fake=_finite(float(np.mean(fake))) if fake else None,
        scores_real=[round(s, 6) for s in real], scores_fake=[round(s, 6) for s in fake],
    )


def evaluate(detector_name: str | Detector, real_dir: Path, fake_dir: Path, *,
             threshold: float | None = None, limit: int | None = None,
             conditions: Sequence[str] = tuple(PERTURBATIONS),
             settings: DetectionSettings | None = None, limits: Limits | None = None,
             seed: int = 0, progress: Progress | None = None) -> EvalReport:
    """Score every image under every condition with a registered detector (by name) or
    any :class:`Detector` instance. A file that cannot be read or scored is
    listed in ``unreadable`` with its error code and left out of that condition only."""
    unknown = [c for c in conditions if c not in PERTURBATIONS]
    if unknown:
        raise EvaluationError(f"unknown conditions {unknown}; known: {list(PERTURBATIONS)}")
    detector = get_detector(detector_name) if isinstance(detector_name, str) else detector_name
    settings = settings or DetectionSettings()
    if threshold is None:
        threshold, source = verdict_threshold(detector.name, settings)
    else:
        source = "--threshold"
    sets = [(0, image_files(real_dir, limit, seed)), (1, image_files(fake_dir, limit, seed))]
    scores: dict[str, tuple[list[float], list[float]]] = {c: ([], []) for c in conditions}
    unreadable: list[Unreadable] = []
    total, done = sum(len(f) for _, f in sets), 0
    for label, files in sets:
        for path in files:
            try:
                original = path.read_bytes()
                # Read once under the limits first: a file refused here (a decompression
                # bomb, say) is never handed to the re-encoders, which decode unbounded.
                load_media(original, name=path.name, limits=limits)
            except OSError as exc:
                unreadable.append(Unreadable(path=str(path), condition="all",
                                             code="unreadable_file", message=str(exc)))
                original = b""
            except HaechiError as exc:
                unreadable.append(Unreadable(path=str(path), condition="all",
                                             code=exc.code, message=exc.message))
                original = b""
            for name in conditions if original else ():
                try:
                    change = PERTURBATIONS[name]
                    data = original if change is None else _perturbed(change, original)
                    media = load_media(data, name=path.name, limits=limits)
                    scores[name][label].append(float(detector.detect(media).score))
                except HaechiError as exc:
                    unreadable.append(Unreadable(path=str(path), condition=name,
                                                 code=exc.code, message=exc.message))
            done += 1
            if progress:
                progress(done, total)
    return EvalReport(
        detector=detector.name, version=detector.version, threshold=threshold,
        threshold_source=source, real_dir=str(real_dir), fake_dir=str(fake_dir),
        files_real=len(sets[0][1]), files_fake=len(sets[1][1]),
        conditions=[_condition(c, *scores[c], threshold) for c in conditions],
        unreadable=unreadable,
    )


def _perturbed(change: Callable[[bytes], bytes], data: bytes) -> bytes:
    try:
        return change(data)
    except (OSError, ValueError, SyntaxError) as exc:
        raise HaechiError(f"could not re-encode: {exc}", code="corrupt_media") from exc
