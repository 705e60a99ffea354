"""``haechi serve`` replicas as real subprocesses on one database, for tests and
benchmarks: start, wait until ready, stop with SIGTERM (as an orchestrator does)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Replica:
    def __init__(self, name: str, database_url: str, workdir: Path, *,
                 drain_seconds: float = 1.0) -> None:
        self.name = name
        self.database_url = database_url
        self.data_dir = workdir / name
        self.log = workdir / f"{name}.log"
        self.port = free_port()
        self.drain_seconds = drain_seconds
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        command = [str(Path(sys.executable).with_name("haechi")), "--data-dir",
                   str(self.data_dir), "--database-url", self.database_url, "serve",
                   "--port", str(self.port), "--drain-seconds", str(self.drain_seconds)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"replica {self.name} exited: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/v1/health/ready", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"replica {self.name} not ready in {timeout}s: {self.tail()}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
