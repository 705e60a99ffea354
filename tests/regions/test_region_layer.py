"""The region layer end to end: bank an image, scan edited copies, read the why."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures_media import encode, make_image
from haechi.engine import Engine
from haechi.regions.content import content_box
from haechi.results import ScanResult
from haechi.signals.pdq import hamming, pdq_of_rgb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.evasion import transforms

#: The banked neutral image. Pictures whose own edges are bands of one colour are the
#: weak case of content-box trimming (see docs/regions.md); this one has none.
SEED = 4
FACES = (Path(__file__).resolve().parents[3] / "shared" / "datasets" / "faces-real"
         / "utkface-adults")

EDITS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "letterbox": transforms.letterbox,
    "pillarbox": transforms.pillarbox,
    "caption_top": transforms.caption_top,
    "caption_bottom": transforms.caption_bottom,
    "border": transforms.border,
    "sticker": transforms.sticker,
    "screenshot": transforms.screenshot,
}


def _scan(engine: Engine, img: Image.Image) -> ScanResult:
    return engine.scan_bytes(encode(img, "JPEG"), name="upload.jpg")


def _region_match(result: ScanResult, entry_id: int) -> None:
    assert result.decision == "block", result.reason
    [match] = [m for m in result.matches if m.entry_id == entry_id]
    assert match.layer == "regions"
    assert match.regions and len(match.regions) >= 2
    assert match.score == len(match.regions)
    for pair in match.regions:
        assert pair.distance <= 28
        x0, y0, x1, y1 = pair.query_box
        assert 0 <= x0 < x1 and 0 <= y0 < y1
    assert "by regions" in result.reason and "agree within 28" in result.reason


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


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_copies_are_blocked_by_the_region_layer(engine: Engine, edit: str) -> None:
    engine.create_bank("known")
    img = make_image(SEED)
    [pdq_entry] = [e for e in engine.add_media("known", encode(img, "PNG"), name="k.png")
                   if e.signal == "pdq"]
    # The first variant of the edit (by seed) that whole-image PDQ no longer matches.
    edited = next(e for e in (EDITS[edit](img, random.Random(seed)) for seed in range(30))
                  if hamming(pdq_of_rgb(np.asarray(e))[0], pdq_entry.value) > 31)
    _region_match(_scan(engine, edited), pdq_entry.id)


def test_unrelated_images_are_not_matched(engine: Engine) -> None:
    engine.create_bank("known")
    for seed in range(3):
        engine.add_media("known", encode(make_image(seed), "PNG"))
    for seed in range(10, 22):
        result = _scan(engine, transforms.caption_bottom(make_image(seed), random.Random(seed)))
        assert result.decision == "allow", result.reason


def test_bank_setting_turns_the_layer_off(engine: Engine) -> None:
    bank = engine.create_bank("known", regions_enabled=False, region_threshold=20)
    assert bank.regions_enabled is False and bank.region_threshold == 20
    img = make_image(3)
    engine.add_media("known", encode(img, "PNG"))
    framed = transforms.letterbox(img, random.Random(7))
    assert _scan(engine, framed).decision == "allow"
    engine.update_bank("known", regions_enabled=True)
    assert _scan(engine, framed).decision == "block"


def test_region_threshold_is_validated(engine: Engine) -> None:
    from haechi.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError):
        engine.create_bank("bad", region_threshold=64)


def test_regions_survive_a_restart_and_follow_removals(
        make_engine: Callable[..., Engine]) -> None:
    first = make_engine()
    first.create_bank("known")
    img = make_image(3)
    [entry] = [e for e in first.add_media("known", encode(img, "PNG")) if e.signal == "pdq"]
    first.close()
    framed = transforms.caption_top(img, random.Random(7))
    second = make_engine()
    assert second.regions.index.loaded_from == "files"
    _region_match(_scan(second, framed), entry.id)
    second.close(save_index=False)
    # A replica whose files are gone rebuilds from the store.
    import shutil

    shutil.rmtree(Path(second.settings.data_dir) / "index" / "regions")
    third = make_engine()
    assert third.regions.index.loaded_from == "store"
    _region_match(_scan(third, framed), entry.id)
    third.set_entry_enabled(entry.id, False)
    third.regions.index.refresh(force=True)
    assert _scan(third, framed).decision == "allow"


def _faces(count: int) -> list[Image.Image]:
    if not FACES.is_dir():
        pytest.skip(f"needs the real-face dataset at {FACES}")
    paths = sorted(FACES.glob("*.jpg"))
    return [Image.open(p).convert("RGB") for p in random.Random(3).sample(paths, count)]


def test_a_cropped_portrait_is_caught_by_its_face(engine: Engine) -> None:
    banked, *others = _faces(6)
    engine.create_bank("known")
    [entry] = [e for e in engine.add_media("known", encode(banked, "PNG")) if e.signal == "pdq"]
    w, h = banked.size
    cropped = banked.crop((0, round(h * 0.06), round(w * 0.9), h))
    result = _scan(engine, transforms.border(cropped, random.Random(2)))
    assert result.decision == "block", result.reason
    [match] = result.matches
    assert match.entry_id == entry.id and match.layer == "regions"
    assert match.regions is not None
    assert any(p.entry_region == "face" for p in match.regions)
    # Other people's portraits, framed the same way, are not this entry.
    for other in others:
        assert _scan(engine, transforms.border(other, random.Random(2))).decision == "allow"


def test_clean_copies_never_reach_the_region_layer(engine: Engine) -> None:
    engine.create_bank("known")
    img = make_image(SEED)
    engine.add_media("known", encode(img, "PNG"))
    result = _scan(engine, img)
    assert result.decision == "block"
    assert all(m.layer is None for m in result.matches)
    assert "regions_hash_ms" not in result.timings_ms


def test_deleting_an_entry_drops_its_regions(engine: Engine) -> None:
    from sqlalchemy import func, select

    from haechi.regions.models import EntryRegion

    engine.create_bank("known")
    img = make_image(SEED)
    [entry] = [e for e in engine.add_media("known", encode(img, "PNG")) if e.signal == "pdq"]
    framed = transforms.letterbox(img, random.Random(7))
    assert _scan(engine, framed).decision == "block"
    engine.delete_entry(entry.id)
    assert _scan(engine, framed).decision == "allow"
    with engine.db.session() as s:
        assert s.scalar(select(func.count()).select_from(EntryRegion)) == 0
    engine.regions.index.refresh(force=True)
    assert engine.regions.index.status()["region_hashes"] == 0


def test_a_failing_region_layer_never_fails_the_scan(engine: Engine,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import haechi.regions.service as region_service

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    engine.create_bank("known")
    monkeypatch.setattr(region_service, "compute_regions", broken)
    result = _scan(engine, make_image(SEED))
    assert result.decision == "allow"
    assert "region layer could not run: RuntimeError" in result.reason
