#!/usr/bin/env python
"""Benchmark haechi's PdqIndex against python-threatexchange's PDQIndex.

Both indexes get the same rows and the same queries in the same run. Each measurement
runs in its own subprocess (build, then load after a restart, for each index), so a
resident-memory delta (VmRSS from /proc/self/status, before and after) belongs to one
index only, and a load really starts from a cold process.

Data: PDQ hashes of a few thousand procedurally rendered images (gradients, noise
fields, shapes, text, at various sizes), plus hashes of edited copies of them (resized,
recompressed, cropped, recoloured, captioned, rotated); that real set is expanded to N
rows with near-duplicate variants (a handful of bits flipped) and uniform random hashes.
Queries mix near-duplicates of indexed rows (0..40 bits away), edited copies whose hash
was never indexed, hashes of images that were never indexed, and random hashes. Recall
is measured against a numpy brute-force scan on a sample of the queries.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_pdq_index.py                    # 1M rows
    .venv/bin/python benchmarks/bench_pdq_index.py --with-10m         # 1M and 10M
    .venv/bin/python benchmarks/bench_pdq_index.py --sizes 100000 --queries 500 \\
        --output out.json --markdown out.md

Generated data and saved indexes go to benchmarks/.data/ (ignored by git).
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from _report import write_outputs

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "benchmarks" / ".data"
THRESHOLD = 31
REAL_CACHE_VERSION = 1

Rows = npt.NDArray[np.uint8]

# --------------------------------------------------------------------------- process


def proc_status() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in bytes."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not permitted."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def mem_available() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def malloc_trim() -> bool:
    """Ask glibc to return freed heap memory to the OS; False when unavailable."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.malloc_trim(0))


class Meter:
    """RSS before/after a block, after a full garbage collection each time.

    ``rss_delta_bytes`` is the plain difference. glibc keeps some freed memory (heap
    top below its dynamic trim threshold, fragments), which still counts as resident;
    ``rss_delta_trimmed_bytes`` is the difference after ``malloc_trim(0)`` hands that
    back, i.e. closer to what the index itself holds.
    """

    def __init__(self) -> None:
        gc.collect()
        malloc_trim()
        self.before = proc_status()["VmRSS"]
        self.peak_reset = reset_peak()

    def finish(self) -> dict[str, Any]:
        gc.collect()
        status = proc_status()
        out: dict[str, Any] = {
            "rss_before_bytes": self.before,
            "rss_after_bytes": status["VmRSS"],
            "rss_delta_bytes": status["VmRSS"] - self.before,
        }
        if self.peak_reset:
            out["peak_rss_delta_bytes"] = status["VmHWM"] - self.before
        if malloc_trim():
            out["rss_delta_trimmed_bytes"] = proc_status()["VmRSS"] - self.before
        return out


# ------------------------------------------------------------------------ real data


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


WORDS = [
    *("sale", "breaking", "news", "hello", "world", "summer", "trip", "lorem", "ipsum"),
    *("cat", "dog", "meme", "2024", "official", "free", "shipping", "click", "here"),
    *("family", "photo", "holiday", "team", "match", "results", "weather", "alert"),
]


