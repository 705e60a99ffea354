"""Detection over an :class:`~haechi.engine.Engine`: the same limits as scans."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from haechi.detection.settings import DetectionSettings
from haechi.detection.verdicts import Verdicts, detect_all
from haechi.media import Media, load_media

if TYPE_CHECKING:  # the engine will hold this service: no import cycle at run time
    from haechi.engine import Engine


class DetectionService:
    def __init__(self, engine: Engine, *, settings: DetectionSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or DetectionSettings()

    def detect_media(self, *, media: Media) -> Verdicts:
        return detect_all(self.settings, media)

    def detect_bytes(self, *, data: bytes, name: str | None = None) -> Verdicts:
        """Raises :class:`~haechi.errors.MediaError` for media that cannot be read."""
        return detect_all(self.settings, load_media(data, name=name, limits=self.engine.limits))

    def detect_path(self, *, path: Path) -> Verdicts:
        return self.detect_bytes(data=self.engine.read_file(path), name=str(path))
