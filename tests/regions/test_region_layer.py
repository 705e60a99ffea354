"""The region layer end to end: bank an image, scan edited copies, read the why.

Two kinds of evidence (``regions/match.py``): keypoints that agree on one movement of
the picture (crops, rotations, mirrored crops, stickers, and framed copies of pictures
with corners to find), and the content-box windows, for flat pictures that give too
few keypoints to decide. Each test below says which one catches which copy.
"""

from __future__ import annotations

import logging
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from fixtures_media import encode, make_image
from haechi.engine import Engine
from haechi.regions.content import content_box
from haechi.regions.verify import MIN_INLIERS
from haechi.results import EntryInfo, ScanResult
from haechi.signals.pdq import hamming, pdq_of_rgb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.evasion import transforms

#: The banked neutral image. Pictures whose own edges are bands of one colour are the
#: weak case of content-box trimming (see docs/regions.md); this one has none.
SEED = 4
FACES = (Path(__file__).resolve().parents[3] / "shared" / "datasets" / "faces-real"
         / "utkface-adults")

Edit = Callable[[Image.Image, random.Random], Image.Image]

#: Copies in a new frame, and a sticker.
FRAMED: dict[str, Edit] = {
    "letterbox": transforms.letterbox,
    "pillarbox": transforms.pillarbox,
    "caption_top": transforms.caption_top,
    "caption_bottom": transforms.caption_bottom,
    "border": transforms.border,
    "screenshot": transforms.screenshot,
}
#: Edits that move the picture itself: every fixed window sees other pixels.
MOVED: dict[str, Edit] = {
    "crop": transforms.crop,
    "rotate": transforms.rotate,
    "mirror_crop": transforms.mirror_crop,
    "sticker": transforms.sticker,
}


def _scan(engine: Engine, img: Image.Image) -> ScanResult:
    return engine.scan_bytes(encode(img, "JPEG"), name="upload.jpg")


def _bank(engine: Engine, img: Image.Image, bank: str = "known") -> EntryInfo:
    [entry] = [e for e in engine.add_media(bank, encode(img, "PNG"), name="k.png")
               if e.signal == "pdq"]
    return entry


def _flat(seed: int) -> Image.Image:
    """A neutral picture blurred until it has few corners (a few dozen ORB points at
    most): keypoints cannot decide for it, its windows can."""
    return make_image(seed).filter(ImageFilter.GaussianBlur(6))


def _evading(edit: Edit, img: Image.Image, entry: EntryInfo) -> tuple[Image.Image, int]:
    """The first variant of ``edit`` (by seed) that whole-image PDQ no longer matches,
    and its seed."""
    for seed in range(30):
        edited = edit(img, random.Random(seed))
        if hamming(pdq_of_rgb(np.asarray(edited))[0], entry.value) > 31:
            return edited, seed
    raise AssertionError("every variant still matches as a whole image")


def _region_match(result: ScanResult, entry_id: int) -> None:
    """A match by windows: two or more content-box windows within the threshold."""
    assert result.decision == "block", result.reason
    [match] = [m for m in result.matches if m.entry_id == entry_id]
    assert match.layer == "regions"
    assert match.regions and len(match.regions) >= 2
    assert match.score == len(match.regions)
    for pair in match.regions:
        assert pair.query_region != "keypoints" and pair.entry_region != "keypoints"
        assert pair.distance <= 28 and pair.scale is None and pair.rotation is None
        x0, y0, x1, y1 = pair.query_box
        assert 0 <= x0 < x1 and 0 <= y0 < y1
    assert "by regions" in result.reason and "agree within 28" in result.reason
    assert "by keypoints" not in result.reason


def _inside(box: tuple[int, int, int, int] | None, size: tuple[int, int]) -> None:
    """``box`` lies in an image of ``size`` and covers a real part of it."""
    assert box is not None
    x0, y0, x1, y1 = box
    w, h = size
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (box, size)
    assert x1 - x0 >= 0.2 * w and y1 - y0 >= 0.2 * h, (box, size)


