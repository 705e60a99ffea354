"""Image hashing throughput: decode only vs. Haechi's intake + hashing vs. python-threatexchange.

All three paths read the same JPEG files in the same run:

(a) ``decode``  Pillow ``open`` + ``load`` + ``convert("RGB")``: the floor for any tool;
(b) ``haechi``  what ``Engine.hash_bytes`` does for an image, without a database:
    read bytes, ``load_media`` (sniff, bound, decode, EXIF orientation), SHA-256, MD5 and
    the 8 PDQ variants (``dihedral_of_rgb``);
(c) ``threatexchange``  ``pdq_hasher.pdq_from_file``, Meta's reference Python tool
    (one PDQ hash, no digests, no orientation, no limits).

The files are neutral generated photos (gradients, shapes, text and per-pixel noise, so
JPEG entropy and decoding cost are like a camera's), written to a temporary folder.

A per-stage breakdown of (b) and measured alternatives follow, among them Pillow's
``draft()``, which makes libjpeg decode at 1/2, 1/4 or 1/8 scale in the DCT domain. PDQ
reduces every image to 64x64 anyway; each alternative reports its PDQ distance from the
full-resolution hash so speed is never bought with silent accuracy loss.

    .venv/bin/python benchmarks/bench_hashing.py --count 200 \\
        --output benchmarks/results/hashing.json --markdown benchmarks/results/hashing.md
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _report import write_outputs
from fixtures_media import make_image
from haechi.media import load_media
from haechi.signals.pdq import bits_to_hex, dihedral_of_rgb, hamming

try:
    from threatexchange.signal_type.pdq import pdq_hasher
except ImportError:  # the 'bench' extra
    pdq_hasher = None


# -- data ----------------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def generate(folder: Path, count: int, sizes: Sequence[tuple[int, int]], quality: int,
             seed: int = 0) -> list[Path]:
    """``count`` JPEGs spread evenly over ``sizes``; distinct pictures, shared noise field."""
    noise: dict[tuple[int, int], np.ndarray] = {}
    paths = []
    for i in range(count):
        w, h = sizes[i % len(sizes)]
        if (w, h) not in noise:
            rng = np.random.default_rng(seed + w * 7 + h)
            noise[(w, h)] = rng.normal(0.0, 8.0, (h, w, 3)).astype(np.int16)
        base = np.asarray(make_image(seed + i, (w, h)), dtype=np.int16)
        shift = ((i * 37) % h, (i * 91) % w)
        pixels = (base + np.roll(noise[(w, h)], shift, axis=(0, 1))).clip(0, 255)
        path = folder / f"photo_{i:04d}_{w}x{h}.jpg"
        Image.fromarray(pixels.astype(np.uint8), "RGB").save(path, "JPEG", quality=quality)
        paths.append(path)
    return paths


# -- the three paths ---------------------------------------------------------------------


def decode_only(path: Path) -> object:
    with Image.open(path) as img:
        img.load()
        return img.convert("RGB")


def haechi_full(path: Path) -> object:
    data = path.read_bytes()
    media = load_media(data, name=path.name)
    hashlib.sha256(data).hexdigest()
    hashlib.md5(data).hexdigest()
    return dihedral_of_rgb(media.rgb)


def threatexchange_pdq(path: Path) -> object:
    assert pdq_hasher is not None
    return pdq_hasher.pdq_from_file(path)


@dataclass
class Timing:
    name: str
    #: Per file, the fastest of the passes: robust to bursts of load from other processes.
    per_file: list[float] = field(default_factory=list)
    passes: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return sum(self.per_file)


def time_interleaved(methods: dict[str, Callable[[Path], object]], paths: Sequence[Path],
                     repeat: int) -> dict[str, Timing]:
    """Time every method on every file, file by file, so background load hits all alike.

    The order of methods rotates from file to file, so no method always runs on a cold
    cache right after the file was read.
    """
    names = list(methods)
    for fn in methods.values():
        fn(paths[0])  # warm imports and codec tables
    timings = {name: Timing(name, per_file=[float("inf")] * len(paths)) for name in names}
    for _ in range(repeat):
        pass_totals = dict.fromkeys(names, 0.0)
        for i, path in enumerate(paths):
            k = i % len(names)
            for name in names[k:] + names[:k]:
                t0 = time.perf_counter()
                methods[name](path)
                elapsed = time.perf_counter() - t0
                pass_totals[name] += elapsed
                timings[name].per_file[i] = min(timings[name].per_file[i], elapsed)
        for name in names:
            timings[name].passes.append(pass_totals[name])
    return timings


# -- where the time goes ---------------------------------------------------------------------


STAGES = ("read", "load_media", "sha256+md5", "pdq dihedral")


def breakdown(paths: Sequence[Path], repeat: int) -> dict[str, float]:
    """Mean ms per image for each stage of (b); per file and stage the best of ``repeat``.

    ``working pixels`` is the mean size of the array PDQ hashes, in megapixels.
    """
    best = [dict.fromkeys(STAGES, float("inf")) for _ in paths]
    pixels = [0] * len(paths)
    for _ in range(repeat):
        for i, (path, row) in enumerate(zip(paths, best, strict=True)):
            t = time.perf_counter()
            marks: list[float] = []
            data = path.read_bytes()
            marks.append(time.perf_counter())
            media = load_media(data, name=path.name)
            rgb = media.rgb
            marks.append(time.perf_counter())
            hashlib.sha256(data).hexdigest()
            hashlib.md5(data).hexdigest()
            marks.append(time.perf_counter())
            dihedral_of_rgb(rgb)
            marks.append(time.perf_counter())
            pixels[i] = rgb.shape[0] * rgb.shape[1]
            for stage, end in zip(STAGES, marks, strict=True):
                row[stage] = min(row[stage], end - t)
                t = end
    result = {stage: 1000 * statistics.fmean(r[stage] for r in best) for stage in STAGES}
    result["working pixels (MP)"] = statistics.fmean(pixels) / 1e6
    return result


def _reference_hashes(paths: Sequence[Path]) -> list[str]:
    """PDQ of every file decoded at full resolution, independent of intake's settings."""
    out = []
    for path in paths:
        with Image.open(path) as img:
            img.load()
            rgb = np.asarray((ImageOps.exif_transpose(img) or img).convert("RGB"))
        out.append(bits_to_hex(pdqhash.compute(rgb)[0]))
    return out


