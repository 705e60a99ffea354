"""The scale services an engine holds: ``engine.scale.backscan`` and ``.retrohunt``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from haechi.scale.backscan import BackscanService
from haechi.scale.retrohunt import RetrohuntService

if TYPE_CHECKING:  # the engine holds this service: no import cycle at run time
    from haechi.engine import Engine


class ScaleService:
    def __init__(self, engine: Engine) -> None:
        self.backscan = BackscanService(engine)
        self.retrohunt = RetrohuntService(engine)