def _keypoint_match(result: ScanResult, entry: EntryInfo, upload: Image.Image,
                    banked: Image.Image, *, mirrored: bool = False) -> None:
    """A match by keypoints naming ``entry``, with boxes inside both images."""
    assert result.decision == "block", result.reason
    [match] = result.matches
    assert match.entry_id == entry.id and match.bank == "known"
    assert match.layer == "regions"
    assert match.regions is not None and len(match.regions) == 1
    [pair] = match.regions
    assert pair.query_region == pair.entry_region == "keypoints"
    _inside(pair.query_box, upload.size)
    _inside(pair.entry_box, banked.size)
    assert pair.mirrored is mirrored
    assert match.transform == ("mirror" if mirrored else "original")
    assert match.score is not None and match.score >= MIN_INLIERS
    assert match.threshold == MIN_INLIERS
    # Keypoint matches carry no PDQ distance; the pair has the median descriptor
    # distance of the agreeing points (bits of 256): close, never random.
    assert match.distance is None and 0 <= pair.distance <= 64
    assert pair.scale is not None and 0.5 <= pair.scale <= 2
    assert pair.rotation is not None and abs(pair.rotation) <= 10
    assert f"entry {entry.id} by keypoints" in result.reason
    assert ("(upload mirrored)" in result.reason) is mirrored
    assert f"{match.score:.0f} points" in result.reason


def _faces(count: int) -> list[Image.Image]:
    if not FACES.is_dir():
        pytest.skip(f"needs the real-face dataset at {FACES}")
    paths = sorted(FACES.glob("*.jpg"))
    return [Image.open(p).convert("RGB") for p in random.Random(3).sample(paths, count)]


# -- where the picture is ------------------------------------------------------------------


def test_content_box_trims_bars_around_the_picture() -> None:
    img = make_image(SEED)
    framed = np.asarray(transforms.letterbox(img, random.Random(1)))
    top = (framed.shape[0] - img.height) // 2
    # The frame is trimmed to the box the bare picture has (bands of one colour at the
    # picture's own edges are trimmed too, on both sides alike).
    bx0, by0, bx1, by1 = content_box(np.asarray(img))
    x0, y0, x1, y1 = content_box(framed)
    assert abs(x0 - bx0) <= 4 and abs(x1 - bx1) <= 4
    assert abs(y0 - (by0 + top)) <= 4 and abs(y1 - (by1 + top)) <= 4
    assert (bx1 - bx0) * (by1 - by0) >= 0.4 * img.width * img.height


# -- keypoints -----------------------------------------------------------------------------


def _subject(name: str) -> Image.Image:
    return make_image(SEED) if name == "neutral" else _faces(1)[0]


@pytest.mark.parametrize("subject", ["neutral", "portrait"])
def test_moved_copies_are_blocked_by_keypoints(engine: Engine, subject: str) -> None:
    """A crop, a rotation, a mirrored crop or a stickered copy of a banked picture (a
    neutral image, a portrait) is blocked, naming its entry, by keypoints."""
    engine.create_bank("known")
    banked = _subject(subject)
    engine.add_media("known", encode(make_image(SEED + 1), "PNG"))  # another entry
    entry = _bank(engine, banked)
    for name, edit in MOVED.items():
        upload, seed = _evading(edit, banked, entry)
        result = _scan(engine, upload)
        assert result.decision == "block", (name, result.reason)
        _keypoint_match(result, entry, upload, banked, mirrored=name == "mirror_crop")
        [pair] = result.matches[0].regions or []
        assert pair.scale is not None and pair.rotation is not None
        if name in ("crop", "mirror_crop"):
            # A crop is enlarged to the work size: its points map back shrunk.
            assert pair.scale > 1.03 and abs(pair.rotation) <= 1, name
        elif name == "rotate":
            rng = random.Random(seed)
            angle = rng.uniform(1.0, 5.0) * rng.choice((-1, 1))
            assert pair.rotation == pytest.approx(angle, abs=1.0)
        else:
            assert pair.scale == pytest.approx(1, abs=0.05) and abs(pair.rotation) <= 1, name


def test_framed_copies_of_a_detailed_picture_are_blocked_by_keypoints(engine: Engine) -> None:
    """Bars, borders, captions and screens add no corners inside the picture: its own
    points still agree."""
    engine.create_bank("known")
    img = make_image(SEED)
    entry = _bank(engine, img)
    for name, edit in FRAMED.items():
        upload, _seed = _evading(edit, img, entry)
        result = _scan(engine, upload)
        assert result.decision == "block", (name, result.reason)
        _keypoint_match(result, entry, upload, img)


