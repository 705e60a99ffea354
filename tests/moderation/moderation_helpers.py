"""Helpers shared by the moderation tests (a module name unique in the suite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: Detector scores the default policy holds as a likely sexual deepfake of a real person.
DEEPFAKE = {"sexual": 0.95, "real_face": 0.9, "synthetic": 0.9}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
