"""The vault: content addressing, encryption at rest, keys and rotation, derivations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from evidence_helpers import KEK, kek_env, keyring, wipe_evidence

from fixtures_media import encode, make_image
from haechi.engine import Engine
from haechi.evidence import CaptureMetadata, EvidenceService
from haechi.evidence.keys import KeyRing, VaultKeyError, kek_id, new_key_text, parse_key
from haechi.evidence.note import Signer
from haechi.evidence.vault import BlobAltered, Vault


def png(seed: int) -> bytes:
    return encode(make_image(seed, (96, 64)), "png")


def capture(**kw: object) -> CaptureMetadata:
    base: dict[str, object] = {"service": "telegram", "room": "room-1", "message_id": "7",
                               "capturer": "analyst", "filename": "a.png"}
    base.update(kw)
    return CaptureMetadata.model_validate(base)


def test_blobs_are_content_addressed_and_encrypted(tmp_path: Path) -> None:
    vault = Vault(tmp_path, keyring())
    data = b"neutral test bytes " * 100
    sha, wrapped = vault.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    stored = vault.path(sha).read_bytes()
    assert vault.path(sha) == tmp_path / "blobs" / sha[:2] / sha
    assert b"neutral test bytes" not in stored
    assert vault.get(sha, wrapped) == data
    assert not list((tmp_path / "tmp").iterdir()), "no temporary file is left behind"
    # One flipped bit anywhere in the file is caught by the GCM tag.
    flipped = bytearray(stored)
    flipped[40] ^= 1
    vault.path(sha).write_bytes(bytes(flipped))
    with pytest.raises(BlobAltered):
        vault.get(sha, wrapped)


def test_a_blob_under_another_address_does_not_open(tmp_path: Path) -> None:
    vault = Vault(tmp_path, keyring())
    sha1, w1 = vault.put(b"one")
    sha2, _ = vault.put(b"two")
    vault.path(sha2).write_bytes(vault.path(sha1).read_bytes())
    with pytest.raises(VaultKeyError):  # the data key is bound to its address too
        vault.get(sha2, w1)


def test_keys_from_environment_and_file(tmp_path: Path) -> None:
    with pytest.raises(VaultKeyError, match="no vault key"):
        KeyRing.from_env({})
    with pytest.raises(VaultKeyError, match="32 bytes"):
        KeyRing.from_env({"HAECHI_VAULT_KEY": "c2hvcnQ="})
    second = bytes(32)
    ring = KeyRing.from_env({"HAECHI_VAULT_KEY": kek_env(KEK, second)})
    assert ring.active_id == kek_id(KEK) and ring.ids == [kek_id(KEK), kek_id(second)]
    key_file = tmp_path / "vault.key"
    key_file.write_text(f"# comment\n{new_key_text()}\n{KEK.hex()}\n")
    ring = KeyRing.from_env({"HAECHI_VAULT_KEY_FILE": str(key_file)})
    assert kek_id(KEK) in ring.ids and ring.active_id != kek_id(KEK)
    assert parse_key(KEK.hex()) == KEK


def test_rotation_rewraps_without_reencrypting(engine: Engine, signer: Signer) -> None:
    wipe_evidence(engine)
    old = EvidenceService(engine, keys=keyring(KEK), signer=signer)
    item = old.import_bytes(png(1), capture=capture(), actor="analyst")
    assert item.sha256 is not None
    blob_before = old.vault.path(item.sha256).read_bytes()
    new_kek = bytes([7]) * 32
    rotated = EvidenceService(engine, keys=keyring(new_kek, KEK), signer=signer)
    assert rotated.key_usage() == {kek_id(KEK): 1}
    assert rotated.rotate_keys(actor="admin") == 1
    assert rotated.key_usage() == {kek_id(new_kek): 1}
    assert rotated.vault.path(item.sha256).read_bytes() == blob_before
    only_new = EvidenceService(engine, keys=keyring(new_kek), signer=signer)
    data, _ = only_new.view(item.item_id or 0, actor="analyst")
    assert data == png(1)
    with pytest.raises(VaultKeyError, match="not configured"):
        EvidenceService(engine, keys=keyring(KEK), signer=signer).view(
            item.item_id or 0, actor="analyst")


def test_import_records_capture_scan_and_custody(evidence: EvidenceService) -> None:
    evidence.engine.create_bank("known")
    evidence.engine.add_media("known", png(2))
    raw = {"id": 7, "type": "message", "forwarded_from": "Some Channel"}
    meta = capture(raw_record=raw, forward_origin={"type": "channel", "name": "Some Channel"},
                   uploader={"id": "user42", "name": "Uploader"})
    first = evidence.import_bytes(png(2), capture=meta, actor="analyst", capture_key="k1")
    again = evidence.import_bytes(png(2), capture=meta, actor="analyst", capture_key="k1")
    other = evidence.import_bytes(png(3), capture=capture(), actor="analyst")
    assert (first.status, again.status, again.item_id) == ("imported", "duplicate",
                                                             first.item_id)
    assert first.decision == "block" and other.decision == "allow"
    info = evidence.get_item(first.item_id or 0)
    assert info.capture.raw_record == raw and info.capture.uploader["id"] == "user42"
    assert info.scan["matches"][0]["bank"] == "known"
    assert info.media_format == "png" and info.size == len(png(2))
    history = evidence.item_history(info.id)
    assert [h.event for h in history] == ["captured"]
    assert history[0].entry["sha256"] == info.sha256


def test_same_content_twice_is_stored_once(evidence: EvidenceService) -> None:
    a = evidence.import_bytes(png(4), capture=capture(message_id="1"), actor="x")
    b = evidence.import_bytes(png(4), capture=capture(message_id="2"), actor="x")
    assert a.item_id != b.item_id and a.sha256 == b.sha256
    assert len(list(evidence.vault.blobs.glob("*/*"))) == 1
    data, _ = evidence.view(b.item_id or 0, actor="x")
    assert data == png(4)


def test_view_decrypts_in_memory_and_logs(evidence: EvidenceService) -> None:
    item = evidence.import_bytes(png(5), capture=capture(), actor="analyst")
    data, info = evidence.view(item.item_id or 0, actor="detective", purpose="review")
    assert data == png(5) and info.id == item.item_id
    viewed = evidence.item_history(info.id)[-1]
    assert (viewed.event, viewed.entry["actor"], viewed.entry["purpose"]) == (
        "viewed", "detective", "review")


def test_derivations_point_at_their_original(evidence: EvidenceService) -> None:
    item = evidence.import_bytes(png(6), capture=capture(), actor="analyst")
    working = evidence.add_derivation(item.item_id or 0, png(7), description="cropped",
                                      actor="analyst")
    assert working.kind == "derivation" and working.derived_from == item.item_id
    entry = evidence.item_history(working.id)[0].entry
    assert entry["event"] == "derived" and entry["derived_from"] == item.item_id
    assert json.loads(json.dumps(entry))["original_sha256"] == item.sha256


def test_bad_input_is_reported_not_raised(evidence: EvidenceService, tmp_path: Path) -> None:
    assert evidence.import_bytes(b"", capture=capture(), actor="x").status == "error"
    missing = evidence.import_path(tmp_path / "nope.png", capture=capture(), actor="x")
    assert missing.status == "error" and "unreadable_file" in (missing.error or "")
    # Not a picture at all: still evidence, kept with the scan's error.
    text = evidence.import_bytes(b"chat log text", capture=capture(filename="log.txt"),
                                 actor="x")
    assert text.status == "imported" and text.decision == "error"
