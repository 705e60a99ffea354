"""A per-client sliding-window limit for the public notice form.

In memory, per process: behind several replicas each allows the limit, which is
acceptable for abuse protection (a shared limit would need the database on every
anonymous request, the very cost the limit exists to cap).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from haechi.errors import HaechiError

#: Clients remembered at most; the oldest are forgotten first.
MAX_CLIENTS = 100_000


class RateLimited(HaechiError):
    code = "rate_limited"
    http_status = 429


class RateLimiter:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str, now: float | None = None) -> None:
        """Count one request from ``client``; raise RateLimited past the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.pop(client, None) or deque()
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            self._hits[client] = hits  # re-inserted: most recent clients last
            if len(self._hits) > MAX_CLIENTS:
                self._hits.pop(next(iter(self._hits)))
            if len(hits) >= self.limit:
                wait = int(hits[0] + self.window_s - now) + 1
                raise RateLimited(f"too many reports from this address; retry in {wait} s")
            hits.append(now)
