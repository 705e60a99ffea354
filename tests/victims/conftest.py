"""Victims fixtures: a service on the shared ``engine`` (SQLite and PostgreSQL), a clock
the tests can move, and neutral generated pictures with their on-device hashes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import pytest
from victims_helpers import Clock

from haechi.engine import Engine
from haechi.samples import encode, make_image
from haechi.signals.pdq import pdq_of_rgb
from haechi.victims import VictimsService
from haechi.victims.schemas import CaseRequest, HashIn, ItemIn


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def victims(engine: Engine, clock: Clock) -> VictimsService:
    return VictimsService(engine, clock=clock)


def device_item(data: bytes) -> ItemIn:
    """What the hashing page sends for an image: PDQ with its quality, and MD5."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    value, quality = pdq_of_rgb(rgb)
    return ItemIn(kind="image", hashes=[HashIn(signal="pdq", value=value, quality=quality),
                                        HashIn(signal="md5",
                                               value=hashlib.md5(data).hexdigest())])


@pytest.fixture
def photo() -> Callable[[int], bytes]:
    return lambda seed: encode(make_image(seed, (480, 360)), "PNG")


@pytest.fixture
def request_for() -> Callable[..., CaseRequest]:
    def build(*images: bytes, minor: bool = False, contact: str = "") -> CaseRequest:
        return CaseRequest(items=[device_item(d) for d in images], minor=minor,
                           contact=contact)
    return build
