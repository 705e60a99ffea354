"""Verification of a live store names exactly what was altered, removed or reordered."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from fixtures_media import encode, make_image
from haechi.evidence import CaptureMetadata, EvidenceService
from haechi.evidence.models import EvidenceCheckpoint, EvidenceItem, EvidenceLogEntry
from haechi.evidence.verify_store import verify_store


def stocked(evidence: EvidenceService, n: int = 4) -> list[int]:
    ids = []
    for i in range(n):
        out = evidence.import_bytes(encode(make_image(i, (64, 48)), "png"), actor="analyst",
                                    capture=CaptureMetadata(service="test", message_id=str(i)))
        ids.append(out.item_id or 0)
    evidence.create_case("c1", actor="analyst")
    evidence.add_to_case("c1", ids[:2], actor="analyst")
    evidence.checkpoint()
    return ids


def codes(evidence: EvidenceService) -> list[tuple[str, int | None, int | None]]:
    report = verify_store(evidence)
    assert report.ok == (not report.findings)
    return [(f.code, f.item_id, f.seq) for f in report.findings]


def test_an_untouched_store_verifies(evidence: EvidenceService) -> None:
    stocked(evidence)
    evidence.view(1, actor="detective")
    evidence.checkpoint()
    report = verify_store(evidence)
    assert report.ok, report.findings
    assert (report.items_checked, report.entries_checked, report.checkpoints_checked) == (
        4, 8, 2)


def test_one_changed_byte_in_a_blob_names_the_item(evidence: EvidenceService) -> None:
    ids = stocked(evidence)
    item = evidence.get_item(ids[2])
    path = evidence.vault.path(item.sha256)
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x01
    path.write_bytes(bytes(blob))
    assert codes(evidence) == [("item_altered", ids[2], None)]


def test_a_removed_blob_names_the_item(evidence: EvidenceService) -> None:
    ids = stocked(evidence)
    evidence.vault.path(evidence.get_item(ids[1]).sha256).unlink()
    assert codes(evidence) == [("item_missing", ids[1], None)]


def test_edited_capture_metadata_is_caught(evidence: EvidenceService) -> None:
    ids = stocked(evidence)
    with evidence.engine.db.session() as s:
        s.execute(update(EvidenceItem).where(EvidenceItem.id == ids[0])
                  .values(capture='{"service": "other"}'))
    assert codes(evidence) == [("item_altered", ids[0], 0)]


def test_a_removed_log_entry_is_named(evidence: EvidenceService) -> None:
    stocked(evidence)
    with evidence.engine.db.session() as s:
        s.execute(delete(EvidenceLogEntry).where(EvidenceLogEntry.seq == 5))
    found = codes(evidence)
    assert ("entry_missing", None, 5) in found
    assert found[0] == ("entry_missing", None, 5)
    assert {c for c, _, _ in found} == {"entry_missing", "checkpoint_mismatch"}


def test_an_altered_log_entry_is_named(evidence: EvidenceService) -> None:
    stocked(evidence)
    with evidence.engine.db.session() as s:
        row = s.get(EvidenceLogEntry, 2)
        assert row is not None
        row.entry = row.entry.replace('"actor":"analyst"', '"actor":"someone"')
    found = codes(evidence)
    assert found[0] == ("entry_altered", None, 2)
    assert ("checkpoint_mismatch", None, 7) in found


def test_altered_entry_with_recomputed_hash_is_caught_by_the_checkpoint(
        evidence: EvidenceService) -> None:
    from haechi.evidence.merkle import leaf_hash

    stocked(evidence)
    with evidence.engine.db.session() as s:
        row = s.get(EvidenceLogEntry, 6)
        assert row is not None
        row.entry = row.entry.replace('"actor":"analyst"', '"actor":"someone"')
        row.leaf_hash = leaf_hash(row.entry.encode()).hex()
    assert codes(evidence) == [("checkpoint_mismatch", None, 7)]


def test_swapped_entries_are_named_as_reordered(evidence: EvidenceService) -> None:
    stocked(evidence)
    with evidence.engine.db.session() as s:
        r1, r2 = s.get(EvidenceLogEntry, 1), s.get(EvidenceLogEntry, 3)
        assert r1 is not None and r2 is not None
        (r1.entry, r1.leaf_hash, r2.entry, r2.leaf_hash) = (r2.entry, r2.leaf_hash,
                                                             r1.entry, r1.leaf_hash)
    found = codes(evidence)
    assert ("entry_reordered", None, 1) in found and ("entry_reordered", None, 3) in found


def test_an_item_inserted_without_custody_is_named(evidence: EvidenceService) -> None:
    ids = stocked(evidence)
    with evidence.engine.db.session() as s:
        row = s.get(EvidenceItem, ids[0])
        assert row is not None
        s.add(EvidenceItem(sha256=row.sha256, size=row.size, captured_at=row.captured_at,
                           capture=row.capture))
    found = codes(evidence)
    assert found == [("item_unlogged", ids[-1] + 1, None)]


def test_a_forged_checkpoint_is_named(evidence: EvidenceService) -> None:
    stocked(evidence)
    with evidence.engine.db.session() as s:
        cp = s.scalars(select(EvidenceCheckpoint)).one()
        cp.note = cp.note.replace("\n7\n", "\n6\n")
    assert codes(evidence) == [("checkpoint_invalid", None, 7)]


def test_deletion_under_a_rule_verifies_and_sealed_cases_hold(evidence: EvidenceService) -> None:
    from haechi.errors import ConflictError

    ids = stocked(evidence)
    evidence.delete_item(ids[3], actor="admin", rule="retention-1y")
    assert not evidence.vault.path(evidence.get_item(ids[3]).sha256).exists()
    evidence.seal_case("c1", actor="admin")
    with pytest.raises(ConflictError, match="legal hold"):
        evidence.delete_item(ids[0], actor="admin", rule="retention-1y")
    assert verify_store(evidence).ok


def test_without_the_vault_key_the_log_is_still_checked(
        evidence: EvidenceService, monkeypatch: pytest.MonkeyPatch) -> None:
    stocked(evidence)
    monkeypatch.delenv("HAECHI_VAULT_KEY", raising=False)
    monkeypatch.delenv("HAECHI_VAULT_KEY_FILE", raising=False)
    report = verify_store(EvidenceService(evidence.engine, signer=evidence.signer))
    assert [f.code for f in report.findings] == ["key_missing"]
    assert report.entries_checked == 7 and not report.ok
