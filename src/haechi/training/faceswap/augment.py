"""Augmentations applied alike to real faces and pseudo-fakes, so the model learns the
blend and not the ways images travel: JPEG re-compression, rescaling, colour, flips."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        return np.asarray(image.convert("RGB"))


def augment(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random travel history for an aligned ``(S, S, 3) uint8`` crop."""
    image = Image.fromarray(rgb)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.3:
        w, h = image.size
        f = float(rng.uniform(0.45, 0.9))
        image = image.resize((round(w * f), round(h * f)), Image.Resampling.BILINEAR).resize(
            (w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.4:
        image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.8, 1.2)))
        image = ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.8, 1.2)))
        image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.7, 1.3)))
    out = np.asarray(image)
    if rng.random() < 0.7:
        out = jpeg(out, int(rng.integers(50, 96)))
    return out