def lean_full(path: Path, *, draft_side: int | None = None, shrink_side: int | None = None,
              skip_copies: bool = True, one_hash: bool = False) -> str:
    """(b) with one change at a time; returns the PDQ hash for the accuracy check.

    ``draft_side``: let libjpeg decode at the smallest 1/2^k scale whose short side stays
    >= this. ``shrink_side``: after decoding, reduce so the short side is about this.
    ``skip_copies``: no ``exif_transpose`` copy when there is no orientation tag and no
    ``convert`` copy when the image is already RGB. ``one_hash``: ``pdqhash.compute``
    instead of ``compute_dihedral`` (what the dihedral variants cost).
    """
    data = path.read_bytes()
    img = Image.open(io.BytesIO(data), formats=["JPEG"])
    if draft_side is not None:
        w, h = img.size
        scale = max(1, min(w, h) // draft_side)
        img.draft("RGB", (w // scale, h // scale))
    img.load()
    if skip_copies:
        if img.getexif().get(0x0112, 1) != 1:
            img = ImageOps.exif_transpose(img) or img
        if img.mode != "RGB":
            img = img.convert("RGB")
    else:
        img = (ImageOps.exif_transpose(img) or img).convert("RGB")
    if shrink_side is not None and min(img.size) > 2 * shrink_side:
        factor = min(img.size) // shrink_side
        img = img.reduce(factor)
    hashlib.sha256(data).hexdigest()
    hashlib.md5(data).hexdigest()
    if one_hash:
        bits, _ = pdqhash.compute(np.asarray(img))
        return bits_to_hex(bits)
    hashes, _ = pdqhash.compute_dihedral(np.asarray(img))
    return bits_to_hex(hashes[0])


VARIANTS: dict[str, dict[str, Any]] = {
    "full resolution (intake before working_short_side)": {"skip_copies": False},
    "no needless copies": {},
    "draft, short side >= 512": {"draft_side": 512},
    "draft, short side >= 384": {"draft_side": 384},
    "draft, short side >= 256": {"draft_side": 256},
    "full decode + reduce to ~512": {"shrink_side": 512},
    "one PDQ hash instead of 8": {"one_hash": True},
}


def variant_methods(reference: Sequence[str]) -> tuple[dict[str, Callable[[Path], object]],
                                                       dict[str, list[str]]]:
    """One timed method per variant, each recording the hashes it computes."""
    methods: dict[str, Callable[[Path], object]] = {}
    hashes: dict[str, list[str]] = {}
    for label, opts in VARIANTS.items():
        out: list[str] = []

        def run(path: Path, _opts: dict[str, Any] = opts, _out: list[str] = out) -> str:
            value = lean_full(path, **_opts)
            _out.append(value)
            return value

        methods[label] = run
        hashes[label] = out
    return methods, hashes


def variant_rows(paths: Sequence[Path], reference: Sequence[str],
                 timings: dict[str, Timing], hashes: dict[str, list[str]],
                 groups: dict[str, list[int]]) -> list[dict[str, Any]]:
    rows = []
    for label in VARIANTS:
        got = hashes[label][-len(paths):]
        distances = [hamming(a, b) for a, b in zip(got, reference, strict=True)]
        timing = timings[label]
        rows.append({
            "variant": label,
            "images_per_s": len(paths) / timing.best,
            "ms_per_image": 1000 * timing.best / len(paths),
            "ms_by_size": {size: 1000 * statistics.fmean(timing.per_file[i] for i in idx)
                           for size, idx in groups.items()},
            "pdq_distance_mean": statistics.fmean(distances),
            "pdq_distance_max": max(distances),
            "pdq_distance_by_size": {
                size: (statistics.fmean(distances[i] for i in idx), max(distances[i] for i in idx))
                for size, idx in groups.items()
            },
        })
    return rows


# -- report ----------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Image hashing throughput",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine']}. Files: {report['count']} JPEGs (quality "
        f"{report['quality']}), sizes {', '.join(report['sizes'])}, "
        f"{report['mean_file_kb']:.0f} kB on average. All paths timed file by file in "
        f"rotating order; per file the best of {report['repeat']} passes. One process, "
        "one thread.",
        "",
        "| path | images/s | ms/image | time vs decode only |",
        "|---|---:|---:|---:|",
    ]
    decode = report["paths"]["decode"]["seconds"]
    for key, label in (("decode", "(a) decode only: Pillow open + load + RGB"),
                       ("haechi", "(b) Haechi: load_media + sha256 + md5 + 8 PDQ variants"),
                       ("threatexchange", "(c) python-threatexchange pdq_from_file")):
        row = report["paths"].get(key)
        if row is None:
            continue
        lines.append(f"| {label} | {row['images_per_s']:.1f} | {row['ms_per_image']:.1f} | "
                     f"{row['seconds'] / decode:.2f}x |")
    labels = {"decode": "(a) decode", "haechi": "(b) Haechi",
              "threatexchange": "(c) ThreatExchange"}
    by_size = report["by_size"]
    names = [n for n in labels if n in report["paths"]]
    lines += ["", "## By image size (ms/image)", "",
              "| size | " + " | ".join(labels[n] for n in names) + " | (b) vs (a) |",
              "|---|" + "---:|" * (len(names) + 1)]
    for size, row in by_size.items():
        lines.append(f"| {size} | " + " | ".join(f"{row[n]:.1f}" for n in names)
                     + f" | {row['haechi'] / row['decode']:.2f}x |")
    for size, stages in report.get("breakdown", {}).items():
        stages = dict(stages)
        working = stages.pop("working pixels (MP)")
        total = sum(stages.values())
        lines += ["", f"## Where the time of (b) goes, {size} (mean ms/image; PDQ hashes "
                  f"{working:.2f} MP on average)", "",
                  "| stage | ms | share |", "|---|---:|---:|"]
        lines += [f"| {k} | {v:.2f} | {100 * v / total:.0f} % |" for k, v in stages.items()]
        lines.append(f"| total | {total:.2f} | |")
    if report.get("variants"):
        sizes = list(report["variants"][0]["ms_by_size"])
        lines += ["", "## Alternatives for (b), same files", "",
                  "Each variant is (b) with one change, written out in this script. PDQ "
                  "distance is to the full-resolution hash of the same file (match "
                  "threshold 31).", "",
                  "| variant | images/s | ms/image | "
                  + " | ".join(f"ms {s}" for s in sizes)
                  + " | PDQ distance mean / max | "
                  + " | ".join(f"distance {s}" for s in sizes) + " |",
                  "|---|---:|---:|" + "---:|" * (2 * len(sizes) + 1)]
        for r in report["variants"]:
            by_size = r["pdq_distance_by_size"]
            lines.append(
                f"| {r['variant']} | {r['images_per_s']:.1f} | {r['ms_per_image']:.1f} | "
                + " | ".join(f"{r['ms_by_size'][s]:.1f}" for s in sizes)
                + f" | {r['pdq_distance_mean']:.2f} / {r['pdq_distance_max']} | "
                + " | ".join(f"{by_size[s][0]:.2f} / {by_size[s][1]}" for s in sizes) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="number of JPEG files")
    parser.add_argument("--size", action="append", type=parse_size, metavar="WxH",
                        help="image size, repeatable (default 1280x960 and 3000x2000)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
    parser.add_argument("--repeat", type=int, default=3,
                        help="passes; per file the fastest counts")
    parser.add_argument("--no-investigate", action="store_true",
                        help="skip the stage breakdown and the alternatives")
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report here")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: temp)")
    args = parser.parse_args(argv)
    sizes = args.size or [(1280, 960), (3000, 2000)]

    with tempfile.TemporaryDirectory(prefix="haechi-bench-") as tmp:
        folder = args.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths = generate(folder, args.count, sizes, args.quality)
        print(f"generated {len(paths)} files in {time.perf_counter() - t0:.1f} s", flush=True)

        methods: dict[str, Callable[[Path], object]] = {
            "decode": decode_only, "haechi": haechi_full}
        if pdq_hasher is not None:
            methods["threatexchange"] = threatexchange_pdq
        else:
            print("python-threatexchange not installed: (c) skipped (pip install "
                  "'haechi[bench]')", file=sys.stderr)
        hashes: dict[str, list[str]] = {}
        reference: list[str] = []
        if not args.no_investigate:
            reference = _reference_hashes(paths)
            extra, hashes = variant_methods(reference)
            methods.update(extra)
        t0 = time.perf_counter()
        timings = time_interleaved(methods, paths, args.repeat)
        print(f"timed {len(methods)} paths in {time.perf_counter() - t0:.1f} s", flush=True)

        report: dict[str, Any] = {
            "command": shlex.join(["python", "benchmarks/bench_hashing.py",
                                   *(argv if argv is not None else sys.argv[1:])]),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                       f"Python {platform.python_version()}, Pillow {Image.__version__}",
            "count": len(paths),
            "sizes": [f"{w}x{h}" for w, h in sizes],
            "quality": args.quality,
            "repeat": args.repeat,
            "mean_file_kb": statistics.fmean(p.stat().st_size for p in paths) / 1024,
            "paths": {
                name: {"seconds": t.best, "images_per_s": len(paths) / t.best,
                       "ms_per_image": 1000 * t.best / len(paths), "passes": t.passes}
                for name, t in timings.items() if name in ("decode", "haechi", "threatexchange")
            },
        }
        groups = {f"{w}x{h}": [i for i, p in enumerate(paths) if p.stem.endswith(f"_{w}x{h}")]
                  for w, h in sizes}
        report["by_size"] = {
            size: {name: 1000 * statistics.fmean(t.per_file[i] for i in idx)
                   for name, t in timings.items()}
            for size, idx in groups.items()
        }
        if not args.no_investigate:
            report["variants"] = variant_rows(paths, reference, timings, hashes, groups)
            report["breakdown"] = {}
            for w, h in sizes:
                group = [p for p in paths if p.stem.endswith(f"_{w}x{h}")]
                report["breakdown"][f"{w}x{h}"] = breakdown(group, args.repeat)

    print()
    write_outputs(report, markdown(report), output=args.output, markdown=args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
