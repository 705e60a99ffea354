"""RFC 3161 timestamps of checkpoints, against a local TSA the test starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from tsa_server import LocalTsa

from haechi.evidence import CaptureMetadata, EvidenceService
from haechi.evidence.package import export_case
from haechi.evidence.timestamp import TimestampError, fetch_token, verify_token
from haechi.evidence.verify_package import verify_package
from haechi.evidence.verify_store import verify_store


@pytest.fixture
def tsa() -> Iterator[LocalTsa]:
    with LocalTsa() as server:
        yield server


def test_token_round_trip(tsa: LocalTsa) -> None:
    note = b"origin\n3\nroot\n\n\xe2\x80\x94 sig\n"
    cert = x509.load_pem_x509_certificate(tsa.cert_pem())
    token = fetch_token(tsa.url, note, tsa_cert=cert)
    when = verify_token(token, note, tsa_cert=cert)
    assert when.tzinfo is not None
    with pytest.raises(TimestampError, match="other data"):
        verify_token(token, note + b"x")
    other = LocalTsa()  # a certificate that did not sign
    with pytest.raises(TimestampError, match="signature"):
        verify_token(token, note, tsa_cert=other.cert)
    other.server.server_close()
    tampered = bytearray(token)
    tampered[-10] ^= 1
    with pytest.raises(TimestampError):
        verify_token(bytes(tampered), note)


def test_refusal_and_unreachable_tsa(tsa: LocalTsa) -> None:
    tsa.refuse = True
    with pytest.raises(TimestampError, match="refused"):
        fetch_token(tsa.url, b"data")
    with pytest.raises(TimestampError, match="failed"):
        fetch_token("http://127.0.0.1:9/none", b"data", timeout=2)
    assert ec  # the local TSA signs with ECDSA P-256


def test_checkpoints_are_timestamped_exported_and_verified(
        evidence: EvidenceService, tsa: LocalTsa, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cert_file = tmp_path / "tsa.pem"
    cert_file.write_bytes(tsa.cert_pem())
    monkeypatch.setenv("HAECHI_EVIDENCE_TSA_URL", tsa.url)
    monkeypatch.setenv("HAECHI_EVIDENCE_TSA_CERT", str(cert_file))
    item = evidence.import_bytes(b"some bytes", actor="a", capture=CaptureMetadata())
    evidence.create_case("c", actor="a")
    evidence.add_to_case("c", [item.item_id or 0], actor="a")
    assert evidence.checkpoint().timestamp_token
    assert verify_store(evidence).ok
    pkg = export_case(evidence, "c", tmp_path / "pkg", actor="a", pdf=False)
    assert (pkg / "data/custody/checkpoint.tsr").exists()
    report = verify_package(pkg, evidence.signer.verifier)
    assert report.ok and any("timestamped at" in n for n in report.notes)
    # A token from the TSA for other data, put in its place, is named.
    token = fetch_token(tsa.url, b"other")
    (pkg / "data/custody/checkpoint.tsr").write_bytes(token)
    codes = {(f.code, f.path) for f in verify_package(pkg, evidence.signer.verifier).findings}
    assert ("checkpoint_invalid", "data/custody/checkpoint.tsr") in codes
    # With the TSA down, checkpoints are still signed, just without a token.
    tsa.refuse = True
    evidence.log_event(event="viewed", actor="a", item_id=item.item_id)
    assert evidence.checkpoint().timestamp_token is None
