"""The core loop on both stores: bank known media, then block edited re-uploads."""

from __future__ import annotations

import pytest

from fixtures_media import (
    brighten,
    encode,
    jpeg_recompress,
    make_image,
    make_video,
    mirror,
    resize,
    rotate90,
    transcode_video,
)
from haechi.engine import Engine
from haechi.errors import ConflictError, InvalidHashError, InvalidRequestError, NotFoundError
from haechi.results import EntryMetadata

EDITS = {
    "recompressed": lambda im: jpeg_recompress(im, 40),
    "resized": lambda im: resize(im, 0.5),
    "brightened": lambda im: brighten(im, 1.3),
    "mirrored": mirror,
    "rotated_ccw": rotate90,
    "rotated_cw": lambda im: rotate90(im, clockwise=True),
}


@pytest.fixture
def banked(engine: Engine) -> tuple[Engine, object]:
    engine.create_bank("known", description="confirmed abusive media")
    original = make_image(7, (480, 360))
    added = engine.add_media("known", encode(original, "png"), name="original.png",
                             metadata=EntryMetadata(source="hotline", category="synthetic",
                                                    external_id="case-1"))
    assert {e.signal for e in added} == {"sha256", "md5", "pdq"}
    return engine, original


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_reupload_is_blocked(banked: tuple[Engine, object], edit: str) -> None:
    engine, original = banked
    result = engine.scan_bytes(encode(EDITS[edit](original), "jpeg", quality=85),
                               name=f"{edit}.jpg")
    assert result.decision == "block", result.reason
    [match] = [m for m in result.matches if m.signal == "pdq"]
    assert match.bank == "known" and match.distance is not None and match.distance <= 31
    assert match.entry.external_id == "case-1" and match.entry.category == "synthetic"
    assert "known" in result.reason and "pdq" in result.reason
    if edit.startswith("rotated") or edit == "mirrored":
        assert match.transform != "original"
    assert set(result.timings_ms) >= {"decode_ms", "hash_ms", "match_ms", "total_ms"}


def test_identical_copy_matches_every_signal(banked: tuple[Engine, object]) -> None:
    engine, original = banked
    result = engine.scan_bytes(encode(original, "png"))
    assert result.decision == "block"
    assert {m.signal for m in result.matches} == {"sha256", "md5", "pdq"}
    assert [m.distance for m in result.matches if m.signal == "pdq"] == [0]


@pytest.mark.parametrize("seed", [8, 9, 10, 11, 12])
def test_unrelated_images_are_allowed(banked: tuple[Engine, object], seed: int) -> None:
    engine, _ = banked
    result = engine.scan_bytes(encode(make_image(seed, (480, 360)), "jpeg"))
    assert result.decision == "allow"
    assert result.matches == []
    assert result.reason == "no bank matched"


def test_disabled_entry_stops_matching_and_enable_restores(banked: tuple[Engine, object]) -> None:
    engine, original = banked
    upload = encode(resize(original, 0.5), "jpeg")
    entries, _ = engine.list_entries("known")
    pdq = next(e for e in entries if e.signal == "pdq")
    engine.set_entry_enabled(pdq.id, False)
    assert engine.scan_bytes(upload).decision == "allow"
    engine.set_entry_enabled(pdq.id, True)
    assert engine.scan_bytes(upload).decision == "block"
    engine.delete_entry(pdq.id)
    assert engine.scan_bytes(upload).decision == "allow"
    with pytest.raises(NotFoundError):
        engine.get_entry(pdq.id)


def test_allow_list_overrides_block(banked: tuple[Engine, object]) -> None:
    engine, original = banked
    engine.create_bank("false-positives", kind="allow")
    variant = encode(brighten(original), "jpeg")
    engine.add_media("false-positives", variant, name="reviewed.jpg")
    result = engine.scan_bytes(variant)
    assert result.decision == "allow"
    assert {m.bank_kind for m in result.matches} == {"allow", "block"}
    assert "overriding" in result.reason and "false-positives" in result.reason


