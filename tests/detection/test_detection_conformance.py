"""Every detector passes the same contract: a permanent name, a version, examples that
hold, results stamped with both, scores in 0..1, a one-line reason, regions inside the
image. A third-party detector is found through the ``haechi.detectors`` entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from haechi import detection
from haechi.detection import (
    Detection,
    Detector,
    DetectorExample,
    UnknownDetectorError,
    builtin_detector_classes,
    detector_classes,
    get_detector,
)
from haechi.detection.base import NAME_PATTERN
from haechi.detection.examples import neutral_image
from haechi.media import Media

CASES = [(cls, example) for cls in builtin_detector_classes() for example in cls.examples()]


def test_names_are_unique_keys_and_versions_positive() -> None:
    names = [cls.name for cls in builtin_detector_classes()]
    assert len(names) == len(set(names))
    for cls in builtin_detector_classes():
        assert NAME_PATTERN.match(cls.name), cls.name
        assert isinstance(cls.version, int) and cls.version >= 1
        assert cls.examples(), f"{cls.name} ships no examples"


@pytest.mark.parametrize(("cls", "example"), CASES,
                         ids=[f"{c.name}:{e.description}" for c, e in CASES])
def test_detector_example(cls: type[Detector], example: DetectorExample) -> None:
    media = example.make()
    result = get_detector(cls.name).detect(media)
    assert isinstance(result, Detection)
    assert (result.detector, result.version) == (cls.name, cls.version)
    assert 0.0 <= result.score <= 1.0
    assert all(0.0 <= v <= 1.0 for v in result.scores.values()), result.scores
    assert result.reason and "\n" not in result.reason, result.reason
    width, height = media.working_size or (media.width, media.height)
    for region in result.regions:
        left, top, right, bottom = region.box
        assert 0 <= left <= right < width and 0 <= top <= bottom < height, region.box
    problem = example.check(result)
    assert problem is None, problem


def test_results_round_trip_through_json() -> None:
    result = get_detector("provenance").detect(neutral_image(4))
    assert Detection.model_validate_json(result.model_dump_json()) == result


def test_unknown_detector_has_a_stable_code() -> None:
    with pytest.raises(UnknownDetectorError) as err:
        get_detector("no-such-detector")
    assert err.value.code == "unknown_detector"
    assert "open-nsfw" in err.value.message


class _Blank(Detector):
    """A plugin as a third party would write it (lives in a module made in the test)."""

    name = "blank-test"
    version = 3

    def detect(self, media: Media) -> Detection:
        return self.result(0.0, "sees nothing, by design")

    @classmethod
    def examples(cls) -> list[DetectorExample]:
        return [DetectorExample("anything", lambda: neutral_image(1),
                                lambda d: None if d.score == 0 else "scored")]


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[str]:
    """A real distribution on sys.path declaring a ``haechi.detectors`` entry point."""
    dist = tmp_path / "blank_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: blank-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[haechi.detectors]\nblank-test = tests_detection_conformance_plugin:Blank\n")
    module = type(sys)("tests_detection_conformance_plugin")
    module.Blank = _Blank  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    sys.path.insert(0, str(tmp_path))
    detector_classes.cache_clear()
    get_detector.cache_clear()
    yield "blank-test"
    sys.path.remove(str(tmp_path))
    del sys.modules[module.__name__]
    detector_classes.cache_clear()
    get_detector.cache_clear()


def test_entry_point_plugins_replace_the_fallback(installed_plugin: str) -> None:
    found = detector_classes()
    # Once the group is declared, only what it lists is loaded (built-ins included).
    assert installed_plugin in found
    plugin = get_detector(installed_plugin)
    assert plugin.detect(neutral_image(1)).version == 3


def test_bad_plugins_are_refused() -> None:
    with pytest.raises(TypeError):
        detection._check(object, "x")
    with pytest.raises(ValueError, match="names detector"):
        detection._check(_Blank, "other-name")
