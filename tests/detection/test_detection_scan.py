"""Scans carry the verdicts once the engine holds a ``DetectionService`` as
``engine.detection`` and ``HAECHI_DETECTION_ENABLED`` is set (skipped until then)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from detection_data import dataset

from fixtures_media import encode, make_image
from haechi.engine import Engine


def _engine(make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch,
            enabled: bool) -> Engine:
    monkeypatch.setenv("HAECHI_DETECTION_ENABLED", "1" if enabled else "0")
    engine = make_engine()
    if not hasattr(engine, "detection"):
        pytest.skip("the engine does not hold a DetectionService yet (engine.detection)")
    return engine


def test_scan_carries_verdicts_when_enabled(make_engine: Callable[..., Engine],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(make_engine, monkeypatch, enabled=True)
    path = dataset("generated-with-metadata/comfyui") / "flux__flux_depth_lora_example.png"
    result = engine.scan_path(path)
    verdicts = getattr(result, "detections", None)
    assert verdicts is not None
    assert verdicts.synthetic.flagged and "ComfyUI" in verdicts.synthetic.reasons[0]
    assert not verdicts.sexual.flagged
    assert "detection_ms" in result.timings_ms
    # The verdicts travel in the JSON every transport returns.
    assert '"synthetic"' in result.model_dump_json()


def test_scan_without_detection_is_unchanged(make_engine: Callable[..., Engine],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(make_engine, monkeypatch, enabled=False)
    result = engine.scan_bytes(encode(make_image(1), "PNG"))
    assert getattr(result, "detections", None) is None
    assert "detection_ms" not in result.timings_ms


def test_unreadable_upload_still_reports_its_error(make_engine: Callable[..., Engine],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(make_engine, monkeypatch, enabled=True)
    result = engine.scan_bytes(b"\x89PNG\r\n\x1a\nbroken", name="x.png")
    assert result.decision == "error" and result.error is not None
    assert getattr(result, "detections", None) is None
