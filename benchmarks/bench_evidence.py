"""Evidence vault throughput: importing items and verifying a large custody log.

(a) ``import``  ``EvidenceService.import_bytes`` for N distinct small PNGs: scan against
    the (empty) banks, SHA-256, AES-256-GCM encryption, temp file + fsync + rename +
    folder fsync, then one database transaction for the blob, the item and its
    ``captured`` event. One item per transaction, as a real capture runs.
(b) ``append``  further custody events (``viewed``) until the log holds M entries,
    5,000 per transaction, then one signed checkpoint.
(c) ``verify log``  the log part of verification alone: read every entry, recompute its
    leaf hash, check its position, rebuild the RFC 6962 tree and compare every signed
    checkpoint's root.
(d) ``verify store``  all of ``haechi evidence verify``: (c) plus decrypting and
    hashing every item and matching it to its custody record.
(e) ``merkle``  the tree alone over M leaf hashes: root, one inclusion and one
    consistency proof, and their verification.

There is no reference tool for a signed custody log in Python to run beside it; the
Merkle figures can be compared with the hashing floor: M leaf hashes plus M - 1 node
hashes of SHA-256 (printed as ``sha256 floor``).

    .venv/bin/python benchmarks/bench_evidence.py --items 10000 --entries 100000 \\
        --output benchmarks/results/evidence.json --markdown benchmarks/results/evidence.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from fixtures_media import encode, make_image
from haechi.engine import Engine
from haechi.evidence import CaptureMetadata, EvidenceService
from haechi.evidence import custody as custody_log
from haechi.evidence.keys import KeyRing
from haechi.evidence.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from haechi.evidence.models import EvidenceLogHead
from haechi.evidence.note import Signer
from haechi.evidence.verify_store import check_checkpoints, check_log, verify_store


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds else 0.0


def bench(items: int, entries: int, database_url: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {"items": items, "entries": entries}
    with tempfile.TemporaryDirectory(prefix="haechi-bench-evidence-") as tmp:
        engine = Engine(data_dir=Path(tmp) / "data", database_url=database_url)
        service = EvidenceService(engine, keys=KeyRing([os.urandom(32)]),
                                  signer=Signer("bench.haechi/evidence",
                                                Ed25519PrivateKey.generate()))
        pictures = [encode(make_image(i, (48, 32)), "png") for i in range(items)]
        results["item_bytes_mean"] = round(sum(map(len, pictures)) / max(1, items))

        t = time.perf_counter()
        for i, data in enumerate(pictures):
            service.import_bytes(data, actor="bench", capture_key=f"bench:{i}",
                                 capture=CaptureMetadata(service="bench", message_id=str(i)))
        service.checkpoint()
        elapsed = time.perf_counter() - t
        results["import"] = {"seconds": round(elapsed, 2), "items_per_s": _rate(items, elapsed)}
        print(f"import: {items} items in {elapsed:.1f} s ({_rate(items, elapsed)}/s)")

        t = time.perf_counter()
        with engine.db.session() as s:
            size = s.scalar(select(EvidenceLogHead.size)) or 0
        while size < entries:
            with engine.db.session() as s:
                for _ in range(min(5000, entries - size)):
                    custody_log.append(s, event="viewed", actor="bench", item_id=1 + size % items)
                    size += 1
        service.checkpoint()
        elapsed = time.perf_counter() - t
        results["append"] = {"seconds": round(elapsed, 2),
                             "entries_per_s": _rate(entries - items, elapsed)}
        print(f"append: up to {entries} entries in {elapsed:.1f} s")

        t = time.perf_counter()
        with engine.db.session() as s:
            rows = [(r.seq, r.entry, r.leaf_hash) for r in custody_log.entries(s)]
            cps = list(custody_log.checkpoints(s))
        findings: list[Any] = []
        tree, _ = check_log(rows, findings)
        check_checkpoints(cps, tree, service.signer.verifier, findings)
        elapsed = time.perf_counter() - t
        assert not findings, findings
        results["verify_log"] = {"seconds": round(elapsed, 2),
                                 "entries_per_s": _rate(len(rows), elapsed)}
        print(f"verify log: {len(rows)} entries in {elapsed:.2f} s")

        t = time.perf_counter()
        report = verify_store(service)
        elapsed = time.perf_counter() - t
        assert report.ok, report.findings[:5]
        results["verify_store"] = {"seconds": round(elapsed, 2), "items": report.items_checked,
                                   "entries": report.entries_checked,
                                   "checkpoints": report.checkpoints_checked}
        print(f"verify store: {report.items_checked} items + {report.entries_checked} "
              f"entries in {elapsed:.2f} s")
        engine.close()

    leaves = [leaf_hash(str(i).encode()) for i in range(entries)]
    t = time.perf_counter()
    for _ in range(2 * entries - 1):
        hashlib.sha256(b"\x01" + leaves[0] + leaves[0]).digest()
    floor = time.perf_counter() - t
    t = time.perf_counter()
    merkle = MerkleTree(leaves)
    root = merkle.root()
    build = time.perf_counter() - t
    t = time.perf_counter()
    proof = merkle.inclusion_proof(entries // 3)
    cons = merkle.consistency_proof(entries // 2)
    ok = verify_inclusion(leaves[entries // 3], entries // 3, entries, proof, root) and \
        verify_consistency(entries // 2, entries, merkle.root(entries // 2), root, cons)
    proofs = time.perf_counter() - t
    assert ok
    results["merkle"] = {"build_s": round(build, 3), "sha256_floor_s": round(floor, 3),
                         "two_proofs_and_checks_ms": round(proofs * 1000, 3)}
    print(f"merkle: build {build:.3f} s (sha256 floor {floor:.3f} s), proofs "
          f"{proofs * 1000:.2f} ms")
    return results


def markdown(results: dict[str, Any], command: str) -> str:
    r = results
    return "\n".join([
        "# Evidence vault benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; store: {r['store']}.",
        "",
        "| step | figure |",
        "|---|---|",
        f"| import {r['items']} items (~{r['item_bytes_mean']} bytes each: scan, encrypt, "
        f"fsync, commit with custody event) | {r['import']['seconds']} s, "
        f"{r['import']['items_per_s']} items/s |",
        f"| append custody events up to {r['entries']} | {r['append']['seconds']} s |",
        f"| verify the log ({r['entries']} entries, all checkpoints) | "
        f"{r['verify_log']['seconds']} s, {r['verify_log']['entries_per_s']} entries/s |",
        f"| verify the whole store ({r['verify_store']['items']} items decrypted and "
        f"hashed + {r['verify_store']['entries']} entries) | {r['verify_store']['seconds']} s |",
        f"| Merkle tree over {r['entries']} leaves | {r['merkle']['build_s']} s "
        f"(SHA-256 floor {r['merkle']['sha256_floor_s']} s) |",
        f"| one inclusion + one consistency proof, made and checked | "
        f"{r['merkle']['two_proofs_and_checks_ms']} ms |",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    if args.entries < args.items:
        parser.error("--entries must be at least --items (each import logs one event)")
    results = bench(args.items, args.entries, args.database_url)
    results["store"] = "PostgreSQL" if args.database_url else "SQLite (WAL)"
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    results["command"] = command
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(results, command))


if __name__ == "__main__":
    main()
