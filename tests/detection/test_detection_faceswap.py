"""The face-swap detector on held-out faces: self-blends and swaps of two different
people score high, the untouched faces low; no face means "not assessed"; a missing
model is a clear error; heat maps are small PNGs that light up where the blend is.

The faces come from the validation split the model never saw in training (the shared
data set; these tests skip without it).
"""

from __future__ import annotations

import base64
import io
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from detection_data import dataset
from PIL import Image

from browser_support import launched, missing_browser, serving
from haechi.api import create_app
from haechi.detection import faceswap as faceswap_module
from haechi.detection import get_detector
from haechi.detection.base import Detection
from haechi.detection.examples import neutral_image
from haechi.detection.faces import locate_faces
from haechi.detection.faceswap import FaceSwapDetector, face_chip
from haechi.detection.heatmaps import HEATMAP_SIDE
from haechi.detection.settings import DetectionSettings
from haechi.detection.verdicts import detect_all
from haechi.detection.weights import ModelMissingError
from haechi.engine import Engine
from haechi.media import Media, load_media
from haechi.moderation import ModerationService
from haechi.samples import encode
from haechi.training.faceswap.blend import self_blend, swap_faces
from haechi.training.faceswap.data import list_faces, load_rgb, split
from haechi.training.faceswap.validation import validation_seed

FACES = 10
PASSWORD = "correct horse battery"
#: Scores the default moderation policy holds for review (a likely sexual deepfake).
DEEPFAKE = {"sexual": 0.95, "real_face": 0.9, "synthetic": 0.9}


@pytest.fixture(scope="module")
def detector() -> FaceSwapDetector:
    return FaceSwapDetector()


@pytest.fixture(scope="module")
def held_out() -> list[tuple[Path, np.ndarray, list[tuple[int, int]]]]:
    """Validation-split faces in which dlib finds a face, with their landmarks."""
    _, validation = split(list_faces(dataset("faces-real/utkface-adults")))
    found = []
    for path in validation:
        rgb = load_rgb(path)
        faces = locate_faces(rgb)
        if faces:
            found.append((path, rgb, faces[0][2]))
        if len(found) == FACES:
            break
    return found


def _media(rgb: np.ndarray, name: str) -> Media:
    return load_media(encode(Image.fromarray(rgb), "PNG"), name=name)


def _scores(detector: FaceSwapDetector, images: list[np.ndarray]) -> np.ndarray:
    return np.array([detector.detect(_media(rgb, f"face-{i}.png")).score
                     for i, rgb in enumerate(images)])


def test_self_blends_score_above_their_originals(
        detector: FaceSwapDetector,
        held_out: list[tuple[Path, np.ndarray, list[tuple[int, int]]]]) -> None:
    real = _scores(detector, [rgb for _, rgb, _ in held_out])
    fakes = _scores(detector, [self_blend(rgb, points, np.random.default_rng(
        validation_seed(path.name)))[0] for path, rgb, points in held_out])
    assert fakes.mean() - real.mean() > 0.3, (real, fakes)
    # Ranked: most blends above most originals (AUC over the pairs).
    assert (fakes[:, None] > real[None, :]).mean() >= 0.8, (real, fakes)
    assert np.median(real) < 0.5, real


def test_a_swap_of_two_different_people_scores_high(
        detector: FaceSwapDetector,
        held_out: list[tuple[Path, np.ndarray, list[tuple[int, int]]]]) -> None:
    swaps = [swap_faces(held_out[i - 1][1], held_out[i - 1][2], rgb, points, seed=i)[0]
             for i, (_, rgb, points) in enumerate(held_out)]
    real = _scores(detector, [rgb for _, rgb, _ in held_out])
    swapped = _scores(detector, swaps)
    assert swapped.mean() - real.mean() > 0.3, (real, swapped)
    assert np.median(swapped) > 0.5, swapped


