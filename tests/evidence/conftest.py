"""Fixtures for the evidence tests: a service with test keys on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_helpers import ORIGIN, keyring, wipe_evidence

from haechi.engine import Engine
from haechi.evidence import EvidenceService
from haechi.evidence.note import Signer


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def evidence(engine: Engine, signer: Signer) -> Iterator[EvidenceService]:
    wipe_evidence(engine)
    yield EvidenceService(engine, keys=keyring(), signer=signer)
