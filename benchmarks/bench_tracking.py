#!/usr/bin/env python
"""Tracking at scale: ingest and analyse a generated Telegram Desktop export.

The export has the structure the issue describes, all generated: many rooms of
heavy-tailed sizes; users of heavy-tailed activity, each in a few rooms; a pool of
"items" (neutral generated pictures) that spread between rooms as forwards, each copy
re-encoded (JPEG quality and brightness changes, so sha256 differs and PDQ must link
them); ordinary photos; replies; a few solicitation rooms with lexicon text. A bank knows a
subset of the items. Images are shapes and gradients (``tests/fixtures_media.py``).

Each phase runs in its own process, so its peak resident memory (VmHWM) is its own:
``generate`` writes the export; ``ingest`` streams it into a fresh SQLite store;
``analyse`` runs the whole analysis and writes the HTML report. A second ``ingest`` of
the same export measures idempotent re-ingest.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_tracking.py --messages 1000000
    .venv/bin/python benchmarks/bench_tracking.py --messages 100000 --output r.json

Data goes to benchmarks/.data/tracking-<N>/ (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SOLICIT = ["지인능욕 방 입장 조건: 겹지인 사진 10장", "합성 의뢰 USDT 결제 가능, 오늘 할인",
           "send 10 photos of a classmate to join", "딥페이크 제작 문의, BTC only"]
CHATTER = ["ok", "lol", "who has more", "good morning", "ㅋㅋㅋ", "thanks", "same", "나도",
           "where is this from", "next"]


def _peak_mib() -> float:
    """Peak resident memory of this process: VmHWM, which starts afresh at exec (unlike
    ru_maxrss, which can carry the forking parent's figure over)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(folder: Path, n: int, seed: int) -> dict[str, Any]:
    from fixtures_media import brighten, encode, jpeg_recompress, make_image

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    rooms = max(20, n // 2500)
    users = max(200, n // 20)
    items = max(20, n // 4000)
    photos = max(20, n // 4000)
    variants = 4
    media = folder / "photos"
    media.mkdir(parents=True, exist_ok=True)
    for i in range(items):
        img = make_image(10_000 + i, (320, 240))
        for v in range(variants):
            edited = img if v == 0 else brighten(jpeg_recompress(img, 30 + 15 * v),
                                                 1.0 + 0.05 * v)
            (media / f"item{i}_v{v}.jpg").write_bytes(encode(edited, "jpeg", quality=80))
    for p in range(photos):
        (media / f"photo{p}.jpg").write_bytes(encode(make_image(50_000 + p, (320, 240)),
                                                     "jpeg", quality=85))
    # Heavy tails: Zipf-like weights for room sizes and user activity.
    room_w = 1.0 / np.arange(1, rooms + 1) ** 1.1
    user_w = 1.0 / np.arange(1, users + 1) ** 1.2
    user_rooms = [rng.choice(rooms, size=min(rooms, 1 + int(rng.zipf(2.0)) % 8), replace=False,
                             p=room_w / room_w.sum()) for _ in range(users)]
    msg_user = rng.choice(users, size=n, p=user_w / user_w.sum())
    msg_room = np.array([user_rooms[u][rng.integers(len(user_rooms[u]))] for u in msg_user])
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    msg_time = np.sort(rng.uniform(start, start + 180 * 86_400, size=n))
    kind = rng.random(n)
    order = np.lexsort((msg_time, msg_room))
    solicit_rooms = set(range(3, 3 + max(1, rooms // 50)))
    titles = [f"room {r}" + (" 능욕방" if r in solicit_rooms else "") for r in range(rooms)]
    first_room: dict[int, int] = {}
    with (folder / "result.json").open("w", encoding="utf-8") as out:
        out.write('{"about": "generated benchmark export", "chats": {"about": "", "list": [')
        current = -1
        mid = 0
        for pos, index in enumerate(order):
            room = int(msg_room[index])
            if room != current:
                if current >= 0:
                    out.write("]},")
                out.write(json.dumps({"name": titles[room], "type": "private_group",
                                      "id": 1000 + room}, ensure_ascii=False)[:-1]
                          + ', "messages": [')
                current, mid = room, 0
            else:
                out.write(",")
            mid += 1
            when = float(msg_time[index])
            user = int(msg_user[index])
            msg: dict[str, Any] = {"id": mid, "type": "message",
                                   "date": datetime.fromtimestamp(when, UTC).strftime(
                                       "%Y-%m-%dT%H:%M:%S"),
                                   "date_unixtime": str(int(when)), "from": f"User {user}",
                                   "from_id": f"user{user}", "text": ""}
            k = float(kind[index])
            if k < 0.06:  # an item: first posted somewhere, later forwarded elsewhere
                item = int(rng.zipf(1.6)) % items
                msg["photo"] = f"photos/item{item}_v{int(rng.integers(variants))}.jpg"
                origin = first_room.setdefault(item, room)
                if origin != room:
                    msg["forwarded_from"] = titles[origin]
            elif k < 0.08:
                msg["photo"] = f"photos/photo{int(rng.integers(photos))}.jpg"
            elif room in solicit_rooms and k < 0.3:
                msg["text"] = SOLICIT[int(rng.integers(len(SOLICIT)))]
            else:
                msg["text"] = CHATTER[int(rng.integers(len(CHATTER)))]
                if mid > 1 and k > 0.9:  # a tenth of the chatter answers a recent message
                    msg["reply_to_message_id"] = max(1, mid - int(rng.integers(1, 20)))
            out.write(json.dumps(msg, ensure_ascii=False))
            del pos
        out.write("]}]}}")
    return {"messages": n, "rooms": rooms, "users": users, "items": items,
            "files": items * variants + photos, "seconds": round(time.perf_counter() - t0, 1),
            "bytes": (folder / "result.json").stat().st_size}


def _engine(folder: Path) -> Any:
    from haechi.engine import Engine

    return Engine(data_dir=folder / "store")


def ingest(folder: Path) -> dict[str, Any]:
    from haechi.tracking import TrackingService

    eng = _engine(folder)
    if "known" not in {b.name for b in eng.list_banks()}:
        eng.create_bank("known")
        for path in sorted((folder / "photos").glob("item*_v0.jpg"))[::3]:
            eng.add_media("known", path.read_bytes())
    t0 = time.perf_counter()
    report = TrackingService(eng).ingest(folder)
    seconds = time.perf_counter() - t0
    eng.close()
    return {"seconds": round(seconds, 1), "messages_per_s": round(report.messages_read / seconds),
            "added": report.added, "duplicates": report.duplicates,
            "media_new": report.media_new, "media_flagged": report.media_flagged,
            "skipped": report.skipped_count, "peak_rss_mib": round(_peak_mib())}


def analyse(folder: Path) -> dict[str, Any]:
    from haechi.tracking import TrackingService

    eng = _engine(folder)
    tracking = TrackingService(eng)
    t0 = time.perf_counter()
    result = tracking.analyse()
    t1 = time.perf_counter()
    page = tracking.report_html(analysis=result)
    (folder / "report.html").write_text(page, "utf-8")
    t2 = time.perf_counter()
    eng.close()
    return {"analyse_seconds": round(t1 - t0, 1), "report_seconds": round(t2 - t1, 1),
            "report_bytes": len(page.encode()), "clusters": len(result.clusters),
            "flagged_clusters": sum(c.flagged for c in result.clusters),
            "users": len(result.users), "network_nodes": result.network.nodes,
            "communities": len(result.network.communities),
            "top_room": result.rooms[0].title, "top_room_score": result.rooms[0].risk_score,
            "peak_rss_mib": round(_peak_mib())}


def _phase(name: str, folder: Path, extra: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--phase", name, "--folder", str(folder),
                          *extra], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{name}: {result}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--phase", choices=("generate", "ingest", "analyse"))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.phase:
        folder: Path = args.folder
        if args.phase == "generate":
            result = generate(folder, args.messages, args.seed)
        else:
            result = ingest(folder) if args.phase == "ingest" else analyse(folder)
        print(json.dumps(result))
        return
    folder = ROOT / "benchmarks" / ".data" / f"tracking-{args.messages}"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    results = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                    "platform": platform.platform()},
        "generate": _phase("generate", folder, ["--messages", str(args.messages),
                                                "--seed", str(args.seed)]),
        "ingest": _phase("ingest", folder, []),
        "reingest": _phase("ingest", folder, []),
        "analyse": _phase("analyse", folder, []),
    }
    text = json.dumps(results, indent=1, ensure_ascii=False)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", "utf-8")


if __name__ == "__main__":
    main()
