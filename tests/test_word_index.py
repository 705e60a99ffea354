"""The keypoint layer's parts on their own: the word index (candidates), the stored
keypoint record, and the geometric check."""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fixtures_media import make_image
from haechi.index.word_index import NWORDS, TABLES, WordIndex, words
from haechi.regions.keypoints import (
    FRAME_INDEXED_POINTS,
    FrameKeypoints,
    Keypoints,
    frame_keypoints,
    image_keypoints,
    read_record,
)
from haechi.regions.verify import MIN_INLIERS, verify

U8 = np.ndarray


def _descriptors(seed: int, count: int = 64) -> U8:
    """Random ORB-like descriptors (32 bytes each)."""
    return np.random.default_rng(seed).integers(0, 256, (count, 32), dtype=np.uint8)


def _noisy(desc: U8, bits: int, seed: int) -> U8:
    """``desc`` with ``bits`` random bits of each descriptor flipped, as an edited copy
    of the picture moves a point's descriptor."""
    rng = np.random.default_rng(seed)
    unpacked = np.unpackbits(desc, axis=1)
    for row in unpacked:
        row[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked, axis=1)


def _entry(entry_id: int) -> tuple[int, U8, U8]:
    """An entry's descriptors as banked and of its mirror image."""
    return entry_id, _descriptors(entry_id), _descriptors(10_000 + entry_id)


def _index(ids: list[int] | range, **options: int) -> WordIndex:
    index = WordIndex(**options)
    index.add([_entry(i) for i in ids])
    return index


def _top(index: WordIndex, desc: U8) -> tuple[int, bool] | None:
    found = index.query(desc)
    return (found[0][0], found[0][1]) if found else None


def _answers(index: WordIndex, queries: list[U8]) -> list[list[tuple[int, bool, int]]]:
    """Query results without their float scores (compared apart, approximately)."""
    return [[(e, m, n) for e, m, n, _s in index.query(q, limit=8)] for q in queries]


def _scores(index: WordIndex, queries: list[U8]) -> list[list[float]]:
    return [[s for *_rest, s in index.query(q, limit=8)] for q in queries]


# -- words -------------------------------------------------------------------------------


def test_words_are_fixed_bit_samples() -> None:
    desc = np.frombuffer(bytes.fromhex(
        "ffe42279f3bd068366a852c1bb9651f3cd18ec08f6a4e724d26facd2aeb0daf2"
        "a972cd3fa02fd44f487078de451f5f6c246dee453351e4d3ca3aca414c46c168"),
        np.uint8).reshape(2, 32)
    got = words(desc)
    assert got.shape == (TABLES, 2) and got.dtype == np.uint32
    # Saved indexes hold these values: the sampled bit positions must never change.
    assert got.tolist() == [[737246, 706457], [810774, 813385]]
    assert np.array_equal(words(desc.copy()), got)
    assert words(np.zeros((3, 32), np.uint8)).tolist() == [[0, 0, 0]] * TABLES
    assert words(np.full((1, 32), 255, np.uint8)).tolist() == [[NWORDS - 1]] * TABLES
    assert words(np.zeros((0, 32), np.uint8)).shape == (TABLES, 0)


# -- adding, querying, removing ------------------------------------------------------------


def test_an_entry_is_found_by_its_descriptors_in_either_orientation() -> None:
    index = _index([3, 7, 12, 40])
    assert len(index) == 4
    _id, original, mirrored = _entry(7)
    [(entry_id, is_mirror, shared, score), *_rest] = index.query(original)
    assert (entry_id, is_mirror) == (7, False)
    assert shared == TABLES * len(original) and score > 0
    assert _top(index, mirrored) == (7, True)
    # An edited copy keeps a share of its words in one table or the other.
    assert _top(index, _noisy(original, 12, seed=1)) == (7, False)
    # Descriptors of nothing banked share too few words to be a candidate.
    assert index.query(_descriptors(999)) == []
    assert index.query(np.zeros((0, 32), np.uint8)) == []


def test_removing_hides_an_entry_and_adding_it_again_revives_it() -> None:
    index = _index(range(10))
    _id, original, _m = _entry(4)
    before = index.query(original)
    assert before[0][:2] == (4, False)
    assert index.remove([4]) == 1
    assert index.remove([4, 12345]) == 0  # already gone, never held
    assert len(index) == 9
    assert all(e != 4 for e, *_rest in index.query(original))
    index.add([_entry(4)])
    assert len(index) == 10
    # Revived, not added twice: the same words, the same score.
    assert index.query(original) == before
    index.add([_entry(4)])  # adding a live entry again changes nothing
    assert len(index) == 10 and index.query(original) == before


