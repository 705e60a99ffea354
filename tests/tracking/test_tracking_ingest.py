"""Ingest of the three formats: what lands in the store, idempotence, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tracking_scenario import bot_updates, build_export

from haechi.engine import Engine
from haechi.errors import InvalidRequestError
from haechi.tracking import TrackingService
from haechi.tracking.ingest.telegram_export import read_export
from haechi.tracking.models import TrackedMedia, TrackedMessage, TrackedRoom, TrackedUser


def _count(engine: Engine, model: type) -> int:
    with engine.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_telegram_export_ingests_and_reingest_adds_nothing(
        tracking: TrackingService, engine: Engine, tmp_path: Path) -> None:
    built = build_export(tmp_path / "export")
    engine.create_bank("known")
    engine.add_media("known", built.item)

    first = tracking.ingest(built.folder)
    assert first.source == "telegram"
    # 14 messages; the service message (a join) carries nothing and is not counted.
    assert (first.messages_read, first.added, first.duplicates) == (14, 14, 0)
    assert first.media_new == 6
    # The original, its re-encoding and its resized copy all match the bank.
    assert first.media_flagged == 3
    assert first.skipped_count == 0

    again = tracking.ingest(built.folder)
    assert (again.added, again.duplicates, again.media_new) == (0, 14, 0)
    assert _count(engine, TrackedMessage) == 14
    assert _count(engine, TrackedMedia) == 6
    assert _count(engine, TrackedRoom) == 4
    assert _count(engine, TrackedUser) == 9

    with engine.db.session() as s:
        fwd = s.execute(select(TrackedMessage).where(TrackedMessage.chat_id == "300")
                        .where(TrackedMessage.message_id == 1)).scalar_one()
        assert fwd.is_forward and fwd.fwd_name == "relay" and fwd.media_id is not None
        reply = s.execute(select(TrackedMessage).where(TrackedMessage.chat_id == "100")
                          .where(TrackedMessage.message_id == 7)).scalar_one()
        assert reply.reply_to == 5
        rich = s.execute(select(TrackedMessage.text).where(TrackedMessage.chat_id == "100")
                         .where(TrackedMessage.message_id == 3)).scalar_one()
        assert rich.endswith("할인!")  # text given as a list of parts is joined


def test_bot_api_jsonl_links_by_file_unique_id(tracking: TrackingService, engine: Engine,
                                               tmp_path: Path) -> None:
    log = tmp_path / "updates.jsonl"
    lines = [json.dumps(u) for u in bot_updates()]
    lines.insert(1, "{not json")
    lines.append(json.dumps({"update_id": 9, "my_chat_member": {}}))
    log.write_text("\n".join(lines) + "\n", "utf-8")

    report = tracking.ingest(log)
    assert report.source == "bot" and report.added == 4
    assert {s.code for s in report.skipped} == {"bad_json", "not_a_message"}
    assert report.media_new == 1  # both photos are one file_unique_id
    with engine.db.session() as s:
        rows = {m.message_id: m for m in s.scalars(select(TrackedMessage))}
    assert rows[10].media_id == rows[3].media_id is not None
    assert rows[3].is_forward and rows[3].fwd_chat_id == "-1001"
    assert rows[4].reply_to == 3
    assert rows[5].fwd_user_key == "name:Hidden"
    assert tracking.ingest(log).added == 0


def test_csv_with_and_without_message_ids(tracking: TrackingService, engine: Engine,
                                          tmp_path: Path) -> None:
    from fixtures_media import encode, make_image

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.png").write_bytes(encode(make_image(5, (320, 240)), "png"))
    csv_path = tmp_path / "log.csv"
    csv_path.write_text(
        "time,room,user,media,forwarded_from,text\n"
        "2024-08-01T10:00:00Z,roomA,alice,m/a.png,,hello\n"
        "2024-08-01T10:05:00Z,roomB,bob,m/a.png,roomA,\n"
        "not a time,roomB,bob,,,\n"
        "2024-08-01T10:06:00Z,roomB,carol,m/missing.png,,\n"
        "2024-08-01T10:07:00Z,roomB,dave,../outside.png,,escape attempt\n", "utf-8")
    report = tracking.ingest(csv_path, service="forum")
    assert report.added == 4
    codes = sorted(s.code for s in report.skipped)
    assert codes == ["bad_row", "missing_file"]
    with engine.db.session() as s:
        rows = list(s.scalars(select(TrackedMessage).order_by(TrackedMessage.sent_at)))
    assert {r.service for r in rows} == {"forum"}
    assert rows[0].media_id == rows[1].media_id is not None
    assert rows[1].is_forward and rows[1].fwd_user_key == "roomA"
    # A path outside the CSV's folder is never read: the row is kept without media.
    assert rows[3].media_id is None and rows[3].text == "escape attempt"
    again = tracking.ingest(csv_path, service="forum")
    assert (again.added, again.duplicates) == (0, 4)
    # Media of messages already stored are not looked at again.
    assert [s.code for s in again.skipped] == ["bad_row"]


def test_csv_without_required_columns_is_refused(tracking: TrackingService,
                                                 tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,where\n1,2\n", "utf-8")
    with pytest.raises(InvalidRequestError) as info:
        tracking.ingest(bad)
    assert info.value.code == "bad_csv"


def test_unknown_format_and_missing_export(tracking: TrackingService, tmp_path: Path) -> None:
    odd = tmp_path / "x.bin"
    odd.write_bytes(b"\x00")
    with pytest.raises(InvalidRequestError) as info:
        tracking.ingest(odd)
    assert info.value.code == "unknown_format"
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidRequestError) as info:
        tracking.ingest(tmp_path / "empty")
    assert info.value.code == "not_an_export"


def test_export_reader_streams_single_chat_layout(tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    messages = ",".join(json.dumps({"id": i, "type": "message", "date": "2024-01-01T00:00:00",
                                    "from": "A", "from_id": "user1", "text": f"m{i}"})
                        for i in range(1, 4))
    result.write_text('{"name": "solo", "type": "personal_chat", "id": 5, "messages": ['
                      + messages + ',{"id": "x"}]}', "utf-8")
    skipped: list[str] = []
    got = list(read_export(result, lambda item: skipped.append(item.code)))
    assert [(m.chat_id, m.chat_title, m.message_id) for m in got] == [
        ("5", "solo", 1), ("5", "solo", 2), ("5", "solo", 3)]
    assert skipped == ["bad_message"]


def test_rescan_flags_media_for_a_bank_made_after_ingest(
        tracking: TrackingService, engine: Engine, tmp_path: Path) -> None:
    built = build_export(tmp_path / "export")
    assert tracking.ingest(built.folder).media_flagged == 0
    engine.create_bank("later")
    engine.add_media("later", built.item)
    result = tracking.rescan_media()
    assert (result.checked, result.newly_flagged, result.no_longer_flagged) == (6, 3, 0)
    with engine.db.session() as s:
        flagged = sorted(s.scalars(select(TrackedMedia.path).where(TrackedMedia.flagged)))
    assert flagged == ["photos/item.jpg", "photos/item_reencoded.jpg", "photos/item_resized.jpg"]
    engine.delete_bank("later")
    assert tracking.rescan_media().no_longer_flagged == 3


def test_truncated_export_keeps_what_was_read(tracking: TrackingService, engine: Engine,
                                              tmp_path: Path) -> None:
    built = build_export(tmp_path / "export")
    result = built.folder / "result.json"
    text = result.read_text("utf-8")
    result.write_text(text[: text.index('"relay"') + 200], "utf-8")
    report = tracking.ingest(built.folder)
    assert report.added == 7  # the whole first room
    assert [s.code for s in report.skipped] == ["bad_json"]
    assert _count(engine, TrackedMessage) == 7


def test_progress_is_reported_per_batch(tracking: TrackingService, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from haechi.tracking.ingest import writer

    monkeypatch.setattr(writer, "BATCH", 4)
    seen: list[int] = []
    built = build_export(tmp_path / "export")
    tracking.ingest(built.folder, progress=seen.append)
    assert seen == [4, 8, 12, 14]
