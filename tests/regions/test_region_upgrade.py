"""Odd cases of the region layer: entries banked before keypoints were kept (windows
only) keep the matching they had; slivers too thin for keypoints are still banked."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from PIL import Image
from sqlalchemy import delete

from fixtures_media import encode, make_image
from haechi.engine import Engine
from haechi.regions.models import EntryKeypoints

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.evasion import transforms


def test_entries_without_keypoints_still_match_by_their_windows(engine: Engine) -> None:
    engine.create_bank("known")
    banked = make_image(4)
    [entry] = [e for e in engine.add_media("known", encode(banked, "PNG")) if e.signal == "pdq"]
    # What a database from before keypoints holds: the windows, no keypoint record.
    with engine.db.session() as s:
        s.execute(delete(EntryKeypoints).where(EntryKeypoints.entry_id == entry.id))
    engine.regions.index.rebuild()
    status = engine.regions.index.status()
    assert status["entries_without_keypoints"] == 1
    assert status["keypoint_entries"] == 0

    # Captioned: the windows of the trimmed content box agree, keypoints cannot (none).
    copy = transforms.caption_bottom(banked, random.Random(3))
    result = engine.scan_bytes(encode(copy, "JPEG"))
    assert result.decision == "block", result.reason
    [match] = result.matches
    assert match.entry_id == entry.id and match.layer == "regions"
    assert match.regions and all(p.query_region != "keypoints" for p in match.regions)
    assert "by regions" in result.reason


def test_a_fresh_bank_has_no_entries_without_keypoints(engine: Engine) -> None:
    engine.create_bank("known")
    engine.add_media("known", encode(make_image(5), "PNG"))
    engine.regions.index.rebuild()
    status = engine.regions.index.status()
    assert status["entries_without_keypoints"] == 0
    assert status["keypoint_entries"] == 1


def test_slivers_are_banked_and_scanned_without_keypoints(engine: Engine) -> None:
    """A picture one pixel high (or wide) has no keypoints; it is still banked and
    scanned by the other layers, and the region layer says nothing went wrong."""
    engine.create_bank("known")
    for size in ((1, 500), (500, 1), (2, 900), (4000, 3)):
        data = encode(Image.new("RGB", size, (10, 200, 30)), "PNG")
        added = engine.add_media("known", data)
        assert any(e.signal == "sha256" for e in added)
        result = engine.scan_bytes(data)
        assert result.decision == "block", result.reason  # the identical file
        sliver = Image.new("RGB", size, (200, 10, 30))
        other = engine.scan_bytes(encode(sliver, "PNG"))
        assert "could not run" not in other.reason, other.reason
