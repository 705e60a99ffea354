#!/usr/bin/env python
"""Evasion benchmark: recall on edited copies, false matches on hard negatives, cost,
and the region index's memory and query time at scale.

* Recall: banks real portraits (../shared/datasets/faces-real/utkface-adults), synthetic
  faces (faces-synthetic/stylegan3), generated scenes (generated-with-metadata/comfyui)
  and neutral images drawn in code through ``Engine.add_media``, applies every transform
  of ``benchmarks/evasion/transforms.py`` to each, scans the copies with
  ``Engine.scan_bytes`` and counts a copy as caught when a match names its own entry: by
  the whole-image layers alone (exact digests, PDQ at 31) and by both layers.
* Hard negatives: N portraits, each banked and each scanned through both paths of the
  region layer (windows, and keypoints: every candidate from the index, then the
  verification): every match to another file is listed by name; N x (N - 1) ordered
  pairs. Plus the most keypoints any other photograph's candidate kept in the geometric
  check (how close the negatives come to the threshold), and edited neutral images that
  were never banked, scanned against the recall bank.
* Cost: per scan, total time with both layers against the same scan's time without the
  region layer's share (the layer runs only when the whole-image layers found nothing,
  so clean copies pay nothing), on the edited copies and on uploads matching nothing.
* Scale: region index memory and query time with synthetic data at the sizes asked: 6
  content-box window hashes per entry, and 2 x 64 keypoint descriptors' words per entry
  (as banked and mirrored) in the word index.

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
from functools import partial
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
from haechi.index.pdq_index import PdqIndex  # noqa: E402
from haechi.index.word_index import NWORDS, TABLES, WordIndex  # noqa: E402
from haechi.regions.content import may_have_bars  # noqa: E402
from haechi.regions.extract import compute_regions, query_keypoints  # noqa: E402
from haechi.regions.keypoints import image_keypoints  # noqa: E402
from haechi.regions.match import (  # noqa: E402
    KEYPOINT_CANDIDATES,
    RETRIEVE_THRESHOLD,
    _stored_keypoints,
    find_region_matches,
)
from haechi.regions.service import _RETRY_AREA, store_regions  # noqa: E402
from haechi.regions.verify import MIN_INLIERS, MIN_SHARE, SURE_MARGIN, verify  # noqa: E402
from haechi.samples import encode, make_image  # noqa: E402
from haechi.signals.pdq import pdq_of_rgb  # noqa: E402
from haechi.store.models import Bank  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
FACES = DATASETS / "faces-real" / "utkface-adults"
SYNTHETIC_FACES = DATASETS / "faces-synthetic" / "stylegan3"
GENERATED = DATASETS / "generated-with-metadata" / "comfyui"


def _sampled(folder: Path, count: int, seed: int) -> list[str]:
    """The file names ``_named_images`` picks for ``count`` and ``seed``."""
    paths = sorted(p.name for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    if not paths:
        raise SystemExit(f"needs the dataset at {folder}")
    return random.Random(seed).sample(paths, min(count, len(paths)))


def _named_images(folder: Path, count: int, seed: int) -> list[tuple[str, Image.Image]]:
    out = []
    for name in _sampled(folder, count, seed):
        p = folder / name
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
        if label == "faces":
            out["face_names"] = dict(zip(entries, _sampled(FACES, faces, 1), strict=True))
        set_start = len(costs)
        per: dict[str, dict[str, float]] = {}
        for name in TRANSFORMS:
            whole = both = total = by_points = 0
            for k, (img, entry) in enumerate(zip(images, entries, strict=True)):
                if entry is None:
                    continue
                result = engine.scan_bytes(encode(apply(name, img, k), "JPEG"))
                total += 1
                mine = [m for m in result.matches if m.entry_id == entry]
                whole += any(m.layer is None for m in mine)
                both += bool(mine)
                by_points += any(m.regions and m.regions[0].query_region == "keypoints"
                                 for m in mine)
                t = result.timings_ms
                costs.append((t["total_ms"], t["total_ms"] - _region_share(t)))
            per[name] = {"copies": total, "whole_recall": whole / max(total, 1),
                         "both_recall": both / max(total, 1),
                         "by_keypoints": by_points / max(total, 1)}
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


def _region_share(timings: dict[str, float]) -> float:
    return sum(timings.get(k, 0.0) for k in ("keypoints_ms", "framed_ms", "regions_ms"))


def _cost(costs: list[tuple[float, float]]) -> dict[str, float]:
    """Mean scan time with both layers and without the region layer's share."""
    both = statistics.fmean(c[0] for c in costs)
    whole = statistics.fmean(c[1] for c in costs)
    return {"scans": len(costs), "mean_both_ms": both, "mean_whole_ms": whole,
            "ratio": both / whole}


