"""Export a case as a BagIt package, move it, and verify it with only the public key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bagit
import pytest

from fixtures_media import encode, make_image
from haechi.errors import ConflictError
from haechi.evidence import CaptureMetadata, EvidenceService
from haechi.evidence.note import Verifier
from haechi.evidence.package import export_case
from haechi.evidence.verify_package import verify_package


def build_case(evidence: EvidenceService) -> list[int]:
    evidence.engine.create_bank("synthetic")
    evidence.engine.add_media("synthetic", encode(make_image(11, (80, 60)), "png"))
    ids = []
    for i in range(3):
        out = evidence.import_bytes(
            encode(make_image(10 + i, (80, 60)), "png"), actor="analyst",
            capture=CaptureMetadata(service="telegram", room="room", message_id=str(i),
                                    uploader={"id": f"user{i % 2}"}, filename=f"{i}.png",
                                    labels=["generative_ai"] if i == 0 else []))
        ids.append(out.item_id or 0)
    evidence.import_bytes(b"unrelated", actor="analyst", capture=CaptureMetadata())
    evidence.create_case("case-1", actor="analyst", title="Room case")
    evidence.add_to_case("case-1", ids, actor="analyst")
    evidence.view(ids[1], actor="detective")
    return ids


@pytest.fixture
def package(evidence: EvidenceService, tmp_path: Path) -> tuple[Path, Verifier, list[int]]:
    ids = build_case(evidence)
    out = export_case(evidence, "case-1", tmp_path / "export" / "pkg", actor="analyst",
                      recipient="police", pdf=False)
    moved = tmp_path / "elsewhere" / "pkg"
    moved.parent.mkdir()
    shutil.move(str(out), moved)
    return moved, evidence.signer.verifier, ids


def test_exported_package_verifies_alone(package: tuple[Path, Verifier, list[int]]) -> None:
    path, verifier, ids = package
    assert bagit.Bag(str(path)).is_valid()
    report = verify_package(path, verifier)
    assert report.ok, report.findings
    assert report.items_checked == 3
    log = [json.loads(line) for line in (path / "data/custody/log.jsonl").read_text()
           .splitlines()]
    events = [e["event"] for e in log]
    assert events.count("captured") == 3 and "viewed" in events and events[-1] == "exported"
    assert all(e.get("item") in (None, *ids) for e in log), "no other item's events leak"
    info = (path / "bag-info.txt").read_text()
    assert "External-Identifier: case-1" in info and "Haechi-Key-Id:" in info
    # Without a key given, the package's own key is used and the report says so.
    self_checked = verify_package(path)
    assert self_checked.ok and "key inside the package" in self_checked.notes[0]


def test_earlier_checkpoints_are_proven_consistent(evidence: EvidenceService,
                                                   tmp_path: Path) -> None:
    build_case(evidence)
    first = evidence.checkpoint()
    evidence.view(1, actor="detective")
    pkg = export_case(evidence, "case-1", tmp_path / "pkg", actor="a", pdf=False)
    earlier = json.loads((pkg / "data/custody/consistency.json").read_text())
    assert [e["note"] for e in earlier] == [first.note]
    report = verify_package(pkg, evidence.signer.verifier)
    assert report.ok and report.checkpoints_checked == 2
    # A forked history: an earlier checkpoint signed over a different tree of that size.
    from haechi.evidence.note import Checkpoint

    forged = Checkpoint(evidence.origin, first.size, bytes(32))
    earlier[0]["note"] = evidence.signer.sign(forged.text())
    (pkg / "data/custody/consistency.json").write_text(json.dumps(earlier))
    found = [(f.code, f.seq) for f in verify_package(pkg, evidence.signer.verifier).findings]
    assert ("checkpoint_mismatch", first.size) in found


def test_cybertipline_report(package: tuple[Path, Verifier, list[int]]) -> None:
    path, _, ids = package
    tip = json.loads((path / "data/cybertipline.json").read_text())
    assert tip["incident"]["caseName"] == "case-1"
    assert {p["identifiers"]["id"] for p in tip["reportedPersons"]} == {"user0", "user1"}
    files = {f["fileId"]: f for f in tip["files"]}
    assert set(files) == set(ids)
    assert files[ids[0]]["annotations"]["generativeAi"] is True
    assert files[ids[1]]["annotations"]["matchedKnownMaterial"] is True  # bank "synthetic"
    assert files[ids[2]]["annotations"]["generativeAi"] is None
    assert len(files[ids[2]]["hashes"]["sha256"]) == 64 and files[ids[2]]["hashes"]["pdq"]


def test_one_changed_byte_names_the_item(package: tuple[Path, Verifier, list[int]]) -> None:
    path, verifier, ids = package
    items = json.loads((path / "data/items.json").read_text())["items"]
    target = next(i for i in items if i["id"] == ids[1])
    f = path / "data" / target["path"]
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x20
    f.write_bytes(bytes(raw))
    report = verify_package(path, verifier)
    assert not report.ok
    altered = [x for x in report.findings if x.code == "item_altered"]
    assert [(x.item_id, x.path) for x in altered] == [(ids[1], f"data/{target['path']}")]
    assert {x.path for x in report.findings} == {f"data/{target['path']}"}


def test_a_dropped_log_line_is_named_even_with_rewritten_manifests(
        package: tuple[Path, Verifier, list[int]]) -> None:
    path, verifier, _ = package
    log = path / "data/custody/log.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    dropped = json.loads(lines[2])["seq"]
    log.write_text("".join(lines[:2] + lines[3:]))
    report = verify_package(path, verifier)
    assert ("entry_missing", dropped) in [(f.code, f.seq) for f in report.findings]
    # An adversary who regenerates the bag manifests is still caught by the signed one.
    bag = bagit.Bag(str(path))
    bag.save(manifests=True)
    assert bag.is_valid()
    report = verify_package(path, verifier)
    assert [(f.code, f.seq) for f in report.findings] == [("entry_missing", dropped)]


def test_an_edited_or_reordered_log_line_is_named(
        package: tuple[Path, Verifier, list[int]]) -> None:
    path, verifier, _ = package
    log = path / "data/custody/log.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    edited = json.loads(lines[1])["seq"]
    lines[1] = lines[1].replace('"actor":"analyst"', '"actor":"nobody"')
    log.write_text("".join(lines))
    found = [(f.code, f.seq) for f in verify_package(path, verifier).findings]
    assert ("entry_altered", edited) in found
    lines = log.read_text().splitlines(keepends=True)
    lines[3], lines[4] = lines[4], lines[3]
    log.write_text("".join(lines))
    found = [(f.code, f.seq) for f in verify_package(path, verifier).findings]
    assert ("entry_reordered", json.loads(lines[4])["seq"]) in found


def test_a_package_signed_by_another_key_fails(
        package: tuple[Path, Verifier, list[int]], signer: object) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from haechi.evidence.note import Signer

    path, verifier, _ = package
    stranger = Signer(verifier.name, Ed25519PrivateKey.generate()).verifier
    report = verify_package(path, stranger)
    assert [f.code for f in report.findings] == ["checkpoint_invalid"]
    assert not verify_package(path.parent).ok  # not a bag at all


def test_export_refuses_an_existing_folder(evidence: EvidenceService, tmp_path: Path) -> None:
    build_case(evidence)
    with pytest.raises(ConflictError):
        export_case(evidence, "case-1", tmp_path, actor="a", pdf=False)
    assert not list(tmp_path.glob(".*partial"))
