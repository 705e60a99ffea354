"""``haechi eval`` end to end with a detector whose outcome is known: provenance on
generated PNGs, some carrying an AUTOMATIC1111 ``parameters`` chunk. The chunk is
found in the files as they are, and lost in every re-encoding, as in the wild."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from typer.testing import CliRunner

from haechi.cli.main import app
from haechi.detection.settings import DetectionSettings
from haechi.evaluation.metrics import auc
from haechi.evaluation.perturb import PERTURBATIONS, screenshot
from haechi.evaluation.runner import EvaluationError, evaluate, verdict_threshold
from haechi.samples import make_image

TAGGED, UNTAGGED, REAL = 4, 2, 6


def _png(seed: int, parameters: str | None) -> bytes:
    meta = PngInfo()
    if parameters:
        meta.add_text("parameters", parameters)
    buf = io.BytesIO()
    make_image(seed, (256, 192)).save(buf, format="PNG", pnginfo=meta)
    return buf.getvalue()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval")
    real, fake = root / "real", root / "fake"
    real.mkdir()
    fake.mkdir()
    for i in range(REAL):
        (real / f"real-{i}.png").write_bytes(_png(100 + i, None))
    (real / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    for i in range(TAGGED):
        (fake / f"tagged-{i}.png").write_bytes(_png(200 + i, "a lighthouse\nSteps: 20"))
    for i in range(UNTAGGED):
        (fake / f"stripped-{i}.png").write_bytes(_png(300 + i, None))
    return real, fake


def _pairwise(real: list[float], fake: list[float]) -> float:
    return float(np.mean([1.0 if f > r else 0.5 if f == r else 0.0
                          for f in fake for r in real]))


def test_metrics_per_condition(folders: tuple[Path, Path]) -> None:
    real, fake = folders
    report = evaluate("provenance", real, fake)
    by_name = {c.condition: c for c in report.conditions}
    assert list(by_name) == list(PERTURBATIONS)
    original = by_name["original"]
    assert (original.real, original.fake) == (REAL, TAGGED + UNTAGGED)
    # Tagged fakes beat every real; untagged ones tie with all of them.
    assert original.auc == pytest.approx((TAGGED + 0.5 * UNTAGGED) / (TAGGED + UNTAGGED),
                                         abs=1e-4)
    assert original.auc == pytest.approx(_pairwise(original.scores_real, original.scores_fake),
                                         abs=1e-4)
    scores = np.array(original.scores_real + original.scores_fake)
    labels = np.array([0] * REAL + [1] * (TAGGED + UNTAGGED))
    assert original.auc == pytest.approx(auc(scores, labels), abs=1e-4)
    assert original.tpr_at_1pct_fpr == pytest.approx(TAGGED / (TAGGED + UNTAGGED), abs=1e-4)
    # The threshold is the synthetic verdict's, since provenance feeds that verdict.
    assert report.threshold == DetectionSettings().synthetic_threshold
    assert "SYNTHETIC_THRESHOLD" in report.threshold_source
    table = original.confusion
    assert (table.true_positive, table.false_negative) == (TAGGED, UNTAGGED)
    assert (table.false_positive, table.true_negative) == (0, REAL)
    for name in ("jpeg95", "jpeg75", "jpeg50", "resize0.5", "screenshot"):
        cond = by_name[name]
        assert cond.auc == 0.5, f"{name}: the chunk should be gone, AUC {cond.auc}"
        assert cond.confusion.true_positive == 0
    # The broken file is reported once, and nothing else is lost.
    assert [(u.path.endswith("broken.png"), u.condition) for u in report.unreadable] == [
        (True, "all")]
    assert report.files_real == REAL + 1


def test_threshold_limit_and_conditions(folders: tuple[Path, Path]) -> None:
    real, fake = folders
    report = evaluate("provenance", real, fake, threshold=0.99, limit=3,
                      conditions=["original"])
    assert report.threshold_source == "--threshold"
    assert report.files_real == 3 and report.files_fake == 3
    assert [c.condition for c in report.conditions] == ["original"]
    with pytest.raises(EvaluationError):
        evaluate("provenance", real, fake, conditions=["sepia"])
    with pytest.raises(EvaluationError):
        evaluate("provenance", real / "missing", fake)


def test_verdict_threshold_follows_the_settings() -> None:
    settings = DetectionSettings(sexual_threshold=0.7, synthetic_threshold=0.4)
    assert verdict_threshold("open-nsfw", settings)[0] == 0.7
    assert verdict_threshold("provenance", settings)[0] == 0.4
    assert verdict_threshold("not-in-any-verdict", settings)[0] == 0.5


def test_screenshot_looks_like_a_phone_capture() -> None:
    with Image.open(io.BytesIO(screenshot(_png(1, "x")))) as shot:
        shot.load()
    assert shot.format == "JPEG" and shot.width == 1080
    assert shot.height == round(192 * 1080 / 256) + 96 + 144
    assert "parameters" not in shot.info
    top = np.asarray(shot.convert("L"))[:20, :300]
    assert top.mean() < 40  # the dark status bar


def test_cli_table_json_and_plot(folders: tuple[Path, Path], tmp_path: Path) -> None:
    real, fake = folders
    runner = CliRunner()
    plot = tmp_path / "roc.png"
    result = runner.invoke(app, ["eval", "--detector", "provenance", "--real", str(real),
                                 "--fake", str(fake), "--plot", str(plot), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["detector"] == "provenance"
    assert data["conditions"][0]["auc"] == pytest.approx(5 / 6, abs=1e-4)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(plot) as img:
        assert img.size == (600, 600)
    table = runner.invoke(app, ["eval", "--detector", "provenance", "--real", str(real),
                                "--fake", str(fake), "--conditions", "original,jpeg75"])
    assert table.exit_code == 0, table.output
    assert "original" in table.stdout and "jpeg75" in table.stdout and "0.8333" in table.stdout
    assert "broken.png" in table.stderr
    unknown = runner.invoke(app, ["eval", "--detector", "nope", "--real", str(real),
                                  "--fake", str(fake)])
    assert unknown.exit_code == 2 and "unknown_detector" in unknown.stderr
