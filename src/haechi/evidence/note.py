"""C2SP signed notes with Ed25519 signatures, and tlog checkpoints carried in them.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <name> <base64(key id || signature)>``. The key id is the first four bytes of
SHA-256(name || 0x0A || 0x01 || public key), 0x01 being the Ed25519 algorithm byte; the
signature covers the text exactly. A checkpoint's text is the log's origin, the tree
size in decimal and the base64 root hash, one per line. Verifier keys are written as
``<name>+<hex key id>+<base64(0x01 || public key)>``, as the Go and C2SP tools read them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from haechi.errors import HaechiError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash and a space


class NoteError(HaechiError):
    code = "invalid_note"
    http_status = 422


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) +
                          _raw_public(public)).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"a key name needs no spaces or '+': {name!r}")


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def vkey(self) -> str:
        """The verifier key string other tools read."""
        raw = bytes([ALG_ED25519]) + _raw_public(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        try:
            name, hex_id, b64 = text.strip().split("+", 2)
            raw = base64.b64decode(b64, validate=True)
            if raw[:1] != bytes([ALG_ED25519]) or len(raw) != 33:
                raise NoteError("only Ed25519 verifier keys are supported")
            verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        except (ValueError, binascii.Error) as exc:
            raise NoteError(f"not a verifier key ('name+keyid+base64'): {exc}") from None
        if verifier.key_id.hex() != hex_id.lower():
            raise NoteError("the verifier key's id does not match its name and key")
        return verifier


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.private_key.public_key())

    def sign(self, text: str) -> str:
        """The signed note: ``text`` (which must end in a newline), a blank line, and one
        signature line."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("note text must end with a newline and hold no blank line")
        sig = self.private_key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_id + sig).decode()
        return f"{text}\n{SIG_PREFIX}{self.name} {blob}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a note carrying a valid signature by ``verifier``; raises otherwise.

    Signatures by other keys are ignored, as the spec asks of verifiers.
    """
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise NoteError("not a signed note: no blank line before the signatures")
    text += "\n"
    for line in sigs.splitlines():
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        try:
            name, b64 = line[len(SIG_PREFIX):].split(" ")
            blob = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError(f"malformed signature line {line!r}") from None
        if name != verifier.name or blob[:4] != verifier.key_id:
            continue
        try:
            verifier.public_key.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature by {name} does not match the note") from None
        return text
    raise NoteError(f"the note carries no signature by {verifier.name} "
                    f"(key id {verifier.key_id.hex()})")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        try:
            origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2],
                                                                            validate=True)
        except (IndexError, ValueError, binascii.Error):
            raise NoteError("not a checkpoint: origin, size, root hash expected") from None
        if not origin or size < 0 or len(root) != 32:
            raise NoteError("not a checkpoint: empty origin, negative size or bad root")
        return cls(origin, size, root)
