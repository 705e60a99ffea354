"""The vault's key-encryption keys (KEKs) and the custody log's signing key.

Every blob is encrypted with its own random data key; the data key is stored wrapped
(AES-256-GCM) by a KEK and tagged with that KEK's id. Rotating means adding a new KEK
first in the list and re-wrapping the data keys: media is never re-encrypted, and an
old KEK can be dropped once nothing is wrapped by it.

KEKs come from ``HAECHI_VAULT_KEY`` (comma-separated) or ``HAECHI_VAULT_KEY_FILE`` (one
per line), each 32 bytes in base64 or hex; the first is the one new items use. There is
no default key: a vault without a configured key refuses to start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from haechi.errors import HaechiError

ENV_KEY = "HAECHI_VAULT_KEY"
ENV_KEY_FILE = "HAECHI_VAULT_KEY_FILE"
ENV_SIGNING_KEY_FILE = "HAECHI_EVIDENCE_SIGNING_KEY_FILE"
ENV_LOG_ORIGIN = "HAECHI_EVIDENCE_LOG_ORIGIN"
DEFAULT_ORIGIN = "haechi.local/evidence"


class VaultKeyError(HaechiError):
    code = "vault_key"
    http_status = 503


def parse_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise VaultKeyError("a vault key is 32 bytes written as base64 or 64 hex digits "
                            "(make one with 'haechi evidence keys generate')")
    return raw


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def kek_id(key: bytes) -> str:
    """A short public name for a KEK that reveals nothing about it."""
    return hashlib.sha256(b"haechi-vault-kek\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class WrappedKey:
    kek_id: str
    #: nonce (12 bytes) || AES-GCM(KEK, data key), base64.
    blob: str


class KeyRing:
    """The configured KEKs; the first wraps new data keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise VaultKeyError(f"no vault key: set {ENV_KEY} or {ENV_KEY_FILE} (make a key "
                                "with 'haechi evidence keys generate')")
        self._keys = {kek_id(k): k for k in keys}
        self.active_id = kek_id(keys[0])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        env = os.environ if environ is None else environ
        texts: list[str] = []
        if env.get(ENV_KEY):
            texts += [t for t in env[ENV_KEY].split(",") if t.strip()]
        if env.get(ENV_KEY_FILE):
            path = Path(env[ENV_KEY_FILE])
            try:
                lines = path.read_text().splitlines()
            except OSError as exc:
                raise VaultKeyError(f"cannot read the vault key file {path}: "
                                    f"{exc.strerror or exc}") from None
            texts += [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        return cls([parse_key(t) for t in texts])

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def wrap(self, data_key: bytes, *, context: bytes) -> WrappedKey:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._keys[self.active_id]).encrypt(nonce, data_key, context)
        return WrappedKey(self.active_id, base64.b64encode(nonce + sealed).decode())

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        key = self._keys.get(wrapped.kek_id)
        if key is None:
            raise VaultKeyError(f"the vault key {wrapped.kek_id} is not configured; add it "
                                f"to {ENV_KEY} or {ENV_KEY_FILE}")
        raw = base64.b64decode(wrapped.blob)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context)
        except InvalidTag:
            raise VaultKeyError(f"the data key wrapped by {wrapped.kek_id} does not open: "
                                "it was altered or belongs to another item") from None


def load_signing_key(default_path: Path, environ: Mapping[str, str] | None = None
                     ) -> Ed25519PrivateKey:
    """The Ed25519 key that signs checkpoints: ``HAECHI_EVIDENCE_SIGNING_KEY_FILE`` if
    set (keep it off the data disk), else a key made on first use in the vault folder."""
    env = os.environ if environ is None else environ
    configured = env.get(ENV_SIGNING_KEY_FILE)
    path = Path(configured) if configured else default_path
    if path.exists():
        try:
            key = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise VaultKeyError(f"cannot read the signing key {path}: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise VaultKeyError(f"the signing key {path} is not an Ed25519 key")
        return key
    if configured:
        raise VaultKeyError(f"the signing key file {path} does not exist")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    try:
        # link() publishes the whole file or fails if another process won the race.
        os.link(tmp, path)
    except FileExistsError:
        return load_signing_key(path, {})
    finally:
        tmp.unlink()
    return key


def log_origin(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(ENV_LOG_ORIGIN) or DEFAULT_ORIGIN
