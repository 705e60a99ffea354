"""The one façade every interface calls: banks, hashing, scanning, keys.

Transports (CLI, HTTP API) translate arguments and results and nothing else, so a rule
changed here changes everywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from haechi import auth
from haechi.banks import formats, service
from haechi.banks.service import NewEntry
from haechi.config import Settings
from haechi.errors import HaechiError, InvalidRequestError, MediaError
from haechi.index.bank_index import BankIndexes
from haechi.matching import Query, decide, enabled_banks, find_matches
from haechi.media import Media, MediaKind, load_media
from haechi.results import (
    ApiKeyInfo,
    BankInfo,
    EntryInfo,
    EntryMetadata,
    HashResult,
    HashValue,
    ImportReport,
    MediaInfo,
    ScanError,
    ScanResult,
)
from haechi.signals import get_signal
from haechi.signals.pdq import MIN_QUALITY, dihedral_of_rgb
from haechi.signals.vpdq import VpdqSignal, parse_compact
from haechi.store.db import Database
from haechi.store.models import Bank

log = logging.getLogger(__name__)


class Engine:
    """Build one per process; it is safe to share between threads."""

    def __init__(self, settings: Settings | None = None, *, load_index: bool = True,
                 **overrides: Any) -> None:
        self.settings = settings or Settings(**overrides)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.limits = self.settings.limits()
        self.db = Database(self.settings.resolved_database_url())
        self.indexes = BankIndexes(
            self.db, self.settings.data_dir / "index",
            refresh_seconds=self.settings.index_refresh_seconds,
            save_after_changes=self.settings.index_save_after_changes,
        )
        from haechi.regions.service import RegionService

        self.regions = RegionService(self)
        if load_index:
            self.indexes.load()
            self.regions.index.load()
        # Domain services hang off the engine so every transport reaches them the same
        # way; they import the engine only for typing, hence the local imports.
        from haechi.detection.service import DetectionService
        from haechi.evidence.service import EvidenceService
        from haechi.moderation.service import ModerationService
        from haechi.scale.service import ScaleService
        from haechi.tracking.service import TrackingService
        from haechi.victims.service import VictimsService

        self.detection = DetectionService(self)
        self.evidence = EvidenceService(self)
        self.moderation = ModerationService(self)
        self.tracking = TrackingService(self)
        self.victims = VictimsService(self)
        self.scale = ScaleService(self)

    def close(self, *, save_index: bool = True) -> None:
        if save_index and self.indexes.ready and self.indexes.seq != self.indexes.saved_seq:
            self.indexes.save()
        self.regions.close(save_index=save_index)
        self.db.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- banks ---------------------------------------------------------------------

    def create_bank(self, name: str, *, kind: str = "block", description: str = "",
                    pdq_threshold: int = 31, pdq_min_quality: int = MIN_QUALITY,
                    video_match_percent: float = 80.0, regions_enabled: bool = True,
                    region_threshold: int = 28, region_min_inliers: int = 30) -> BankInfo:
        with self.db.session() as s:
            return service.create_bank(
                s, name=name, kind=kind, description=description, pdq_threshold=pdq_threshold,
                pdq_min_quality=pdq_min_quality, video_match_percent=video_match_percent,
                regions_enabled=regions_enabled, region_threshold=region_threshold,
                region_min_inliers=region_min_inliers,
            )

    def list_banks(self) -> list[BankInfo]:
        with self.db.session() as s:
            return service.list_banks(s)

    def get_bank(self, name: str) -> BankInfo:
        with self.db.session() as s:
            bank = service.get_bank_row(s, name)
            return service.bank_info(bank, service.count_entries(s, bank.id))

    def update_bank(self, name: str, **changes: Any) -> BankInfo:
        with self.db.session() as s:
            return service.update_bank(s, name=name, **changes)

    def delete_bank(self, name: str) -> int:
        with self.db.session() as s:
            removed = service.delete_bank(s, name=name)
        self.indexes.refresh(force=True)
        return removed

    # -- entries -------------------------------------------------------------------

    def add_hashes(self, bank: str, entries: Iterable[NewEntry], *,
                   return_entries: bool = False) -> ImportReport:
        """Add raw hashes in one transaction: all of them, or none if one is invalid."""
        with self.db.session() as s:
            added, duplicates = service.add_entries(s, bank_name=bank, entries=entries)
        self.indexes.refresh(force=True)
        return ImportReport(bank=bank, added=len(added), duplicates=duplicates,
                            entries=added if return_entries else [])

    def add_hash(self, bank: str, signal: str, value: str, *, quality: int | None = None,
                 metadata: EntryMetadata | None = None) -> EntryInfo | None:
        """Add one raw hash; returns None when the bank already holds it."""
        entry = NewEntry(signal, value, quality, metadata or EntryMetadata())
        with self.db.session() as s:
            added, _ = service.add_entries(s, bank_name=bank, entries=[entry])
        self.indexes.refresh(force=True)
        return added[0] if added else None

    def add_media(self, bank: str, data: bytes, *, name: str | None = None,
                  metadata: EntryMetadata | None = None) -> list[EntryInfo]:
        """Hash a file and add every hash of it (digests and the perceptual hash).

        Raises :class:`MediaError` for a file that cannot be read."""
        media = load_media(data, name=name, limits=self.limits)  # decoded once for all
        hashes, _ = self._hash(media)
        meta = metadata or EntryMetadata()
        usable = [h for h in hashes
                  if not (h.signal == "pdq" and (h.quality or 0) < MIN_QUALITY)]
        is_image = media.kind is MediaKind.IMAGE
        if is_image and len(usable) < len(hashes):
            meta = meta.model_copy(update={"note": (meta.note + " " if meta.note else "") +
                                           "[pdq skipped: quality below 50]"})
        # Hashes of the image's parts, kept with its PDQ entry for the region layer.
        regions = self.regions.regions_of(media.rgb) if is_image else None
        frames = (self.regions.frames_of(media) if media.kind is MediaKind.VIDEO
                  and any(h.signal == "vpdq" for h in usable) else None)
        with self.db.session() as s:
            added, _ = service.add_entries(s, bank_name=bank, entries=[
                NewEntry(h.signal, h.value, h.quality, meta) for h in usable
            ])
            if regions is not None:
                from haechi.regions.service import store_regions

                store_regions(s, added, regions)
            if frames is not None:
                from haechi.regions.service import store_frame_keypoints

                store_frame_keypoints(s, added, frames)
        self.indexes.refresh(force=True)
        self.regions.index.refresh(force=True)
        return added

    def list_entries(self, bank: str, *, limit: int = 100,
                     offset: int = 0) -> tuple[list[EntryInfo], int]:
        if not 1 <= limit <= 10_000 or offset < 0:
            raise InvalidRequestError("limit must be 1..10000 and offset >= 0")
        with self.db.session() as s:
            return service.list_entries(s, bank_name=bank, limit=limit, offset=offset)

    def get_entry(self, entry_id: int) -> EntryInfo:
        with self.db.session() as s:
            row = service.get_entry_row(s, entry_id)
            return service.entry_info(row, row.bank.name)

    def set_entry_enabled(self, entry_id: int, enabled: bool) -> EntryInfo:
        with self.db.session() as s:
            info = service.set_entry_enabled(s, entry_id=entry_id, enabled=enabled)
        self.indexes.refresh(force=True)
        return info

    def delete_entry(self, entry_id: int) -> None:
        with self.db.session() as s:
            service.delete_entry(s, entry_id=entry_id)
        self.indexes.refresh(force=True)

    def import_entries(self, bank: str, text: str, fmt: str, *,
                       skip_invalid: bool = False) -> ImportReport:
        entries, errors = formats.parse_entries(text, fmt, skip_invalid=skip_invalid)
        report = self.add_hashes(bank, entries)
        report.errors = errors[: formats.MAX_ERRORS_LISTED]
        return report

    def export_entries(self, bank: str, fmt: str) -> Iterator[str]:
        if fmt not in formats.FORMATS:
            raise InvalidRequestError(f"unknown format {fmt!r}; use one of "
                                      f"{', '.join(formats.FORMATS)}")
        self.get_bank(bank)  # fail before streaming starts

        def lines() -> Iterator[str]:
            with self.db.session() as s:
                yield from formats.export_entries(
                    service.iter_entries(s, bank_name=bank), fmt)

        return lines()

    # -- hashing and scanning -----------------------------------------------------

    def _hash(self, media: Media) -> tuple[list[HashValue], list[str]]:
        """Every signal for the media, plus the 8 PDQ variants for images."""
        values = [HashValue(signal=s.name, version=s.version, value=s.compute(media).value)
                  for s in (get_signal("sha256"), get_signal("md5"))]
        variants: list[str] = []
        if media.kind is MediaKind.IMAGE:
            variants, quality = dihedral_of_rgb(media.rgb)
            values.append(HashValue(signal="pdq", version=get_signal("pdq").version,
                                    value=variants[0], quality=quality))
        else:
            v = VpdqSignal().compute(media)
            values.append(HashValue(signal=v.signal, version=v.version, value=v.value,
                                    quality=v.quality))
        return values, variants

    @staticmethod
    def _media_info(media: Media) -> MediaInfo:
        return MediaInfo(kind=media.kind.value, format=media.format, bytes=len(media.data),
                         width=media.width, height=media.height, duration_s=media.duration_s,
                         warnings=list(media.warnings))

    def read_file(self, path: Path) -> bytes:
        """Read a file, refusing ones over the byte limit before reading them."""
        try:
            size = path.stat().st_size
            if size > self.limits.max_bytes:
                raise MediaError(f"the file has {size} bytes; the limit is "
                                 f"{self.limits.max_bytes}", code="too_large")
            return path.read_bytes()
        except OSError as exc:
            raise MediaError(f"cannot read {path}: {exc.strerror or exc}",
                             code="unreadable_file") from exc

    def hash_bytes(self, data: bytes, *, name: str | None = None) -> HashResult:
        try:
            media = load_media(data, name=name, limits=self.limits)
            values, _ = self._hash(media)
        except MediaError as exc:
            return HashResult(name=name, error=ScanError(code=exc.code, message=exc.message))
        return HashResult(name=name, media=self._media_info(media), hashes=values)

    def hash_path(self, path: Path) -> HashResult:
        try:
            data = self.read_file(path)
        except MediaError as exc:
            return HashResult(name=str(path), error=ScanError(code=exc.code, message=exc.message))
        return self.hash_bytes(data, name=str(path))

    def scan_bytes(self, data: bytes, *, name: str | None = None,
                   service: str | None = None) -> ScanResult:
        """Hash an upload and decide. Never raises for bad media: the result says why.

        ``service`` names where the upload happened (the platform's key); victims' cases
        count the uploads their hashes stopped there.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            media = load_media(data, name=name, limits=self.limits)
            timings["decode_ms"] = _ms(t0)
            t1 = time.perf_counter()
            values, variants = self._hash(media)
            timings["hash_ms"] = _ms(t1)
            detections = None
            if self.detection.settings.enabled:
                t2 = time.perf_counter()
                detections = self.detection.detect_media(media=media)
                timings["detection_ms"] = _ms(t2)
        except MediaError as exc:
            timings["total_ms"] = _ms(t0)
            return ScanResult(name=name, decision="error",
                              reason=f"the file could not be scanned: {exc.message}",
                              error=ScanError(code=exc.code, message=exc.message),
                              timings_ms=timings)
        query = Query(
            exact=[(v.signal, v.value) for v in values if v.signal in ("sha256", "md5")],
            pdq_variants=variants,
            pdq_quality=next((v.quality for v in values if v.signal == "pdq"), None),
            video_frames=next((parse_compact(v.value) for v in values if v.signal == "vpdq"),
                              []),
        )
        result, banks = self._match(query, timings)
        if media.kind is MediaKind.IMAGE and not result.matches:
            # Edited copies (cropped, framed, captioned, stickered): clean ones never pay.
            self.regions.scan(media.rgb, result, banks)
        elif media.kind is MediaKind.VIDEO and not result.matches:
            self.regions.scan_video(media, result, banks)
        result.name, result.media, result.hashes = name, self._media_info(media), values
        result.detections = detections
        if media.kind is MediaKind.IMAGE and (query.pdq_quality or 0) < MIN_QUALITY:
            result.reason += (f" (pdq quality {query.pdq_quality} is below {MIN_QUALITY}: "
                              "only identical copies can match)")
        result.timings_ms["total_ms"] = _ms(t0)
        self._after_scan(result, service)
        return result

    def scan_path(self, path: Path) -> ScanResult:
        try:
            data = self.read_file(path)
        except MediaError as exc:
            return ScanResult(name=str(path), decision="error",
                              reason=f"the file could not be scanned: {exc.message}",
                              error=ScanError(code=exc.code, message=exc.message))
        return self.scan_bytes(data, name=str(path))

    def scan_hashes(self, hashes: Sequence[tuple[str, str]], *,
                    pdq_quality: int | None = None, service: str | None = None) -> ScanResult:
        """Match hashes computed elsewhere (on a victim's device, by another tool).

        Raises InvalidHashError / UnknownSignalError for values that do not parse: a
        caller sending hashes made a programming error, unlike a user uploading a file.
        """
        t0 = time.perf_counter()
        exact: list[tuple[str, str]] = []
        pdq: list[str] = []
        frames = []
        values = []
        for signal_name, raw in hashes:
            signal = get_signal(signal_name)
            value = signal.parse(raw)
            values.append(HashValue(signal=signal.name, version=signal.version, value=value))
            if signal.exact:
                exact.append((signal.name, value))
            elif signal.name == "pdq":
                pdq.append(value)
            elif signal.name == "vpdq":
                frames.extend(parse_compact(value))
        if not values:
            raise InvalidRequestError("give at least one hash")
        if len(pdq) > 1:
            raise InvalidRequestError("give at most one pdq hash per scan")
        result, _banks = self._match(Query(exact=exact, pdq_variants=pdq,
                                           pdq_quality=pdq_quality, video_frames=frames), {})
        result.hashes = values
        result.timings_ms["total_ms"] = _ms(t0)
        self._after_scan(result, service)
        return result

    def _after_scan(self, result: ScanResult, service: str | None) -> None:
        """Let victims' cases count the uploads their hashes stopped.

        A failure here is logged and never changes or fails the scan: the decision has
        been made, and blocking must not depend on bookkeeping.
        """
        if service is None or not result.matches:
            return
        try:
            self.victims.record_scan(scan=result, service=service)
        except Exception:
            log.exception("recording a scan for victims' cases failed")

    def _match(self, query: Query,
               timings: dict[str, float]) -> tuple[ScanResult, dict[int, Bank]]:
        """The whole-image layers' result, and the enabled banks it was decided on (the
        region layer, if it runs, asks the same banks)."""
        t = time.perf_counter()
        self.indexes.refresh()
        with self.db.session() as s:
            banks = enabled_banks(s)
            matches = find_matches(s, self.indexes, query, banks)
        timings["match_ms"] = _ms(t)
        decision, reason = decide(matches)
        return ScanResult(decision=decision, reason=reason, matches=matches,
                          index_seq=self.indexes.seq, timings_ms=timings), banks

    # -- API keys ------------------------------------------------------------------

    def create_api_key(self, name: str, role: str) -> tuple[str, ApiKeyInfo]:
        with self.db.session() as s:
            return auth.create_key(s, name=name, role=role)

    def authenticate(self, key: str) -> ApiKeyInfo | None:
        with self.db.session() as s:
            return auth.authenticate(s, key)

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self.db.session() as s:
            return auth.list_keys(s)

    def revoke_api_key(self, key_id: int) -> ApiKeyInfo:
        with self.db.session() as s:
            return auth.revoke_key(s, key_id=key_id)

    # -- service state ------------------------------------------------------------

    def status(self) -> dict[str, object]:
        return {"index": self.indexes.status(), "regions": self.regions.index.status(),
                "database": self.db.engine.url.get_backend_name()}


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


__all__ = ["Engine", "HaechiError"]
