"""A minimal RFC 3161 timestamp authority on 127.0.0.1 for the tests.

It answers TimeStampReq with a TimeStampResp whose token is CMS SignedData over a
TSTInfo, signed with ECDSA P-256 by a self-signed certificate made at start.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class LocalTsa:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Haechi test TSA")])
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1))
                     .not_valid_after(now + timedelta(days=1))
                     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.serial = 0
        self.refuse = False
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                reply = tsa.answer(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalTsa:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def answer(self, body: bytes) -> bytes:
        if self.refuse:
            # SEQUENCE { PKIStatusInfo { status rejection (2) } }, no token
            return bytes.fromhex("30053003020102")
        req = tsp.TimeStampReq.load(body)
        self.serial += 1
        info = tsp.TSTInfo({
            "version": 1, "policy": "1.3.6.1.4.1.99999.1",
            "message_imprint": req["message_imprint"], "serial_number": self.serial,
            "gen_time": datetime.now(UTC).replace(microsecond=0),
            "nonce": req["nonce"].native,
        })
        tst_der = info.dump()
        attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest",
                              "values": [hashlib.sha256(tst_der).digest()]}),
        ])
        signature = self.key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
        cert = asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))
        signed = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info",
                                   "content": core.ParsableOctetString(tst_der)},
            "certificates": [cert],
            "signer_infos": [{
                "version": "v1",
                "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                    "issuer": cert.issuer, "serial_number": cert.serial_number}}),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": attrs,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }],
        })
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        return bytes(tsp.TimeStampResp({"status": {"status": "granted"},
                                        "time_stamp_token": token}).dump())
