"""TrackingService: ingest chats, link media, analyse, report, push to a bank."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from haechi.banks.service import NewEntry
from haechi.errors import InvalidRequestError, NotFoundError
from haechi.results import EntryMetadata
from haechi.signals.pdq import MIN_QUALITY
from haechi.tracking.analysis.lexicon import Lexicon, load_lexicon
from haechi.tracking.analysis.run import analyse
from haechi.tracking.ingest.bot_api import read_jsonl
from haechi.tracking.ingest.csv_source import read_csv
from haechi.tracking.ingest.records import RawMessage, SkippedItem
from haechi.tracking.ingest.telegram_export import read_export
from haechi.tracking.ingest.writer import IngestWriter
from haechi.tracking.models import TrackedMedia
from haechi.tracking.report.html import render_report
from haechi.tracking.report.roster import roster_rows
from haechi.tracking.schemas import (
    Analysis,
    IngestReport,
    PushReport,
    RescanReport,
    SourceFormat,
)

if TYPE_CHECKING:
    from haechi.engine import Engine

FORMATS: tuple[SourceFormat, ...] = ("telegram", "bot", "csv")


def detect_format(path: Path) -> SourceFormat:
    """telegram for a folder or a ``.json`` file, bot for ``.jsonl``, csv for ``.csv``."""
    if path.is_dir() or path.suffix.lower() == ".json":
        return "telegram"
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return "bot"
    if path.suffix.lower() == ".csv":
        return "csv"
    raise InvalidRequestError(f"cannot tell the format of {path.name}; give it explicitly "
                              f"({', '.join(FORMATS)})", code="unknown_format")


class TrackingService:
    """Attach one per engine; every method is keyword-only after the first argument."""

    def __init__(self, engine: Engine, *, lexicon: Lexicon | None = None) -> None:
        self.engine = engine
        self.lexicon = lexicon or load_lexicon(None)

    def ingest(self, path: Path, *, fmt: SourceFormat | None = None, service: str = "csv",
               progress: Callable[[int], None] | None = None) -> IngestReport:
        """Stream a source into the store; re-ingesting the same source adds nothing.

        ``service`` names the service of a CSV (Telegram sources are always "telegram").
        Unusable items are skipped and listed with a code; everything else is kept.
        """
        if not path.exists():
            raise NotFoundError(f"{path} does not exist", code="not_found")
        fmt = fmt or detect_format(path)
        if fmt not in FORMATS:
            raise InvalidRequestError(f"format must be one of {', '.join(FORMATS)}")
        report = IngestReport(source=fmt, path=str(path))
        writer = IngestWriter(self.engine, report, progress)
        return writer.write(self._read(path, fmt, service, writer.skip))

    @staticmethod
    def _read(path: Path, fmt: SourceFormat, service: str,
              on_skip: Callable[[SkippedItem], None]) -> Iterator[RawMessage]:
        if fmt == "telegram":
            if path.is_dir() and not (path / "result.json").exists():
                raise InvalidRequestError(f"{path} holds no result.json",
                                          code="not_an_export")
            return read_export(path, on_skip)
        if fmt == "bot":
            return read_jsonl(path, on_skip)
        return read_csv(path, service=service, on_skip=on_skip)

    def rescan_media(self) -> RescanReport:
        """Match every stored medium's hashes against the banks as they are now.

        Banks grow after an ingest; this re-flags media without the files (their hashes
        were kept), so an old export benefits from a new bank entry.
        """
        checked = flagged_now = cleared = 0
        with self.engine.db.session() as s:
            rows = list(s.execute(select(
                TrackedMedia.id, TrackedMedia.sha256, TrackedMedia.md5, TrackedMedia.pdq,
                TrackedMedia.pdq_quality, TrackedMedia.vpdq, TrackedMedia.flagged)
                .where(TrackedMedia.sha256.is_not(None))))
        for media_id, sha, md5, pdq, quality, vpdq, was_flagged in rows:
            hashes = [(signal, value) for signal, value in
                      (("sha256", sha), ("md5", md5), ("pdq", pdq), ("vpdq", vpdq)) if value]
            result = self.engine.scan_hashes(hashes, pdq_quality=quality)
            checked += 1
            is_flagged = result.decision == "block"
            if is_flagged == bool(was_flagged):
                continue
            detail = "; ".join(f"{m.bank} entry {m.entry_id} ({m.signal})"
                               for m in result.matches if m.bank_kind == "block")[:2000]
            with self.engine.db.session() as s:
                s.execute(update(TrackedMedia).where(TrackedMedia.id == media_id)
                          .values(flagged=is_flagged, flag_detail=detail))
            flagged_now += is_flagged
            cleared += not is_flagged
        return RescanReport(checked=checked, newly_flagged=flagged_now,
                            no_longer_flagged=cleared)

    def analyse(self, *, key_players: int = 5) -> Analysis:
        if not 0 <= key_players <= 50:
            raise InvalidRequestError("key_players must be 0..50")
        with self.engine.db.session() as s:
            return analyse(s, self.lexicon, key_players=key_players)

    def report_html(self, *, analysis: Analysis | None = None,
                    title: str = "Tracking report") -> str:
        """The self-contained HTML report (nothing in it loads from the network)."""
        return render_report(analysis or self.analyse(), title=title)

    def roster_csv(self, *, analysis: Analysis | None = None, room: str | None = None,
                   community: int | None = None) -> Iterator[str]:
        """Participants of one room, one network community, or all, as CSV lines."""
        return roster_rows(analysis or self.analyse(key_players=0), room=room,
                           community=community)

    def push_to_bank(self, *, bank: str, analysis: Analysis | None = None,
                     create: bool = False, added_by: str = "tracking") -> PushReport:
        """Add every hash of every flagged cluster's media to ``bank`` in one transaction.

        Variants that only PDQ linked to a flagged item are pushed too: that is how a
        bank learns the re-encodings seen in the wild. PDQ hashes under quality 50 are
        left out (they would never match).
        """
        if create and bank not in {b.name for b in self.engine.list_banks()}:
            self.engine.create_bank(bank, description="flagged clusters from tracking")
        self.engine.get_bank(bank)  # a missing bank fails even when nothing is flagged
        result = analysis or self.analyse(key_players=0)
        flagged = [c for c in result.clusters if c.flagged]
        cluster_of = {mid: c.id for c in flagged for mid in c.media_ids}
        entries: list[NewEntry] = []
        seen: set[tuple[str, str]] = set()
        with self.engine.db.session() as s:
            rows = s.scalars(select(TrackedMedia).where(TrackedMedia.id.in_(list(cluster_of))))
            for row in rows:
                meta = EntryMetadata(source="tracking", category="tracked_cluster",
                                     added_by=added_by[:200],
                                     external_id=f"cluster-{cluster_of[row.id]}",
                                     note=f"tracking medium {row.id} {row.path}"[:10_000])
                for signal, value, quality in (("sha256", row.sha256, None),
                                               ("md5", row.md5, None),
                                               ("pdq", row.pdq, row.pdq_quality),
                                               ("vpdq", row.vpdq, None)):
                    if not value or (signal, value) in seen:
                        continue
                    if signal == "pdq" and (quality or 0) < MIN_QUALITY:
                        continue
                    seen.add((signal, value))
                    entries.append(NewEntry(signal, value, quality, meta))
        imported = self.engine.add_hashes(bank, entries) if entries else None
        return PushReport(bank=bank, clusters=len(flagged), hashes_offered=len(entries),
                          added=imported.added if imported else 0,
                          duplicates=imported.duplicates if imported else 0)