def test_result_explains_faces_and_the_top_score(
        detector: FaceSwapDetector,
        held_out: list[tuple[Path, np.ndarray, list[tuple[int, int]]]]) -> None:
    path, rgb, _ = held_out[0]
    result = detector.detect(_media(rgb, path.name))
    assert len(result.regions) == 1 and result.regions[0].label == "face"
    assert result.score == pytest.approx(result.regions[0].score)
    assert "1 face(s)" in result.reason and f"{result.score:.2f}" in result.reason
    assert Detection.model_validate_json(result.model_dump_json()) == result


def test_no_face_is_not_assessed_and_says_so(detector: FaceSwapDetector) -> None:
    result = detector.detect(neutral_image(11))
    assert result.score == 0.0 and not result.regions and not result.heatmaps
    assert "no face" in result.reason and "not assessed" in result.reason


def test_a_tight_face_crop_dlib_misses_is_still_read() -> None:
    """Aligned face crops are often just under the HOG cut-off: in a small square image
    a weaker candidate is taken, and the reason says so."""
    folder = dataset("faces-real/utkface-adults")
    missed = [p for p in sorted(folder.glob("*.jpg"))[:400] if not locate_faces(load_rgb(p))]
    assert missed, "expected some crops dlib misses at its own cut-off"
    results = [FaceSwapDetector().detect(_media(load_rgb(p), p.name)) for p in missed[:3]]
    read = [r for r in results if r.regions]
    assert read, [r.reason for r in results]
    assert all("weak candidate" in r.reason for r in read)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as err:
        FaceSwapDetector(model_path=tmp_path / "faceswap-v1.onnx")
    assert err.value.code == "model_missing" and err.value.http_status == 503
    assert "haechi train faceswap" in err.value.message


def test_missing_model_leaves_the_verdict_unmeasured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faceswap_module, "MODEL_PATH", tmp_path / "gone.onnx")
    get_detector.cache_clear()
    try:
        verdicts = detect_all(DetectionSettings(sexual_detectors=[], face_detectors=[],
                                                synthetic_detectors=["face-swap"]),
                              neutral_image(3))
    finally:
        get_detector.cache_clear()
    assert verdicts.synthetic.score is None
    assert [(e.detector, e.code) for e in verdicts.errors] == [("face-swap", "model_missing")]


def _heat(png_base64: str) -> np.ndarray:
    data = base64.b64decode(png_base64)
    assert data.startswith(b"\x89PNG") and len(data) <= 8 * 1024, len(data)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (HEATMAP_SIDE, HEATMAP_SIDE)
        return np.asarray(image.convert("L"), dtype=np.float64)


def _contrast(detector: FaceSwapDetector, rgb: np.ndarray, weight: np.ndarray) -> float:
    """Heat map brightness inside the blended area minus outside it (model crop frame)."""
    result = detector.detect(_media(rgb, "face.png"))
    assert result.regions and len(result.heatmaps) == len(result.regions)
    heat = _heat(result.heatmaps[0].png_base64)
    mask_rgb = np.repeat((weight * 255).astype(np.uint8)[..., None], 3, axis=2)
    chip_mask = face_chip(mask_rgb, result.regions[0].landmarks)[..., 0]
    inside = np.asarray(Image.fromarray(chip_mask).resize(heat.shape[::-1])) > 128
    return float(heat[inside].mean() - heat[~inside].mean())


def test_heatmaps_light_up_the_blended_area(
        detector: FaceSwapDetector,
        held_out: list[tuple[Path, np.ndarray, list[tuple[int, int]]]]) -> None:
    fake_contrast, real_contrast = [], []
    for path, rgb, points in held_out:
        fake, weight = self_blend(rgb, points, np.random.default_rng(validation_seed(path.name)))
        if weight.max() < 0.5:
            continue  # a faint blend leaves no clear inside
        weight = weight / weight.max()
        fake_contrast.append(_contrast(detector, fake, weight))
        real_contrast.append(_contrast(detector, rgb, weight))
    assert len(fake_contrast) >= 5
    # Averaged over faces, the blend makes its own area brighter than the same area of
    # the untouched face (which has the same face under it).
    assert np.mean(fake_contrast) > np.mean(real_contrast), (fake_contrast, real_contrast)
    assert np.mean(fake_contrast) > 0, fake_contrast


