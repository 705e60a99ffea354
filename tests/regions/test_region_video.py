"""Videos re-encoded with bars (letterbox, pillarbox) still match their banked original."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from fixtures_media import _encode_frames, make_video, video_frames
from haechi.engine import Engine


def _framed(data: bytes, *, top: int = 0, side: int = 0) -> bytes:
    """The clip with black bars of ``top`` rows above and below, ``side`` columns left
    and right, re-encoded."""
    first = next(video_frames(data))
    h, w = first.shape[:2]

    def frames() -> Iterator[np.ndarray]:
        for rgb in video_frames(data):
            out = np.zeros((h + 2 * top, w + 2 * side, 3), dtype=np.uint8)
            out[top:top + h, side:side + w] = rgb
            yield out

    return _encode_frames(frames(), fps=10, size=(w + 2 * side, h + 2 * top),
                          codec="libx264", container="mp4", bitrate=None, options={})


@pytest.mark.parametrize(("top", "side"), [(40, 0), (0, 48)], ids=["letterbox", "pillarbox"])
def test_a_video_with_bars_matches_by_its_content_box(engine: Engine, top: int,
                                                      side: int) -> None:
    engine.create_bank("known")
    original = make_video(11, seconds=4.0)
    [entry] = [e for e in engine.add_media("known", original) if e.signal == "vpdq"]
    framed = _framed(original, top=top, side=side)
    engine.update_bank("known", regions_enabled=False)
    assert engine.scan_bytes(framed).decision == "allow"  # whole frames no longer match
    engine.update_bank("known", regions_enabled=True)
    result = engine.scan_bytes(framed)
    assert result.decision == "block", result.reason
    [match] = result.matches
    assert match.entry_id == entry.id and match.layer == "regions"
    assert match.regions is not None
    x0, y0, x1, y1 = match.regions[0].query_box
    assert abs(y0 - top) <= 2 and abs(x0 - side) <= 2
    assert abs((x1 - x0) - 160) <= 4 and abs((y1 - y0) - 120) <= 4
    assert "bars around the frames were trimmed" in result.reason
    # Another clip with the same bars is not this entry.
    assert engine.scan_bytes(_framed(make_video(12, seconds=4.0), top=top,
                                     side=side)).decision == "allow"


def _cropped(data: bytes, *, share: float = 0.12) -> bytes:
    """The clip with ``share`` of its width and height cut away (more on the left and
    top), re-encoded at the cropped size."""
    first = next(video_frames(data))
    h, w = first.shape[:2]
    x0, y0 = int(w * share * 0.7) & ~1, int(h * share * 0.7) & ~1
    cw, ch = int(w * (1 - share)) & ~1, int(h * (1 - share)) & ~1

    def frames() -> Iterator[np.ndarray]:
        for rgb in video_frames(data):
            yield np.ascontiguousarray(rgb[y0:y0 + ch, x0:x0 + cw])

    return _encode_frames(frames(), fps=10, size=(cw, ch), codec="libx264", container="mp4",
                          bitrate=None, options={})


def test_a_cropped_video_matches_by_the_keypoints_of_its_frames(engine: Engine) -> None:
    engine.create_bank("known")
    original = make_video(11, seconds=4.0, size=(320, 240))
    [entry] = [e for e in engine.add_media("known", original) if e.signal == "vpdq"]
    cropped = _cropped(original)
    engine.update_bank("known", regions_enabled=False)
    assert engine.scan_bytes(cropped).decision == "allow"  # no frame hash survives a crop
    engine.update_bank("known", regions_enabled=True)
    result = engine.scan_bytes(cropped)
    assert result.decision == "block", result.reason
    [match] = result.matches
    assert match.entry_id == entry.id and match.layer == "regions"
    assert match.transform == "frames" and match.score is not None and match.score >= 2
    assert match.regions is not None and match.regions[0].query_region == "keypoints"
    assert (match.regions[0].scale or 0) > 1.05  # the picture fills more of the frame
    assert "sampled frames" in result.reason
    # A disabled entry stops matching at once (the index follows the feed), and a
    # rebuilt index finds it again once it is back.
    engine.set_entry_enabled(entry.id, False)
    assert engine.scan_bytes(cropped).decision == "allow"
    engine.set_entry_enabled(entry.id, True)
    engine.regions.index.rebuild()
    assert engine.scan_bytes(cropped).decision == "block"
    # The same crop of another clip is not this entry.
    assert engine.scan_bytes(_cropped(make_video(12, seconds=4.0, size=(320, 240)))
                             ).decision == "allow"


def test_a_long_video_is_streamed_not_held() -> None:
    """Past the hold budget frames are not kept whole; a dozen reduced ones, spread from
    the start to the end, are what the keypoints use, and bars are hashed by streaming
    the frames again."""
    from haechi.media.video import Frame
    from haechi.regions import video

    picture = np.random.default_rng(5).integers(0, 256, (360, 720, 3), dtype=np.uint8)

    def frames() -> Iterator[Frame]:
        for i in range(120):  # 120 frames of 720 x 480: about 124 MB
            rgb = np.zeros((480, 720, 3), np.uint8)
            rgb[60:420] = np.roll(picture, i, axis=1)  # letterbox bars of 60 rows
            yield Frame(number=i * 10, timestamp=float(i), rgb=rgb)

    sampled = video.sample(frames(), boxes=True)
    assert sampled is not None
    assert len(sampled.boxes) == 120 and len(sampled.kept) <= 2 * video.KEYPOINT_FRAMES
    assert max(k.rgb.shape[1] for k in sampled.kept) <= 640
    stamps = [k.timestamp for k in sampled.spread()]
    assert len(stamps) == video.KEYPOINT_FRAMES and stamps[0] == 0.0 and stamps[-1] >= 90
    streamed: list[int] = []

    def again() -> Iterator[Frame]:
        for f in frames():
            streamed.append(f.number)
            yield f

    trimmed = video.trimmed_frames(sampled, again)
    assert trimmed is not None
    box, features = trimmed
    assert abs(box[1] - 60) <= 2 and abs(box[3] - 420) <= 2
    assert len(features) == len(streamed) == 120