def test_an_entry_removed_then_compacted_can_be_added_again() -> None:
    index = _index(range(10))
    _id, original, _m = _entry(4)
    before = _answers(index, [original])
    index.remove([4])
    index.compact()
    assert len(index) == 9 and all(e != 4 for e, *_r in index.query(original))
    index.add([_entry(4)])
    assert len(index) == 10 and _answers(index, [original]) == before


def test_compacting_keeps_every_answer() -> None:
    queries = [d for i in (1, 5, 17, 29) for d in _entry(i)[1:]] + [_descriptors(999)]
    index = _index(range(30), delta_limit=10**9)
    answers, scores = _answers(index, queries), _scores(index, queries)
    assert sum(map(len, answers)) >= 8
    index.compact()
    assert len(index) == 30
    assert _answers(index, queries) == answers
    assert _scores(index, queries) == [pytest.approx(s) for s in scores]
    # Removed entries stay out once their postings are dropped (the scores move a
    # little: word rarity is counted over the postings held).
    index.remove([5, 6])
    removed = _answers(index, queries)
    assert all(e not in (5, 6) for row in removed for e, *_r in row)
    index.compact()
    assert len(index) == 28 and _answers(index, queries) == removed
    # A small delta limit compacts as entries come in: the same answers again.
    eager = _index(range(30), delta_limit=100)
    assert _answers(eager, queries) == answers


# -- saving and loading --------------------------------------------------------------------


def _saved(tmp_path: Path) -> tuple[WordIndex, Path]:
    """A saved index with a sealed part, a delta and a removed entry."""
    index = WordIndex.build([_entry(i) for i in range(20)])
    index.add([_entry(i) for i in range(20, 25)])
    index.remove([3])
    index.watermark = 77
    index.save(tmp_path / "words")
    return index, tmp_path / "words"


def test_save_and_load_give_the_same_answers(tmp_path: Path) -> None:
    index, directory = _saved(tmp_path)
    loaded = WordIndex.load(directory)
    queries = [d for i in (0, 3, 21, 24) for d in _entry(i)[1:]]
    assert loaded.watermark == 77 and len(loaded) == len(index) == 24
    assert _answers(loaded, queries) == _answers(index, queries)
    assert _scores(loaded, queries) == [pytest.approx(s) for s in _scores(index, queries)]
    # The loaded index goes on like the saved one.
    loaded.add([_entry(3)])
    assert _top(loaded, _entry(3)[1]) == (3, False)
    assert not list(directory.glob(".words-*"))  # no temporary file left behind


