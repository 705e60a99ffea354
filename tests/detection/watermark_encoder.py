"""An encoder for the dwtDct watermark, for tests only: the inverse of the decoder in
``haechi.detection.watermark`` (the reference encoder, ``imwatermark``, needs torch).
The decoder was also checked against the reference's own decoder: all bits agree."""

from __future__ import annotations

import numpy as np
import pywt

from haechi.detection.watermark import BLOCK, SCALE


def embed(rgb: np.ndarray, bits: np.ndarray, *, rgb_as_bgr: bool = False) -> np.ndarray:
    f = rgb.astype(np.float64)
    if rgb_as_bgr:
        f = f[..., ::-1]
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = 0.492 * (b - y) + 128.0
    v = 0.877 * (r - y) + 128.0
    h, w = u.shape[0] // 4 * 4, u.shape[1] // 4 * 4
    approx, detail = pywt.dwt2(u[:h, :w], "haar")
    num = 0
    for i in range(approx.shape[0] // BLOCK):
        for j in range(approx.shape[1] // BLOCK):
            block = approx[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK]
            pos = int(np.argmax(np.abs(block.flatten()[1:]))) + 1
            bi, bj = divmod(pos, BLOCK)
            val = block[bi, bj]
            mark = (abs(val) // SCALE + 0.25 + 0.5 * int(bits[num % len(bits)])) * SCALE
            block[bi, bj] = mark if val >= 0 else -mark
            num += 1
    u[:h, :w] = pywt.idwt2((approx, detail), "haar")
    b2 = y + (u - 128.0) / 0.492
    r2 = y + (v - 128.0) / 0.877
    g2 = (y - 0.299 * r2 - 0.114 * b2) / 0.587
    out = np.stack([r2, g2, b2], axis=-1)
    if rgb_as_bgr:
        out = out[..., ::-1]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
