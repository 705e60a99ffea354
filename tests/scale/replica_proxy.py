"""A tiny round-robin HTTP proxy in front of API replicas, as a load balancer would be:
it health-checks each replica's readiness and sends requests only to ready ones.

It never retries a request: a request that fails at a replica fails for the client, so
a rolling restart that loses requests shows up as failures. Each request uses a fresh
connection (no keep-alive), as a connection kept open across a replica's restart would
otherwise fail for reasons of this proxy, not of the replicas.
"""

from __future__ import annotations

import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade", "host", "content-length"}


class RoundRobinProxy:
    def __init__(self, backends: list[str], *, check_interval: float = 0.1) -> None:
        self.backends = backends
        self.check_interval = check_interval
        self.ready: list[str] = []
        self.forwarded = {b: 0 for b in backends}
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._forward(self)

            def do_POST(self) -> None:
                proxy._forward(self)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._threads = [threading.Thread(target=self.server.serve_forever, daemon=True),
                         threading.Thread(target=self._check, daemon=True)]

    def start(self) -> RoundRobinProxy:
        self._probe()
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        for t in self._threads:
            t.join()

    def _probe(self) -> None:
        ready = []
        for backend in self.backends:
            try:
                if httpx.get(f"{backend}/v1/health/ready", timeout=1.0).status_code == 200:
                    ready.append(backend)
            except httpx.HTTPError:
                pass
        with self._lock:
            self.ready = ready

    def _check(self) -> None:
        while not self._stop.wait(self.check_interval):
            self._probe()

    def _pick(self) -> str | None:
        with self._lock:
            if not self.ready:
                return None
            backend = self.ready[next(self._turn) % len(self.ready)]
            self.forwarded[backend] += 1
            return backend

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        backend = self._pick()
        if backend is None:
            handler.send_error(503, "no ready replica")
            return
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            with httpx.Client(timeout=30.0) as client:
                reply = client.request(handler.command, backend + handler.path,
                                       headers=headers, content=body)
        except httpx.HTTPError as exc:
            handler.send_error(502, f"replica {backend} failed: {type(exc).__name__}")
            return
        handler.send_response(reply.status_code)
        for key, value in reply.headers.items():
            if key.lower() not in _HOP_BY_HOP:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(reply.content)))
        handler.end_headers()
        handler.wfile.write(reply.content)