def test_loading_from_an_empty_place_says_nothing_was_saved(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WordIndex.load(tmp_path / "never-saved")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        WordIndex.load(tmp_path / "empty")


def _rewritten(raw: bytes, *, meta: dict[str, object] | None = None,
               arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """The saved archive with its meta or some arrays replaced (a well-formed file)."""
    with np.load(io.BytesIO(raw)) as data:
        content: dict[str, Any] = {name: np.array(data[name]) for name in data.files}
    if meta is not None:
        content["meta"] = np.array(json.dumps(meta))
    content.update(arrays or {})
    out = io.BytesIO()
    np.savez(out, **content)
    return out.getvalue()


def _meta(raw: bytes) -> dict[str, object]:
    with np.load(io.BytesIO(raw)) as data:
        loaded: dict[str, object] = json.loads(str(data["meta"]))
    return loaded


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    # The middle of the file lies in the offsets array (8 MiB per table).
    "a flipped byte": lambda raw: (raw[:len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 0xFF])
                                   + raw[len(raw) // 2 + 1:]),
    "truncated to half": lambda raw: raw[:len(raw) // 2],
    "its last byte cut": lambda raw: raw[:-1],
    "empty": lambda raw: b"",
    "not an archive": lambda raw: b"\x00garbage" * 100,
    "a bare array": lambda raw: _npy(np.zeros(4, np.uint32)),
    "another format": lambda raw: _rewritten(raw, meta={**_meta(raw), "format": "other"}),
    "another version": lambda raw: _rewritten(raw, meta={**_meta(raw), "version": 99}),
    "a changed array": lambda raw: _rewritten(
        raw, arrays={"postings": np.zeros(len(np.load(io.BytesIO(raw))["postings"]),
                                          np.uint32)}),
    "an array missing": lambda raw: _without(raw, "dead.npy"),
    "meta missing": lambda raw: _without(raw, "meta.npy"),
    "meta not json": lambda raw: _rewritten(raw, arrays={"meta": np.array("{not json")}),
    # Well-formed archives with matching checksums whose contents cannot be used.
    "postings of another type": lambda raw: _resealed(
        raw, "postings", np.load(io.BytesIO(raw))["postings"].astype(np.int64) - 10**9),
    "a delta word out of range": lambda raw: _resealed(
        raw, "delta_words", np.load(io.BytesIO(raw))["delta_words"] + TABLES * NWORDS),
}


def _resealed(raw: bytes, name: str, array: np.ndarray) -> bytes:
    """The archive with one array replaced and its checksum updated to match."""
    meta = _meta(raw)
    crcs = dict(meta["crc32"])  # type: ignore[call-overload]
    crcs[name] = zlib.crc32(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
    return _rewritten(raw, meta={**meta, "crc32": crcs}, arrays={name: array})


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _without(raw: bytes, member: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


@pytest.mark.parametrize("damage", sorted(CORRUPTIONS))
def test_a_damaged_file_is_refused_with_a_value_error(tmp_path: Path, damage: str) -> None:
    _, directory = _saved(tmp_path)
    path = directory / "words.npz"
    path.write_bytes(CORRUPTIONS[damage](path.read_bytes()))
    with pytest.raises(ValueError):
        WordIndex.load(directory)


# -- the stored keypoint record ----------------------------------------------------------


def _banked(seed: int = 4) -> Keypoints:
    rgb = np.asarray(make_image(seed))
    return image_keypoints(rgb, (0, 0, rgb.shape[1], rgb.shape[0]), bank=True)


def test_keypoints_round_trip_through_bytes() -> None:
    kp = _banked()
    assert len(kp) >= 100 and kp.mirror is not None and len(kp.mirror) >= 100
    data = kp.to_bytes()
    back = Keypoints.from_bytes(data)
    assert len(back) == len(kp) and not back.mirrored
    assert back.mirror is not None and back.mirror.mirrored
    for got, banked in ((back, kp), (back.mirror, kp.mirror)):
        # Coordinates are kept to 1/16 pixel.
        assert np.abs(got.points - banked.points).max() <= 1 / 32 + 1e-6
        assert np.array_equal(got.descriptors, banked.descriptors)
        assert (got.work_size, got.content) == (banked.work_size, banked.content)
    assert back.to_bytes() == data
    # What the word index takes: the strongest points of each orientation.
    original, mirrored = back.indexed()
    assert np.array_equal(original, kp.descriptors[:len(original)])
    assert np.array_equal(mirrored, kp.mirror.descriptors[:len(mirrored)])
    assert len(original) == len(mirrored) == 64
    # An upload's keypoints (no mirror image) round trip too.
    rgb = np.asarray(make_image(4))
    query = image_keypoints(rgb, (10, 5, 300, 230))
    again = Keypoints.from_bytes(query.to_bytes())
    assert again.content == (10, 5, 300, 230)
    assert np.array_equal(again.descriptors, query.descriptors)
    assert again.mirror is not None and len(again.mirror) == 0
    # And so does a flat picture's record with no points at all.
    flat = image_keypoints(np.full((64, 64, 3), 90, np.uint8), (0, 0, 64, 64), bank=True)
    assert len(flat) == 0
    empty = Keypoints.from_bytes(flat.to_bytes())
    assert len(empty) == 0 and empty.mirror is not None and len(empty.mirror) == 0


@pytest.mark.parametrize("damage", ["empty", "header only", "one byte short", "one byte more",
                                    "garbage", "wrong magic"])
def test_a_damaged_keypoint_record_is_refused(damage: str) -> None:
    data = _banked().to_bytes()
    bad = {"empty": b"", "header only": data[:28], "one byte short": data[:-1],
           "one byte more": data + b"\x00", "garbage": bytes(range(256)) * 40,
           "wrong magic": b"XXXX" + data[4:]}[damage]
    with pytest.raises(ValueError):
        Keypoints.from_bytes(bad)


def _video_record() -> FrameKeypoints:
    frames = [np.asarray(make_image(seed)) for seed in (4, 5, 6)]
    return FrameKeypoints(tuple(frame_keypoints(rgb, (0, 0, rgb.shape[1], rgb.shape[0]))
                                for rgb in frames), (0.0, 1.0, 2.5))


def test_a_videos_frame_keypoints_round_trip_and_are_told_from_an_images() -> None:
    record = _video_record()
    data = record.to_bytes()
    back = read_record(data)
    assert isinstance(back, FrameKeypoints) and back.timestamps == (0.0, 1.0, 2.5)
    for got, kept in zip(back.frames, record.frames, strict=True):
        assert np.array_equal(got.descriptors, kept.descriptors)
    assert back.to_bytes() == data
    # Each frame's strongest points go into the word index; a video has no mirror side.
    original, mirrored = back.indexed()
    assert len(original) == sum(min(len(f), FRAME_INDEXED_POINTS) for f in record.frames)
    assert len(mirrored) == 0
    assert isinstance(read_record(_banked().to_bytes()), Keypoints)


@pytest.mark.parametrize("damage", ["header only", "one byte short", "one byte more",
                                    "more frames said", "a frame damaged"])
def test_a_damaged_frame_keypoint_record_is_refused(damage: str) -> None:
    data = _video_record().to_bytes()
    bad = {"header only": data[:6], "one byte short": data[:-1], "one byte more": data + b"1",
           "more frames said": data[:4] + (9).to_bytes(2, "little") + data[6:],
           "a frame damaged": data[:14] + b"XXXX" + data[18:]}[damage]
    with pytest.raises(ValueError):
        read_record(bad)


# -- the geometric check -------------------------------------------------------------------


def _points_of(img: Image.Image) -> Keypoints:
    rgb = np.asarray(img)
    return image_keypoints(rgb, (0, 0, rgb.shape[1], rgb.shape[0]))


def test_a_crop_verifies_against_its_image() -> None:
    img = make_image(4)
    box = (20, 15, 300, 225)  # 280 x 210 of 320 x 240
    checked = verify(_points_of(img.crop(box)), _banked())
    assert checked is not None
    assert checked.inliers >= MIN_INLIERS and checked.inlier_share > 0.5
    # The crop is enlarged to the work size: its points map back at 280 / 320.
    assert checked.scale == pytest.approx(320 / 280, abs=0.04)
    assert abs(checked.rotation_degrees) < 1
    qx0, qy0, qx1, qy1 = checked.query_box
    ex0, ey0, ex1, ey1 = checked.entry_box
    assert 0 <= qx0 < qx1 <= 280 and 0 <= qy0 < qy1 <= 210
    assert 0 <= ex0 < ex1 <= 320 and 0 <= ey0 < ey1 <= 240
    # The same points, seen in each image: the boxes differ by the crop's offset.
    for q, e, shift in zip(checked.query_box, checked.entry_box, (20, 15, 20, 15),
                           strict=True):
        assert abs(q + shift - e) <= 3


@pytest.mark.parametrize("angle", [4, -4])
def test_a_rotation_verifies_and_says_how_far(angle: int) -> None:
    rotated = make_image(4).rotate(angle, resample=Image.Resampling.BICUBIC)
    checked = verify(_points_of(rotated), _banked())
    assert checked is not None and checked.inliers >= MIN_INLIERS
    # Counter-clockwise on screen is positive, as RegionPair.rotation says.
    assert checked.rotation_degrees == pytest.approx(angle, abs=1)
    assert checked.scale == pytest.approx(1, abs=0.03)


def test_a_mirrored_crop_verifies_against_the_mirror_image() -> None:
    flipped = make_image(4).transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((20, 15, 300, 225))
    query = _points_of(flipped)
    banked = _banked()
    assert banked.mirror is not None
    assert verify(query, banked) is None
    checked = verify(query, banked.mirror)
    assert checked is not None and checked.inliers >= MIN_INLIERS
    assert checked.scale == pytest.approx(320 / 280, abs=0.04)
    # Boxes come back in each image's own pixels: the upload's column x shows the
    # banked image's column 320 - 20 - x.
    qx0, qy0, qx1, qy1 = checked.query_box
    ex0, ey0, ex1, ey1 = checked.entry_box
    assert 0 <= qx0 < qx1 <= 280 and 0 <= ex0 < ex1 <= 320
    assert abs((300 - qx1) - ex0) <= 3 and abs((300 - qx0) - ex1) <= 3
    assert abs(qy0 + 15 - ey0) <= 3 and abs(qy1 + 15 - ey1) <= 3


def test_different_pictures_do_not_verify() -> None:
    banked = {seed: _banked(seed) for seed in range(4)}
    for seed, entry in banked.items():
        for other in range(4):
            if other != seed:
                assert verify(_points_of(make_image(other)), entry) is None
        # Nor a crop of another picture.
        assert verify(_points_of(make_image(seed + 10).crop((20, 15, 300, 225))), entry) is None
