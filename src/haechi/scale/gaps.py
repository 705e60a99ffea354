"""Ids a watermark passed over that may still turn up.

PostgreSQL hands out sequence values when a row is inserted, not when its transaction
commits: reading ``id > watermark`` can see id 12 while id 11, taken by a transaction
still open, is not visible yet. Moving the watermark to 12 would skip 11 forever. The
ids missing below the new watermark are therefore remembered for ``patience`` seconds
and looked up again on every pass; rolled-back ids (sequences never reuse them) simply
expire. Gaps live in memory: a restart within the patience window can still miss a row
that was in flight at that moment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)

#: Larger holes than this are not tracked (a sequence that jumped, not transactions).
MAX_GAP = 100_000


class Gaps:
    def __init__(self, patience: float = 120.0) -> None:
        self.patience = patience
        self._open: dict[int, float] = {}

    def note(self, watermark: int, seen: Iterable[int]) -> None:
        """Remember ids above ``watermark`` and below the highest of ``seen`` that were
        not seen."""
        ids = set(seen)
        if not ids:
            return
        top = max(ids)
        if top - watermark > MAX_GAP + len(ids):
            log.warning("ids jumped from %d to %d: not tracking the hole", watermark, top)
            return
        now = time.monotonic()
        for missing in set(range(watermark + 1, top)) - ids:
            self._open.setdefault(missing, now)

    def pending(self) -> list[int]:
        """Ids still worth looking up again (expired ones are dropped)."""
        cutoff = time.monotonic() - self.patience
        self._open = {i: t for i, t in self._open.items() if t >= cutoff}
        return sorted(self._open)

    def found(self, ids: Iterable[int]) -> None:
        for i in ids:
            self._open.pop(i, None)

    def __len__(self) -> int:
        return len(self._open)