def test_disabled_bank_does_not_match(banked: tuple[Engine, object]) -> None:
    engine, original = banked
    engine.update_bank("known", enabled=False)
    assert engine.scan_bytes(encode(original, "png")).decision == "allow"


def test_per_bank_threshold(engine: Engine) -> None:
    base = int("ab" * 32, 16)
    engine.create_bank("strict", pdq_threshold=5)
    engine.create_bank("loose", pdq_threshold=40)
    engine.add_hash("strict", "pdq", format(base, "064x"))
    engine.add_hash("loose", "pdq", format(base, "064x"))
    ten_bits = format(base ^ 0x3FF, "064x")
    result = engine.scan_hashes([("pdq", ten_bits)])
    assert [(m.bank, m.distance) for m in result.matches] == [("loose", 10)]
    far = format(base ^ ((1 << 38) - 1), "064x")
    assert [m.bank for m in engine.scan_hashes([("pdq", far)]).matches] == ["loose"]
    beyond = format(base ^ ((1 << 41) - 1), "064x")
    assert engine.scan_hashes([("pdq", beyond)]).matches == []


def test_low_quality_hash_is_not_matched(engine: Engine) -> None:
    engine.create_bank("known")
    value = "c" * 64
    engine.add_hash("known", "pdq", value, quality=100)
    assert engine.scan_hashes([("pdq", value)], pdq_quality=49).decision == "allow"
    assert engine.scan_hashes([("pdq", value)], pdq_quality=50).decision == "block"


def test_exact_hashes_match(engine: Engine) -> None:
    engine.create_bank("known")
    md5 = "0" * 31 + "1"
    engine.add_hash("known", "md5", md5.upper())
    result = engine.scan_hashes([("md5", md5)])
    assert result.decision == "block" and result.matches[0].signal == "md5"
    assert engine.scan_hashes([("md5", "0" * 32)]).decision == "allow"


def test_bad_hashes_are_rejected_without_writing(engine: Engine) -> None:
    engine.create_bank("known")
    for signal, value in [("pdq", "xyz"), ("pdq", "a" * 63), ("md5", "g" * 32),
                          ("sha256", ""), ("vpdq", "not json"), ("vpdq", "[]")]:
        with pytest.raises(InvalidHashError):
            engine.add_hash("known", signal, value)
    with pytest.raises(Exception, match="unknown signal"):
        engine.add_hash("known", "phash", "a" * 16)
    assert engine.list_entries("known")[1] == 0
    with pytest.raises(InvalidHashError):
        engine.scan_hashes([("pdq", "zz")])


def test_duplicate_values_are_not_added_twice(engine: Engine) -> None:
    engine.create_bank("known")
    assert engine.add_hash("known", "pdq", "d" * 64) is not None
    assert engine.add_hash("known", "pdq", "D" * 64) is None
    assert engine.list_entries("known")[1] == 1


def test_bank_validation(engine: Engine) -> None:
    engine.create_bank("known")
    with pytest.raises(ConflictError):
        engine.create_bank("known")
    for bad in ["", "has space", "x" * 101, "semi;colon"]:
        with pytest.raises(InvalidRequestError):
            engine.create_bank(bad)
    with pytest.raises(InvalidRequestError):
        engine.create_bank("t", pdq_threshold=64)
    with pytest.raises(InvalidRequestError):
        engine.create_bank("k", kind="maybe")
    with pytest.raises(NotFoundError):
        engine.get_bank("missing")


def test_delete_bank_removes_its_entries(banked: tuple[Engine, object]) -> None:
    engine, original = banked
    assert engine.delete_bank("known") == 3
    assert engine.scan_bytes(encode(original, "png")).decision == "allow"
    assert engine.list_banks() == []


