"""Tracking fixtures: a TrackingService on each store (the shared ``engine`` fixture
empties every table between PostgreSQL tests)."""

from __future__ import annotations

import pytest

from haechi.engine import Engine
from haechi.tracking import TrackingService


@pytest.fixture
def tracking(engine: Engine) -> TrackingService:
    return engine.tracking
