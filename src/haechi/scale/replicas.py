"""What lets several ``haechi serve`` replicas share one PostgreSQL safely: a measure of
how far a replica's index lags the change feed (for readiness), and a server that
drains before it stops (for rolling restarts without failed requests)."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from haechi.store.models import EntryChange

if TYPE_CHECKING:
    import uvicorn

    from haechi.engine import Engine


def index_lag_seconds(engine: Engine) -> float:
    """How long the oldest change this replica's index has not applied has waited; 0
    when the index is up to date. Refreshes first (at most every index_refresh_seconds),
    so an idle replica that can reach the database is never reported stale."""
    engine.indexes.refresh()
    with engine.db.session() as s:
        oldest = s.scalar(select(func.min(EntryChange.at))
                          .where(EntryChange.seq > engine.indexes.seq))
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - oldest).total_seconds())


def draining_server(config: uvicorn.Config, app: Any, drain_seconds: float) -> uvicorn.Server:
    """A uvicorn server that, on the first SIGTERM or SIGINT, first turns readiness to
    503 (``app.state.draining``) and keeps serving for ``drain_seconds`` so a load
    balancer stops sending it requests, then shuts down gracefully (in-flight requests
    finish, up to the config's timeout_graceful_shutdown). A second signal stops at once."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if drain_seconds <= 0 or getattr(app.state, "draining", False):
                if sig == signal.SIGTERM and self.should_exit:
                    self.force_exit = True
                super().handle_exit(sig, frame)
                return
            app.state.draining = True
            stop = threading.Timer(drain_seconds, super().handle_exit, (sig, frame))
            stop.daemon = True
            stop.start()

    return DrainingServer(config)
