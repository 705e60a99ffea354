"""Sexual content with labelled regions: NudeNet's 320n detector (optional, AGPL-3.0).

The ``nudenet`` wheel ships a YOLOv8-n ONNX model (``320n.onnx``) with 18 labels of
exposed and covered body parts and faces. Its LICENSE file is AGPL-3.0, so it is an
optional extra (``pip install 'haechi[nudenet]'``), never in the default install, and
this detector is registered only as an entry point. The package is not imported (it
needs OpenCV for what numpy and Pillow do here): its model file is opened by path, with
the package's preprocessing (pad right and bottom to a square, resize to 320, RGB 0..1)
and post-processing (candidates >= 0.2, non-maximum suppression at IoU 0.45) rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from haechi.detection.base import Detection, Detector, DetectorExample, Region
from haechi.detection.examples import neutral_image
from haechi.detection.onnx import session
from haechi.detection.weights import ModelMissingError, model_file
from haechi.media import Media

SIZE = 320
CANDIDATE_MIN = 0.2
KEEP_MIN = 0.25
IOU_MAX = 0.45
#: The model's output classes, in its order.
LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED",
    "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE",
    "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
#: The labels that make an image sexual; the headline score is the strongest of them.
SEXUAL = frozenset({"BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED",
                    "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED"})


def preprocess(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """``(1, 3, 320, 320)`` input, and the factor from model to image pixels."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    square = np.zeros((side, side, 3), dtype=np.uint8)
    square[:h, :w] = rgb
    resized = Image.fromarray(square).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    tensor = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(tensor), side / SIZE


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[2], others[:, 2])
    bottom = np.minimum(box[3], others[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def postprocess(output: np.ndarray, scale: float, width: int, height: int
                ) -> list[tuple[str, float, tuple[int, int, int, int]]]:
    """``(label, score, [left, top, right, bottom])`` per kept box, strongest first."""
    rows = np.asarray(output, dtype=np.float32).reshape(4 + len(LABELS), -1).T
    classes = rows[:, 4:]
    best = classes.argmax(axis=1)
    scores = classes[np.arange(len(rows)), best]
    keep = scores >= CANDIDATE_MIN
    rows, best, scores = rows[keep], best[keep], scores[keep]
    cx, cy, bw, bh = (rows[:, i] * scale for i in range(4))
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    boxes = np.clip(boxes, 0, [width - 1, height - 1, width - 1, height - 1])
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    while order.size:
        i = int(order[0])
        if scores[i] < KEEP_MIN:
            break
        kept.append(i)
        rest = order[1:]
        order = rest[_iou(boxes[i], boxes[rest]) <= IOU_MAX]
    return [(LABELS[int(best[i])], float(scores[i]),
             (int(boxes[i, 0]), int(boxes[i, 1]), int(boxes[i, 2]), int(boxes[i, 3])))
            for i in kept]


class NudeNetDetector(Detector):
    name = "nudenet"
    version = 1

    def __init__(self) -> None:
        try:
            path = model_file("nudenet", "320n.onnx")
        except ModelMissingError as exc:
            raise ModelMissingError(f"{exc.message} (optional extra, AGPL-3.0: "
                                    f"pip install 'haechi[nudenet]')") from None
        self._session = session(path)
        self._input = self._session.get_inputs()[0].name

    def detect(self, media: Media) -> Detection:
        rgb = media.rgb
        tensor, scale = preprocess(rgb)
        output = self._session.run(None, {self._input: tensor})[0]
        found = postprocess(output, scale, rgb.shape[1], rgb.shape[0])
        regions = [Region(label=label.lower(), box=box, score=round(min(1.0, score), 4))
                   for label, score, box in found]
        sexual = [(label, score) for label, score, _ in found if label in SEXUAL]
        score = max((s for _, s in sexual), default=0.0)
        if sexual:
            reason = "nudenet: " + ", ".join(f"{lbl.lower()} {s:.2f}" for lbl, s in sexual[:4])
        else:
            reason = (f"nudenet: no exposed intimate body parts "
                      f"({len(found)} other region{'s' if len(found) != 1 else ''})")
        return self.result(score, reason, regions=regions)

    @classmethod
    def examples(cls) -> Sequence[DetectorExample]:
        def low(d: Detection) -> str | None:
            return None if d.score < 0.25 else f"a drawing of shapes scored {d.score:.3f}"

        return [DetectorExample("generated shapes and text", lambda: neutral_image(3), low)]
