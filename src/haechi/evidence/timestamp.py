"""RFC 3161 timestamps of signed checkpoints from a configured timestamp authority.

A token proves the checkpoint existed by the TSA's time: its TSTInfo names the SHA-256
of the checkpoint note, and the TSA signed it (CMS SignedData). Verification checks
the imprint, the nonce when known, the CMS message digest and the signature with the
certificate in the token, and, when a TSA certificate is configured, that this is the
certificate that signed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from haechi.errors import HaechiError

ENV_TSA_URL = "HAECHI_EVIDENCE_TSA_URL"
ENV_TSA_CERT = "HAECHI_EVIDENCE_TSA_CERT"


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """TimeStampResp with the token optional, as RFC 3161 has it (refusals carry none)."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class TimestampError(HaechiError):
    code = "timestamp_invalid"
    http_status = 502


def tsa_from_env(environ: Mapping[str, str] | None = None
                 ) -> tuple[str | None, x509.Certificate | None]:
    env = os.environ if environ is None else environ
    cert = None
    if env.get(ENV_TSA_CERT):
        cert = x509.load_pem_x509_certificate(Path(env[ENV_TSA_CERT]).read_bytes())
    return env.get(ENV_TSA_URL) or None, cert


def request_der(data: bytes, nonce: int) -> bytes:
    return bytes(tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(data).digest()},
        "nonce": nonce,
        "cert_req": True,
    }).dump())


def fetch_token(url: str, data: bytes, *, tsa_cert: x509.Certificate | None = None,
                timeout: float = 15.0) -> bytes:
    """Ask the TSA at ``url`` to timestamp ``data``; returns the verified token (DER)."""
    nonce = secrets.randbits(63)
    try:
        reply = httpx.post(url, content=request_der(data, nonce), timeout=timeout,
                           headers={"Content-Type": "application/timestamp-query"})
        reply.raise_for_status()
        resp = _TimeStampResp.load(reply.content)
        status = resp["status"]["status"].native
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        raise TimestampError(f"the timestamp authority at {url} failed: {exc}") from None
    if status not in ("granted", "granted_with_mods"):
        raise TimestampError(f"the timestamp authority refused: {status}")
    token = bytes(resp["time_stamp_token"].dump())
    verify_token(token, data, nonce=nonce, tsa_cert=tsa_cert)
    return token


def verify_token(token: bytes, data: bytes, *, nonce: int | None = None,
                 tsa_cert: x509.Certificate | None = None) -> datetime:
    """The time the token vouches for ``data``; raises TimestampError if it does not."""
    try:
        signed = cms.ContentInfo.load(token)["content"]
        encap = signed["encap_content_info"]
        tst_der = bytes(encap["content"].contents)
        info = tsp.TSTInfo.load(tst_der)
        imprint = info["message_imprint"]
        signer = signed["signer_infos"][0]
        certs = [x509.load_der_x509_certificate(bytes(c.chosen.dump()))
                 for c in signed["certificates"] or []]
        attrs = {a["type"].native: a["values"][0].native for a in signer["signed_attrs"]}
        # The signature covers the DER SET OF the signed attributes (tag 0x31, not [0]).
        signed_bytes = b"\x31" + bytes(signer["signed_attrs"].dump())[1:]
        signature = bytes(signer["signature"].native)
        when: datetime = info["gen_time"].native
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TimestampError(f"not an RFC 3161 timestamp token: {exc}") from None
    if imprint["hash_algorithm"]["algorithm"].native != "sha256" or \
            bytes(imprint["hashed_message"].native) != hashlib.sha256(data).digest():
        raise TimestampError("the timestamp is for other data")
    if nonce is not None and info["nonce"].native != nonce:
        raise TimestampError("the timestamp answers another request (nonce)")
    if attrs.get("message_digest") != hashlib.sha256(tst_der).digest():
        raise TimestampError("the timestamp's signed digest does not match its content")
    if tsa_cert is not None:
        certs = [c for c in certs if c == tsa_cert] or [tsa_cert]
    for cert in certs:
        key = cert.public_key()
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, signed_bytes, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, signed_bytes, padding.PKCS1v15(), hashes.SHA256())
            else:
                continue
        except InvalidSignature:
            continue
        return when
    raise TimestampError("the timestamp's signature does not verify with the TSA certificate")
