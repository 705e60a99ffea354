"""Fixtures for the scale tests: one local Ray per session (it takes seconds to start),
and a folder of generated neutral media with broken files among them."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from scale_helpers import make_folder

#: Dummy credentials for the local S3-compatible server; set before Ray starts so its
#: workers inherit them as a real deployment's workers inherit their pod's.
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local Ray with 2 CPUs, shared by every test of the session."""
    ray = pytest.importorskip("ray", reason="needs ray (pip install 'haechi[scale]')")
    for key, value in S3_ENV.items():
        os.environ.setdefault(key, value)
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture
def media_folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "store", images=12)
