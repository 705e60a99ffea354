"""The optional ``nudenet`` detector (AGPL-3.0 extra). Its post-processing is checked on
hand-made model outputs; the model itself on neutral pictures and clothed portraits
(it must find the face and nothing sexual), skipped when the extra is not installed."""

from __future__ import annotations

import numpy as np
import pytest

from haechi.detection.nudenet import LABELS, NudeNetDetector, postprocess, preprocess
from haechi.detection.weights import ModelMissingError, package_dir
from haechi.media import load_media
from haechi.samples import encode, make_image


def _output(boxes: list[tuple[float, float, float, float, str, float]]) -> np.ndarray:
    """A model output ``(1, 22, N)``: centre x, centre y, width, height, 18 class scores."""
    out = np.zeros((1, 4 + len(LABELS), len(boxes)), dtype=np.float32)
    for j, (cx, cy, w, h, label, score) in enumerate(boxes):
        out[0, :4, j] = (cx, cy, w, h)
        out[0, 4 + LABELS.index(label), j] = score
    return out


def test_postprocess_suppresses_overlaps_drops_weak_boxes_and_scales() -> None:
    out = _output([
        (100, 100, 40, 40, "FACE_MALE", 0.9),
        (102, 101, 40, 40, "FACE_MALE", 0.7),  # the same face again: suppressed
        (250, 250, 20, 20, "FEET_COVERED", 0.3),
        (50, 250, 20, 20, "BELLY_COVERED", 0.22),  # a candidate, but under 0.25
    ])
    found = postprocess(out, scale=2.0, width=640, height=640)
    assert [(label, round(score, 2)) for label, score, _ in found] == [
        ("FACE_MALE", 0.9), ("FEET_COVERED", 0.3)]
    assert found[0][2] == (160, 160, 240, 240)  # (100 +- 20) * 2
    clipped = postprocess(_output([(310, 10, 40, 40, "FACE_FEMALE", 0.8)]), 1.0, 320, 320)
    assert clipped[0][2] == (290, 0, 319, 30)


def test_preprocess_pads_to_a_square_at_the_top_left() -> None:
    rgb = np.full((100, 200, 3), 255, dtype=np.uint8)
    tensor, scale = preprocess(rgb)
    assert tensor.shape == (1, 3, 320, 320) and scale == 200 / 320
    assert tensor[0, :, 10, 10].min() == pytest.approx(1.0)
    assert tensor[0, :, 300, 10].max() == 0.0  # below the image: padding


@pytest.fixture(scope="module")
def detector() -> NudeNetDetector:
    try:
        package_dir("nudenet")
    except ModelMissingError:
        pytest.skip("needs the optional extra: pip install 'haechi[nudenet]' (AGPL-3.0)")
    return NudeNetDetector()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_neutral_pictures_are_not_sexual(detector: NudeNetDetector, seed: int) -> None:
    result = detector.detect(load_media(encode(make_image(seed), "JPEG"), name="n.jpg"))
    assert result.score == 0.0 and "no exposed" in result.reason


def test_a_clothed_portrait_gives_a_face_region_where_the_face_is(
        detector: NudeNetDetector) -> None:
    from detection_data import adult_faces
    from PIL import Image

    for path in adult_faces(3):
        scene = make_image(5, (640, 480))
        with Image.open(path) as face:
            scene.paste(face.convert("RGB"), (220, 100))  # 200x200: box 220..419, 100..299
        result = detector.detect(load_media(encode(scene, "JPEG"), name=path.name))
        assert result.score < 0.25, result.reason
        faces = [r for r in result.regions if r.label.startswith("face_")]
        assert faces, result.regions
        left, top, right, bottom = faces[0].box
        inter = max(0, min(right, 419) - max(left, 220)) * max(0, min(bottom, 299) - max(top, 100))
        union = (right - left) * (bottom - top) + 200 * 200 - inter
        assert inter / union > 0.4, faces[0].box


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(package: str, relative: str) -> None:
        raise ModelMissingError(f"the package {package!r} is not installed")

    monkeypatch.setattr("haechi.detection.nudenet.model_file", missing)
    with pytest.raises(ModelMissingError) as err:
        NudeNetDetector()
    assert "haechi[nudenet]" in err.value.message and err.value.code == "model_missing"


def test_its_own_examples_hold(detector: NudeNetDetector) -> None:
    for example in NudeNetDetector.examples():
        result = detector.detect(example.make())
        assert (result.detector, result.version) == ("nudenet", 1)
        assert example.check(result) is None, example.description
