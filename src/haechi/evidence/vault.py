"""Encrypted, content-addressed blob files.

A blob lives at ``blobs/<first two hex>/<sha256 of the plaintext>`` as ``HVB1 || nonce ||
AES-256-GCM(data key, plaintext)``, with the SHA-256 as associated data, so a file moved
under another address does not decrypt. Writes go to ``tmp/``, are fsynced, renamed into
place and the folder fsynced: a blob is either absent or complete, and the caller commits
the database row that makes it visible only after :meth:`Vault.put` returns.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haechi.errors import HaechiError
from haechi.evidence.keys import KeyRing, WrappedKey

MAGIC = b"HVB1"


class VaultError(HaechiError):
    code = "vault_error"
    http_status = 500


class BlobMissing(VaultError):
    code = "blob_missing"


class BlobAltered(VaultError):
    code = "blob_altered"


def _blob_aad(sha256: str) -> bytes:
    return b"haechi-blob:" + sha256.encode()


def _dek_context(sha256: str) -> bytes:
    return b"haechi-dek:" + sha256.encode()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write ``data`` so that ``path`` holds either its old content or all of ``data``."""
    tmp_dir = tmp_dir or path.parent
    tmp = tmp_dir / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class Vault:
    def __init__(self, root: Path, keys: KeyRing) -> None:
        self.root = root
        self.keys = keys
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        for d in (self.blobs, self.tmp):
            d.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def put(self, data: bytes, sha256: str | None = None) -> tuple[str, WrappedKey]:
        """Encrypt and store ``data`` durably; returns its SHA-256 and wrapped data key.

        Always writes a fresh file: one left behind by a process killed before its
        database row was committed has a data key nobody kept.
        """
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        sealed = MAGIC + nonce + AESGCM(data_key).encrypt(nonce, data, _blob_aad(sha256))
        target = self.path(sha256)
        target.parent.mkdir(exist_ok=True)
        write_atomic(target, sealed, self.tmp)
        return sha256, self.keys.wrap(data_key, context=_dek_context(sha256))

    def get(self, sha256: str, wrapped: WrappedKey) -> bytes:
        """The plaintext, checked against its address; raises BlobMissing/BlobAltered."""
        try:
            sealed = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"the blob {sha256} is missing from the vault") from None
        data_key = self.keys.unwrap(wrapped, context=_dek_context(sha256))
        if sealed[:4] != MAGIC:
            raise BlobAltered(f"the blob {sha256} is not a vault file (header altered)")
        try:
            data = AESGCM(data_key).decrypt(sealed[4:16], sealed[16:], _blob_aad(sha256))
        except InvalidTag:
            raise BlobAltered(f"the blob {sha256} was altered (authentication failed)") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobAltered(f"the blob {sha256} decrypts to other content")
        return data

    def rewrap(self, sha256: str, wrapped: WrappedKey) -> WrappedKey:
        """The same data key wrapped by the active KEK (key rotation)."""
        data_key = self.keys.unwrap(wrapped, context=_dek_context(sha256))
        return self.keys.wrap(data_key, context=_dek_context(sha256))

    def delete(self, sha256: str) -> None:
        path = self.path(sha256)
        path.unlink(missing_ok=True)
        if path.parent.exists():
            fsync_dir(path.parent)

    def stray_files(self, known: set[str]) -> list[str]:
        """Blob files no database row refers to (left by a killed import) and temp files."""
        stray = [p.name for p in self.blobs.glob("*/*") if p.name not in known]
        return sorted(stray) + sorted(f"tmp/{p.name}" for p in self.tmp.iterdir())
