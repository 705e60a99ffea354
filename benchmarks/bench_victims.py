#!/usr/bin/env python
"""Victims: the hashing page's PDQ in Chromium against the reference ``pdqhash``, and a
case's life (open, block, withdraw) on SQLite.

In-browser: generated neutral JPEGs are hashed by ``src/haechi/victims/static/hash.html``
opened from disk in Debian's headless Chromium (Playwright); the time is from handing the
files to the page until it reports all of them done (decode + PDQ + MD5). The reference
is ``pdqhash.compute`` on Pillow's decode of the same bytes, plus ``hashlib.md5``, in this
process. Agreement is the Hamming distance between the two PDQ hashes.

Cases: ``VictimsService.submit`` (argon2id of the PIN + bank entries), a scan of a
recompressed copy on a second engine over the same store, ``withdraw``, and the time until
that second engine allows the copy (it reads the change feed on its next refresh).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_victims.py --images 30
    .venv/bin/python benchmarks/bench_victims.py --images 30 --output r.json --markdown r.md
"""

from __future__ import annotations

import argparse
import hashlib
import io
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "victims"))

from victims_helpers import recompressed  # noqa: E402

from _report import write_outputs  # noqa: E402
from fixtures_media import encode, make_photo  # noqa: E402
from haechi.engine import Engine  # noqa: E402
from haechi.signals.pdq import bits_to_hex, hamming  # noqa: E402
from haechi.victims import VictimsService  # noqa: E402
from haechi.victims.schemas import CaseRequest, HashIn, ItemIn  # noqa: E402

PAGE = ROOT / "src/haechi/victims/static/hash.html"
CHROMIUM = "/usr/bin/chromium"


def browser_hashes(paths: list[Path]) -> tuple[float, list[list[dict[str, Any]]]]:
    import json

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto(PAGE.as_uri())
        started = time.perf_counter()
        page.set_input_files("#pick", [str(x) for x in paths])
        page.wait_for_selector(f"#progress[data-done='{len(paths)}']", timeout=600_000)
        seconds = time.perf_counter() - started
        raw = page.eval_on_selector_all("#files li", "els => els.map(e => e.dataset.hashes)")
        browser.close()
    return seconds, [json.loads(r) for r in raw]