def test_the_boxes_say_where_the_copy_came_from(engine: Engine) -> None:
    engine.create_bank("known")
    img = make_image(SEED)
    entry = _bank(engine, img)
    cropped = img.crop((20, 15, 300, 225))
    result = _scan(engine, cropped)
    _keypoint_match(result, entry, cropped, img)
    [pair] = result.matches[0].regions or []
    assert pair.entry_box is not None
    # The same points in each image: the boxes differ by the crop's offset.
    for q, e, shift in zip(pair.query_box, pair.entry_box, (20, 15, 20, 15), strict=True):
        assert abs(q + shift - e) <= 4, (pair.query_box, pair.entry_box)
    assert pair.scale == pytest.approx(320 / 280, abs=0.04)


def test_a_mirrored_crop_is_found_whichever_orientation_shares_more_words(
        engine: Engine) -> None:
    """The word index may rank the wrong orientation first for a mirrored crop (a few
    words shared by chance either way); the copy is still checked against the banked
    mirror image's points, and the boxes come back in each image's own columns: the
    upload's column x shows the banked image's column 300 - x."""
    engine.create_bank("known")
    img = make_image(SEED)
    entry = _bank(engine, img)
    flipped = img.crop((20, 15, 300, 225)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    result = _scan(engine, flipped)
    _keypoint_match(result, entry, flipped, img, mirrored=True)
    [pair] = result.matches[0].regions or []
    assert pair.entry_box is not None
    qx0, qy0, qx1, qy1 = pair.query_box
    ex0, ey0, ex1, ey1 = pair.entry_box
    assert abs((300 - qx1) - ex0) <= 4 and abs((300 - qx0) - ex1) <= 4
    assert abs(qy0 + 15 - ey0) <= 4 and abs(qy1 + 15 - ey1) <= 4


def test_unrelated_images_are_not_matched(engine: Engine) -> None:
    engine.create_bank("known")
    for seed in range(3):
        engine.add_media("known", encode(make_image(seed), "PNG"))
    for seed in range(10, 18):
        other = make_image(seed)
        for upload in (transforms.caption_bottom(other, random.Random(seed)),
                       transforms.crop(other, random.Random(seed)),
                       transforms.mirror_crop(other, random.Random(seed))):
            result = _scan(engine, upload)
            assert result.decision == "allow", result.reason


def test_other_peoples_portraits_are_not_matched(engine: Engine) -> None:
    people = _faces(8)
    engine.create_bank("known")
    for person in people[:3]:
        engine.add_media("known", encode(person, "PNG"))
    # Other people's portraits, cropped, mirrored or framed, are none of the entries.
    for k, other in enumerate(people[3:]):
        for edit in (transforms.crop, transforms.mirror_crop, transforms.border):
            result = _scan(engine, edit(other, random.Random(k)))
            assert result.decision == "allow", result.reason


def test_an_upload_matching_nothing_pays_for_few_geometric_checks(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates of an upload that matches nothing score alike: only the best is
    checked, and a runner-up only when it shares many words (``_RUNNER_UP_WORDS``)."""
    from haechi.regions import match
    from haechi.regions.keypoints import image_keypoints

    engine.create_bank("known")
    for seed in range(12):
        engine.add_media("known", encode(make_image(seed), "PNG"))
    checks: list[int] = []
    real_verify = match.verify

    def counted(*args: object, **kwargs: object) -> object:
        checks.append(1)
        return real_verify(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(match, "verify", counted)
    index = engine.regions.index
    busy = 0
    for seed in range(40, 52):
        upload = transforms.crop(make_image(seed), random.Random(seed))
        rgb = np.asarray(upload)
        found = index.candidates(image_keypoints(rgb, (0, 0, *upload.size)).descriptors,
                                 limit=match.KEYPOINT_CANDIDATES)
        strong = [c for c in found[1:] if c[2] >= match._RUNNER_UP_WORDS]
        checks.clear()
        assert _scan(engine, upload).decision == "allow"
        assert len(checks) <= 1 + len(strong) + 1  # + the best entry's other orientation
        busy += len(found) > 1
    assert busy, "the uploads found no runners-up: the test says nothing"


# -- windows -------------------------------------------------------------------------------


def test_framed_copies_of_a_flat_picture_are_blocked_by_windows(engine: Engine) -> None:
    """Too few keypoints to decide: the content-box windows match the framed copy."""
    engine.create_bank("known")
    img = _flat(2)
    entry = _bank(engine, img)
    for name, edit in FRAMED.items():
        upload, _seed = _evading(edit, img, entry)
        result = _scan(engine, upload)
        assert result.decision == "block", (name, result.reason)
        _region_match(result, entry.id)


def test_bank_setting_turns_the_layer_off(engine: Engine) -> None:
    bank = engine.create_bank("known", regions_enabled=False, region_threshold=20)
    assert bank.regions_enabled is False and bank.region_threshold == 20
    img = make_image(3)
    engine.add_media("known", encode(img, "PNG"))
    framed = transforms.letterbox(img, random.Random(7))
    cropped = transforms.crop(img, random.Random(7))
    assert _scan(engine, framed).decision == "allow"
    assert _scan(engine, cropped).decision == "allow"
    engine.update_bank("known", regions_enabled=True)
    assert _scan(engine, framed).decision == "block"
    assert _scan(engine, cropped).decision == "block"


def test_region_threshold_is_validated(engine: Engine) -> None:
    from haechi.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError):
        engine.create_bank("bad", region_threshold=64)


# -- keeping up with the store -------------------------------------------------------------


def test_regions_survive_a_restart_and_follow_removals(
        make_engine: Callable[..., Engine]) -> None:
    first = make_engine()
    first.create_bank("known")
    img, flat = make_image(3), _flat(2)
    entry, flat_entry = _bank(first, img), _bank(first, flat)
    first.close()
    cropped = transforms.crop(img, random.Random(7))
    captioned = transforms.caption_top(flat, random.Random(7))
    second = make_engine()
    index = second.regions.index
    assert index.loaded_from == "files"
    assert index.status()["keypoint_entries"] == 2
    assert int(str(index.status()["region_hashes"])) > 0
    _keypoint_match(_scan(second, cropped), entry, cropped, img)
    _region_match(_scan(second, captioned), flat_entry.id)
    second.close(save_index=False)
    # A replica whose keypoint words are gone rebuilds both halves from the store.
    shutil.rmtree(Path(second.settings.data_dir) / "index" / "region_words")
    third = make_engine()
    index = third.regions.index
    assert index.loaded_from == "store"
    assert index.status()["keypoint_entries"] == 2
    _keypoint_match(_scan(third, cropped), entry, cropped, img)
    _region_match(_scan(third, captioned), flat_entry.id)
    # Disabled entries stop matching, by keypoints and by windows; enabled, they are back.
    third.set_entry_enabled(entry.id, False)
    third.set_entry_enabled(flat_entry.id, False)
    index.refresh(force=True)
    assert index.status()["keypoint_entries"] == 0
    assert _scan(third, cropped).decision == "allow"
    assert _scan(third, captioned).decision == "allow"
    third.set_entry_enabled(entry.id, True)
    third.set_entry_enabled(flat_entry.id, True)
    index.refresh(force=True)
    assert index.status()["keypoint_entries"] == 2
    _keypoint_match(_scan(third, cropped), entry, cropped, img)
    _region_match(_scan(third, captioned), flat_entry.id)
    # The re-enabled state is what a restart sees.
    third.close()
    fourth = make_engine()
    assert fourth.regions.index.loaded_from == "files"
    assert fourth.regions.index.status()["keypoint_entries"] == 2
    _keypoint_match(_scan(fourth, cropped), entry, cropped, img)


def test_a_damaged_word_file_is_rebuilt_from_the_store(
        make_engine: Callable[..., Engine], caplog: pytest.LogCaptureFixture) -> None:
    first = make_engine()
    first.create_bank("known")
    img = make_image(3)
    entry = _bank(first, img)
    first.close()
    path = Path(first.settings.data_dir) / "index" / "region_words" / "words.npz"
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])  # a file cut short (a full disk, a bad copy)
    with caplog.at_level(logging.WARNING):
        second = make_engine()
    assert second.regions.index.loaded_from == "store"
    assert any("rebuilding the region index" in r.getMessage() for r in caplog.records)
    cropped = transforms.crop(img, random.Random(7))
    _keypoint_match(_scan(second, cropped), entry, cropped, img)


def test_deleting_an_entry_drops_its_regions(engine: Engine) -> None:
    from sqlalchemy import func, select

    from haechi.regions.models import EntryKeypoints, EntryRegion

    engine.create_bank("known")
    img = make_image(SEED)
    entry = _bank(engine, img)
    framed = transforms.letterbox(img, random.Random(7))
    cropped = transforms.crop(img, random.Random(7))
    assert _scan(engine, framed).decision == "block"
    assert _scan(engine, cropped).decision == "block"
    with engine.db.session() as s:
        assert s.scalar(select(func.count()).select_from(EntryKeypoints)) == 1
    engine.delete_entry(entry.id)
    assert _scan(engine, framed).decision == "allow"
    assert _scan(engine, cropped).decision == "allow"
    with engine.db.session() as s:
        assert s.scalar(select(func.count()).select_from(EntryRegion)) == 0
        assert s.scalar(select(func.count()).select_from(EntryKeypoints)) == 0
    engine.regions.index.refresh(force=True)
    assert engine.regions.index.status()["region_hashes"] == 0
    assert engine.regions.index.status()["keypoint_entries"] == 0


def test_an_entry_id_used_again_matches_its_own_picture(engine: Engine) -> None:
    """A store may hand a deleted entry's id to the next entry (SQLite does, for the
    highest id): the new entry's keypoints are the ones checked, never the old ones."""
    engine.create_bank("known")
    old_img, new_img = make_image(SEED), make_image(5)
    old_crop = transforms.crop(old_img, random.Random(1))
    new_crop = transforms.crop(new_img, random.Random(1))
    old_entries = engine.add_media("known", encode(old_img, "PNG"))
    assert _scan(engine, old_crop).decision == "block"
    for e in old_entries:
        engine.delete_entry(e.id)
    assert _scan(engine, old_crop).decision == "allow"
    new = _bank(engine, new_img)
    result = _scan(engine, old_crop)
    assert result.decision == "allow", result.reason
    _keypoint_match(_scan(engine, new_crop), new, new_crop, new_img)


def test_an_unreadable_keypoint_record_is_skipped_and_logged(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy import update

    from haechi.regions.models import EntryKeypoints

    engine.create_bank("known")
    broken_img, good_img = make_image(SEED), make_image(5)
    broken, good = _bank(engine, broken_img), _bank(engine, good_img)
    with engine.db.session() as s:
        s.execute(update(EntryKeypoints).where(EntryKeypoints.entry_id == broken.id)
                  .values(data=b"\x00garbage" * 50))
    good_crop = transforms.crop(good_img, random.Random(1))
    broken_crop = transforms.crop(broken_img, random.Random(1))
    # Scans: the index still names the entry, its record cannot be read; the scan
    # answers, other entries still match, and the log says which entry was skipped.
    with caplog.at_level(logging.WARNING):
        result = _scan(engine, broken_crop)
    assert result.decision == "allow", result.reason
    assert "could not run" not in result.reason
    assert any(r.levelno == logging.WARNING and f"entry {broken.id}" in r.getMessage()
               for r in caplog.records)
    _keypoint_match(_scan(engine, good_crop), good, good_crop, good_img)
    # A rebuild of the index skips the record (logged) and keeps every other entry.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        engine.regions.index.rebuild()
    assert engine.regions.index.status()["keypoint_entries"] == 1
    assert any(r.levelno == logging.WARNING and f"entry {broken.id}" in r.getMessage()
               for r in caplog.records)
    _keypoint_match(_scan(engine, good_crop), good, good_crop, good_img)


# -- what the layer costs and how it fails -------------------------------------------------


def test_clean_copies_never_reach_the_region_layer(engine: Engine,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(engine.regions, "scan", lambda *args: calls.append(args))
    engine.create_bank("known")
    img = make_image(SEED)
    engine.add_media("known", encode(img, "PNG"))
    result = _scan(engine, img)
    assert result.decision == "block"
    assert all(m.layer is None for m in result.matches)
    assert calls == []


def test_a_failing_region_layer_never_fails_the_scan(engine: Engine,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    engine.create_bank("known")
    img = make_image(SEED)
    engine.add_media("known", encode(img, "PNG"))
    monkeypatch.setattr(engine.regions.index, "candidates", broken)
    result = _scan(engine, transforms.crop(img, random.Random(1)))
    assert result.decision == "allow"
    assert "region layer could not run: RuntimeError" in result.reason