def test_review_page_shows_scores_and_serves_heat_maps_only_on_logged_reveal(
        engine: Engine,
        held_out: list[tuple[Path, np.ndarray, list[tuple[int, int]]]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx, as in tests/api
        from fastapi.testclient import TestClient

    mod = ModerationService(engine)
    engine.moderation = mod  # type: ignore[attr-defined]
    mod.accounts.create(username="alice", password=PASSWORD, role="reviewer", can_reveal=True)
    mod.accounts.create(username="trainee", password=PASSWORD, role="reviewer")
    path, rgb, points = held_out[1]
    fake, _ = self_blend(rgb, points, np.random.default_rng(validation_seed(path.name)))
    held = mod.moderate_upload(encode(Image.fromarray(fake), "PNG"), user_id="uploader",
                               room_id="general", detections=DEEPFAKE)
    assert held.item.status == "held" and held.review_id is not None
    with TestClient(create_app(engine)) as client:
        client.post("/review/login", data={"username": "trainee", "password": PASSWORD})
        page = client.get(f"/review/items/{held.review_id}").text
        assert 'id="faceswap"' in page and "1 face(s)" in page
        # No heat map pixels in the page itself: only a link followed on reveal.
        assert "data:image" not in page
        assert f'data-original="/review/media/{held.item.id}/heatmaps"' in page
        denied = client.get(f"/review/media/{held.item.id}/heatmaps")
        assert denied.status_code == 403
        client.cookies.clear()
        client.post("/review/login", data={"username": "alice", "password": PASSWORD})
        strip = client.get(f"/review/media/{held.item.id}/heatmaps")
        assert strip.status_code == 200 and strip.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(strip.content)) as image:
            assert image.size == (HEATMAP_SIDE, HEATMAP_SIDE)  # one face, one tile
    actions = [(e.action, e.actor) for e in mod.audit_log(limit=20)]
    assert ("reveal_denied", "trainee") in actions and ("reveal", "alice") in actions


def test_heat_maps_appear_in_the_browser_on_reveal(
        engine: Engine,
        held_out: list[tuple[Path, np.ndarray, list[tuple[int, int]]]]) -> None:
    if (why := missing_browser()) is not None:
        pytest.skip(why)
    if not engine.db.is_sqlite:
        pytest.skip("the page does not depend on the store; one browser run is enough")
    mod = ModerationService(engine)
    engine.moderation = mod  # type: ignore[attr-defined]
    mod.accounts.create(username="alice", password=PASSWORD, role="reviewer", can_reveal=True)
    path, rgb, points = held_out[2]
    fake, _ = self_blend(rgb, points, np.random.default_rng(validation_seed(path.name)))
    held = mod.moderate_upload(encode(Image.fromarray(fake), "PNG"), user_id="uploader",
                               room_id="general", detections=DEEPFAKE)
    with serving(create_app(engine)) as url, launched() as browser:
        page = browser.new_context().new_page()
        page.goto(url + "/review/login")
        page.fill("#username", "alice")
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_url("**/review/queue")
        page.goto(f"{url}/review/items/{held.review_id}")
        assert page.locator("#heatmaps").get_attribute("src") is None
        assert "face 1" in page.inner_text("#faceswap-faces")
        page.click("#reveal")
        # polled: the page's Content-Security-Policy forbids wait_for_function's eval
        shown = ("(() => { const h = document.getElementById('heatmaps'); "
                 "return h.complete && h.naturalWidth > 0; })()")
        deadline = time.monotonic() + 10
        while not page.evaluate(shown):
            assert time.monotonic() < deadline, "the heat maps did not load"
            time.sleep(0.05)
        assert page.evaluate("document.getElementById('heatmaps').naturalWidth") == \
            HEATMAP_SIDE
    assert len(mod.audit_log(action="reveal")) == 2  # the original and its heat maps
