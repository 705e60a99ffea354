"""Stable Diffusion / SDXL invisible watermarks (``invisible-watermark``'s "dwtDct").

A port of the decoder of ``imwatermark.maxDct.EmbedMaxDct`` (MIT, ShieldMnt) to numpy
and PyWavelets, because that package imports torch and pulls a non-headless OpenCV.
The method: convert to YUV, take a Haar DWT of the U channel, cut the approximation
band into 4x4 blocks; each block's largest non-DC coefficient, modulo the scale 36,
votes for bit ``n mod length``: above half the scale is a 1.

The mark is fragile: JPEG re-encoding, resizing or cropping usually erase it, so its
absence proves nothing; its presence (nearly every bit right) is strong evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pywt  # type: ignore[import-untyped,unused-ignore]

SCALE = 36.0
BLOCK = 4
#: Stable Diffusion 1.x/2.x reference scripts: the bytes ``StableDiffusionV1``.
SD_MESSAGE = np.unpackbits(np.frombuffer(b"StableDiffusionV1", dtype=np.uint8))
#: SDXL (diffusers ``StableDiffusionXLWatermarker``): a fixed 48-bit message.
SDXL_MESSAGE = np.array(
    [int(b) for b in bin(0b101100111110110010010000011110111011000110011110)[2:]],
    dtype=np.uint8)
#: Share of bits that must agree; by chance a 48-bit match this close is ~1e-9.
MIN_AGREEMENT = 0.9


@dataclass(frozen=True)
class WatermarkFinding:
    name: str
    agreement: float


def _u_channel(rgb: np.ndarray, *, rgb_as_bgr: bool) -> np.ndarray:
    """OpenCV's 8-bit ``BGR2YUV`` U plane: 0.492 (B - Y) + 128, rounded and clipped.

    The SD scripts hand OpenCV a BGR image; diffusers' SDXL watermarker hands it RGB
    (so OpenCV's "blue" is red): ``rgb_as_bgr`` reproduces that."""
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    if rgb_as_bgr:
        r, b = b, r
    y = np.round(0.299 * r + 0.587 * g + 0.114 * b)
    return np.clip(np.round(0.492 * (b - y) + 128.0), 0, 255)


def decode_bits(rgb: np.ndarray, length: int, *, rgb_as_bgr: bool = False) -> np.ndarray:
    """The ``length`` bits a dwtDct watermark would carry in ``rgb`` (H, W, 3 uint8)."""
    h, w = rgb.shape[:2]
    u = _u_channel(rgb[: h // 4 * 4, : w // 4 * 4], rgb_as_bgr=rgb_as_bgr)
    approx, _ = pywt.dwt2(u, "haar")
    rows, cols = approx.shape[0] // BLOCK, approx.shape[1] // BLOCK
    if rows * cols < length:
        return np.zeros(length, dtype=np.uint8)
    blocks = (approx[: rows * BLOCK, : cols * BLOCK]
              .reshape(rows, BLOCK, cols, BLOCK).swapaxes(1, 2).reshape(-1, BLOCK * BLOCK))
    ac = np.abs(blocks[:, 1:])
    value = ac[np.arange(len(ac)), ac.argmax(axis=1)]
    votes = (value % SCALE > 0.5 * SCALE).astype(np.float64)
    index = np.arange(len(votes)) % length
    means = np.bincount(index, weights=votes, minlength=length) / np.bincount(
        index, minlength=length)
    return (means * 255 > 127).astype(np.uint8)


def find_watermarks(rgb: np.ndarray) -> list[WatermarkFinding]:
    """Known generator watermarks whose bits agree with ``rgb``'s (>= 90 %)."""
    found = []
    for name, message, as_bgr in (("Stable Diffusion (StableDiffusionV1)", SD_MESSAGE, False),
                                  ("SDXL (diffusers 48-bit)", SDXL_MESSAGE, True)):
        bits = decode_bits(rgb, len(message), rgb_as_bgr=as_bgr)
        agreement = float((bits == message).mean())
        if agreement >= MIN_AGREEMENT:
            found.append(WatermarkFinding(name, agreement))
    return found
