#!/usr/bin/env python
"""Evasion benchmark: recall on edited copies, false matches on hard negatives, cost,
and the region index's memory and query time at scale.

* Recall: banks real portraits (../shared/datasets/faces-real/utkface-adults), synthetic
  faces (faces-synthetic/stylegan3), generated scenes (generated-with-metadata/comfyui)
  and neutral images drawn in code through ``Engine.add_media``, applies every transform
  of ``benchmarks/evasion/transforms.py`` to each, scans the copies with
  ``Engine.scan_bytes`` and counts a copy as caught when a match names its own entry: by
  the whole-image layers alone (exact digests, PDQ at 31) and by both layers.
* Hard negatives: N portraits, each banked and each scanned through the region layer
  (``find_region_matches``: every candidate from the index, then the verification): every
  match to another file is listed by name; N x (N - 1) ordered pairs. Plus the
  distribution of the nearest other photograph's face crop, and edited neutral images
  that were never banked, scanned against the recall bank.
* Cost: per scan, total time with both layers against the same scan's time without the
  region layer's share (the layer runs only when the whole-image layers found nothing,
  so clean copies pay nothing), on the edited copies and on uploads matching nothing.
* Scale: region index memory and query time with synthetic random hashes (6 content-box
  regions and 1 face per entry, in the two indexes the layer keeps) at the sizes asked.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_evasion.py --faces 200 --synthetic 100 \\
        --generated 9 --neutral 100 --negatives 10000 --unrelated 300 \\
        --sheet /tmp/pairs.png --output benchmarks/results/evasion.json \\
        --markdown benchmarks/results/evasion.md
    .venv/bin/python benchmarks/bench_evasion.py --scale-only --scale 1000000 \\
        --scale 10000000 --output benchmarks/results/evasion_scale.json \\
        --markdown benchmarks/results/evasion_scale.md

The datasets are read from ../shared/datasets (never copied); ``--sheet`` writes dataset
images, so it must point outside the repository.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchmarks.evasion.transforms import TRANSFORMS, apply  # noqa: E402

from _report import write_outputs  # noqa: E402
from haechi.banks.service import NewEntry  # noqa: E402
from haechi.engine import Engine  # noqa: E402
from haechi.index.bits import hex_to_row  # noqa: E402
from haechi.index.pdq_index import PdqIndex  # noqa: E402
from haechi.regions.extract import Regions, compute_regions  # noqa: E402
from haechi.regions.match import RETRIEVE_THRESHOLD, find_region_matches  # noqa: E402
from haechi.regions.service import store_regions  # noqa: E402
from haechi.regions.windows import FACE_SLOTS  # noqa: E402
from haechi.samples import encode, make_image  # noqa: E402
from haechi.signals.pdq import pdq_of_rgb  # noqa: E402
from haechi.store.models import Bank  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
FACES = DATASETS / "faces-real" / "utkface-adults"
SYNTHETIC_FACES = DATASETS / "faces-synthetic" / "stylegan3"
GENERATED = DATASETS / "generated-with-metadata" / "comfyui"


def _named_images(folder: Path, count: int, seed: int) -> list[tuple[str, Image.Image]]:
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    if not paths:
        raise SystemExit(f"needs the dataset at {folder}")
    picked = random.Random(seed).sample(paths, min(count, len(paths)))
    out = []
    for p in picked:
        img = Image.open(p).convert("RGB")
        img.thumbnail((1024, 1024))
        out.append((p.name, img))
    return out


def _images(folder: Path, count: int, seed: int) -> list[Image.Image]:
    return [img for _name, img in _named_images(folder, count, seed)]


def _faces(count: int, seed: int) -> list[Image.Image]:
    return _images(FACES, count, seed)


def _pdq_entry(engine: Engine, bank: str, img: Image.Image) -> int | None:
    added = engine.add_media(bank, encode(img, "PNG"))
    return next((e.id for e in added if e.signal == "pdq"), None)


def recall(engine: Engine, faces: int, synthetic: int, generated: int,
           neutral: int) -> dict[str, Any]:
    engine.create_bank("known")
    sets = {"faces": _faces(faces, 1),
            "synthetic_faces": _images(SYNTHETIC_FACES, synthetic, 1),
            "generated": _images(GENERATED, generated, 1),
            "neutral": [make_image(s) for s in range(neutral)]}
    out: dict[str, Any] = {}
    costs: list[tuple[float, float]] = []
    per_set_cost: dict[str, dict[str, float]] = {}
    for label, images in sets.items():
        entries = [_pdq_entry(engine, "known", img) for img in images]
        set_start = len(costs)
        per: dict[str, dict[str, float]] = {}
        for name in TRANSFORMS:
            whole = both = total = 0
            for k, (img, entry) in enumerate(zip(images, entries, strict=True)):
                if entry is None:
                    continue
                result = engine.scan_bytes(encode(apply(name, img, k), "JPEG"))
                total += 1
                mine = [m for m in result.matches if m.entry_id == entry]
                whole += any(m.layer is None for m in mine)
                both += bool(mine)
                t = result.timings_ms
                region_share = t.get("regions_hash_ms", 0.0) + t.get("regions_match_ms", 0.0)
                costs.append((t["total_ms"], t["total_ms"] - region_share))
            per[name] = {"copies": total, "whole_recall": whole / max(total, 1),
                         "both_recall": both / max(total, 1)}
        set_costs = costs[set_start:]
        if set_costs:
            per_set_cost[label] = _cost(set_costs)
        copies = sum(p["copies"] for p in per.values())
        out[label] = {
            "per_transform": per,
            "whole_recall": sum(p["whole_recall"] * p["copies"] for p in per.values()) / copies,
            "both_recall": sum(p["both_recall"] * p["copies"] for p in per.values()) / copies,
            "copies": copies,
        }
    out["cost_per_set"] = per_set_cost
    for key in ("whole_recall", "both_recall"):
        out[key] = (sum(out[k][key] * out[k]["copies"] for k in sets)
                    / sum(out[k]["copies"] for k in sets))
    out["cost"] = _cost(costs)
    return out


def _cost(costs: list[tuple[float, float]]) -> dict[str, float]:
    """Mean scan time with both layers and without the region layer's share."""
    both = statistics.fmean(c[0] for c in costs)
    whole = statistics.fmean(c[1] for c in costs)
    return {"scans": len(costs), "mean_both_ms": both, "mean_whole_ms": whole,
            "ratio": both / whole}


