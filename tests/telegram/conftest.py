"""Telegram tests: a bank holding neutral generated images as the "known" media."""

from __future__ import annotations

import pytest

from fixtures_media import encode, make_image
from haechi.engine import Engine

KNOWN_SEEDS = (101, 102, 103)


@pytest.fixture
def known(engine: Engine) -> list[bytes]:
    """Three images in a block bank, as JPEG bytes."""
    engine.create_bank("known", kind="block")
    images = [encode(make_image(seed), "jpeg") for seed in KNOWN_SEEDS]
    for data in images:
        engine.add_media("known", data)
    return images


@pytest.fixture
def neutral() -> bytes:
    return encode(make_image(999), "jpeg")
