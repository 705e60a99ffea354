"""Telegram connector speed: updates handled per second end to end against the local
Bot API stand-in, and the time from an update to its deleteMessage.

Scenarios (each on a fresh store, ``--updates`` updates of generated 640x480 JPEGs):

* ``clean``: every post is a new harmless image: getFile, download, scan, publish;
* ``known``: every post is a banked image under a new file_unique_id: download, scan,
  delete, warn in the chat and privately (each sender posts once, so nobody is banned);
* ``fast path``: every post re-uses the file_unique_id of a removed file: no download,
  the stored hashes are matched again, then delete and warn.

Baseline, same images, same run: ``Engine.scan_bytes`` (the bare scan, measured just
before each scenario) and ``moderate_upload`` (scan + policy + records) called directly.
The ratio of the bot's rate to the bare scan rate is the connector's overhead (HTTP to
the stand-in, the download, the update and action records).

    .venv/bin/python benchmarks/bench_telegram.py --updates 300 \\
        --markdown benchmarks/results/telegram.md --output benchmarks/results/telegram.json
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "telegram"))

from telegram_standin import TOKEN, StandIn

from _report import write_outputs
from haechi.engine import Engine
from haechi.samples import encode, make_image
from haechi.telegram.bot import ModerationBot
from haechi.telegram.client import make_bot
from haechi.telegram.settings import TelegramSettings

GROUP = -1001000000001
BANKED = 20


def photo(message_id: int, user_id: int, file_id: str, unique: str) -> dict[str, Any]:
    return {"message_id": message_id, "date": 1764000000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "bench"},
            "from": {"id": user_id, "is_bot": False, "first_name": f"u{user_id}"},
            "photo": [{"file_id": file_id, "file_unique_id": unique, "width": 640,
                       "height": 480, "file_size": 40_000}]}


async def run_scenario(engine: Engine, name: str, updates: int, clean: list[bytes],
                       known: list[bytes]) -> dict[str, Any]:
    standin = StandIn()
    await standin.start()
    settings = TelegramSettings(token=TOKEN, api_url=standin.url, polling_timeout_s=0)
    runtime = ModerationBot(engine, settings, make_bot(settings))
    try:
        await runtime.start()
        if name == "fast path":
            # Each banked file removed once (downloaded), before the clock starts.
            for n, data in enumerate(known):
                standin.push(photo(n + 1, 10_000 + n, *standin.add_file(data, unique=f"K{n}")))
            while await runtime.poll_once():
                pass
        started: dict[int, float] = {}
        real = runtime.handle_raw

        async def timed(raw: Any) -> None:
            started[raw["message"]["message_id"]] = time.perf_counter()
            await real(raw)

        runtime.handle_raw = timed  # type: ignore[method-assign]
        base = 100_000
        for n in range(updates):
            if name == "clean":
                file_id, unique = standin.add_file(clean[n % len(clean)], unique=f"C{n}")
            elif name == "known":
                file_id, unique = standin.add_file(known[n % len(known)], unique=f"N{n}")
            else:
                unique = f"K{n % len(known)}"
                file_id = f"forward-{n}"
            standin.push(photo(base + n, 20_000 + n, file_id, unique))
        downloads_before = len(standin.downloads)
        t0 = time.perf_counter()
        while await runtime.poll_once():
            pass
        elapsed = time.perf_counter() - t0
        deletes = {int(c.params["message_id"]): c.at for c in standin.calls
                   if c.method == "deleteMessage" and int(c.params["message_id"]) >= base}
        latencies = sorted((deletes[m] - started[m]) * 1000 for m in deletes)
        row: dict[str, Any] = {"scenario": name, "updates": updates,
                               "seconds": round(elapsed, 3),
                               "updates_per_s": round(updates / elapsed, 1),
                               "deleted": len(deletes),
                               "downloads": len(standin.downloads) - downloads_before}
        if latencies:
            row["p50_ms"] = round(statistics.median(latencies), 1)
            row["p99_ms"] = round(latencies[min(len(latencies) - 1,
                                                int(len(latencies) * 0.99))], 1)
        return row
    finally:
        await runtime.bot.session.close()
        await standin.stop()


def bare_scan_rate(engine: Engine, images: list[bytes], count: int) -> float:
    t0 = time.perf_counter()
    for n in range(count):
        engine.scan_bytes(images[n % len(images)])
    return count / (time.perf_counter() - t0)


def bare_moderate_rate(engine: Engine, images: list[bytes], count: int) -> float:
    t0 = time.perf_counter()
    for n in range(count):
        engine.moderation.moderate_upload(images[n % len(images)], user_id=f"b{n}",
                                          room_id="bench")
    return count / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    clean = [encode(make_image(5000 + n)) for n in range(50)]
    known = [encode(make_image(9000 + n)) for n in range(BANKED)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        with Engine(data_dir=Path(folder) / "warm-up") as engine:
            # First use loads codecs and libraries: keep that out of every figure.
            bare_scan_rate(engine, clean, 10)
            bare_moderate_rate(engine, clean, 10)
        for name in ("clean", "known", "fast path"):
            data_dir = Path(folder) / name.replace(" ", "_")
            with Engine(data_dir=data_dir) as engine:
                engine.create_bank("known", kind="block")
                for data in known:
                    engine.add_media("known", data)
                # The baseline right before the scenario, on its images: the machine is
                # shared, so a baseline taken minutes apart would not compare.
                images = clean if name == "clean" else known
                count = min(args.updates, 100)
                scan_rate = bare_scan_rate(engine, images, count)
                with Engine(data_dir=data_dir.with_name(data_dir.name + "_bare")) as bare:
                    bare.create_bank("known", kind="block")
                    for data in known:
                        bare.add_media("known", data)
                    moderate_rate = bare_moderate_rate(bare, images, count)
                row = asyncio.run(run_scenario(engine, name, args.updates, clean, known))
                row["bare_scan_per_s"] = round(scan_rate, 1)
                row["moderate_upload_per_s"] = round(moderate_rate, 1)
                row["ratio_to_bare_scan"] = round(row["updates_per_s"] / scan_rate, 2)
                row["ratio_to_moderate_upload"] = round(row["updates_per_s"] / moderate_rate, 2)
                rows.append(row)
    report = {"machine": platform.processor() or platform.machine(), "python":
              platform.python_version(), "sqlite": True, "scenarios": rows}
    lines = [
        "## Telegram connector",
        "",
        f"`python benchmarks/bench_telegram.py --updates {args.updates}`, SQLite, "
        "local Bot API stand-in on 127.0.0.1, generated 640x480 JPEGs, detection off. "
        "Baselines on the same images, measured just before each scenario: the bare "
        "`Engine.scan_bytes`, and `moderate_upload` called directly (scan + policy + "
        "records, no Telegram).",
        "",
        "| scenario | updates/s | bare scan/s | ratio | moderate_upload/s | ratio | "
        "downloads | deleted | p50 update->delete | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['updates_per_s']} | {r['bare_scan_per_s']} | "
                     f"{r['ratio_to_bare_scan']}x | {r['moderate_upload_per_s']} | "
                     f"{r['ratio_to_moderate_upload']}x | {r['downloads']} | {r['deleted']} | "
                     f"{r.get('p50_ms', '-')} ms | {r.get('p99_ms', '-')} ms |")
    write_outputs(report, "\n".join(lines) + "\n", output=args.output,
                  markdown=args.markdown)


if __name__ == "__main__":
    main()
