"""Retro-hunt: entries added to a bank after a back-scan find the earlier copies through
the stored hashes (exact digests, PDQ near-duplicates, vPDQ videos), once each."""

from __future__ import annotations

from pathlib import Path

import pytest
from scale_helpers import flip_bits, image_bytes, make_folder
from sqlalchemy import select
from typer.testing import CliRunner

from fixtures_media import encode, jpeg_recompress, make_image, make_video, resize, transcode_video
from haechi.cli.main import app
from haechi.engine import Engine
from haechi.scale.backscan import BackscanOptions
from haechi.scale.models import BackscanItem, BackscanMatch
from haechi.signals.pdq import hamming


def _by_name(engine: Engine) -> dict[str, BackscanItem]:
    with engine.db.session() as s:
        return {Path(r.uri).name: r for r in s.scalars(select(BackscanItem))}


def _matches(engine: Engine) -> list[tuple[str, str, str, int | None, float | None]]:
    with engine.db.session() as s:
        rows = s.execute(select(BackscanItem.uri, BackscanMatch.signal, BackscanMatch.origin,
                                BackscanMatch.distance, BackscanMatch.query_share)
                         .join(BackscanItem, BackscanItem.id == BackscanMatch.item_id)).all()
    return sorted((Path(u).name, sig, o, d, q) for u, sig, o, d, q in rows)


@pytest.fixture
def scanned(engine: Engine, tmp_path: Path) -> Engine:
    """A back-scanned store of 6 images and a 3-second video, with one bank that already
    knew image 3 at back-scan time."""
    folder = make_folder(tmp_path / "store", images=6, broken=False)
    (folder / "clip.mp4").write_bytes(make_video(7, seconds=3.0))
    engine.create_bank("known")
    engine.add_media("known", image_bytes(3))
    report = engine.scale.backscan.run(BackscanOptions(source=str(folder), job="old",
                                                       workers=0))
    assert (report.done, report.matched) == (7, 1)
    return engine


def test_new_entries_find_earlier_copies_once(scanned: Engine, tmp_path: Path) -> None:
    engine = scanned
    items = _by_name(engine)
    engine.create_bank("later")
    # Image 1 becomes known by its exact digest; image 5 by the PDQ of a resized,
    # recompressed copy; the video by the vPDQ of a VP9 transcode; one hash is unrelated.
    engine.add_hash("later", "sha256", items["img00001.jpg"].sha256 or "")
    near = engine.hash_bytes(encode(jpeg_recompress(resize(make_image(5), 0.6)), "JPEG"))
    near_pdq = next(h for h in near.hashes if h.signal == "pdq")
    assert 0 < hamming(near_pdq.value, items["img00005.jpg"].pdq or "") <= 31
    engine.add_hash("later", "pdq", near_pdq.value, quality=near_pdq.quality)
    far = flip_bits(items["img00002.jpg"].pdq or "", 90)
    engine.add_hash("later", "pdq", far, quality=100)
    clip = (tmp_path / "store" / "clip.mp4").read_bytes()
    engine.add_media("later", transcode_video(clip, "libvpx-vp9", "webm"))

    report = engine.scale.retrohunt.run_once()
    assert report.items == 3 and report.entries >= 6
    found = [m for m in _matches(engine) if m[2] == "retrohunt"]
    assert [(n, sig) for n, sig, *_ in found] == [
        ("clip.mp4", "vpdq"), ("img00001.jpg", "sha256"), ("img00005.jpg", "pdq")]
    assert found[2][3] == hamming(near_pdq.value, items["img00005.jpg"].pdq or "")
    assert (found[0][4] or 0) >= 80.0
    after = _by_name(engine)
    for name in ("clip.mp4", "img00001.jpg", "img00005.jpg"):
        assert after[name].action == "block" and after[name].rule == "known-bank-match", name
        assert after[name].decision is not None
    assert after["img00002.jpg"].action == "allow" and after["img00002.jpg"].match_count == 0

    # The entry the back-scan already matched (image 3) is not recorded again, and a
    # second pass over a quiet feed changes nothing.
    assert [m for m in _matches(engine) if m[0] == "img00003.jpg"] == [
        ("img00003.jpg", s, "backscan", 0 if s != "pdq" else m, None)
        for s, m in (("md5", 0), ("pdq", 0), ("sha256", 0))]
    count = len(_matches(engine))
    quiet = engine.scale.retrohunt.run_once()
    assert (quiet.changes, quiet.matches) == (0, 0)
    assert len(_matches(engine)) == count
    status = engine.scale.retrohunt.status()
    assert status.behind == 0 and status.cursor == status.feed_seq


def test_items_scanned_after_the_index_was_built_are_searched_too(
        scanned: Engine, tmp_path: Path) -> None:
    engine = scanned
    engine.scale.retrohunt.run_once()  # builds the stored-hash index
    more = make_folder(tmp_path / "more", images=9, broken=False)
    engine.scale.backscan.run(BackscanOptions(source=str(more), job="new", workers=0))
    eight = next(r for n, r in _by_name(engine).items() if n == "img00008.jpg")
    engine.create_bank("later")
    engine.add_hash("later", "pdq", flip_bits(eight.pdq or "", 6), quality=100)
    report = engine.scale.retrohunt.run_once()
    assert (report.matches, report.items) == (1, 1)


def test_disabled_banks_and_entries_find_nothing(scanned: Engine) -> None:
    engine = scanned
    items = _by_name(engine)
    engine.create_bank("paused")
    engine.add_hash("paused", "md5", items["img00000.jpg"].md5 or "")
    engine.update_bank("paused", enabled=False)
    engine.create_bank("later")
    entry = engine.add_hash("later", "md5", items["img00004.jpg"].md5 or "")
    assert entry is not None
    engine.set_entry_enabled(entry.id, False)
    report = engine.scale.retrohunt.run_once()
    assert report.matches == 0 and report.changes >= 3
    assert _by_name(engine)["img00000.jpg"].action == "allow"


def test_retrohunt_and_report_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    folder = make_folder(tmp_path / "store", images=3, broken=False)

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--data-dir", str(data), *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    run("backscan", str(folder), "--workers", "0", "--job", "cli", "--no-progress")
    run("bank", "create", "later")
    run("bank", "add", "later", str(folder / "b" / "deeper" / "img00001.jpg"))
    out = run("retrohunt")
    assert '"items":1' in out
    report = run("backscan-report", "cli")
    assert '"matched_items": 1' in report and '"origin": "retrohunt"' in report


def test_follow_picks_up_entries_as_they_are_added(scanned: Engine) -> None:
    import threading
    import time

    engine = scanned
    hunt = engine.scale.retrohunt
    hunt.run_once()  # the entries the fixture added
    reports: list[object] = []
    stop = threading.Event()
    worker = threading.Thread(target=hunt.follow, kwargs={
        "poll_seconds": 0.05, "stop": stop, "on_report": reports.append})
    worker.start()
    try:
        engine.create_bank("later")
        engine.add_hash("later", "sha256", _by_name(engine)["img00002.jpg"].sha256 or "")
        deadline = time.monotonic() + 60
        while not any(getattr(r, "items", 0) for r in reports):
            assert time.monotonic() < deadline, reports
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
    assert _by_name(engine)["img00002.jpg"].action == "block"