def reference(blobs: list[bytes]) -> tuple[float, list[tuple[str, int, str]]]:
    started = time.perf_counter()
    out = []
    for data in blobs:
        rgb = np.ascontiguousarray(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
        bits, quality = pdqhash.compute(rgb)
        out.append((bits_to_hex(bits), int(quality), hashlib.md5(data).hexdigest()))
    return time.perf_counter() - started, out


def page_vs_reference(n: int, size: tuple[int, int], folder: Path) -> dict[str, Any]:
    blobs = [encode(make_photo(1000 + i, size, noise=6.0), "jpeg") for i in range(n)]
    paths = []
    for i, data in enumerate(blobs):
        path = folder / f"{size[0]}x{size[1]}-{i}.jpg"
        path.write_bytes(data)
        paths.append(path)
    page_s, page = browser_hashes(paths)
    ref_s, ref = reference(blobs)
    distances, md5_ok = [], 0
    for got, (pdq, _quality, md5) in zip(page, ref, strict=True):
        by = {h["signal"]: h for h in got}
        distances.append(hamming(by["pdq"]["value"], pdq))
        md5_ok += by["md5"]["value"] == md5
    return {"size": f"{size[0]}x{size[1]}", "images": n,
            "page_ms_per_image": round(page_s * 1000 / n, 1),
            "reference_ms_per_image": round(ref_s * 1000 / n, 1),
            "hamming_mean": round(statistics.mean(distances), 2),
            "hamming_max": max(distances), "md5_equal": md5_ok}


def case_life(folder: Path, rounds: int) -> dict[str, Any]:
    first = Engine(data_dir=folder / "data")
    second = Engine(data_dir=folder / "data")
    victims = VictimsService(first)
    submit, withdraw, until_blocked, until_allowed = [], [], [], []
    for i in range(rounds):
        data = encode(make_photo(2000 + i, (640, 480), noise=6.0), "jpeg")
        rgb = np.ascontiguousarray(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
        bits, quality = pdqhash.compute(rgb)
        request = CaseRequest(items=[ItemIn(kind="image", hashes=[
            HashIn(signal="pdq", value=bits_to_hex(bits), quality=int(quality)),
            HashIn(signal="md5", value=hashlib.md5(data).hexdigest())])])
        t = time.perf_counter()
        receipt = victims.submit(request=request)
        submit.append(time.perf_counter() - t)
        copy = recompressed(data)
        t = time.perf_counter()
        while second.scan_bytes(copy).decision != "block":
            time.sleep(0.01)
        until_blocked.append(time.perf_counter() - t)
        t = time.perf_counter()
        victims.withdraw(number=receipt.case_number, pin=receipt.pin)
        withdraw.append(time.perf_counter() - t)
        t = time.perf_counter()
        while second.scan_bytes(copy).decision != "allow":
            time.sleep(0.01)
        until_allowed.append(time.perf_counter() - t)
    first.close()
    second.close()
    ms = lambda xs: round(statistics.median(xs) * 1000, 1)  # noqa: E731
    return {"rounds": rounds, "submit_ms_median": ms(submit),
            "withdraw_ms_median": ms(withdraw),
            "second_engine_blocks_after_ms_median": ms(until_blocked),
            "second_engine_blocks_after_ms_max": round(max(until_blocked) * 1000, 1),
            "second_engine_allows_after_ms_median": ms(until_allowed),
            "second_engine_allows_after_ms_max": round(max(until_allowed) * 1000, 1)}


FACES = ROOT.parent / "shared" / "datasets" / "faces-real" / "utkface-adults"


def face_rates(n: int) -> dict[str, Any]:
    """False-match rate of the face alert's threshold: pairs of different pictures of the
    shared face set (UTKFace adults: one picture per person as far as its labels tell, so a
    match between two is taken as false; a repeated person would make this an upper
    bound). Beside it, how often the same picture, recompressed and mirrored, still
    matches (a stand-in for a true match: the set has no second photo of anyone)."""
    from haechi.detection.faces import DlibFaceDetector
    from haechi.victims.faces import FACE_THRESHOLD

    detector = DlibFaceDetector()
    originals, copies = [], []
    for path in sorted(FACES.iterdir())[:n]:
        img = Image.open(path).convert("RGB")
        a = detector.faces(np.asarray(img), embed=True)
        b = detector.faces(np.asarray(Image.open(io.BytesIO(encode(
            img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "jpeg", quality=50)))), embed=True)
        if len(a) == 1 and len(b) == 1:
            originals.append(a[0].embedding)
            copies.append(b[0].embedding)
    emb = np.asarray(originals)
    dist = np.linalg.norm(emb[:, None, :] - emb[None, :, :], axis=2)
    pairs = dist[np.triu_indices(len(emb), k=1)]
    same = np.linalg.norm(emb - np.asarray(copies), axis=1)
    rates = {}
    for t in sorted({0.4, 0.45, 0.5, 0.55, 0.6, FACE_THRESHOLD}):
        rates[str(t)] = {"false_match_rate": float(np.mean(pairs < t)),
                         "same_picture_match_rate": float(np.mean(same < t))}
    return {"faces": len(emb), "pairs": len(pairs), "threshold": FACE_THRESHOLD,
            "rates": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--faces", type=int, default=0,
                        help="also measure the face alert on this many shared faces")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pages = [page_vs_reference(args.images, size, folder)
                 for size in ((640, 480), (1920, 1080))]
        life = case_life(folder, args.rounds)
    faces = face_rates(args.faces) if args.faces else None
    report = {"machine": platform.platform(), "python": platform.python_version(),
              "page": pages, "cases": life, "faces": faces}
    lines = ["## Victims: on-device hashing page and case life", "",
             f"`.venv/bin/python benchmarks/bench_victims.py --images {args.images} "
             f"--rounds {args.rounds} --faces {args.faces}` on {report['machine']}", "",
             "| JPEG size | images | page (Chromium) ms/image | pdqhash + md5 ms/image "
             "| Hamming mean | Hamming max | MD5 equal |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {p['size']} | {p['images']} | {p['page_ms_per_image']} | "
              f"{p['reference_ms_per_image']} | {p['hamming_mean']} | {p['hamming_max']} | "
              f"{p['md5_equal']}/{p['images']} |" for p in pages]
    lines += ["", "| case step (SQLite, median of "
              f"{life['rounds']}) | ms |", "|---|---|",
              f"| open a case (argon2id PIN, bank entries) | {life['submit_ms_median']} |",
              "| until a second engine on the store blocks a recompressed copy (median / "
              f"max) | {life['second_engine_blocks_after_ms_median']} / "
              f"{life['second_engine_blocks_after_ms_max']} |",
              f"| withdraw | {life['withdraw_ms_median']} |",
              "| until a second engine on the store allows the copy (median / max) | "
              f"{life['second_engine_allows_after_ms_median']} / "
              f"{life['second_engine_allows_after_ms_max']} |", ""]
    if faces:
        lines += [f"Face alert on {faces['faces']} UTKFace adults ({faces['pairs']} pairs of "
                  f"different people); the chosen threshold is {faces['threshold']}.", "",
                  "| distance below | false-match rate | same picture mirrored + JPEG q50 "
                  "matches |", "|---|---|---|"]
        lines += [f"| {t} | {r['false_match_rate']:.5f} | {r['same_picture_match_rate']:.3f} |"
                  for t, r in faces["rates"].items()]
        lines.append("")
    write_outputs(report, "\n".join(lines), output=args.output, markdown=args.markdown)


if __name__ == "__main__":
    main()