def negatives(engine: Engine, count: int, sheet: Path | None = None) -> dict[str, Any]:
    """Every portrait against every other one, through the index and the verification.

    Pairs that the whole-image layer already matches (PDQ <= 31: the same photograph
    twice in the dataset) are duplicates, not region false matches, and are counted apart.
    Every other match is listed by file name (the dataset holds some photographs twice
    under different names, re-cropped or mirrored: those matches are right, and only
    looking tells them from false ones); ``sheet`` writes the pairs side by side there,
    outside the repository, for that look.
    """
    engine.create_bank("people")
    named = _named_images(FACES, count, 2)
    names = [n for n, _img in named]
    people = [img for _n, img in named]
    t0 = time.perf_counter()
    regions = [compute_regions(np.asarray(img), mirror=True) for img in people]
    hashes = [pdq_of_rgb(np.asarray(img)) for img in people]
    hash_s = time.perf_counter() - t0
    report = engine.add_hashes("people", [NewEntry("pdq", h, q) for h, q in hashes],
                               return_entries=True)
    entries = {e.value: e for e in report.entries}
    entry_of = {value: e.id for value, e in entries.items()}
    with engine.db.session() as s:
        for (value, _q), reg in zip(hashes, regions, strict=True):
            entry = entries.pop(value, None)  # an identical hash twice: one entry
            if entry is not None:
                store_regions(s, [entry], reg)
    engine.indexes.refresh(force=True)
    engine.regions.index.refresh(force=True)
    false: list[tuple[int, int, float]] = []
    name_of = {entry_of[value]: name for (value, _q), name in zip(hashes, names, strict=True)}
    duplicates = 0
    t0 = time.perf_counter()
    with engine.db.session() as s:
        banks = {b.id: b for b in s.scalars(select(Bank))}
        for (value, _q), reg in zip(hashes, regions, strict=True):
            own = entry_of[value]
            same_photo = set(engine.indexes.query_pdq([value], 31)) | {own}
            for m in find_region_matches(s, engine.regions.index, banks, reg):
                if m.entry_id in same_photo:
                    duplicates += m.entry_id != own
                    continue
                false.append((own, m.entry_id, m.score or 0))
    match_s = time.perf_counter() - t0
    nearest_face, close = _nearest_other_face(regions, hashes)
    pairs = sorted({tuple(sorted((name_of[a], name_of[b]))) for a, b, _s in false})
    if sheet is not None:
        _contact_sheet(sheet, pairs)
    scanned = len(people)
    histogram = np.bincount(np.minimum(np.asarray(nearest_face, dtype=np.int64), 64),
                            minlength=65)
    return {"people": scanned, "ordered_pairs": scanned * (scanned - 1),
            "region_matches_between_files": len(false),
            "matched_file_pairs": [list(p) for p in pairs],
            "close_face_pairs": [[names[a], names[b], d] for a, b, d in close],
            "duplicate_photos_matched": duplicates,
            "with_face": len(nearest_face),
            "nearest_other_face_min": int(min(nearest_face)) if nearest_face else None,
            "nearest_other_face_percentiles": {
                str(p): float(np.percentile(nearest_face, p)) for p in (0.1, 1, 5, 50)
            } if nearest_face else {},
            "nearest_other_face_at_most": {
                str(t): int(np.sum(np.asarray(histogram)[:t + 1])) for t in (28, 32, 40, 48)
            } if nearest_face else {},
            "hash_s": hash_s, "match_s": match_s}


