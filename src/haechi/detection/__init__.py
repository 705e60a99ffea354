"""Detector plugins, found through the ``haechi.detectors`` entry-point group.

Until the package declares its entry points, the built-ins are registered here; a
third-party detector plugs in by naming its :class:`Detector` subclass in that group.
Each detector is built once per process: loading a model costs far more than using it.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from haechi.detection.base import NAME_PATTERN, Detection, Detector, DetectorExample, Region
from haechi.errors import HaechiError

__all__ = [
    "ENTRY_POINT_GROUP",
    "Detection",
    "Detector",
    "DetectorExample",
    "Region",
    "UnknownDetectorError",
    "all_detectors",
    "builtin_detector_classes",
    "get_detector",
]

ENTRY_POINT_GROUP = "haechi.detectors"


class UnknownDetectorError(HaechiError):
    code = "unknown_detector"
    http_status = 422


def builtin_detector_classes() -> list[type[Detector]]:
    from haechi.detection.faces import DlibFaceDetector, DlibFaceEmbedder
    from haechi.detection.faceswap import FaceSwapDetector
    from haechi.detection.generated import SyntheticImageDetector
    from haechi.detection.provenance import ProvenanceDetector
    from haechi.detection.sexual import OpenNsfwDetector

    return [OpenNsfwDetector, DlibFaceDetector, DlibFaceEmbedder, ProvenanceDetector,
            SyntheticImageDetector, FaceSwapDetector]


def _check(cls: object, declared: str) -> type[Detector]:
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        raise TypeError(f"entry point {declared} is not a Detector subclass")
    if cls.name != declared:
        raise ValueError(f"entry point {declared!r} names detector {cls.name!r}")
    if not NAME_PATTERN.match(cls.name):
        raise ValueError(f"detector name {cls.name!r} does not match {NAME_PATTERN.pattern}")
    return cls


@cache
def detector_classes() -> dict[str, type[Detector]]:
    """Every installed detector class by name. Names are keys, so duplicates are fatal."""
    found: dict[str, type[Detector]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = _check(ep.load(), ep.name)
        if cls.name in found:
            raise ValueError(f"two plugins claim the detector name {cls.name!r}")
        found[cls.name] = cls
    if not found:
        # The package does not declare the group yet (or runs from a bare source tree).
        for builtin in builtin_detector_classes():
            found[builtin.name] = _check(builtin, builtin.name)
    return found


@cache
def get_detector(name: str) -> Detector:
    """The shared instance of one detector; its model loads on first request."""
    try:
        cls = detector_classes()[name]
    except KeyError:
        raise UnknownDetectorError(
            f"unknown detector {name!r}; known: {', '.join(sorted(detector_classes()))}"
        ) from None
    return cls()


def all_detectors() -> dict[str, Detector]:
    return {name: get_detector(name) for name in detector_classes()}
