"""C2SP signed notes and checkpoints."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from haechi.evidence.note import Checkpoint, NoteError, Signer, Verifier, open_note

SEED = bytes(range(32))


def signer(name: str = "example.com/log") -> Signer:
    return Signer(name, Ed25519PrivateKey.from_private_bytes(SEED))


def test_checkpoint_note_layout_and_key_id() -> None:
    s = signer()
    cp = Checkpoint("example.com/log", 7, bytes(32))
    note = s.sign(cp.text())
    text, sig_line = note.split("\n\n")
    assert text == "example.com/log\n7\n" + base64.b64encode(bytes(32)).decode()
    assert sig_line.startswith("\u2014 example.com/log ") and sig_line.endswith("\n")
    blob = base64.b64decode(sig_line.split(" ")[2])
    pub = s.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    # key id = SHA-256(name || "\n" || 0x01 || public key)[:4]
    assert blob[:4] == hashlib.sha256(b"example.com/log\n\x01" + pub).digest()[:4]
    s.private_key.public_key().verify(blob[4:], cp.text().encode())
    assert Checkpoint.parse(open_note(note, s.verifier)) == cp


def test_vkey_round_trip() -> None:
    v = signer().verifier
    vkey = v.vkey()
    name, hex_id, _ = vkey.split("+", 2)
    assert name == "example.com/log" and hex_id == v.key_id.hex()
    assert Verifier.from_vkey(vkey).key_id == v.key_id
    with pytest.raises(NoteError):
        Verifier.from_vkey(vkey.replace(hex_id, "00000000"))


def test_tampered_notes_and_wrong_keys_are_refused() -> None:
    s = signer()
    note = s.sign(Checkpoint("example.com/log", 3, bytes(32)).text())
    with pytest.raises(NoteError, match="does not match"):
        open_note(note.replace("\n3\n", "\n4\n"), s.verifier)
    other = Signer("example.com/log", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature"):
        open_note(note, other.verifier)
    with pytest.raises(NoteError):
        open_note("no signatures here\n", s.verifier)
    # A second signer's line is ignored by a verifier that does not know it.
    cosigned = note + "\u2014 witness.example AAAAAAAA\n"
    assert open_note(cosigned, s.verifier).startswith("example.com/log\n3\n")
    with pytest.raises(NoteError, match="malformed"):
        open_note("text\n\n\u2014 witness.example not-base64!\n", s.verifier)


def test_signer_refuses_bad_text_and_names() -> None:
    with pytest.raises(NoteError):
        signer().sign("no newline")
    with pytest.raises(NoteError):
        signer("bad name")
