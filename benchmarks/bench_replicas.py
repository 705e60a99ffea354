"""Two ``haechi serve`` replicas on one PostgreSQL: consistency delay and requests lost
during rolling restarts.

Consistency: a random PDQ entry is added through replica A; replica B is then asked,
as fast as one client can, to scan a hash 8 bits away, until it blocks. The delay is
from A's answer to the first blocking answer from B (it includes one request's
latency). Repeated ``--rounds`` times.

Rolling restart: a round-robin proxy (tests/scale/replica_proxy.py: health-checks
readiness every 0.1 s, never retries) sits in front of both; 2 client threads scan
through it without retries while A, then B, is stopped with SIGTERM and started again.
Every error status or failed connection counts as a lost request. Run twice in the
same session: with ``--drain-seconds 1`` (readiness turns 503 first, the proxy drains
the replica, then it stops) and with ``--drain-seconds 0`` (uvicorn's plain graceful
shutdown) as the reference.

    .venv/bin/python benchmarks/bench_replicas.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/haechi_bench_replicas \\
        --output benchmarks/results/replicas.json --markdown benchmarks/results/replicas.md
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "scale"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from replica_proxy import RoundRobinProxy
from replica_support import Replica
from scale_helpers import flip_bits

from _report import write_outputs
from haechi.engine import Engine


def fresh_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def scan(url: str, key: str, pdq: str, client: httpx.Client) -> httpx.Response:
    return client.post(f"{url}/v1/scan/hashes", headers={"Authorization": f"Bearer {key}"},
                       json={"hashes": [{"signal": "pdq", "value": pdq}]}, timeout=30.0)


def consistency(a: Replica, b: Replica, key: str, rounds: int) -> dict[str, Any]:
    delays: list[float] = []
    polls: list[int] = []
    rng = random.Random(11)
    with httpx.Client() as client:
        for _ in range(rounds):
            entry = f"{rng.getrandbits(256):064x}"
            near = flip_bits(entry, 8, seed=rng.randrange(10**6))
            added = client.post(f"{a.url}/v1/banks/known/entries",
                                headers={"Authorization": f"Bearer {key}"},
                                json={"entries": [{"signal": "pdq", "value": entry}]})
            assert added.status_code == 201, added.text
            t0 = time.perf_counter()
            n = 0
            while True:
                n += 1
                if scan(b.url, key, near, client).json()["decision"] == "block":
                    break
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("replica B never saw the entry")
            delays.append(time.perf_counter() - t0)
            polls.append(n)
            time.sleep(rng.uniform(0.05, 0.6))  # land at different points of the refresh
    ordered = sorted(delays)
    return {"rounds": rounds, "p50_ms": round(statistics.median(delays) * 1000, 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
            "max_ms": round(max(delays) * 1000, 1),
            "within_1s": sum(d <= 1.0 for d in delays), "mean_polls": statistics.mean(polls)}


def rolling_restart(replicas: list[Replica], key: str) -> dict[str, Any]:
    entry = f"{random.Random(3).getrandbits(256):064x}"
    with Engine(data_dir=replicas[0].data_dir.parent / "writer",
                database_url=replicas[0].database_url) as eng:
        eng.add_hash("known", "pdq", entry)
    proxy = RoundRobinProxy([r.url for r in replicas]).start()
    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as http:
            while not stop.is_set():
                try:
                    reply = scan(proxy.url, key, flip_bits(entry, 3), http)
                    ok = reply.status_code == 200 and reply.json()["decision"] == "block"
                    outcomes["ok" if ok else f"status {reply.status_code}"] += 1
                except httpx.HTTPError as exc:
                    outcomes[type(exc).__name__] += 1

    threads = [threading.Thread(target=client) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        for r in replicas:
            r.stop()
            r.start().wait_ready()
            time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join()
        proxy.stop()
    ok = outcomes.pop("ok", 0)
    return {"requests": ok + sum(outcomes.values()), "failed": sum(outcomes.values()),
            "failures": dict(outcomes), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:"
                        "5432/haechi_bench_replicas")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    fresh_database(args.database_url)
    report: dict[str, Any] = {
        "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "command": "python " + shlex.join(sys.argv),
    }
    with tempfile.TemporaryDirectory() as tmp, \
            Engine(data_dir=Path(tmp) / "setup", database_url=args.database_url) as setup:
        key, _ = setup.create_api_key("bench", "admin")
        setup.create_bank("known")
        report["index_refresh_seconds"] = setup.settings.index_refresh_seconds
        for drain in (1.0, 0.0):
            work = Path(tmp) / f"drain-{drain}"
            work.mkdir()
            replicas = [Replica(n, args.database_url, work, drain_seconds=drain).start()
                        for n in ("a", "b")]
            try:
                for r in replicas:
                    r.wait_ready()
                if drain:
                    report["consistency"] = consistency(*replicas, key, args.rounds)
                report[f"rolling_restart_drain_{drain:g}s"] = rolling_restart(replicas, key)
            finally:
                for r in replicas:
                    r.stop()
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    c = report["consistency"]
    lines = ["# Replicas on one PostgreSQL", "",
             f"Host: {report['host']}; load average at start "
             f"{report['load_average_at_start']}, at end {report['load_average_at_end']}.",
             f"Command: `{report['command']}`", "",
             f"## Consistency delay (index_refresh_seconds = "
             f"{report['index_refresh_seconds']})", "",
             "| Rounds | p50 | p95 | max | within 1 s |", "|---:|---:|---:|---:|---:|",
             f"| {c['rounds']} | {c['p50_ms']} ms | {c['p95_ms']} ms | {c['max_ms']} ms | "
             f"{c['within_1s']} of {c['rounds']} |", "",
             "## Rolling restart of both replicas behind a round-robin proxy (no retries)", "",
             "| Shutdown | Requests | Failed | Failures |", "|---|---:|---:|---|"]
    for drain in (1.0, 0.0):
        r = report[f"rolling_restart_drain_{drain:g}s"]
        label = ("readiness 503, drain 1 s, then graceful stop" if drain
                 else "graceful stop only (--drain-seconds 0)")
        lines.append(f"| {label} | {r['requests']} | {r['failed']} | "
                     f"{r['failures'] or '-'} |")
    lines.append("")
    write_outputs(report, "\n".join(lines), output=args.output, markdown=args.markdown)


if __name__ == "__main__":
    main()
