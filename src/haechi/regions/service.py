"""The region layer as the engine uses it: store an image's regions when it is banked,
and look for edited copies when the whole-image match found nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from haechi.errors import MediaError
from haechi.index.region_index import RegionIndex
from haechi.matching import Query, decide, find_matches
from haechi.media import Media
from haechi.regions.content import may_have_bars
from haechi.regions.extract import (
    Regions,
    compute_regions,
    locate,
    query_keypoints,
    window_regions,
)
from haechi.regions.keypoints import FrameKeypoints, image_keypoints
from haechi.regions.match import find_frame_matches, find_keypoint_matches, find_region_matches
from haechi.regions.models import EntryKeypoints, EntryRegion
from haechi.regions.video import (
    bank_frame_keypoints,
    sample,
    trimmed_frames,
    upload_frame_keypoints,
)
from haechi.results import EntryInfo, Match, RegionPair, ScanResult
from haechi.store.models import Bank

if TYPE_CHECKING:
    from haechi.engine import Engine

log = logging.getLogger(__name__)

#: Uploads with fewer keypoints than this also try the windows when keypoints found
#: nothing (textured pictures give the full 250).
FEW_POINTS = 120
#: Keypoints are looked for again inside the content box when it is smaller than this
#: share of the upload: a slimmer frame leaves the picture its points at the work size.
_RETRY_AREA = 0.85


def store_regions(session: Session, entries: Sequence[EntryInfo], regions: Regions) -> int:
    """Keep ``regions`` (windows and keypoints) with the PDQ entry among ``entries``, in
    the caller's transaction, so the index sees them with the entry's "add" in the
    feed. Returns how many windows were stored."""
    stored = 0
    for entry in entries:
        if entry.signal != "pdq":
            continue
        for w in regions.windows:
            session.add(EntryRegion(entry_id=entry.id, slot=w.slot, hash=w.hash,
                                    quality=w.quality, x0=w.box[0], y0=w.box[1],
                                    x1=w.box[2], y1=w.box[3]))
            stored += 1
        if regions.keypoints is not None:  # kept even when empty: not a legacy entry
            session.merge(EntryKeypoints(entry_id=entry.id,
                                         data=regions.keypoints.to_bytes()))
    return stored


def store_frame_keypoints(session: Session, entries: Sequence[EntryInfo],
                          record: FrameKeypoints) -> None:
    """Keep a video's frame keypoints with its vPDQ entry among ``entries``, in the
    caller's transaction (the index sees them with the entry's "add")."""
    for entry in entries:
        if entry.signal == "vpdq":
            session.merge(EntryKeypoints(entry_id=entry.id, data=record.to_bytes()))


class RegionService:
    """Held by the engine as ``engine.regions``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        settings = engine.settings
        self.index = RegionIndex(engine.db, settings.data_dir / "index",
                                 refresh_seconds=settings.index_refresh_seconds,
                                 save_after_changes=settings.index_save_after_changes)

    def regions_of(self, rgb: np.ndarray) -> Regions:
        """What the bank keeps for an image."""
        return compute_regions(rgb, bank=True)

    def frames_of(self, media: Media) -> FrameKeypoints | None:
        """What the bank keeps of a video for its cropped copies."""
        sampled = sample(media.frames(), boxes=False)
        return bank_frame_keypoints(sampled) if sampled is not None else None

    def scan(self, rgb: np.ndarray, result: ScanResult, enabled: dict[int, Bank]) -> None:
        """Run the region layer on an upload the whole-image layers did not match, and
        update ``result`` (matches, decision, reason, timings) in place. ``enabled`` are
        the enabled banks the whole-image layers were asked (the layer runs in those
        that have it on).

        A failure here is logged and said in the reason, never raised: the whole-image
        decision stands, and one odd file must not stop a batch.
        """
        try:
            self._scan(rgb, result, enabled)
        except Exception as exc:
            log.exception("the region layer failed")
            result.reason += f" (the region layer could not run: {type(exc).__name__})"

    def _scan(self, rgb: np.ndarray, result: ScanResult, enabled: dict[int, Bank]) -> None:
        t0 = time.perf_counter()
        banks = {bank_id: b for bank_id, b in enabled.items() if b.regions_enabled}
        if not banks:
            return
        self.index.refresh()
        with self.engine.db.session() as s:
            # Keypoints of the whole upload first: bars and borders carry no corners,
            # and most framed copies match as they are.
            points = image_keypoints(rgb, (0, 0, rgb.shape[1], rgb.shape[0]))
            matches = find_keypoint_matches(s, self.index, banks, points)
            result.timings_ms["keypoints_ms"] = _ms(t0)
            if not matches and may_have_bars(rgb):
                # A frame, caption or screen around a small picture leaves it few
                # points at the work size: look again inside the content box (the bank
                # keeps its keypoints that way), and at its windows.
                t1 = time.perf_counter()
                matches = self._framed(s, rgb, banks, len(points))
                result.timings_ms["framed_ms"] = _ms(t1)
            elif not matches and (len(points) < FEW_POINTS or self.index.without_keypoints):
                t1 = time.perf_counter()
                matches = find_region_matches(s, self.index, banks,
                                              window_regions(locate(rgb)))
                result.timings_ms["regions_ms"] = _ms(t1)
        if matches:
            result.matches = sorted(matches, key=lambda m: (m.bank_kind != "allow", m.bank,
                                                            m.entry_id))
            result.decision, result.reason = decide(result.matches)

    def _framed(self, session: Session, rgb: np.ndarray, banks: dict[int, Bank],
                whole_points: int) -> list[Match]:
        """Keypoints inside the content box, then (for flat pictures) its windows."""
        located = locate(rgb)
        matches: list[Match] = []
        points = whole_points
        x0, y0, x1, y1 = located.content
        if (x1 - x0) * (y1 - y0) < _RETRY_AREA * located.width * located.height:
            inside = query_keypoints(rgb, located)
            matches = find_keypoint_matches(session, self.index, banks, inside)
            points = len(inside)
        if not matches and (points < FEW_POINTS or self.index.without_keypoints):
            matches = find_region_matches(session, self.index, banks,
                                          window_regions(located))
        return matches

    def scan_video(self, media: Media, result: ScanResult, enabled: dict[int, Bank]) -> None:
        """Letterboxed, pillarboxed or cropped re-encodes, in the ``enabled`` banks that
        have the layer on: the frames' content box, then keypoints of a few frames."""
        try:
            self._scan_video(media, result, enabled)
        except MediaError as exc:
            result.reason += f" (the region layer could not read the frames: {exc.message})"
        except Exception as exc:
            log.exception("the region layer failed")
            result.reason += f" (the region layer could not run: {type(exc).__name__})"

    def _scan_video(self, media: Media, result: ScanResult, enabled: dict[int, Bank]) -> None:
        t0 = time.perf_counter()
        banks = {bank_id: b for bank_id, b in enabled.items() if b.regions_enabled}
        if not banks:
            return
        sampled = sample(media.frames(), boxes=True)
        if sampled is None:
            return
        trimmed = trimmed_frames(sampled, media.frames)
        result.timings_ms["regions_hash_ms"] = _ms(t0)
        matches: list[Match] = []
        if trimmed is not None:
            box, frames = trimmed
            t1 = time.perf_counter()
            self.engine.indexes.refresh()
            names = {b.name for b in banks.values()}
            with self.engine.db.session() as s:
                matches = [m for m in find_matches(s, self.engine.indexes,
                                                   Query(video_frames=frames), banks)
                           if m.signal == "vpdq" and m.bank in names]
            result.timings_ms["regions_match_ms"] = _ms(t1)
            for m in matches:
                m.layer = "regions"
                m.transform = "bars trimmed"
                m.regions = [RegionPair(query_region="content", entry_region="frame",
                                        query_box=box, entry_box=None,
                                        distance=0 if m.distance is None else m.distance)]
        if not matches:
            # Cropped (or framed and cropped) copies: keypoints of a few frames.
            t2 = time.perf_counter()
            points = upload_frame_keypoints(sampled, trimmed[0] if trimmed else None)
            self.index.refresh()
            with self.engine.db.session() as s:
                matches = find_frame_matches(s, self.index, banks, points)
            result.timings_ms["regions_keypoints_ms"] = _ms(t2)
        if matches:
            result.matches = matches
            result.decision, result.reason = decide(matches)

    def close(self, *, save_index: bool = True) -> None:
        if save_index and self.index.ready and self.index.seq != self.index.saved_seq:
            self.index.save()


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