def test_video_reencode_matches_with_frame_shares(engine: Engine) -> None:
    engine.create_bank("videos")
    clip = make_video(3, seconds=6.0)
    [vpdq] = [e for e in engine.add_media("videos", clip, name="clip.mp4")
              if e.signal == "vpdq"]
    reencoded = transcode_video(clip, "libvpx-vp9", "webm", size=(128, 96))
    result = engine.scan_bytes(reencoded, name="clip.webm")
    assert result.decision == "block", result.reason
    [match] = [m for m in result.matches if m.signal == "vpdq"]
    assert match.entry_id == vpdq.id
    assert match.query_share is not None and match.query_share >= 80
    assert match.entry_share is not None and match.entry_share >= 80
    other = engine.scan_bytes(make_video(4, seconds=6.0), name="other.mp4")
    assert other.decision == "allow"


def test_partial_video_reports_both_shares(engine: Engine) -> None:
    engine.create_bank("videos", video_match_percent=80)
    long_clip = make_video(5, seconds=8.0)
    engine.add_media("videos", long_clip)
    short_value = engine.hash_bytes(long_clip).hashes[-1].value
    import json

    frames = json.loads(short_value)
    half = json.dumps(frames[: len(frames) // 2])
    result = engine.scan_hashes([("vpdq", half)])
    [match] = result.matches
    assert match.query_share == 100.0
    assert match.entry_share is not None and 40 <= match.entry_share <= 60


def test_restart_loads_index_from_files(banked: tuple[Engine, object], make_engine) -> None:  # type: ignore[no-untyped-def]
    engine, original = banked
    engine.close()
    restarted = make_engine()
    assert restarted.indexes.loaded_from == "files"
    assert restarted.scan_bytes(encode(resize(original, 0.5), "jpeg")).decision == "block"


def test_corrupt_index_files_are_rebuilt_from_store(banked: tuple[Engine, object],
                                                    make_engine) -> None:  # type: ignore[no-untyped-def]
    engine, original = banked
    engine.close()
    for f in (engine.settings.data_dir / "index" / "pdq").iterdir():
        if f.suffix == ".npy":
            f.write_bytes(f.read_bytes()[:20])
    restarted = make_engine()
    assert restarted.indexes.loaded_from == "store"
    assert restarted.scan_bytes(encode(resize(original, 0.5), "jpeg")).decision == "block"


def test_second_process_sees_changes_through_the_feed(banked: tuple[Engine, object],
                                                      make_engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine, original = banked
    replica = make_engine(data_dir=tmp_path / "replica", index_refresh_seconds=0)
    upload = encode(mirror(original), "jpeg")
    assert replica.scan_bytes(upload).decision == "block"
    pdq = next(e for e in engine.list_entries("known")[0] if e.signal == "pdq")
    engine.set_entry_enabled(pdq.id, False)
    assert replica.scan_bytes(upload).decision == "allow"
    engine.create_bank("more")
    other = make_image(99, (480, 360))
    engine.add_media("more", encode(other, "png"))
    assert replica.scan_bytes(encode(resize(other, 0.5), "jpeg")).decision == "block"


def test_bad_media_gives_an_error_result_not_an_exception(engine: Engine) -> None:
    engine.create_bank("known")
    for data, code in [(b"", "empty_file"), (b"hello world", "unsupported_format"),
                       (encode(make_image(1), "jpeg")[:300], "truncated_media")]:
        result = engine.scan_bytes(data, name="x.jpg")
        assert result.decision == "error"
        assert result.error is not None and result.error.code == code, result.error
    assert engine.hash_bytes(b"").error is not None


def test_timestamps_are_utc_aware_on_every_store(engine: Engine) -> None:
    bank = engine.create_bank("known")
    entry = engine.add_hash("known", "md5", "a" * 32)
    assert entry is not None
    for stamp in (bank.created_at, engine.get_bank("known").created_at,
                  engine.get_entry(entry.id).added_at):
        assert stamp.tzinfo is not None and stamp.utcoffset() is not None
        assert stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
