"""What every in-memory index that follows the ``entry_changes`` feed shares: two
halves (:class:`PdqIndex`, or any part that saves and loads the same way) saved
together at one watermark, loading from files or rebuilding from the store, then
catching up from the feed.

Subclasses say what their halves hold (``_rebuild``, ``_get_parts``/``_set_parts``) and
how to apply the feed (``refresh``); the watermark, locking and file handling live here
so the whole-image and the region index cannot drift apart in how they stay in step.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol

from sqlalchemy import func, select

from haechi.index.pdq_index import PdqIndex
from haechi.store.db import Database
from haechi.store.models import EntryChange

log = logging.getLogger(__name__)


class IndexPart(Protocol):
    """What a half must offer: a watermark saved with it, files, a size."""

    watermark: int

    def save(self, directory: Path) -> None: ...

    def __len__(self) -> int: ...


class FeedFollowingIndex(ABC):
    """Two PDQ indexes kept in step with the store through the change feed."""

    #: File stems of the two halves inside ``directory``.
    FILES: ClassVar[tuple[str, str]]
    #: What the log calls this index.
    LABEL: ClassVar[str]
    #: The classes of the two halves (each with a ``load(directory)`` classmethod).
    PART_TYPES: ClassVar[tuple[Any, Any]] = (PdqIndex, PdqIndex)

    def __init__(self, db: Database, directory: Path, *, refresh_seconds: float = 0.5,
                 save_after_changes: int = 50_000) -> None:
        self.db = db
        self.directory = directory
        self.refresh_seconds = refresh_seconds
        self.save_after_changes = save_after_changes
        self._set_parts(self.PART_TYPES[0](), self.PART_TYPES[1]())
        self.seq = 0
        self.saved_seq = -1
        self.ready = False
        self.loaded_from: str = "nothing"
        self._last_refresh = 0.0
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()

    @abstractmethod
    def _get_parts(self) -> tuple[IndexPart, IndexPart]: ...

    @abstractmethod
    def _set_parts(self, first: Any, second: Any) -> None: ...

    @abstractmethod
    def _rebuild(self) -> tuple[Any, Any, int]:
        """Both halves from the store, and the watermark read BEFORE reading them:
        anything changed after it is replayed by refresh(), and replaying an "add" for a
        row already loaded is harmless (keys are replaced)."""

    @abstractmethod
    def refresh(self, *, force: bool = False) -> int:
        """Apply changes made since the last refresh, by this or any other process."""

    def load(self) -> None:
        """Load the saved files if they are usable, else rebuild from the store; then
        catch up. The new halves are built aside and swapped in, so the lock is held
        only for the swap and never across database reads."""
        started = time.perf_counter()
        try:
            first = self.PART_TYPES[0].load(self.directory / self.FILES[0])
            second = self.PART_TYPES[1].load(self.directory / self.FILES[1])
            if first.watermark != second.watermark:
                raise ValueError(f"{self.LABEL} files are from different moments")
            if first.watermark > self._max_seq():
                raise ValueError(f"{self.LABEL} files are newer than the database")
            seq, source = first.watermark, "files"
        except (FileNotFoundError, ValueError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.warning("rebuilding the %s from the store: %s", self.LABEL, exc)
            first, second, seq = self._rebuild()
            source = "store"
        with self._lock:
            self._set_parts(first, second)
            self.seq = seq
            self.saved_seq = seq if source == "files" else -1
            self.loaded_from = source
        self.refresh(force=True)
        self.ready = True
        log.info("%s ready from %s in %.2fs: %d + %d hashes", self.LABEL, source,
                 time.perf_counter() - started, len(first), len(second))

    def rebuild(self) -> None:
        """Drop what is in memory and rebuild from the store, then catch up."""
        first, second, seq = self._rebuild()
        with self._lock:
            self._set_parts(first, second)
            self.seq, self.saved_seq = seq, -1
            self.loaded_from = "store"
        self.refresh(force=True)
        self.ready = True

    def save(self) -> None:
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            first, second = self._get_parts()
            first.watermark = second.watermark = self.seq
            first.save(self.directory / self.FILES[0])
            second.save(self.directory / self.FILES[1])
            self.saved_seq = self.seq

    def _max_seq(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.max(EntryChange.seq))) or 0
