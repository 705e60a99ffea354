"""Retro-hunt: new bank entries searched in the hashes of everything scanned before.

Part 1, at scale, in memory (what a retro-hunt worker holds): N stored item PDQ hashes
(uniform random, 10M by default) are indexed in the exact :class:`PdqIndex` the worker
uses (items are the index, new entries the queries); Q new entries (10,000), of which
a share are near-duplicates (1-30 bits) of stored items, are searched at distance 31.
Index build time, query time and resident memory are reported separately. Reference in
the same run: the naive search without an index (each new entry against every stored
hash with numpy popcounts) on a sample of the entries, extrapolated to Q.

Part 2, end to end through the store (SQLite by default, or ``--database-url``): M stored
back-scan items (rows in ``backscan_items``) and Q new PDQ entries added to a bank, then
``engine.scale.retrohunt.run_once`` (feed read, index build from the database, search,
match rows, policy): time per phase.

    .venv/bin/python benchmarks/bench_retrohunt.py --stored 10000000 --new 10000 \\
        --db-items 200000 --output benchmarks/results/retrohunt.json \\
        --markdown benchmarks/results/retrohunt.md
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert

from _report import write_outputs
from haechi.engine import Engine
from haechi.scale.models import BackscanItem, BackscanJob
from haechi.scale.retrohunt import StoredHashes

THRESHOLD = 31


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def near_copies(rows: npt.NDArray[np.uint8], rng: np.random.Generator
                ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Each row with 1..30 random bits flipped, and how many."""
    out = rows.copy()
    flips = rng.integers(1, 31, size=len(rows))
    for i, n in enumerate(flips):
        bits = rng.choice(256, size=int(n), replace=False)
        for b in bits:
            out[i, b // 8] ^= np.uint8(1 << (b % 8))
    return out, flips


def to_hex(rows: npt.NDArray[np.uint8]) -> list[str]:
    return [r.tobytes().hex() for r in rows]


def brute_force(stored64: npt.NDArray[np.uint64], query: npt.NDArray[np.uint8]) -> int:
    q = query.view(np.uint64).reshape(1, 4)
    distances = np.bitwise_count(stored64 ^ q).sum(axis=1, dtype=np.uint16)
    return int(np.count_nonzero(distances <= THRESHOLD))


def part_memory(stored: int, new: int, near_share: float, sample: int,
                seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(stored, 32), dtype=np.uint8)
    keys = np.arange(1, stored + 1, dtype=np.int64)
    planted_n = int(new * near_share)
    planted_at = rng.choice(stored, size=planted_n, replace=False)
    near, _flips = near_copies(codes[planted_at], rng)
    queries = np.concatenate([near, rng.integers(0, 256, size=(new - planted_n, 32),
                                                 dtype=np.uint8)])
    query_hex = to_hex(queries)
    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    index = StoredHashes.from_arrays(codes, keys)
    build_s = time.perf_counter() - t0
    gc.collect()
    index_rss = rss_bytes() - before
    t0 = time.perf_counter()
    results = index.pdq.query_many(query_hex, THRESHOLD)
    query_s = time.perf_counter() - t0
    found = sum(1 for i in range(planted_n)
                if any(k == planted_at[i] + 1 for k, _ in results[i]))
    hits = sum(len(r) for r in results)
    stored64 = codes.view(np.uint64).reshape(stored, 4)
    t0 = time.perf_counter()
    brute_hits = [brute_force(stored64, queries[i]) for i in range(sample)]
    brute_s = (time.perf_counter() - t0) / sample * new
    agree = all(brute_hits[i] == len(results[i]) for i in range(sample))
    return {
        "stored": stored, "new": new, "planted_near_duplicates": planted_n,
        "planted_found": found, "matches": hits,
        "build_s": round(build_s, 2), "query_s": round(query_s, 2),
        "queries_per_s": round(new / query_s, 1),
        "index_memory_bytes": index.pdq.memory_bytes(),
        "index_rss_delta_bytes": index_rss,
        "brute_force_sample": sample, "brute_force_estimated_s": round(brute_s, 1),
        "brute_force_agrees_on_sample": agree,
        "speedup_vs_brute_force": round(brute_s / query_s, 1),
    }


def part_database(db_items: int, new: int, database_url: str | None,
                  seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 1)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(data_dir=Path(tmp), database_url=database_url)
        try:
            codes = rng.integers(0, 256, size=(db_items, 32), dtype=np.uint8)
            t0 = time.perf_counter()
            with engine.db.session() as s:
                job = BackscanJob(name="bench", source="generated", status="done")
                s.add(job)
                s.flush()
                job_id = job.id
            hexes = to_hex(codes)
            for start in range(0, db_items, 20_000):
                with engine.db.session() as s:
                    s.execute(insert(BackscanItem), [
                        {"job_id": job_id, "uri": f"s3://store/{i:09d}.jpg",
                         "uri_key": f"{i:064x}", "run": 1, "status": "ok",
                         "media_kind": "image", "pdq": hexes[i], "pdq_quality": 100,
                         "detections": {}, "match_count": 0}
                        for i in range(start, min(db_items, start + 20_000))])
            load_s = time.perf_counter() - t0
            planted_n = min(new // 100, db_items)
            near, _ = near_copies(codes[:planted_n], rng)
            entries = np.concatenate([near, rng.integers(0, 256, size=(new - planted_n, 32),
                                                         dtype=np.uint8)])
            engine.create_bank("new")
            engine.add_hashes("new", [_entry(h) for h in to_hex(entries)])
            hunt = engine.scale.retrohunt
            t0 = time.perf_counter()
            with engine.db.session() as s:
                hunt.stored.catch_up(s)
            catch_up_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = hunt.run_once(max_changes=new)
            run_s = time.perf_counter() - t0
        finally:
            engine.close(save_index=False)
    return {
        "database": (database_url or "sqlite").split(":", 1)[0], "stored_items": db_items,
        "new_entries": new, "planted": planted_n, "matches_recorded": report.matches,
        "items_decided": report.items, "insert_items_s": round(load_s, 2),
        "index_from_database_s": round(catch_up_s, 2),
        "search_record_decide_s": round(run_s, 2),
    }


def _entry(value: str) -> Any:
    from haechi.banks.service import NewEntry
    from haechi.results import EntryMetadata

    return NewEntry("pdq", value, 100, EntryMetadata())


def markdown(report: dict[str, Any]) -> str:
    d = report["database"]
    head = ["# Retro-hunt: new entries against stored hashes", "",
            f"Host: {report['host']}. Command: `{report['command']}`", ""]
    return "\n".join(head + (memory_lines(report["memory"]) if "memory" in report else [])
                     + database_lines(d))


def memory_lines(m: dict[str, Any]) -> list[str]:
    return [
        f"## {m['stored']:,} stored hashes, {m['new']:,} new entries (in memory)", "",
        "| Metric | Value |", "|---|---:|",
        f"| Index build from (N, 32) uint8 | {m['build_s']} s |",
        f"| Search of all new entries (distance <= 31) | {m['query_s']} s "
        f"({m['queries_per_s']:,} entries/s) |",
        f"| Index arrays | {m['index_memory_bytes'] / 2**20:,.0f} MiB "
        f"({m['index_memory_bytes'] / m['stored']:.1f} B/hash) |",
        "| Resident memory added by the build (input hashes already resident) | "
        f"{m['index_rss_delta_bytes'] / 2**20:,.0f} MiB |",
        f"| Planted near-duplicates found | {m['planted_found']:,} of "
        f"{m['planted_near_duplicates']:,} |",
        f"| Naive search without index (estimated from {m['brute_force_sample']} entries) "
        f"| {m['brute_force_estimated_s']:,} s |",
        f"| Index vs naive | {m['speedup_vs_brute_force']}x faster; same results on the "
        f"sample: {m['brute_force_agrees_on_sample']} |", "",
    ]


def database_lines(d: dict[str, Any]) -> list[str]:
    return [
        f"## End to end on {d['database']}: {d['stored_items']:,} stored items, "
        f"{d['new_entries']:,} new entries", "",
        "| Phase | Time |", "|---|---:|",
        f"| Index built from the database (item hashes read) | {d['index_from_database_s']} s |",
        f"| Feed read, search, {d['matches_recorded']} matches recorded, "
        f"{d['items_decided']} items through the policy | {d['search_record_decide_s']} s |",
        "",
        "Stored hashes are uniform random (real PDQ hashes cluster more, which makes an "
        "index bucket fuller and queries slower: see the PDQ index benchmark for "
        "real-image hashes).", "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=10_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--near-share", type=float, default=0.01)
    parser.add_argument("--brute-sample", type=int, default=20)
    parser.add_argument("--db-items", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}, load average at start "
                f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}",
        "command": "python " + shlex.join(sys.argv),
    }
    if args.stored:
        report["memory"] = part_memory(args.stored, args.new, args.near_share,
                                       args.brute_sample, args.seed)
        gc.collect()
    report["database"] = part_database(args.db_items, args.new, args.database_url, args.seed)
    write_outputs(report, markdown(report), output=args.output, markdown=args.markdown)


if __name__ == "__main__":
    main()
