"""Moderation fixtures: a service on the shared ``engine`` (SQLite and PostgreSQL),
a clock the tests can move, and neutral generated images."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from moderation_helpers import Clock

from haechi.engine import Engine
from haechi.moderation import ModerationService
from haechi.samples import encode, make_image


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mod(engine: Engine, clock: Clock) -> ModerationService:
    return ModerationService(engine, clock=clock)


@pytest.fixture
def image() -> Callable[[int], bytes]:
    """A distinct neutral JPEG per seed."""
    return lambda seed: encode(make_image(seed, (320, 240)))

