"""Back-scans on Ray: items, error codes, matches and policy decisions, resumption."""

from __future__ import annotations

from pathlib import Path

import pytest
from scale_helpers import BROKEN, image_bytes, make_folder
from sqlalchemy import func, select

from fixtures_media import encode, jpeg_recompress, make_image, resize
from haechi.engine import Engine
from haechi.errors import ConflictError, InvalidRequestError
from haechi.scale.backscan import BackscanOptions
from haechi.scale.models import BackscanItem, BackscanJob, BackscanMatch

# Ray Data warns about its own deprecated settings while reading them.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")


def _items(engine: Engine, job: str) -> dict[str, BackscanItem]:
    with engine.db.session() as s:
        rows = s.scalars(select(BackscanItem).join(BackscanJob)
                         .where(BackscanJob.name == job)).all()
        return {Path(r.uri).name: r for r in rows}


def _matches(engine: Engine, item_id: int) -> list[BackscanMatch]:
    with engine.db.session() as s:
        return list(s.scalars(select(BackscanMatch).where(BackscanMatch.item_id == item_id)))


def test_backscan_on_ray_records_hashes_errors_matches_and_decisions(
        engine: Engine, ray_session: None, media_folder: Path) -> None:
    engine.create_bank("known")
    # img00003 is known as an identical copy; img00004 only as a resized, recompressed
    # copy: the stored original must still be found, by PDQ.
    engine.add_media("known", image_bytes(3))
    near = encode(jpeg_recompress(resize(make_image(4), 0.7)), "JPEG")
    near_pdq = next(h for h in engine.hash_bytes(near).hashes if h.signal == "pdq")
    engine.add_hash("known", "pdq", near_pdq.value, quality=near_pdq.quality)

    report = engine.scale.backscan.run(BackscanOptions(
        source=str(media_folder), job="store", workers=2, batch_size=3))

    assert report.status == "done" and report.total == 16 and report.done == 16
    assert report.errors == len(BROKEN) and report.matched == 2
    items = _items(engine, "store")
    assert len(items) == 16
    for name, code in BROKEN.items():
        assert items[name].status == "error" and items[name].error_code == code, name
        assert items[name].action == "hold"  # unscannable media is never waved through
    # The worker's hashes are the engine's hashes of the same file.
    expected = {h.signal: h.value for h in engine.hash_bytes(image_bytes(7)).hashes}
    seventh = items["img00007.jpg"]
    assert (seventh.sha256, seventh.md5, seventh.pdq) == (
        expected["sha256"], expected["md5"], expected["pdq"])
    assert seventh.action == "allow" and seventh.match_count == 0

    exact = items["img00003.jpg"]
    assert exact.action == "block" and exact.rule == "known-bank-match"
    assert exact.decision is not None and exact.decision["category"] == "known_abusive_media"
    assert {m.signal for m in _matches(engine, exact.id)} == {"sha256", "md5", "pdq"}
    [by_pdq] = _matches(engine, items["img00004.jpg"].id)
    assert by_pdq.signal == "pdq" and 0 < (by_pdq.distance or 0) <= 31
    assert by_pdq.origin == "backscan"
    assert items["img00004.jpg"].action == "block"

    info = engine.scale.backscan.job("store")
    assert (info.items, info.errors, info.matched_items, info.status) == (16, 4, 2, "done")
    assert info.actions == {"allow": 10, "block": 2, "hold": 4}


def test_a_job_name_is_not_reused_without_resume(engine: Engine, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "few", images=2, broken=False)
    options = BackscanOptions(source=str(folder), job="once", workers=0)
    engine.scale.backscan.run(options)
    with pytest.raises(ConflictError, match="--resume"):
        engine.scale.backscan.run(options)
    again = engine.scale.backscan.run(BackscanOptions(source=str(folder), job="once",
                                                      workers=0, resume=True))
    assert (again.done, again.done_before, again.run) == (0, 2, 2)


def test_resume_records_only_what_is_missing(engine: Engine, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "grow", images=4, broken=False)
    first = engine.scale.backscan.run(BackscanOptions(source=str(folder), job="grow",
                                                      workers=0, batch_size=2))
    assert first.done == 4
    make_folder(tmp_path / "grow", images=7, broken=False)  # three more files appear
    second = engine.scale.backscan.run(BackscanOptions(source=str(folder), job="grow",
                                                       workers=0, resume=True))
    assert (second.done, second.done_before) == (3, 4)
    runs = {name: item.run for name, item in _items(engine, "grow").items()}
    assert sorted(runs.values()) == [1, 1, 1, 1, 2, 2, 2]
    assert runs["img00006.jpg"] == 2


def test_a_list_file_of_paths_and_uris(engine: Engine, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "listed", images=3, broken=False)
    files = sorted(folder.rglob("*.jpg"))
    listing = tmp_path / "list.txt"
    listing.write_text(f"# stored media\n{files[0]}\nfile://{files[1]}\n\n"
                       f"{tmp_path / 'gone.jpg'}\n")
    report = engine.scale.backscan.run(BackscanOptions(source=str(listing), job="l",
                                                       workers=0))
    assert (report.total, report.done, report.errors) == (3, 3, 1)
    assert _items(engine, "l")["gone.jpg"].error_code == "missing_file"


def test_bad_sources_and_options_are_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="neither a folder"):
        engine.scale.backscan.run(BackscanOptions(source=str(tmp_path / "nope"), workers=0))
    listing = tmp_path / "list.txt"
    listing.write_text("http://example.org/a.jpg\n")
    with pytest.raises(InvalidRequestError, match="only paths, file:// and s3://"):
        engine.scale.backscan.run(BackscanOptions(source=str(listing), workers=0))
    with pytest.raises(InvalidRequestError, match="batch size"):
        engine.scale.backscan.run(BackscanOptions(source=str(tmp_path), batch_size=0))
    with engine.db.session() as s:
        assert s.scalar(select(func.count()).select_from(BackscanItem)) == 0


def test_detection_scores_are_recorded_and_feed_the_policy(
        engine: Engine, ray_session: None, tmp_path: Path) -> None:
    from haechi.detection.settings import DetectionSettings

    # The stable detectors only: sexual content, faces, provenance metadata.
    engine.detection.settings = DetectionSettings(synthetic_detectors=["provenance"])
    folder = make_folder(tmp_path / "few", images=2)
    report = engine.scale.backscan.run(BackscanOptions(
        source=str(folder), job="detect", workers=1, batch_size=2, detect=True))
    assert (report.done, report.errors) == (6, 4)
    items = _items(engine, "detect")
    for name in ("img00000.jpg", "img00001.jpg"):
        scores = items[name].detections
        assert items[name].detection_error is None
        assert 0.0 <= scores["sexual"] < 0.8  # neutral shapes and text
        assert items[name].action == "allow"
    assert items["corrupt.jpg"].detections == {}