def render_image(rng: np.random.Generator) -> Any:
    """One procedurally varied RGB image."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = int(rng.integers(96, 640)), int(rng.integers(96, 640))
    kind = int(rng.integers(0, 4))
    c0, c1 = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    if kind == 0:  # linear gradient at a random angle
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * math.cos(angle) + yy * math.sin(angle)
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        arr = c0 * (1 - t[..., None]) + c1 * t[..., None]
    elif kind == 1:  # radial gradient
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        t = t / max(1e-6, float(t.max()))
        arr = c0 * (1 - t[..., None]) + c1 * t[..., None]
    elif kind == 2:  # smooth colour noise at a random scale
        cells = int(rng.integers(2, 24))
        small = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
        arr = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))
    else:  # flat colour with grain
        arr = np.broadcast_to(c0, (h, w, 3)) + rng.normal(0, 12, size=(h, w, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 14))):
        color = tuple(int(v) for v in rng.integers(0, 256, size=3))
        x0, x1 = sorted(rng.integers(-w // 4, w + w // 4, size=2).tolist())
        y0, y1 = sorted(rng.integers(-h // 4, h + h // 4, size=2).tolist())
        shape = int(rng.integers(0, 5))
        if shape == 0:
            draw.ellipse((x0, y0, x1 + 1, y1 + 1), fill=color)
        elif shape == 1:
            draw.rectangle((x0, y0, x1, y1), fill=color)
        elif shape == 2:
            points = [(int(x), int(y)) for x, y in rng.integers(0, max(w, h), size=(5, 2))]
            draw.polygon(points, fill=color)
        elif shape == 3:
            draw.line((x0, y0, x1, y1), fill=color, width=int(rng.integers(1, 12)))
        else:
            text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))).tolist())
            draw.text((x0, y0), text, fill=color, font=_font(int(rng.integers(10, 72))))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.5, 3))))
    return img


def edit_image(img: Any, rng: np.random.Generator) -> Any:
    """A plausible re-upload: one to three everyday edits."""
    from PIL import Image, ImageDraw, ImageEnhance, ImageOps

    out = img
    for op in rng.choice(7, size=int(rng.integers(1, 4)), replace=False).tolist():
        w, h = out.size
        if op == 0:
            scale = rng.uniform(0.3, 0.85)
            out = out.resize((max(16, int(w * scale)), max(16, int(h * scale))))
        elif op == 1:
            buf = io.BytesIO()
            out.save(buf, format="JPEG", quality=int(rng.integers(15, 85)))
            out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        elif op == 2:
            dx, dy = int(w * rng.uniform(0.01, 0.05)), int(h * rng.uniform(0.01, 0.05))
            out = out.crop((dx, dy, w - dx, h - dy))
        elif op == 3:
            out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.75, 1.3))
            out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.8, 1.25))
        elif op == 4:
            out = out.copy()
            draw = ImageDraw.Draw(out)
            text = " ".join(rng.choice(WORDS, size=2).tolist())
            draw.text(
                (w * 0.05, h * 0.85), text, fill=(255, 255, 255), font=_font(max(10, h // 14))
            )
        elif op == 5:
            out = out.rotate(float(rng.uniform(-2, 2)), resample=Image.Resampling.BILINEAR)
        else:
            out = ImageOps.grayscale(out).convert("RGB")
    return out


def pdq_row(img: Any) -> tuple[Rows, int]:
    import pdqhash

    bits, quality = pdqhash.compute(np.asarray(img.convert("RGB")))
    return np.packbits(np.asarray(bits, dtype=np.uint8)), int(quality)


def real_hashes(images: int, heldout: int, seed: int) -> dict[str, npt.NDArray[Any]]:
    """PDQ hashes of rendered images; cached under benchmarks/.data/."""
    path = DATA_DIR / f"real_hashes_v{REAL_CACHE_VERSION}_{images}_{heldout}_{seed}.npz"
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    indexed = np.zeros((images, 3, 32), dtype=np.uint8)  # original + two edits
    query_edits = np.zeros((images, 32), dtype=np.uint8)  # a third edit, never indexed
    quality = np.zeros((images, 4), dtype=np.int16)
    for i in range(images):
        img = render_image(rng)
        versions = [img, edit_image(img, rng), edit_image(img, rng), edit_image(img, rng)]
        for j, version in enumerate(versions):
            row, q = pdq_row(version)
            quality[i, j] = q
            if j < 3:
                indexed[i, j] = row
            else:
                query_edits[i] = row
        if (i + 1) % 500 == 0:
            print(f"  hashed {i + 1}/{images} images ({time.perf_counter() - started:.0f} s)")
    unseen = np.stack([pdq_row(render_image(rng))[0] for _ in range(heldout)])
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "indexed": indexed,
        "query_edits": query_edits,
        "quality": quality,
        "unseen": unseen,
    }
    np.savez(path, **out)
    return out


def flip_random_bits(rows: Rows, counts: npt.NDArray[np.int64], rng: np.random.Generator) -> Rows:
    """Copy of ``rows`` with exactly ``counts[i]`` distinct random bits flipped in row i."""
    bits = np.unpackbits(rows, axis=1)
    keys = rng.random(bits.shape)
    ranks = np.argsort(keys, axis=1)
    mask = np.zeros(bits.shape, dtype=bool)
    take = np.arange(bits.shape[1])[None, :] < counts[:, None]
    np.put_along_axis(mask, ranks, take, axis=1)
    return np.packbits(bits ^ mask, axis=1)


def make_dataset(
    n: int,
    real: dict[str, npt.NDArray[Any]],
    n_queries: int,
    variant_share: float,
    seed: int,
) -> dict[str, npt.NDArray[Any]]:
    rng = np.random.default_rng(seed + n)
    indexed_real = real["indexed"].reshape(-1, 32)
    n_real = min(len(indexed_real), n)
    n_variants = int((n - n_real) * variant_share)
    n_random = n - n_real - n_variants
    parts = [indexed_real[:n_real]]
    step = 1 << 20
    for start in range(0, n_variants, step):  # near-duplicates: 1..10 bits flipped
        count = min(step, n_variants - start)
        source = indexed_real[rng.integers(0, n_real, size=count)]
        parts.append(flip_random_bits(source, rng.integers(1, 11, size=count), rng))
    parts.append(rng.integers(0, 256, size=(n_random, 32), dtype=np.uint8))
    codes = np.concatenate(parts)
    del parts
    codes = codes[rng.permutation(n)]
    keys = np.arange(1, n + 1, dtype=np.int64)  # database ids, in insertion order

    n_near = int(n_queries * 0.30)
    n_edit = min(int(n_queries * 0.20), len(real["query_edits"]))
    n_unseen = min(int(n_queries * 0.25), len(real["unseen"]))
    n_rand = n_queries - n_near - n_edit - n_unseen
    near = flip_random_bits(
        codes[rng.integers(0, n, size=n_near)], rng.integers(0, 41, size=n_near), rng
    )
    edits = real["query_edits"][rng.choice(len(real["query_edits"]), n_edit, replace=False)]
    unseen = real["unseen"][rng.choice(len(real["unseen"]), n_unseen, replace=False)]
    rand = rng.integers(0, 256, size=(n_rand, 32), dtype=np.uint8)
    queries = np.concatenate([near, edits, unseen, rand])
    kinds = np.array(
        ["near"] * n_near + ["edit"] * n_edit + ["unseen"] * n_unseen + ["random"] * n_rand
    )
    order = rng.permutation(len(queries))
    return {
        "codes": codes,
        "keys": keys,
        "queries": queries[order],
        "query_kinds": kinds[order],
        "composition": np.array([n_real, n_variants, n_random]),
    }


def brute_force(
    codes: Rows, keys: npt.NDArray[np.int64], queries: Rows, t: int
) -> list[dict[int, int]]:
    """key -> smallest distance within ``t``, per query, by a full numpy scan."""
    c64 = codes.view(np.uint64)
    out: list[dict[int, int]] = []
    for q in queries.view(np.uint64):
        dist = np.zeros(len(c64), dtype=np.uint16)
        for w in range(4):
            dist += np.bitwise_count(c64[:, w] ^ q[w])
        hits = np.flatnonzero(dist <= t)
        best: dict[int, int] = {}
        for k, d in zip(keys[hits].tolist(), dist[hits].tolist(), strict=True):
            best[k] = min(d, best.get(k, d))
        out.append(best)
    return out


# --------------------------------------------------------------------------- phases


def _latencies(run_one: Callable[[str], object], hexes: list[str]) -> dict[str, float]:
    for h in hexes[: min(100, len(hexes))]:  # warm-up
        run_one(h)
    times = np.empty(len(hexes), dtype=np.float64)
    for i, h in enumerate(hexes):
        start = time.perf_counter_ns()
        run_one(h)
        times[i] = time.perf_counter_ns() - start
    ms = times / 1e6
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
        "loop_qps": float(len(hexes) / (times.sum() / 1e9)),
    }


def _batched(run_all: Callable[[list[str]], object], hexes: list[str], repeats: int = 3) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_all(hexes)
        rates.append(len(hexes) / (time.perf_counter() - start))
    return float(np.median(rates))


def _load_phase_data(path: Path) -> tuple[Rows, npt.NDArray[np.int64], list[str], int]:
    from haechi.index import bits_to_hex

    with np.load(path) as data:
        codes, keys, queries = data["codes"], data["keys"], data["queries"]
        sample = int(data["recall_sample"])
    return codes, keys, bits_to_hex(queries), sample


def phase_ours_build(data: Path, work: Path) -> dict[str, Any]:
    from haechi.index import PdqIndex, bits_to_hex

    codes, keys, qhex, sample = _load_phase_data(data)
    n = len(codes)
    # The baseline is taken before the hex strings exist; they are freed before the
    # second reading, so the delta is what the index keeps.
    meter = Meter()
    hexes = bits_to_hex(codes)
    own_keys = keys.copy()  # the index may keep the array it is given; make that count
    start = time.perf_counter()
    index = PdqIndex.build(hexes, own_keys)
    build_s = time.perf_counter() - start
    del hexes, own_keys
    mem = meter.finish()
    out: dict[str, Any] = {"rows": n, "build_s": build_s, "build_input": "hex strings", **mem}
    out["resident_bytes_per_hash"] = mem["rss_delta_bytes"] / n
    out["memory_bytes"] = index.memory_bytes()
    out["memory_bytes_per_hash"] = index.memory_bytes() / n
    out["single"] = _latencies(lambda h: index.query(h, THRESHOLD), qhex)
    out["batch_qps"] = _batched(lambda hs: index.query_many(hs, THRESHOLD), qhex)
    out["batch_api"] = "PdqIndex.query_many(hexes, 31)"
    out["sample_results"] = [
        [[k, d] for k, d in r] for r in index.query_many(qhex[:sample], THRESHOLD)
    ]
    target = work / "ours_index"
    start = time.perf_counter()
    index.save(target)
    out["save_s"] = time.perf_counter() - start
    out["saved_bytes"] = sum(p.stat().st_size for p in target.iterdir())
    index = PdqIndex()  # release the built index before building again from arrays
    gc.collect()
    start = time.perf_counter()
    PdqIndex.build(codes, keys)
    out["build_from_array_s"] = time.perf_counter() - start
    return out


def phase_ours_load(data: Path, work: Path) -> dict[str, Any]:
    from haechi.index import PdqIndex, bits_to_hex

    with np.load(data) as arrays:
        qhex = bits_to_hex(arrays["queries"][: int(arrays["recall_sample"])])
    meter = Meter()
    start = time.perf_counter()
    index = PdqIndex.load(work / "ours_index")
    load_s = time.perf_counter() - start
    mem = meter.finish()
    first_query_start = time.perf_counter()
    index.query(qhex[0], THRESHOLD)
    first_query_ms = (time.perf_counter() - first_query_start) * 1e3
    results = [[[k, d] for k, d in r] for r in index.query_many(qhex, THRESHOLD)]
    return {
        "load_s": load_s,
        "load_method": "PdqIndex.load (numpy .npy files + meta.json, CRC32 verified)",
        "first_query_ms": first_query_ms,
        **mem,
        "sample_results": results,
    }


def phase_ref_build(data: Path, work: Path) -> dict[str, Any]:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    from haechi.index import bits_to_hex

    codes, keys, qhex, sample = _load_phase_data(data)
    n = len(codes)
    # PDQIndex keeps the (hash, entry) tuples it is given, so they are created after the
    # baseline and count towards its memory; our own references are dropped before the
    # second reading.
    meter = Meter()
    entries = list(zip(bits_to_hex(codes), keys.tolist(), strict=True))
    start = time.perf_counter()
    index = PDQIndex(entries)
    build_s = time.perf_counter() - start
    del entries
    mem = meter.finish()
    out: dict[str, Any] = {"rows": n, "build_s": build_s, "build_input": "(hex, key) tuples", **mem}
    out["resident_bytes_per_hash"] = mem["rss_delta_bytes"] / n

    def query_one(h: str) -> list[int]:
        return [m.metadata for m in index.query(h)]

    def query_all(hs: list[str]) -> list[list[int]]:
        found = index.index.search_with_distance_in_result(hs, THRESHOLD)
        return [[index.local_id_to_entry[i][1] for i, _, _ in found[h]] for h in hs]

    out["single"] = _latencies(query_one, qhex)
    out["batch_qps"] = _batched(query_all, qhex)
    out["batch_api"] = (
        "PDQIndex.index.search_with_distance_in_result(hexes, 31) + id->entry mapping "
        "(PDQIndex itself has no batched query)"
    )
    try:
        import faiss

        out["faiss_omp_threads"] = int(faiss.omp_get_max_threads())
        if out["faiss_omp_threads"] != 1:
            # FAISS parallelises each range search with OpenMP; on a small shared host
            # that can cost more than it gains, so also measure it single-threaded.
            faiss.omp_set_num_threads(1)
            out["single_omp1"] = _latencies(query_one, qhex)
            out["batch_qps_omp1"] = _batched(query_all, qhex)
            faiss.omp_set_num_threads(out["faiss_omp_threads"])
    except ImportError:  # informational only
        pass
    out["sample_results"] = [
        [[int(m.metadata), int(m.similarity_info.distance)] for m in index.query(h)]
        for h in qhex[:sample]
    ]
    target = work / "ref_index.pickle"
    start = time.perf_counter()
    with open(target, "wb") as fh:
        index.serialize(fh)
        fh.flush()
        os.fsync(fh.fileno())
    out["save_s"] = time.perf_counter() - start
    out["saved_bytes"] = target.stat().st_size
    return out


def phase_ref_load(data: Path, work: Path) -> dict[str, Any]:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    from haechi.index import bits_to_hex

    with np.load(data) as arrays:
        qhex = bits_to_hex(arrays["queries"][: int(arrays["recall_sample"])])
    meter = Meter()
    start = time.perf_counter()
    with open(work / "ref_index.pickle", "rb") as fh:
        index: Any = PDQIndex.deserialize(fh)
    load_s = time.perf_counter() - start
    mem = meter.finish()
    first_query_start = time.perf_counter()
    index.query(qhex[0])
    first_query_ms = (time.perf_counter() - first_query_start) * 1e3
    results = [
        [[int(m.metadata), int(m.similarity_info.distance)] for m in index.query(h)] for h in qhex
    ]
    return {
        "load_s": load_s,
        "load_method": "PDQIndex.deserialize (pickle; FAISS index serialised inside)",
        "first_query_ms": first_query_ms,
        **mem,
        "sample_results": results,
    }


PHASES: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "ours-build": phase_ours_build,
    "ours-load": phase_ours_load,
    "ref-build": phase_ref_build,
    "ref-load": phase_ref_load,
}


def run_phase(
    name: str, data: Path, work: Path, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    result_path = work / f"{name}.json"
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name]
    cmd += ["--data", str(data), "--work", str(work), "--phase-result", str(result_path)]
    print(f"  [{name}] running in a fresh process ...", flush=True)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            timeout=timeout,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0 or not result_path.exists():
        tail = (proc.stderr or proc.stdout)[-2000:]
        reason = "killed (out of memory?)" if proc.returncode in (-9, 137) else "failed"
        print(f"  [{name}] {reason}, exit {proc.returncode}:\n{tail}")
        return {"error": f"{reason}, exit status {proc.returncode}", "stderr_tail": tail}
    print(f"  [{name}] done in {time.perf_counter() - started:.1f} s", flush=True)
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


# -------------------------------------------------------------------------- scoring


def score(results: list[list[list[int]]], truth: list[dict[int, int]]) -> dict[str, Any]:
    expected = sum(len(t) for t in truth)
    returned = sum(len(r) for r in results)
    hit = wrong_distance = 0
    exact_queries = 0
    for got, want in zip(results, truth, strict=True):
        got_map = {k: d for k, d in got}
        common = set(got_map) & set(want)
        hit += len(common)
        wrong_distance += sum(1 for k in common if got_map[k] != want[k])
        exact_queries += int(got_map == want)
    return {
        "queries": len(truth),
        "expected_matches": expected,
        "returned_matches": returned,
        "recall": hit / expected if expected else 1.0,
        "precision": hit / returned if returned else 1.0,
        "wrong_distances": wrong_distance,
        "queries_exactly_right": exact_queries,
    }


def strip_samples(phase: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in phase.items() if k != "sample_results"}


# ------------------------------------------------------------------------- reporting


def _fmt(value: float | None, unit: str, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def _ratio(ours: float | None, ref: float | None, higher_is_better: bool) -> str:
    if ours is None or ref is None or ours <= 0 or ref <= 0:
        return "n/a"
    r = (ours / ref) if higher_is_better else (ref / ours)
    better, worse = ("higher", "lower") if higher_is_better else ("lower", "higher")
    return f"{r:.1f}x {better}" if r >= 1 else f"{1 / r:.1f}x {worse}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# PdqIndex vs python-threatexchange PDQIndex",
        "",
        f"Host: {report['host']['cpu']}, {report['host']['cpus']} CPUs, "
        f"{report['host']['mem_total_gib']:.1f} GiB RAM; Python {report['host']['python']}, "
        f"numpy {report['host']['numpy']}, faiss-cpu {report['host']['faiss']}, "
        f"threatexchange {report['host']['threatexchange']}. Load average (1/5/15 min) at "
        f"start {_loads(report['host']['load_average_at_start'])}, at end "
        f"{_loads(report['host'].get('load_average_at_end', []))}.",
        f"Command: `{report['command']}`",
        f"Threshold {THRESHOLD}; {report['config']['queries']} queries per index "
        f"({report['config']['query_mix']}); recall on {report['config']['recall_sample']} "
        "of them against a numpy brute-force scan.",
        "",
    ]
    for size in report["sizes"]:
        ours, ref = size["ours"], size["reference"]
        ob, ol = ours.get("build", {}), ours.get("load", {})
        rb, rl = ref.get("build", {}), ref.get("load", {})
        comp = size["composition"]
        lines += [
            f"## {size['rows']:,} rows",
            "",
            f"Rows: {comp['real']:,} real image hashes, {comp['variants']:,} near-duplicate "
            f"variants, {comp['random']:,} random. Expected matches in the recall sample: "
            f"{size['recall_expected_matches']:,}.",
            "",
        ]
        if ref.get("skipped"):
            lines += [f"Reference skipped: {ref['skipped']}", ""]
        elif "error" in rb:
            lines += [f"Reference failed: {rb['error']}", ""]

        def g(d: dict[str, Any], *path: str) -> float | None:
            cur: Any = d
            for p in path:
                if not isinstance(cur, dict) or p not in cur:
                    return None
                cur = cur[p]
            return float(cur)

        rows = [
            ("Build time (from hex strings)", g(ob, "build_s"), g(rb, "build_s"), " s", False, 2),
            ("Build time from (N, 32) uint8", g(ob, "build_from_array_s"), None, " s", False, 2),
            (
                "Resident bytes per hash (RSS delta)",
                g(ob, "resident_bytes_per_hash"),
                g(rb, "resident_bytes_per_hash"),
                " B",
                False,
                1,
            ),
            (
                "Same, after malloc_trim(0)",
                _per(g(ob, "rss_delta_trimmed_bytes"), size["rows"]),
                _per(g(rb, "rss_delta_trimmed_bytes"), size["rows"]),
                " B",
                False,
                1,
            ),
            (
                "Peak RSS during build, per hash (hex input included)",
                _per(g(ob, "peak_rss_delta_bytes"), size["rows"]),
                _per(g(rb, "peak_rss_delta_bytes"), size["rows"]),
                " B",
                False,
                1,
            ),
            (
                "Numpy arrays per hash (memory_bytes)",
                g(ob, "memory_bytes_per_hash"),
                None,
                " B",
                False,
                1,
            ),
            (
                "Saved size per hash",
                _per(g(ob, "saved_bytes"), size["rows"]),
                _per(g(rb, "saved_bytes"), size["rows"]),
                " B",
                False,
                1,
            ),
            ("Save time", g(ob, "save_s"), g(rb, "save_s"), " s", False, 2),
            ("Load time after restart¹", g(ol, "load_s"), g(rl, "load_s"), " s", False, 2),
            (
                "Resident bytes per hash after load (RSS delta)",
                _per(g(ol, "rss_delta_bytes"), size["rows"]),
                _per(g(rl, "rss_delta_bytes"), size["rows"]),
                " B",
                False,
                1,
            ),
            (
                "Single query p50",
                g(ob, "single", "p50_ms"),
                g(rb, "single", "p50_ms"),
                " ms",
                False,
                3,
            ),
            (
                "Single query p99",
                g(ob, "single", "p99_ms"),
                g(rb, "single", "p99_ms"),
                " ms",
                False,
                3,
            ),
            (
                "Single query max",
                g(ob, "single", "max_ms"),
                g(rb, "single", "max_ms"),
                " ms",
                False,
                3,
            ),
            (
                "Queries/s, one at a time",
                g(ob, "single", "loop_qps"),
                g(rb, "single", "loop_qps"),
                "",
                True,
                0,
            ),
            ("Queries/s, batched²", g(ob, "batch_qps"), g(rb, "batch_qps"), "", True, 0),
            (
                "Single query p50, reference on 1 OpenMP thread³",
                g(ob, "single", "p50_ms"),
                g(rb, "single_omp1", "p50_ms"),
                " ms",
                False,
                3,
            ),
            (
                "Single query p99, reference on 1 OpenMP thread³",
                g(ob, "single", "p99_ms"),
                g(rb, "single_omp1", "p99_ms"),
                " ms",
                False,
                3,
            ),
            (
                "Queries/s one at a time, reference on 1 thread³",
                g(ob, "single", "loop_qps"),
                g(rb, "single_omp1", "loop_qps"),
                "",
                True,
                0,
            ),
            (
                "Queries/s batched, reference on 1 thread³",
                g(ob, "batch_qps"),
                g(rb, "batch_qps_omp1"),
                "",
                True,
                0,
            ),
            (
                "Recall vs brute force",
                g(size, "ours_recall", "recall"),
                g(size, "reference_recall", "recall"),
                "",
                True,
                4,
            ),
            (
                "Precision vs brute force",
                g(size, "ours_recall", "precision"),
                g(size, "reference_recall", "precision"),
                "",
                True,
                4,
            ),
        ]
        lines += ["| Metric | haechi PdqIndex | threatexchange PDQIndex | haechi vs reference |"]
        lines += ["|---|---:|---:|---|"]
        for label, o, r, unit, hib, digits in rows:
            cells = (label, _fmt(o, unit, digits), _fmt(r, unit, digits), _ratio(o, r, hib))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        same = size.get("ours_load_matches_build")
        if same is not None:
            lines.append(
                f"Loaded index answers the recall sample exactly as the built one: {same}."
            )
        same_ref = size.get("reference_load_matches_build")
        if same_ref is not None:
            lines.append(f"Reference after deserialize answers identically: {same_ref}.")
        lines.append("")
    lines += [
        "¹ haechi: `PdqIndex.load` of `.npy` files with CRC32 verification. Reference: "
        "`PDQIndex.deserialize`, which is `pickle.load` (the reference offers no other "
        "persistence; loading a pickle executes code, so it must never read untrusted files).",
        "² haechi: `query_many`. Reference: `PDQIndex` has no batched query; measured on the "
        "wrapped FAISS index's `search_with_distance_in_result` plus the id-to-entry mapping.",
        "³ The rows above use FAISS's default OpenMP thread count for the reference "
        f"({_omp(report)}); these repeat its query measurements in the same process after "
        "`faiss.omp_set_num_threads(1)`. haechi's figures are the same as above (it is "
        "single-threaded).",
        "",
    ]
    return "\n".join(lines)


def _omp(report: dict[str, Any]) -> str:
    threads = {
        size["reference"].get("build", {}).get("faiss_omp_threads") for size in report["sizes"]
    } - {None}
    return ", ".join(f"{t} threads" for t in sorted(threads)) or "not measured"


def _loads(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values) or "n/a"


def _per(value: float | None, rows: int) -> float | None:
    return None if value is None else value / rows


# ----------------------------------------------------------------------------- main


def host_info() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_total = 0
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "mem_total_gib": mem_total / 2**30,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "faiss": version("faiss-cpu"),
        "threatexchange": version("threatexchange"),
        "load_average_at_start": list(os.getloadavg()),
    }


def bench_size(
    n: int, args: argparse.Namespace, real: dict[str, npt.NDArray[Any]], ref_bph: float | None
) -> dict[str, Any]:
    print(f"\n== {n:,} rows", flush=True)
    work = DATA_DIR / f"run_{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    ds = make_dataset(n, real, args.queries, args.variant_share, args.seed)
    sample = min(args.recall_sample, args.queries)
    data_path = work / "data.npz"
    arrays: dict[str, Any] = {"recall_sample": np.array(sample), **ds}
    np.savez(data_path, **arrays)
    print(f"  dataset ready in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    truth = brute_force(ds["codes"], ds["keys"], ds["queries"][:sample], THRESHOLD)
    print(f"  brute force on {sample} queries: {time.perf_counter() - started:.1f} s", flush=True)
    comp = ds["composition"].tolist()
    kinds = ds["query_kinds"][:sample]
    del ds
    gc.collect()

    out: dict[str, Any] = {
        "rows": n,
        "composition": {"real": comp[0], "variants": comp[1], "random": comp[2]},
        "recall_expected_matches": sum(len(t) for t in truth),
        "recall_expected_by_kind": {
            str(k): sum(len(t) for t, kk in zip(truth, kinds, strict=True) if kk == k)
            for k in sorted(set(kinds.tolist()))
        },
    }
    ours_build = run_phase("ours-build", data_path, work, args.phase_timeout)
    ours_load = (
        run_phase("ours-load", data_path, work, args.phase_timeout)
        if "error" not in ours_build
        else {}
    )
    out["ours"] = {"build": strip_samples(ours_build), "load": strip_samples(ours_load)}
    if "sample_results" in ours_build:
        out["ours_recall"] = score(ours_build["sample_results"], truth)
    if "sample_results" in ours_load and "sample_results" in ours_build:
        out["ours_load_matches_build"] = ours_load["sample_results"] == ours_build["sample_results"]
    shutil.rmtree(work / "ours_index", ignore_errors=True)

    reference: dict[str, Any] = {}
    skip = None
    if args.skip_reference:
        skip = "--skip-reference given"
    else:
        # Peak bytes per hash while building (hex strings and entry tuples included):
        # measured at a smaller size earlier in this run, else an assumption.
        per_hash = ref_bph if ref_bph is not None else 1800.0
        need = n * per_hash * 1.15
        avail = mem_available()
        if need > 0.7 * avail:
            skip = (
                f"estimated peak {need / 2**30:.1f} GiB ({per_hash:.0f} B/hash at peak, "
                f"{'measured at a smaller size' if ref_bph else 'assumed'}, +15%) exceeds 70% "
                f"of the {avail / 2**30:.1f} GiB available"
            )
    if skip:
        print(f"  reference skipped: {skip}")
        reference["skipped"] = skip
    else:
        env = {"OMP_NUM_THREADS": str(args.ref_omp_threads)} if args.ref_omp_threads else None
        ref_build = run_phase("ref-build", data_path, work, args.phase_timeout, env)
        ref_load = (
            run_phase("ref-load", data_path, work, args.phase_timeout, env)
            if "error" not in ref_build
            else {}
        )
        reference["build"] = strip_samples(ref_build)
        reference["load"] = strip_samples(ref_load)
        if "sample_results" in ref_build:
            out["reference_recall"] = score(ref_build["sample_results"], truth)
        if "sample_results" in ref_load and "sample_results" in ref_build:
            out["reference_load_matches_build"] = sorted(
                map(sorted, ref_load["sample_results"])
            ) == sorted(map(sorted, ref_build["sample_results"]))
    out["reference"] = reference
    shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000], help="row counts")
    parser.add_argument("--with-10m", action="store_true", help="also run 10,000,000 rows")
    parser.add_argument("--queries", type=int, default=2000, help="queries per index")
    parser.add_argument(
        "--recall-sample", type=int, default=300, help="queries checked by brute force"
    )
    parser.add_argument(
        "--images", type=int, default=2500, help="rendered images to index (x3 hashes)"
    )
    parser.add_argument(
        "--unseen-images", type=int, default=600, help="rendered images never indexed"
    )
    parser.add_argument(
        "--variant-share",
        type=float,
        default=0.3,
        help="share of synthetic rows that are near-duplicates",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--ref-omp-threads",
        type=int,
        help="OMP_NUM_THREADS for the reference's FAISS (default: FAISS's own default)",
    )
    parser.add_argument("--phase-timeout", type=float, default=3600.0)
    parser.add_argument("--output", type=Path, help="write the JSON report here")
    parser.add_argument("--markdown", type=Path, help="write the Markdown table here")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phase-result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase:
        result = PHASES[args.phase](args.data, args.work)
        args.phase_result.write_text(json.dumps(result))
        return 0

    sizes = sorted(set(args.sizes + ([10_000_000] if args.with_10m else [])))
    host = host_info()
    print(f"host: {host['cpu']}, {host['cpus']} CPUs, {host['mem_total_gib']:.1f} GiB")
    started = time.perf_counter()
    real = real_hashes(args.images, args.unseen_images, args.seed)
    low_quality = float((real["quality"] < 50).mean())
    print(
        f"real hashes: {real['indexed'].shape[0] * 3:,} indexed, {len(real['query_edits']):,} "
        f"edited queries, {len(real['unseen']):,} unseen ({time.perf_counter() - started:.1f} s)"
    )
    report: dict[str, Any] = {
        "benchmark": "pdq_index",
        "command": " ".join([Path(sys.executable).name, *sys.argv])
        if argv is None
        else " ".join(argv),
        "host": host,
        "config": {
            "threshold": THRESHOLD,
            "queries": args.queries,
            "recall_sample": min(args.recall_sample, args.queries),
            "query_mix": "30% near-duplicates of indexed rows at 0-40 bits, 20% edited copies of "
            "indexed images, 25% unindexed images, 25% random",
            "images": args.images,
            "unseen_images": args.unseen_images,
            "real_hash_low_quality_share": low_quality,
            "variant_share": args.variant_share,
            "variant_flips": "1-10 bits",
            "seed": args.seed,
            "reference_omp_threads": args.ref_omp_threads or "FAISS default",
            "measurement": "each phase in its own process; RSS from /proc/self/status VmRSS "
            "before/after after gc.collect(); peak via VmHWM after clear_refs",
        },
        "sizes": [],
    }
    ref_bph: float | None = None
    for n in sizes:
        result = bench_size(n, args, real, ref_bph)
        rb = result["reference"].get("build", {})
        if "resident_bytes_per_hash" in rb:
            ref_bph = rb.get("peak_rss_delta_bytes", rb["rss_delta_bytes"] * 1.3) / n
        report["sizes"].append(result)

    report["host"]["load_average_at_end"] = list(os.getloadavg())
    print()
    write_outputs(report, markdown(report), output=args.output, markdown=args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
