"""Moderation speed: policy evaluation, the review queue at 100,000 pending items, and
webhook delivery against the scan rate.

* ``policy``: the default policy on three kinds of input (nothing found, a bank match,
  detector scores that hold), timed over many evaluations;
* ``queue``: a store filled with N pending reviews (bulk insert), then the first page,
  a deep page, the count, and claiming the next item, each repeated;
* ``webhooks``: N action events delivered to a local HTTP receiver (127.0.0.1) that
  acknowledges each, against ``moderate_upload`` of generated 640x480 JPEGs.

Prints a Markdown table; ``--output`` also writes JSON. SQLite by default; pass
``--database-url`` for PostgreSQL (its moderation tables are emptied first).

    .venv/bin/python benchmarks/bench_moderation.py --pending 100000 --events 1000
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from haechi.engine import Engine
from haechi.moderation import ModerationService, PolicyInput, load_policy
from haechi.moderation.events import emit
from haechi.moderation.models import ModItem, ModReview, ModRoom, ModUser
from haechi.results import EntryInfo, Match
from haechi.samples import encode, make_image

MOD_TABLES = ("mod_deliveries", "mod_webhooks", "mod_events", "mod_statements",
              "mod_notices", "mod_strikes", "mod_reviews", "mod_appeals", "mod_user_notices",
              "mod_memberships", "mod_held_media", "mod_items", "mod_rooms", "mod_users",
              "mod_sessions", "mod_accounts", "mod_audit")


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(name: str, ms: list[float]) -> dict[str, Any]:
    ms = sorted(ms)
    return {"what": name, "n": len(ms), "median_ms": statistics.median(ms),
            "p95_ms": ms[int(0.95 * (len(ms) - 1))]}


def bench_policy(n: int) -> list[dict[str, Any]]:
    policy = load_policy()
    entry = EntryInfo(id=1, bank="known", signal="pdq", signal_version=1, value="0" * 64,
                      quality=100, enabled=True, added_at=datetime.now(UTC))
    match = Match(bank="known", bank_kind="block", entry_id=1, signal="pdq", distance=3,
                  threshold=31, entry=entry)
    inputs = {
        "policy: nothing found": PolicyInput(media_kind="image"),
        "policy: bank match": PolicyInput(matches=[match], media_kind="image"),
        "policy: deepfake scores (hold)": PolicyInput(
            detections={"sexual": 0.95, "real_face": 0.9, "synthetic": 0.9},
            media_kind="image"),
    }
    rows = []
    for name, facts in inputs.items():
        t0 = time.perf_counter()
        for _ in range(n):
            policy.evaluate(facts)
        per = (time.perf_counter() - t0) * 1000 / n
        rows.append({"what": name, "n": n, "median_ms": per, "p95_ms": None})
    return rows


def fill_queue(engine: Engine, n: int) -> None:
    now = datetime.now(UTC)
    with engine.db.session() as s:
        user = ModUser(platform_id="bench-user")
        room = ModRoom(platform_id="bench-room")
        s.add_all([user, room])
        s.flush()
        decision = {"action": "hold", "rule": "synthetic-sexual-real-face", "reason": "bench",
                    "review_priority": 500}
        batch = 10_000
        for start in range(0, n, batch):
            count = min(batch, n - start)
            s.execute(insert(ModItem), [
                {"user_id": user.id, "room_id": room.id, "name": f"item-{start + i}",
                 "media_kind": "image", "hashes": [], "detections": {}, "decision": decision,
                 "action": "hold", "status": "held", "category": "synthetic_sexual",
                 "bank_entry_ids": [], "created_at": now - timedelta(seconds=n - start - i)}
                for i in range(count)])
        ids = list(s.scalars(text("SELECT id FROM mod_items ORDER BY id")))
        for start in range(0, len(ids), batch):
            s.execute(insert(ModReview), [
                {"item_id": item_id, "priority": (item_id % 3) * 500, "state": "pending",
                 "escalated": False, "reason": "", "history": [],
                 "created_at": now - timedelta(seconds=n - j - start)}
                for j, item_id in enumerate(ids[start:start + batch])])


def bench_queue(mod: ModerationService, n: int, repeat: int) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    fill_queue(mod.engine, n)
    fill_s = time.perf_counter() - t0
    if mod.engine.db.engine.url.get_backend_name() == "postgresql":
        # What autovacuum does after a bulk load; without statistics the planner guesses.
        with mod.engine.db.engine.begin() as conn:
            conn.execute(text("ANALYZE mod_reviews, mod_items"))
    rows = [{"what": f"queue: insert {n} pending", "n": 1, "median_ms": fill_s * 1000,
             "p95_ms": None}]
    rows.append(summary("queue: first page (50, with count)",
                        timed(lambda: mod.list_reviews(view="pending", limit=50), repeat)))
    rows.append(summary(f"queue: page at offset {n // 2}", timed(
        lambda: mod.list_reviews(view="pending", limit=50, offset=n // 2), repeat)))
    counter = iter(range(10**9))
    rows.append(summary("queue: claim next", timed(
        lambda: mod.claim_next(reviewer=f"r{next(counter)}"), repeat)))
    return rows


class _Sink(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def bench_webhooks(mod: ModerationService, events: int, uploads: int) -> list[dict[str, Any]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mod.webhooks.register(url=f"http://127.0.0.1:{server.server_port}/hook")
        now = datetime.now(UTC)
        with mod.engine.db.session() as s:
            for i in range(events):
                emit(s, "delete_item", {"item_id": i, "user_id": "u", "room_id": "r"}, now)
        t0 = time.perf_counter()
        delivered = 0
        while True:
            report = mod.webhooks.deliver_due(limit=500)
            delivered += report.delivered
            if report.attempted == 0:
                break
        deliver_s = time.perf_counter() - t0
        images = [encode(make_image(1000 + i)) for i in range(uploads)]
        t0 = time.perf_counter()
        for i, data in enumerate(images):
            mod.moderate_upload(data, user_id=f"u{i}", room_id="r")
        upload_s = time.perf_counter() - t0
    finally:
        server.shutdown()
        server.server_close()
    assert delivered == events == _Sink.received, (delivered, events, _Sink.received)
    return [
        {"what": f"webhooks: deliver {events} events", "n": events,
         "median_ms": deliver_s * 1000 / events, "p95_ms": None,
         "per_s": events / deliver_s},
        {"what": f"moderate_upload of {uploads} 640x480 JPEGs", "n": uploads,
         "median_ms": upload_s * 1000 / uploads, "p95_ms": None, "per_s": uploads / upload_s},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy-evals", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    rows = bench_policy(args.policy_evals)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(data_dir=Path(tmp), database_url=args.database_url)
        if args.database_url and args.database_url.startswith("postgresql"):
            with engine.db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(MOD_TABLES)} RESTART IDENTITY CASCADE"))
        try:
            mod = ModerationService(engine)
            rows += bench_queue(mod, args.pending, args.repeat)
            rows += bench_webhooks(mod, args.events, args.uploads)
        finally:
            engine.close()
        backend = engine.db.engine.url.get_backend_name()

    print(f"\nbackend: {backend}; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}\n")
    print("| what | n | median ms (per item) | p95 ms | per s |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        p95 = "" if r["p95_ms"] is None else f"{r['p95_ms']:.3f}"
        per_s = f"{r['per_s']:.0f}" if "per_s" in r else ""
        print(f"| {r['what']} | {r['n']} | {r['median_ms']:.4f} | {p95} | {per_s} |")
    if args.output:
        args.output.write_text(json.dumps({"backend": backend, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
