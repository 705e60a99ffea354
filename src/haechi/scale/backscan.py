"""Back-scan: hash (and detect) every item of a platform's store, match, record.

The driver lists the source in chunks, drops what the job has already recorded, hands
the rest to a runner (Ray actors or this process) and records results a batch per
transaction. A killed job therefore loses at most the batches in flight; ``resume``
lists again (the listing is deterministic) and skips every recorded URI.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import func, select

from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.matching import Query, find_matches
from haechi.scale.hashing import HashedItem, hasher_arguments
from haechi.scale.models import BackscanItem, BackscanJob, BackscanMatch
from haechi.scale.records import match_row, put_to_policy, recorded_keys, uri_key
from haechi.scale.runners import InProcessRunner, RayRunner, Runner
from haechi.scale.sources import S3Options, list_source
from haechi.signals.vpdq import parse_compact

if TYPE_CHECKING:
    from haechi.engine import Engine

MAX_BATCH = 10_000


@dataclass(frozen=True)
class BackscanOptions:
    source: str
    job: str | None = None
    #: Ray actors; 0 hashes in this process without Ray.
    workers: int = 2
    batch_size: int = 64
    detect: bool = False
    resume: bool = False
    ray_address: str | None = None
    endpoint_url: str | None = None
    #: URIs listed, filtered and handed to the runner at a time (bounds driver memory).
    chunk_size: int = 20_000

    def check(self) -> None:
        if self.workers < 0 or self.workers > 4096:
            raise InvalidRequestError("workers must be 0..4096")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise InvalidRequestError(f"batch size must be 1..{MAX_BATCH}")
        if self.chunk_size < self.batch_size:
            raise InvalidRequestError("chunk size must be at least the batch size")
        if self.job is not None and not 1 <= len(self.job) <= 200:
            raise InvalidRequestError("a job name has 1-200 characters")


class BackscanProgress(BaseModel):
    job: str
    #: Items in the listing; None until counted.
    total: int | None
    #: Recorded by earlier runs of the job (skipped in this one).
    done_before: int
    #: Recorded by this run.
    done: int
    errors: int
    matched: int
    elapsed_s: float
    #: CPU seconds the workers spent reading and hashing this run's items.
    worker_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


class BackscanReport(BackscanProgress):
    status: str
    run: int
    workers: int
    items_per_s: float


class JobInfo(BaseModel):
    name: str
    source: str
    status: str
    runs: int
    items: int
    errors: int
    matched_items: int
    actions: dict[str, int]
    created_at: datetime
    finished_at: datetime | None


class ItemMatch(BaseModel):
    uri: str
    entry_id: int
    bank: str
    signal: str
    distance: int | None
    query_share: float | None
    origin: str
    action: str | None
    rule: str | None


def default_job_name(source: str) -> str:
    tail = source.rstrip("/").rsplit("/", 1)[-1] or "source"
    return f"{tail[:60]}-{hashlib.sha256(source.encode()).hexdigest()[:10]}"


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


class BackscanService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- running -----------------------------------------------------------------

    def run(self, options: BackscanOptions, *, runner: Runner | None = None,
            on_progress: Callable[[BackscanProgress], None] | None = None) -> BackscanReport:
        """Run (or resume) a job to its end. Interrupted (Ctrl-C), it is marked so and
        the interruption propagates; killed outright, it stays "running" and resumes
        the same way."""
        options.check()
        s3 = S3Options(endpoint_url=options.endpoint_url)
        name = options.job or default_job_name(options.source)
        # The listing and the runner are checked before the job is recorded, so a typo
        # in SOURCE or a missing Ray leaves no half-started job behind.
        total = sum(1 for _ in list_source(options.source, s3))
        own_runner = runner is None
        if runner is None:
            args = hasher_arguments(self.engine.limits, options.detect,
                                    self.engine.detection.settings, s3)
            runner = (InProcessRunner(args) if options.workers == 0 else
                      RayRunner(args, workers=options.workers, address=options.ray_address))
        try:
            job_id, run = self._start(name, options)
        except Exception:
            if own_runner:
                runner.close()
            raise
        progress = BackscanProgress(job=name, total=total, done_before=self._count(job_id),
                                    done=0, errors=0, matched=0, elapsed_s=0.0)
        started = time.perf_counter()
        status = "interrupted"
        try:
            for chunk in _chunks(list_source(options.source, s3), options.chunk_size):
                with self.engine.db.session() as s:
                    seen = recorded_keys(s, job_id, [uri_key(u) for u in chunk])
                todo = [u for u in chunk if uri_key(u) not in seen]
                for items in runner.run(todo, options.batch_size):
                    errors, matched = self.record(job_id, run, items)
                    progress.done += len(items)
                    progress.errors += errors
                    progress.matched += matched
                    progress.worker_cpu_s += sum(i.cpu_ms for i in items) / 1000
                    progress.elapsed_s = time.perf_counter() - started
                    if on_progress:
                        on_progress(progress)
            status = "done"
        except Exception:
            status = "failed"
            raise
        finally:
            self._finish(job_id, status)
            if own_runner:
                runner.close()
        elapsed = time.perf_counter() - started
        return BackscanReport(**{**progress.model_dump(), "elapsed_s": round(elapsed, 3)},
                              status=status, run=run, workers=runner.workers,
                              items_per_s=round(progress.done / elapsed, 2) if elapsed else 0.0)

    def _start(self, name: str, options: BackscanOptions) -> tuple[int, int]:
        now = datetime.now(UTC)
        with self.engine.db.session() as s:
            job = s.scalar(select(BackscanJob).where(BackscanJob.name == name))
            if job is None:
                job = BackscanJob(name=name, source=options.source, status="running", runs=1,
                                  options={"detect": options.detect,
                                           "batch_size": options.batch_size},
                                  created_at=now, updated_at=now)
                s.add(job)
                s.flush()
                return job.id, 1
            if not options.resume:
                raise ConflictError(f"job {name!r} exists ({job.status}); pass --resume to "
                                    "continue it, or name a new job with --job")
            if job.source != options.source:
                raise ConflictError(f"job {name!r} scanned {job.source!r}, not "
                                    f"{options.source!r}")
            job.runs += 1
            job.status, job.updated_at, job.finished_at = "running", now, None
            return job.id, job.runs

    def _finish(self, job_id: int, status: str) -> None:
        now = datetime.now(UTC)
        with self.engine.db.session() as s:
            job = s.get_one(BackscanJob, job_id)
            job.status, job.updated_at = status, now
            job.finished_at = now if status == "done" else None

    def _count(self, job_id: int) -> int:
        with self.engine.db.session() as s:
            return s.scalar(select(func.count()).select_from(BackscanItem)
                            .where(BackscanItem.job_id == job_id)) or 0

    # -- recording ---------------------------------------------------------------

    def record(self, job_id: int, run: int, items: Sequence[HashedItem]) -> tuple[int, int]:
        """Record one batch in one transaction: items, matches and policy decisions.
        Items the job already holds are left out (a runner may deliver one twice).
        Returns (errors, items with a match)."""
        self.engine.indexes.refresh()
        errors = matched = 0
        with self.engine.db.session() as s:
            unique = {uri_key(i.uri): i for i in items}
            for key in recorded_keys(s, job_id, list(unique)):
                del unique[key]
            rows: list[tuple[BackscanItem, list[Any]]] = []
            for key, item in unique.items():
                row = BackscanItem(
                    job_id=job_id, uri=item.uri, uri_key=key, run=run, status=item.status,
                    error_code=item.error_code, error_message=item.error_message,
                    media_kind=item.media_kind, bytes=item.bytes, sha256=item.sha256,
                    md5=item.md5, pdq=item.pdq, pdq_quality=item.pdq_quality, vpdq=item.vpdq,
                    detections=item.detections, detection_error=item.detection_error,
                    match_count=0, at=datetime.now(UTC))
                matches = [] if item.status != "ok" else find_matches(s, self.engine.indexes, Query(
                    exact=[(sig, v) for sig, v in (("sha256", item.sha256), ("md5", item.md5))
                           if v],
                    pdq_variants=item.pdq_variants, pdq_quality=item.pdq_quality,
                    video_frames=parse_compact(item.vpdq) if item.vpdq else []))
                put_to_policy(self.engine, row, matches)
                s.add(row)
                rows.append((row, matches))
                errors += item.status != "ok"
                matched += bool(matches)
            s.flush()
            for row, matches in rows:
                seen: set[tuple[int, str]] = set()
                for m in matches:
                    if (m.entry_id, m.signal) not in seen:
                        seen.add((m.entry_id, m.signal))
                        s.add(match_row(row.id, m, "backscan"))
        return errors, matched

    # -- looking -----------------------------------------------------------------

    def job(self, name: str) -> JobInfo:
        with self.engine.db.session() as s:
            job = s.scalar(select(BackscanJob).where(BackscanJob.name == name))
            if job is None:
                raise NotFoundError(f"no back-scan job named {name!r}")
            where = BackscanItem.job_id == job.id
            count = select(func.count()).select_from(BackscanItem).where(where)
            actions = dict(s.execute(
                select(BackscanItem.action, func.count()).where(where)
                .group_by(BackscanItem.action)).all())
            return JobInfo(
                name=job.name, source=job.source, status=job.status, runs=job.runs,
                items=s.scalar(count) or 0,
                errors=s.scalar(count.where(BackscanItem.status == "error")) or 0,
                matched_items=s.scalar(count.where(BackscanItem.match_count > 0)) or 0,
                actions={str(k): v for k, v in actions.items()},
                created_at=job.created_at, finished_at=job.finished_at)

    def matches(self, name: str, *, limit: int = 100, offset: int = 0) -> list[ItemMatch]:
        if not 1 <= limit <= 10_000 or offset < 0:
            raise InvalidRequestError("limit must be 1..10000 and offset >= 0")
        with self.engine.db.session() as s:
            job_id = s.scalar(select(BackscanJob.id).where(BackscanJob.name == name))
            if job_id is None:
                raise NotFoundError(f"no back-scan job named {name!r}")
            rows = s.execute(
                select(BackscanItem.uri, BackscanMatch.entry_id, BackscanMatch.bank,
                       BackscanMatch.signal, BackscanMatch.distance, BackscanMatch.query_share,
                       BackscanMatch.origin, BackscanItem.action, BackscanItem.rule)
                .join(BackscanItem, BackscanItem.id == BackscanMatch.item_id)
                .where(BackscanItem.job_id == job_id)
                .order_by(BackscanMatch.id).limit(limit).offset(offset)).all()
            return [ItemMatch(uri=r[0], entry_id=r[1], bank=r[2], signal=r[3], distance=r[4],
                              query_share=r[5], origin=r[6], action=r[7], rule=r[8])
                    for r in rows]
