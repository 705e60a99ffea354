"""Frequency-spectrum features: the azimuthally averaged log power spectrum of an
image's high-pass residual.

Generators build images by upsampling (transposed convolutions, nearest or bilinear
resizes in the decoder), which leaves periodic traces that show as bumps and a raised
tail in the high frequencies of the noise residual, where camera images fall off
smoothly (Durall et al., CVPR 2020; Dzanic et al., NeurIPS 2020). The curve is cheap
(one FFT of a 256x256 crop) and does not depend on the image's content much.
"""

from __future__ import annotations

import numpy as np

CROP = 256
BINS = 32
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _radial_index(size: int, bins: int) -> np.ndarray:
    freq = np.fft.fftshift(np.fft.fftfreq(size))
    radius = np.hypot(*np.meshgrid(freq, freq, indexing="ij"))
    # 0.5 is the Nyquist radius along an axis; the corners beyond it are left out.
    index = np.floor(radius / 0.5 * bins).astype(np.int64)
    index[index >= bins] = -1
    return np.asarray(index)


_INDEX = _radial_index(CROP, BINS)
_COUNTS = np.bincount(_INDEX[_INDEX >= 0].ravel(), minlength=BINS).astype(np.float64)
_WINDOW = np.outer(np.hanning(CROP), np.hanning(CROP)).astype(np.float32)


def _centre_square(gray: np.ndarray) -> np.ndarray:
    """The central ``CROP`` square; a smaller image is padded by reflection to it."""
    h, w = gray.shape
    side = min(h, w, CROP)
    top, left = (h - side) // 2, (w - side) // 2
    square = gray[top:top + side, left:left + side]
    if side < CROP:
        before = (CROP - side) // 2
        square = np.pad(square, ((before, CROP - side - before),) * 2, mode="reflect")
    return square


def spectrum_features(rgb: np.ndarray) -> np.ndarray:
    """``(32,) float32``: the mean log power per radial band, centred on its own mean."""
    gray = np.asarray(rgb, dtype=np.float32) @ _LUMA
    square = _centre_square(gray)
    # High-pass residual: the image minus its 3x3 box blur (content mostly cancels).
    padded = np.pad(square, 1, mode="edge")
    blur = sum(padded[dy:dy + CROP, dx:dx + CROP] for dy in range(3) for dx in range(3)) / 9.0
    residual = (square - blur) * _WINDOW
    power = np.abs(np.fft.fftshift(np.fft.fft2(residual))) ** 2
    mask = _INDEX >= 0
    sums = np.bincount(_INDEX[mask], weights=np.log1p(power[mask]).astype(np.float64),
                       minlength=BINS)
    curve = sums / np.maximum(_COUNTS, 1.0)
    return np.asarray(curve - curve.mean(), dtype=np.float32)
