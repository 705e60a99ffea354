"""Helpers shared by the victims tests (a module name unique in the suite)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from haechi.samples import encode


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def recompressed(data: bytes, quality: int = 40) -> bytes:
    """The re-upload a platform sees: decoded and saved again as a smaller JPEG."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    return encode(img.resize((img.width * 3 // 4, img.height * 3 // 4)), "JPEG",
                  quality=quality)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` on a free local port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