def _nearest_other_face(regions: list[Regions], hashes: list[tuple[str, int]],
                        close_below: int = 40) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Per portrait with a face: PDQ distance to the nearest face crop of another
    photograph (brute force over all pairs; same photographs twice are left out), and
    the pairs of portraits (indexes) whose face crops are within ``close_below``."""
    owners = [i for i, reg in enumerate(regions) for w in reg.usable if w.slot in FACE_SLOTS]
    if not owners:
        return [], []
    faces = np.stack([hex_to_row(w.hash) for reg in regions for w in reg.usable
                      if w.slot in FACE_SLOTS]).view(np.uint64)
    whole = np.stack([hex_to_row(h) for h, _q in hashes]).view(np.uint64)
    own = np.asarray(owners)
    nearest = np.full(len(regions), 257, dtype=np.int64)
    close: set[tuple[int, int, int]] = set()
    for start in range(0, len(faces), 512):
        block = faces[start:start + 512]
        dist = np.bitwise_count(block[:, None, :] ^ faces[None, :, :]).sum(axis=2)
        who = own[start:start + 512]
        same = np.bitwise_count(whole[who][:, None, :] ^ whole[own][None, :, :]).sum(axis=2)
        dist[same <= 31] = 257  # the same photograph (itself, or twice in the dataset)
        np.minimum.at(nearest, who, dist.min(axis=1))
        for r, c in zip(*np.nonzero(dist <= close_below), strict=True):
            a, b = sorted((int(who[r]), int(own[c])))
            close.add((a, b, int(dist[r, c])))
    return [int(d) for d in nearest if d <= 256], sorted(close, key=lambda t: t[2])


def _contact_sheet(path: Path, pairs: list[tuple[str, ...]]) -> None:
    if not pairs:
        return
    sheet = Image.new("RGB", (400, 200 * len(pairs)))
    for row, (a, b) in enumerate(pairs):
        for col, name in enumerate((a, b)):
            sheet.paste(Image.open(FACES / name).convert("RGB").resize((200, 200)),
                        (200 * col, 200 * row))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def unrelated(engine: Engine, count: int) -> dict[str, Any]:
    """Edited neutral images that were never banked, against the recall bank."""
    names = list(TRANSFORMS)
    hits = 0
    costs = []
    for seed in range(count):
        img = apply(names[seed % len(names)], make_image(10_000 + seed), seed)
        result = engine.scan_bytes(encode(img, "JPEG"))
        hits += bool(result.matches)
        t = result.timings_ms
        share = t.get("regions_hash_ms", 0.0) + t.get("regions_match_ms", 0.0)
        costs.append((t["total_ms"], t["total_ms"] - share))
    return {"scans": count, "false_matches": hits, "cost": _cost(costs) if costs else {}}


def scale(sizes: list[int]) -> list[dict[str, Any]]:
    """Region index memory and query time with synthetic random hashes: per entry 6
    content-box regions and one face (two indexes, as the region index keeps them)."""
    rng = np.random.default_rng(7)
    rows = []
    for entries in sizes:
        built = []
        t0 = time.perf_counter()
        for per_entry in (6, 1):
            codes = rng.integers(0, 256, size=(entries * per_entry, 32), dtype=np.uint8)
            built.append((PdqIndex.build(codes, np.arange(len(codes), dtype=np.int64)), codes))
        build_s = time.perf_counter() - t0
        (boxes, box_codes), (faces, face_codes) = built
        # One scan: 6 windows and 1 face, each also mirrored; queries near stored rows.
        box_q = box_codes[rng.integers(0, len(box_codes), size=12)].copy()
        face_q = face_codes[rng.integers(0, len(face_codes), size=2)].copy()
        for q in (box_q, face_q):
            q[:, :3] ^= rng.integers(0, 256, size=(len(q), 3), dtype=np.uint8)
        del built, box_codes, face_codes

        _one_scan(boxes, box_q, faces, face_q)
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            _one_scan(boxes, box_q, faces, face_q)
        query_ms = (time.perf_counter() - t0) / reps * 1000
        memory = boxes.memory_bytes() + faces.memory_bytes()
        rows.append({"entries": entries, "region_hashes": len(boxes) + len(faces),
                     "memory_gb": memory / 1e9, "bytes_per_entry": memory / entries,
                     "build_s": build_s, "query_ms_per_scan": query_ms})
        del boxes, faces
    return rows


def _one_scan(boxes: PdqIndex, box_q: np.ndarray, faces: PdqIndex,
              face_q: np.ndarray) -> None:
    boxes.query_many(box_q, RETRIEVE_THRESHOLD)
    faces.query_many(face_q, 28)


def _scale_lines(rows: list[dict[str, Any]], command: str | None) -> list[str]:
    lines = [f"Command: `{command}`", ""] if command else []
    lines += ["Region index at scale (synthetic uniform random hashes: 6 content-box "
              "regions and 1 face per entry; one scan = 12 content-box queries at "
              "distance 15 and 2 face queries at 28; verification from the store not "
              "included):", "",
              "| entries | region hashes | memory | bytes/entry | build | query per scan |",
              "|---|---|---|---|---|---|"]
    for s in rows:
        lines.append(f"| {s['entries']:,} | {s['region_hashes']:,} | "
                     f"{s['memory_gb']:.2f} GB | {s['bytes_per_entry']:.0f} | "
                     f"{s['build_s']:.1f} s | {s['query_ms_per_scan']:.1f} ms |")
    return lines


def markdown(report: dict[str, Any], command: str) -> str:
    r = report["recall"]
    lines = ["## Evasion-robust matching (region layer)", "",
             f"Command: `{command}`", "",
             "| set | transform | copies | whole-image recall | both layers recall |",
             "|---|---|---|---|---|"]
    for label in ("faces", "synthetic_faces", "generated", "neutral"):
        for name, p in r[label]["per_transform"].items():
            lines.append(f"| {label} | {name} | {p['copies']} | {p['whole_recall']:.0%} | "
                         f"{p['both_recall']:.0%} |")
        lines.append(f"| {label} | **all** | {r[label]['copies']} | "
                     f"**{r[label]['whole_recall']:.0%}** | **{r[label]['both_recall']:.0%}** |")
    c = r["cost"]
    n = report["negatives"]
    u = report["unrelated"]
    per_set = "; ".join(f"{k} {v['mean_both_ms']:.1f} vs {v['mean_whole_ms']:.1f} ms "
                        f"({v['ratio']:.2f}x)" for k, v in r["cost_per_set"].items())
    miss = u.get("cost") or {}
    lines += ["", f"All edited copies: **{r['whole_recall']:.1%}** caught by the whole-image "
              f"layers alone, **{r['both_recall']:.1%}** with the region layer.",
              "", f"Scan cost on the {c['scans']} edited copies: {c['mean_both_ms']:.1f} ms "
              f"with both layers vs {c['mean_whole_ms']:.1f} ms for the whole-image layers "
              f"alone in the same scans: ratio {c['ratio']:.2f}x (per set: {per_set}). "
              f"Uploads that match nothing ({miss.get('scans', 0)} edited neutral images "
              f"never banked): {miss.get('mean_both_ms', 0):.1f} ms vs "
              f"{miss.get('mean_whole_ms', 0):.1f} ms, {miss.get('ratio', 0):.2f}x.", "",
              f"Hard negatives: {n['people']} portraits, {n['ordered_pairs']:,} ordered pairs, "
              "each portrait scanned through the region layer (every candidate the index "
              f"returns, then the verification): **{n['region_matches_between_files']}** "
              f"region matches between different files, i.e. {len(n['matched_file_pairs'])} "
              f"pairs of files: {n['matched_file_pairs']} (listed for inspection: the dataset "
              "holds some photographs twice under different names); "
              f"{n['duplicate_photos_matched']} more were the same photograph twice "
              "(whole-image PDQ <= 31), not counted. Nearest other photograph's face "
              f"crop (PDQ distance, {n['with_face']} portraits with a face): minimum "
              f"{n['nearest_other_face_min']}, percentiles "
              f"{n['nearest_other_face_percentiles']}; portraits with another photograph's face "
              f"within 28/32/40/48: {n['nearest_other_face_at_most']}. "
              f"Unrelated images: {u['false_matches']} of {u['scans']} edited neutral images "
              "that were never banked matched anything.", ""]
    if report["scale"]:
        lines += _scale_lines(report["scale"], None)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100, help="banked portraits")
    parser.add_argument("--synthetic", type=int, default=50, help="banked synthetic faces")
    parser.add_argument("--generated", type=int, default=9, help="banked generated scenes")
    parser.add_argument("--neutral", type=int, default=50, help="banked neutral images")
    parser.add_argument("--negatives", type=int, default=1000,
                        help="different people scanned against each other")
    parser.add_argument("--unrelated", type=int, default=200,
                        help="edited neutral images never banked")
    parser.add_argument("--scale", type=int, action="append", default=[],
                        help="bank entries for the scale figures (repeatable)")
    parser.add_argument("--sheet", type=Path,
                        help="write the matched hard-negative pairs side by side here "
                        "(outside the repository: dataset images)")
    parser.add_argument("--scale-only", action="store_true",
                        help="only the scale figures (no datasets needed)")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    command = "python benchmarks/bench_evasion.py " + " ".join(sys.argv[1:])
    if args.scale_only:
        rows = scale(args.scale)
        write_outputs({"scale": rows}, "\n".join(_scale_lines(rows, command)) + "\n",
                      output=args.output, markdown=args.markdown)
        return
    with tempfile.TemporaryDirectory() as tmp:
        with Engine(data_dir=Path(tmp) / "a", database_url=f"sqlite:///{tmp}/a.db") as eng:
            rec = recall(eng, args.faces, args.synthetic, args.generated, args.neutral)
            unrel = unrelated(eng, args.unrelated)
        with Engine(data_dir=Path(tmp) / "b", database_url=f"sqlite:///{tmp}/b.db") as eng:
            neg = negatives(eng, args.negatives, args.sheet)
    report = {"recall": rec, "unrelated": unrel, "negatives": neg,
              "scale": scale(args.scale)}
    write_outputs(report, markdown(report, command), output=args.output,
                  markdown=args.markdown)


if __name__ == "__main__":
    main()
