"""``face-swap``: is a face pasted in? Scored per face by the project's own model.

The model (``models/faceswap-v1.onnx``, see its model card ``faceswap-v1.md``) is an
EfficientNet-Lite0 trained on self-blended pseudo-fakes of real faces (``haechi train
faceswap``). Faces are found and aligned with dlib's HOG detector and 5-point landmarks;
each face's score is P(blended), the image's score the highest of them. The model also
returns its class activation map, drawn as a heat map per face for reviewers.

A score of 0 with no face found means "not assessed", never "authentic".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from haechi.detection.base import Detection, Detector, DetectorExample, Heatmap, Region
from haechi.detection.examples import neutral_image
from haechi.detection.faces import aligned_crop, locate_faces
from haechi.detection.heatmaps import render_base64
from haechi.detection.onnx import session
from haechi.detection.weights import ModelMissingError
from haechi.media import Media

MODEL_PATH = Path(__file__).with_name("models") / "faceswap-v1.onnx"
#: The model's input: aligned crops of this size and dlib padding (close to the framing of
#: the aligned UTKFace crops it was trained on).
CHIP_SIZE = 160
CHIP_PADDING = 0.15
INPUT_NAME = "faces"
SCORE_OUTPUT = "p_fake"
CAM_OUTPUT = "heatmap"
#: Faces scored per image, surest first (bounds the cost of crowd photos).
MAX_FACES = 16
#: Tight face crops (aligned face images, avatars) often fall just under dlib's HOG
#: cut-off; in small, square images a weaker candidate is accepted as the face.
CROP_MAX_SIDE = 400
WEAK_FACE_THRESHOLD = -0.5
NO_FACE = ("no face to examine: face-swap not assessed (this score says nothing about "
           "whether the image is authentic)")


def face_chip(rgb: np.ndarray, landmarks: Sequence[tuple[float, float]] | None) -> np.ndarray:
    """The model's view of one face: aligned on its landmarks, or, with none, the whole
    image taken as an already aligned face crop (used in training only)."""
    if landmarks is not None:
        return aligned_crop(rgb, landmarks, CHIP_SIZE, CHIP_PADDING)
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    return np.asarray(image.resize((CHIP_SIZE, CHIP_SIZE), Image.Resampling.BILINEAR))


def to_input(chips: Sequence[np.ndarray]) -> np.ndarray:
    """``(N, 3, S, S) float32`` in -1..1 from aligned ``(S, S, 3) uint8`` crops."""
    batch = np.stack(chips).astype(np.float32)
    return np.ascontiguousarray(((batch - 127.5) / 127.5).transpose(0, 3, 1, 2))


def _small_square(rgb: np.ndarray) -> bool:
    h, w = rgb.shape[:2]
    return bool(max(h, w) <= CROP_MAX_SIDE and 0.8 <= w / h <= 1.25)


class FaceSwapDetector(Detector):
    """P(a face was blended in) per face, with a heat map of where."""

    name = "face-swap"
    version = 1
    #: On video, the faces this detector scores per frame are linked into tracks.
    tracks_faces: ClassVar[bool] = True

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path or MODEL_PATH
        if not path.is_file():
            raise ModelMissingError(
                f"the face-swap model is missing ({path}); reinstall haechi, or train one "
                f"with `haechi train faceswap` and copy its faceswap.onnx there")
        self._session = session(path)

    def score_chips(self, chips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """P(fake) per aligned crop, and each crop's evidence grid (0..1 per position)."""
        scores, cam = self._session.run([SCORE_OUTPUT, CAM_OUTPUT],
                                        {INPUT_NAME: to_input(chips)})
        return (np.asarray(scores, dtype=np.float64).reshape(-1),
                1.0 / (1.0 + np.exp(-np.asarray(cam, dtype=np.float64))))

    def detect(self, media: Media) -> Detection:
        rgb = media.rgb
        located = locate_faces(rgb)[:MAX_FACES]
        weak = False
        if not located and _small_square(rgb):
            located = locate_faces(rgb, threshold=WEAK_FACE_THRESHOLD)[:1]
            weak = bool(located)
        if not located:
            return self.result(0.0, NO_FACE)
        chips = [face_chip(rgb, points) for _, _, points in located]
        scores, grids = self.score_chips(chips)
        regions = [Region(label="face", box=box, score=float(s), landmarks=points,
                          attributes={"face_margin": round(margin, 3)})
                   for (box, margin, points), s in zip(located, scores, strict=True)]
        heatmaps = [Heatmap(region=i, png_base64=render_base64(chip, grid))
                    for i, (chip, grid) in enumerate(zip(chips, grids, strict=True))]
        top = int(np.argmax(scores))
        reason = (f"{len(located)} face(s); highest face-swap score {scores[top]:.2f} "
                  f"(face at {located[top][0]})")
        if weak:
            reason += ("; the face is a weak candidate (below dlib's cut-off) in a small "
                       "square image, read as an aligned face crop")
        return self.result(float(scores[top]), reason, regions=regions, heatmaps=heatmaps)

    @classmethod
    def examples(cls) -> Sequence[DetectorExample]:
        def not_assessed(d: Detection) -> str | None:
            if d.score != 0.0 or d.regions:
                return f"scored an image without faces: {d.score}, {d.regions}"
            return None if "not assessed" in d.reason else f"reason hides it: {d.reason!r}"

        return [
            DetectorExample("generated shapes without faces", lambda: neutral_image(6),
                            not_assessed),
            DetectorExample("a small square image without faces (no crop fallback)",
                            lambda: neutral_image(7, size=(200, 200)), not_assessed),
        ]