def negatives(engine: Engine, count: int, sheet: Path | None = None) -> dict[str, Any]:
    """Every portrait against every other one, through the index and the verification
    of both paths (windows and keypoints), whatever the other path found.

    The scanned portrait is itself in the bank, and a scan stops checking candidates
    that score far below a confirmed one; so the keypoint path is run here without the
    portrait's own entry (and other copies of the same photograph): the index's best
    other candidates, as many as a scan checks, each verified at the bank's threshold.

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
    people = [np.asarray(img) for _n, img in named]
    t0 = time.perf_counter()
    banked = [compute_regions(rgb, bank=True) for rgb in people]
    hashes = [pdq_of_rgb(rgb) for rgb in people]
    hash_s = time.perf_counter() - t0
    report = engine.add_hashes("people", [NewEntry("pdq", h, q) for h, q in hashes],
                               return_entries=True)
    entries = {e.value: e for e in report.entries}
    entry_of = {value: e.id for value, e in entries.items()}
    with engine.db.session() as s:
        for (value, _q), reg in zip(hashes, banked, strict=True):
            entry = entries.pop(value, None)  # an identical hash twice: one entry
            if entry is not None:
                store_regions(s, [entry], reg)
    engine.indexes.refresh(force=True)
    engine.regions.index.refresh(force=True)
    false: list[tuple[int, int, float, str]] = []
    name_of = {entry_of[value]: name for (value, _q), name in zip(hashes, names, strict=True)}
    duplicates = 0
    closest: list[int] = []
    t0 = time.perf_counter()
    with engine.db.session() as s:
        banks = {b.id: b for b in s.scalars(select(Bank))}
        for (value, _q), rgb in zip(hashes, people, strict=True):
            own = entry_of[value]
            same_photo = set(engine.indexes.query_pdq([value], 31)) | {own}
            query = compute_regions(rgb)
            for m in find_region_matches(s, engine.regions.index, banks, query):
                if m.entry_id in same_photo:
                    duplicates += m.entry_id != own
                    continue
                false.append((own, m.entry_id, m.score or 0, "windows"))
            others: dict[int, tuple[int, bool]] = {}
            for points in _scan_keypoints(rgb, query):
                for entry_id, (inliers, matched) in _other_candidates(
                        s, engine, points, same_photo).items():
                    before = others.get(entry_id, (0, False))
                    others[entry_id] = (max(before[0], inliers), before[1] or matched)
            false += [(own, entry_id, float(inliers), "keypoints")
                      for entry_id, (inliers, matched) in others.items() if matched]
            closest.append(max((i for i, _m in others.values()), default=0))
    match_s = time.perf_counter() - t0
    pairs = sorted({tuple(sorted((name_of[a], name_of[b]))) for a, b, _s, _p in false})
    if sheet is not None:
        _contact_sheet(sheet, pairs)
    scanned = len(people)
    near = np.asarray(closest)
    return {"people": scanned, "ordered_pairs": scanned * (scanned - 1),
            "region_matches_between_files": len(false),
            "by_path": {p: sum(1 for f in false if f[3] == p) for p in ("windows", "keypoints")},
            "matched_file_pairs": [list(p) for p in pairs],
            "duplicate_photos_matched": duplicates,
            "closest_other_inliers_max": int(near.max()) if near.size else 0,
            "other_files_at_least": int(np.sum(near >= 16)),
            "closest_other_inliers_percentiles": {
                str(p): float(np.percentile(near, p)) for p in (50, 99, 99.9, 99.99)
            } if near.size else {},
            "hash_s": hash_s, "match_s": match_s}


def _scan_keypoints(rgb: np.ndarray, query: Any) -> list[Any]:
    """The keypoints a scan of ``rgb`` looks up: of the whole upload (at the upload's
    detection settings), and of its content box when a scan would look there too."""
    passes = [image_keypoints(rgb, (0, 0, rgb.shape[1], rgb.shape[0]))]
    x0, y0, x1, y1 = query.content
    if may_have_bars(rgb) and (x1 - x0) * (y1 - y0) < _RETRY_AREA * query.width * query.height:
        passes.append(query_keypoints(rgb, query))
    return passes


def _other_candidates(session: Any, engine: Engine, points: Any,
                      same: set[int]) -> dict[int, tuple[int, bool]]:
    """For each of the index's best candidates that is another photograph (as many as a
    scan checks): its inliers with no threshold (what a match would need to beat), and
    whether the verification a scan runs accepts it."""
    index = engine.regions.index
    found = [c for c in index.candidates(points.descriptors,
                                         limit=KEYPOINT_CANDIDATES + len(same))
             if c[0] not in same][:KEYPOINT_CANDIDATES]
    banks = set(session.scalars(select(Bank.id)))
    stored = _stored_keypoints(session, index, [c[0] for c in found], banks)
    out: dict[int, tuple[int, bool]] = {}
    for entry_id, is_mirror, _shared, _score in found:
        entry = stored[entry_id][1] if entry_id in stored else None
        target = entry.mirror if entry is not None and is_mirror else entry
        if target is None:
            continue
        raw = verify(points, target, min_inliers=4, min_share=0.0)
        accepted = verify(points, target) is not None
        if raw is not None:
            inliers, matched = out.get(entry_id, (0, False))
            out[entry_id] = (max(inliers, raw.inliers), matched or accepted)
    return out


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


def unrelated(engine: Engine, count: int, banked_faces: int,
              face_names: dict[int | None, str]) -> dict[str, Any]:
    """Uploads that were never banked, against the recall bank: edited neutral images
    (most of them framed, captioned or bordered: the region layer's dearest case) and
    plain portraits that are not in the bank (the common case: an ordinary photo)."""
    names = list(TRANSFORMS)
    banked = set(_sampled(FACES, banked_faces, 1))
    out: dict[str, Any] = {}
    plain = [(name, img) for name, img in _named_images(FACES, count + banked_faces, 3)
             if name not in banked][-count:]
    sets = {"edited": [(f"neutral {seed}", apply(names[seed % len(names)],
                                                 make_image(10_000 + seed), seed))
                       for seed in range(count)],
            "plain": plain}
    for label, images in sets.items():
        hits = 0
        costs = []
        matched = []
        for name, img in images:
            result = engine.scan_bytes(encode(img, "JPEG"))
            hits += bool(result.matches)
            matched += [[name, face_names.get(m.entry_id, str(m.entry_id)), m.layer or "whole"]
                        for m in result.matches]
            t = result.timings_ms
            costs.append((t["total_ms"], t["total_ms"] - _region_share(t)))
        out[label] = {"scans": len(images), "false_matches": hits, "matched": matched,
                      "cost": _cost(costs) if costs else {}}
    return out


def scale(sizes: list[int]) -> list[dict[str, Any]]:
    """Region index memory and query time with synthetic data: 6 window hashes per entry
    in the PDQ half; in the word half, the words of 2 x 64 descriptors per entry, drawn
    uniformly (as ORB's decorrelated bits spread them). One scan: 12 window queries at
    distance 15, then one keypoint query of 250 descriptors."""
    rng = np.random.default_rng(7)
    rows = []
    for entries in sizes:
        # One half at a time, each freed before the next: 10M entries fill the memory.
        box_build_s, box_ms, box_memory = _window_half(rng, entries)
        word_build_s, word_ms, word_memory = _word_half(rng, entries)
        memory = box_memory + word_memory
        rows.append({"entries": entries, "region_hashes": entries * 6,
                     "postings": entries * 2 * 64 * TABLES,
                     "memory_gb": memory / 1e9, "window_memory_gb": box_memory / 1e9,
                     "word_memory_gb": word_memory / 1e9,
                     "bytes_per_entry": memory / entries,
                     "build_s": box_build_s + word_build_s,
                     "window_query_ms": box_ms, "word_query_ms": word_ms,
                     "query_ms_per_scan": box_ms + word_ms})
    return rows


def _window_half(rng: np.random.Generator, entries: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    codes = rng.integers(0, 256, size=(entries * 6, 32), dtype=np.uint8)
    boxes = PdqIndex.build(codes, np.arange(len(codes), dtype=np.int64))
    asks = codes[rng.integers(0, len(codes), size=12)].copy()
    asks[:, :3] ^= rng.integers(0, 256, size=(len(asks), 3), dtype=np.uint8)
    del codes
    build_s = time.perf_counter() - t0
    return build_s, _timed(partial(boxes.query_many, asks, RETRIEVE_THRESHOLD)), \
        boxes.memory_bytes()


def _word_half(rng: np.random.Generator, entries: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    words = _synthetic_words(rng, entries)
    build_s = time.perf_counter() - t0
    descriptors = rng.integers(0, 256, size=(250, 32), dtype=np.uint8)
    return build_s, _timed(partial(words.query, descriptors, limit=KEYPOINT_CANDIDATES,
                                   min_words=1)), words.memory_bytes()


def _synthetic_words(rng: np.random.Generator, entries: int) -> WordIndex:
    """A word index as ``entries`` entries with uniform words would fill it, laid out
    directly (counts per word drawn, postings filled with entry ids) instead of sorting
    billions of postings, which the benchmark machine's memory would not hold twice."""
    per_entry = 2 * 64 * TABLES
    total = entries * per_entry
    counts = rng.multinomial(total, np.full(TABLES * NWORDS, 1 / (TABLES * NWORDS)))
    offsets = np.zeros(TABLES * NWORDS + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    postings = np.empty(total, np.uint32)
    for start in range(0, total, 1 << 26):
        n = min(1 << 26, total - start)
        postings[start:start + n] = rng.integers(0, 2 * entries, size=n, dtype=np.uint32)
    return WordIndex.from_arrays(offsets, postings, entries)


def _timed(run: Any, reps: int = 20) -> float:
    run()
    t0 = time.perf_counter()
    for _ in range(reps):
        run()
    return (time.perf_counter() - t0) / reps * 1000


def _scale_lines(rows: list[dict[str, Any]], command: str | None) -> list[str]:
    lines = [f"Command: `{command}`", ""] if command else []
    lines += ["Region index at scale (synthetic data: 6 window hashes and 2 x 64 keypoint "
              "descriptors' words per entry, uniform; one scan = 12 window queries at "
              "distance 15 and one keypoint query of 250 descriptors; reading the few "
              "candidates' keypoints from the store and verifying them not included):", "",
              "| entries | memory (windows + words) | bytes/entry | build | window query "
              "| keypoint query | per scan |",
              "|---|---|---|---|---|---|---|"]
    for s in rows:
        lines.append(f"| {s['entries']:,} | {s['memory_gb']:.2f} GB "
                     f"({s['window_memory_gb']:.2f} + {s['word_memory_gb']:.2f}) | "
                     f"{s['bytes_per_entry']:.0f} | {s['build_s']:.1f} s | "
                     f"{s['window_query_ms']:.1f} ms | {s['word_query_ms']:.1f} ms | "
                     f"{s['query_ms_per_scan']:.1f} ms |")
    return lines


def markdown(report: dict[str, Any], command: str) -> str:
    r = report["recall"]
    lines = ["## Evasion-robust matching (region layer)", "",
             f"Command: `{command}`", "",
             "| set | transform | copies | whole-image recall | both layers recall "
             "| caught by keypoints |",
             "|---|---|---|---|---|---|"]
    for label in ("faces", "synthetic_faces", "generated", "neutral"):
        for name, p in r[label]["per_transform"].items():
            lines.append(f"| {label} | {name} | {p['copies']} | {p['whole_recall']:.0%} | "
                         f"{p['both_recall']:.0%} | {p['by_keypoints']:.0%} |")
        lines.append(f"| {label} | **all** | {r[label]['copies']} | "
                     f"**{r[label]['whole_recall']:.0%}** | **{r[label]['both_recall']:.0%}** "
                     "| |")
    c = r["cost"]
    n = report["negatives"]
    u = report["unrelated"]
    per_set = "; ".join(f"{k} {v['mean_both_ms']:.1f} vs {v['mean_whole_ms']:.1f} ms "
                        f"({v['ratio']:.2f}x)" for k, v in r["cost_per_set"].items())
    miss = u["edited"].get("cost") or {}
    plain = u["plain"].get("cost") or {}
    lines += ["", f"All edited copies: **{r['whole_recall']:.1%}** caught by the whole-image "
              f"layers alone, **{r['both_recall']:.1%}** with the region layer.",
              "", f"Scan cost on the {c['scans']} edited copies: {c['mean_both_ms']:.1f} ms "
              f"with both layers vs {c['mean_whole_ms']:.1f} ms for the whole-image layers "
              f"alone in the same scans: ratio {c['ratio']:.2f}x (per set: {per_set}). "
              f"Uploads that match nothing: {plain.get('scans', 0)} plain portraits never "
              f"banked {plain.get('mean_both_ms', 0):.1f} ms vs "
              f"{plain.get('mean_whole_ms', 0):.1f} ms, **{plain.get('ratio', 0):.2f}x**; "
              f"{miss.get('scans', 0)} edited neutral images never banked (most of them "
              "framed or captioned, which sends them through the content box as well) "
              f"{miss.get('mean_both_ms', 0):.1f} ms vs {miss.get('mean_whole_ms', 0):.1f} ms, "
              f"{miss.get('ratio', 0):.2f}x.", "",
              f"Hard negatives: {n['people']} portraits, {n['ordered_pairs']:,} ordered pairs, "
              "each portrait scanned through both paths of the region layer (every "
              "candidate the index returns, then the verification): "
              f"**{n['region_matches_between_files']}** region matches between different "
              f"files ({n['by_path']}), i.e. {len(n['matched_file_pairs'])} "
              f"pairs of files: {n['matched_file_pairs']} (listed for inspection: the dataset "
              "holds some photographs twice under different names); "
              f"{n['duplicate_photos_matched']} more were the same photograph twice "
              "(whole-image PDQ <= 31), not counted. Most keypoints any other file's "
              "candidate kept in the geometric check, per portrait: maximum "
              f"{n['closest_other_inliers_max']}, percentiles "
              f"{n['closest_other_inliers_percentiles']} (a match needs {MIN_INLIERS} with "
              f"{MIN_SHARE:.0%} of the descriptor matches agreeing, or "
              f"{MIN_INLIERS + SURE_MARGIN}); "
              f"{n['other_files_at_least'] } portraits had another file at 16 or more. "
              f"Unrelated images: {u['edited']['false_matches']} of {u['edited']['scans']} "
              f"edited neutral images and {u['plain']['false_matches']} of "
              f"{u['plain']['scans']} plain portraits that were never banked matched "
              f"anything ({u['plain']['matched']}: upload, banked file, layer).", ""]
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
            unrel = unrelated(eng, args.unrelated, args.faces, rec.pop("face_names"))
        with Engine(data_dir=Path(tmp) / "b", database_url=f"sqlite:///{tmp}/b.db") as eng:
            neg = negatives(eng, args.negatives, args.sheet)
    report = {"recall": rec, "unrelated": unrel, "negatives": neg,
              "scale": scale(args.scale)}
    write_outputs(report, markdown(report, command), output=args.output,
                  markdown=args.markdown)


if __name__ == "__main__":
    main()
