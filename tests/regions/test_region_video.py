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
