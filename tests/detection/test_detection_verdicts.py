"""The combined verdict: four named verdicts with score, threshold and reasons, for
images and videos; thresholds from settings or the environment; a detector that cannot
run leaves its verdict unmeasured instead of failing the scan."""

from __future__ import annotations

import io

import pytest
from detection_data import adult_faces, dataset
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fixtures_media import encode, make_image, make_video
from haechi.detection.service import DetectionService
from haechi.detection.settings import DetectionSettings
from haechi.detection.verdicts import VERDICT_NAMES, Verdicts, detect_all, resolve_settings
from haechi.engine import Engine
from haechi.errors import MediaError
from haechi.media import load_media

SETTINGS = DetectionSettings()


def _check_shape(v: Verdicts) -> None:
    for name in VERDICT_NAMES:
        verdict = getattr(v, name)
        assert verdict.reasons, name
        if verdict.score is not None:
            assert verdict.flagged == (verdict.score >= verdict.threshold)


def test_neutral_drawing_flags_nothing() -> None:
    v = detect_all(SETTINGS, load_media(encode(make_image(2, (800, 600)), "JPEG")))
    _check_shape(v)
    assert not any(getattr(v, n).flagged for n in VERDICT_NAMES)
    assert v.sexual.score is not None and v.sexual.detectors == ["open-nsfw@1"]
    assert v.real_person_face.score == 0.0
    assert v.possible_minor.score is None
    assert v.possible_minor.reasons == ["not measured: no face to estimate an age from"]
    assert v.policy_scores() == {"sexual": v.sexual.score, "real_face": 0.0, "synthetic": 0.0}
    assert {"open-nsfw_ms", "dlib-faces_ms", "provenance_ms", "detection_ms"} <= set(
        v.timings_ms)


def test_portrait_is_a_real_face_and_not_sexual() -> None:
    path = adult_faces(2)[1]
    v = detect_all(SETTINGS, load_media(path.read_bytes(), name=path.name))
    _check_shape(v)
    assert v.real_person_face.flagged and not v.sexual.flagged and not v.synthetic.flagged
    assert v.possible_minor.score is not None
    assert "face(s)" in v.real_person_face.reasons[0]


def test_comfyui_image_is_synthetic_by_provenance() -> None:
    path = dataset("generated-with-metadata/comfyui") / "lora__lora_multiple.png"
    v = detect_all(SETTINGS, load_media(path.read_bytes(), name=path.name))
    assert v.synthetic.flagged and v.synthetic.score == 1.0
    assert "ComfyUI" in v.synthetic.reasons[0]


def test_generated_face_with_generator_metadata_combines() -> None:
    crop = Image.open(adult_faces(4)[2]).convert("RGB")
    canvas = make_image(12, (640, 480))
    canvas.paste(crop, (220, 140))
    meta = PngInfo()
    meta.add_text("parameters", "portrait\nSteps: 30, Sampler: DPM++ 2M")
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", pnginfo=meta)
    v = detect_all(SETTINGS, load_media(buf.getvalue()))
    assert v.real_person_face.flagged and v.synthetic.flagged and not v.sexual.flagged


def test_thresholds_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAECHI_DETECTION_SEXUAL_THRESHOLD", "0")
    monkeypatch.setenv("HAECHI_DETECTION_ENABLED", "true")
    settings = resolve_settings(object())  # nothing attached: read from the environment
    assert settings.enabled and settings.sexual_threshold == 0.0
    v = detect_all(settings, load_media(encode(make_image(3), "PNG")))
    assert v.sexual.flagged and v.sexual.threshold == 0.0
    with pytest.raises(ValueError):
        DetectionSettings(sexual_threshold=1.5)


def test_a_detector_that_cannot_run_leaves_its_verdict_unmeasured() -> None:
    settings = DetectionSettings(sexual_detectors=["no-such-detector"])
    v = detect_all(settings, load_media(encode(make_image(3), "PNG")))
    assert v.sexual.score is None and not v.sexual.flagged
    assert [(e.detector, e.code) for e in v.errors] == [("no-such-detector", "unknown_detector")]
    assert "sexual" not in v.policy_scores()
    assert v.real_person_face.score is not None  # the others still ran


def test_video_frames_are_sampled_and_named() -> None:
    clip = make_video(3, seconds=4.0, fps=5, size=(320, 240))
    v = detect_all(DetectionSettings(video_max_frames=2), load_media(clip, name="clip.mp4"))
    _check_shape(v)
    assert len(v.frames_s) == 2 and v.frames_s[0] == 0.0
    assert v.sexual.score is not None and not v.sexual.flagged
    assert v.sexual.reasons[0].startswith("at ")
    assert v.synthetic.score == 0.0  # provenance reads the file, not frames


def test_verdicts_serialise_for_the_api() -> None:
    v = detect_all(SETTINGS, load_media(encode(make_image(5), "PNG")))
    assert Verdicts.model_validate_json(v.model_dump_json()) == v


def test_service_on_the_engine(engine: Engine) -> None:
    service = DetectionService(engine, settings=DetectionSettings())
    assert resolve_settings(service) is service.settings
    v = service.detect_bytes(data=encode(make_image(6), "JPEG"), name="a.jpg")
    assert v.sexual.score is not None
    with pytest.raises(MediaError) as err:
        service.detect_bytes(data=b"not an image", name="x.jpg")
    assert err.value.code == "unsupported_format"
