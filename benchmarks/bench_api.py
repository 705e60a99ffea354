"""Throughput and latency of the HTTP API, served by uvicorn on loopback.

Seeds a temporary store with a bank of PDQ entries (real hashes of generated neutral
images and of their recompressed, resized and brightened copies), starts
``uvicorn --factory haechi.api.app:create_app`` on a free port of 127.0.0.1 in a
subprocess, waits for ``/v1/health/ready``, then drives it with httpx at each concurrency:

* ``scan/hashes``: ``POST /v1/scan/hashes`` with one PDQ hash, half of them altered copies
  of banked images (should block), half unrelated (should allow);
* ``scan file``: ``POST /v1/scan`` with ~100 KB JPEGs, half of them banked.

Every run is bounded by a request count and a time limit. Prints a Markdown table; with
``--output`` also writes the figures as JSON. The server is stopped at the end.

    .venv/bin/python benchmarks/bench_api.py --entries 10000 --concurrency 8 32
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures_media import (
    brighten,
    encode,
    jpeg_recompress,
    make_image,
    make_photo,
    resize,
)
from haechi.engine import Engine
from haechi.signals.pdq import pdq_of_rgb

IMAGE_SIZE = (160, 120)
PHOTO_SIZE = (800, 600)


@dataclass
class Run:
    scenario: str
    concurrency: int
    #: Responses received; ``ok`` of them with status 200.
    requests: int
    ok: int
    #: Non-200 responses by status, and requests that got no response at all.
    statuses: dict[str, int]
    transport_errors: int
    blocked: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


def _pdq(img: Any) -> str:
    return pdq_of_rgb(np.asarray(img.convert("RGB")))[0]


def seed_store(data_dir: Path, entries: int, photos: int) -> dict[str, Any]:
    """Fill the store; return the queries and an API key."""
    values: dict[str, None] = {}
    banked: list[int] = []
    started = time.perf_counter()
    seed = 0
    while len(values) < entries:
        img = make_image(seed, IMAGE_SIZE)
        banked.append(seed)
        for variant in (img, jpeg_recompress(img, 50), resize(img, 0.5), brighten(img, 1.3)):
            values[_pdq(variant)] = None
        seed += 1
        if seed % 500 == 0:
            print(f"  hashed {seed} images, {len(values)} distinct values "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    lines = [f"pdq {v}" for v in list(values)[:entries]]
    # Hash queries: altered copies of banked images (hits) and unrelated images (misses).
    step = max(1, len(banked) // 200)
    hits = [_pdq(resize(jpeg_recompress(make_image(s, IMAGE_SIZE), 30), 0.75))
            for s in banked[:-1:step]]
    misses = [_pdq(make_image(10_000_000 + s, IMAGE_SIZE)) for s in range(len(hits))]
    # File queries: ~100 KB photos, half of them banked.
    files = [encode(make_photo(20_000_000 + s, PHOTO_SIZE), "jpeg", quality=80)
             for s in range(photos)]
    banked_files = files[: photos // 2]
    for data in banked_files:
        with Image.open(io.BytesIO(data)) as img:
            lines.append(f"pdq {_pdq(img)}")

    with Engine(data_dir=data_dir) as engine:
        engine.create_bank("bench", description="benchmark bank")
        report = engine.import_entries("bench", "\n".join(lines), "threatexchange")
        key, _ = engine.create_api_key("bench", "service")
        count = engine.get_bank("bench").entry_count
    print(f"  seeded {count} entries ({report.duplicates} duplicate values) in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    hash_queries = [v for pair in zip(hits, misses, strict=True) for v in pair]
    return {"key": key, "hash_queries": hash_queries, "files": files, "entries": count}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HAECHI_DATA_DIR": str(data_dir)}
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "haechi.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{base}/v1/health/ready", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


async def drive(base: str, key: str, scenario: str, payloads: list[Any], concurrency: int,
                max_requests: int, max_seconds: float) -> Run:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    ok = blocked = transport_errors = 0
    issued = 0
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=45) as client:
        async def worker() -> None:
            nonlocal issued, ok, blocked, transport_errors
            while issued < max_requests and time.perf_counter() < deadline:
                payload = payloads[issued % len(payloads)]
                issued += 1
                t0 = time.perf_counter()
                try:
                    if scenario == "scan/hashes":
                        r = await client.post("/v1/scan/hashes", json={
                            "hashes": [{"signal": "pdq", "value": payload}]})
                    else:
                        r = await client.post("/v1/scan", files={
                            "file": ("upload.jpg", payload, "image/jpeg")})
                except httpx.HTTPError:
                    transport_errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                    continue
                ok += 1
                blocked += r.json()["decision"] == "block"

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started

    ms = np.array(latencies) * 1000 if latencies else np.array([0.0])
    return Run(scenario=scenario, concurrency=concurrency, requests=len(latencies), ok=ok,
               statuses=statuses, transport_errors=transport_errors, blocked=blocked,
               seconds=round(seconds, 2), rps=round(ok / seconds, 1) if seconds else 0.0,
               p50_ms=round(float(np.percentile(ms, 50)), 2),
               p99_ms=round(float(np.percentile(ms, 99)), 2))


def table(runs: list[Run]) -> str:
    out = ["| scenario | concurrency | responses | 200 | other statuses | no response | blocked "
           "| ok req/s | p50 ms | p99 ms |",
           "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in runs:
        other = ", ".join(f"{n}x {code}" for code, n in sorted(r.statuses.items())) or "-"
        out.append(f"| {r.scenario} | {r.concurrency} | {r.requests} | {r.ok} | {other} | "
                   f"{r.transport_errors} | {r.blocked} | {r.rps} | {r.p50_ms} | {r.p99_ms} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000, help="PDQ entries in the bank")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--hash-requests", type=int, default=3000,
                        help="requests per hash-lookup run")
    parser.add_argument("--file-requests", type=int, default=400,
                        help="requests per file-scan run")
    parser.add_argument("--photos", type=int, default=16, help="distinct ~100 KB JPEGs")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time limit per run")
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="haechi-bench-api-") as tmp:
        data_dir = Path(tmp) / "data"
        print(f"seeding {args.entries} entries ...", file=sys.stderr)
        seeded = seed_store(data_dir, args.entries, args.photos)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "server.log"
        proc = start_server(data_dir, port, log_path)
        runs: list[Run] = []
        try:
            ready_s = wait_ready(base, proc, timeout=120)
            print(f"server ready in {ready_s:.1f} s on {base}", file=sys.stderr)
            for scenario, payloads, count in (
                ("scan/hashes", seeded["hash_queries"], args.hash_requests),
                ("scan file", seeded["files"], args.file_requests),
            ):
                for concurrency in args.concurrency:
                    # A short warm-up so connection set-up is not in the figures.
                    asyncio.run(drive(base, seeded["key"], scenario, payloads, concurrency,
                                      concurrency * 2, 10))
                    run = asyncio.run(drive(base, seeded["key"], scenario, payloads,
                                            concurrency, count, args.max_seconds))
                    print(f"  {run}", file=sys.stderr)
                    runs.append(run)
        except Exception:
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            stop_server(proc)

    avg_kb = sum(len(f) for f in seeded["files"]) / len(seeded["files"]) / 1024
    print(f"\nbank: {seeded['entries']} PDQ entries; file scans: {len(seeded['files'])} "
          f"JPEGs of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}, {avg_kb:.0f} KB on average; one uvicorn "
          f"worker; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})\n")
    print(table(runs))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({
            "entries": seeded["entries"], "photos": len(seeded["files"]),
            "photo_kb": round(avg_kb, 1), "cpus": os.cpu_count(),
            "argv": sys.argv[1:], "runs": [asdict(r) for r in runs],
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
