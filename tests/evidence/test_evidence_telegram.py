"""Importing a Telegram Desktop export: raw messages kept, media scanned, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evidence_helpers import make_telegram_export

from haechi.errors import InvalidRequestError
from haechi.evidence import EvidenceService
from haechi.evidence.telegram import import_telegram
from haechi.evidence.verify_store import verify_store


def test_import_keeps_every_raw_message(evidence: EvidenceService, tmp_path: Path) -> None:
    folder = make_telegram_export(tmp_path / "export", 3)
    evidence.create_case("room", actor="analyst")
    report = import_telegram(evidence, folder, actor="analyst", case="room")
    assert (report.imported, report.duplicates, report.errors) == (4, 0, 1)
    assert report.messages_without_media == 2  # the service message and the text
    missing = next(i for i in report.items if i.status == "error")
    assert "media_missing" in (missing.error or "") and "not included" in (missing.error or "")
    items, total = evidence.list_items()
    assert total == 4
    export_item = items[0]
    assert export_item.capture.filename == "result.json"
    raw, _ = evidence.view(export_item.id, actor="analyst")
    assert raw == (folder / "result.json").read_bytes(), "the export is kept byte for byte"
    photo = next(i for i in items if i.capture.message_id == "10")
    assert photo.capture.raw_record == json.loads(raw)["messages"][2]
    assert photo.capture.forward_origin == {"name": "Some Channel", "source": "desktop"}
    assert photo.capture.uploader == {"id": "user200", "name": "Sender 0"}
    assert photo.capture.room == "Test room (777000111)"
    assert photo.scan["decision"] == "allow" and photo.scan["hashes"]
    assert photo.media_format == "jpeg" and photo.cases == ["room"]
    assert report.checkpoint_size == evidence.latest_checkpoint().size  # type: ignore[union-attr]


def test_rerun_resumes_without_duplicates(evidence: EvidenceService, tmp_path: Path) -> None:
    folder = make_telegram_export(tmp_path / "export", 2)
    import_telegram(evidence, folder, actor="a")
    again = import_telegram(evidence, folder, actor="a")
    assert (again.imported, again.duplicates) == (0, 3)
    assert evidence.list_items()[1] == 3
    assert verify_store(evidence).ok


def test_hostile_or_broken_exports(evidence: EvidenceService, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "result.json").write_text("{not json")
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        import_telegram(evidence, folder, actor="a")
    (folder / "result.json").write_text('{"hello": 1}')
    with pytest.raises(InvalidRequestError, match="not a Telegram Desktop export"):
        import_telegram(evidence, folder, actor="a")
    (tmp_path / "secret.jpg").write_bytes(b"outside")
    (folder / "result.json").write_text(json.dumps({"id": 1, "name": "x", "messages": [
        {"id": 5, "type": "message", "photo": "../secret.jpg"}]}))
    report = import_telegram(evidence, folder, actor="a")
    assert report.errors == 1 and "outside the export" in (report.items[-1].error or "")


def test_whole_account_exports_and_bot_api_forward_origin(evidence: EvidenceService,
                                                          tmp_path: Path) -> None:
    folder = make_telegram_export(tmp_path / "export", 1)
    chat = json.loads((folder / "result.json").read_text())
    chat["messages"][2]["forward_origin"] = {"type": "hidden_user", "sender_user_name": "X"}
    (folder / "result.json").write_text(json.dumps({"chats": {"list": [chat]}}))
    report = import_telegram(evidence, folder, actor="a")
    assert report.imported == 2
    photo = evidence.get_item(report.items[1].item_id or 0)
    assert photo.capture.forward_origin == {"type": "hidden_user", "sender_user_name": "X"}
