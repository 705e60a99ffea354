"""SD / SDXL invisible watermarks: found in lossless images that carry them, not in
images that do not, and (as documented) erased by JPEG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter
from watermark_encoder import embed

from haechi.detection.provenance import ProvenanceDetector
from haechi.detection.watermark import SD_MESSAGE, SDXL_MESSAGE, decode_bits, find_watermarks
from haechi.media import load_media
from haechi.samples import make_image


def _picture(seed: int, size: tuple[int, int] = (512, 512)) -> np.ndarray:
    """Blurred colour noise. The method moves each block's largest coefficient; where
    another coefficient is nearly as large it can take over and flip the bit (a weakness
    of the original algorithm too), so a fair test of the decoder uses fine, low-contrast
    texture, on which the reference decoder also reads every bit."""
    rng = np.random.default_rng(seed)
    noise = (rng.random((size[1], size[0], 3)) * 200 + 20).astype(np.uint8)
    return np.asarray(Image.fromarray(noise).filter(ImageFilter.GaussianBlur(3)))


def _drawing(seed: int) -> np.ndarray:
    return np.asarray(make_image(seed, (512, 512)))


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("message", "as_bgr", "name"), [
    (SD_MESSAGE, False, "Stable Diffusion (StableDiffusionV1)"),
    (SDXL_MESSAGE, True, "SDXL (diffusers 48-bit)")])
def test_marked_images_are_found(message: np.ndarray, as_bgr: bool, name: str) -> None:
    marked = embed(_picture(1), message, rgb_as_bgr=as_bgr)
    agreement = (decode_bits(marked, len(message), rgb_as_bgr=as_bgr) == message).mean()
    assert agreement >= 0.95
    assert [f.name for f in find_watermarks(marked)] == [name]
    result = ProvenanceDetector().detect(load_media(_png(marked)))
    assert result.score == 1.0
    assert result.findings[0].startswith(f"invisible watermark: {name}, ")


def test_a_large_marked_image_is_read_at_full_resolution() -> None:
    # 1024x1024 is reduced by intake to 512; the watermark needs the original pixels.
    marked = embed(_picture(2, (1024, 1024)), SDXL_MESSAGE, rgb_as_bgr=True)
    media = load_media(_png(marked))
    assert media.working_size != (media.width, media.height)
    assert ProvenanceDetector().detect(media).score == 1.0


def test_unmarked_images_are_not_flagged() -> None:
    for seed in range(6):
        assert find_watermarks(_picture(seed)) == []
        assert find_watermarks(_drawing(seed)) == []
    flat = np.full((512, 512, 3), 90, dtype=np.uint8)
    assert find_watermarks(flat) == []


def test_jpeg_erases_the_mark_so_absence_proves_nothing() -> None:
    marked = embed(_picture(3), SD_MESSAGE)
    buf = io.BytesIO()
    Image.fromarray(marked).save(buf, format="JPEG", quality=90)
    result = ProvenanceDetector().detect(load_media(buf.getvalue()))
    assert result.score == 0.0


def test_tiny_images_decode_to_nothing() -> None:
    assert decode_bits(np.zeros((8, 8, 3), dtype=np.uint8), 136).sum() == 0
