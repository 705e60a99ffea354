#!/usr/bin/env python
"""Video copies that were cropped or framed: recall and cost of the region layer.

Clips are made in code: each second shows another neutral picture
(``haechi.samples.make_image``, the drawn images of the image benchmark) panning
slowly, 320 x 240 at 10 frames per second, H.264. Every clip is banked from its file
(``Engine.add_media``); then re-encoded copies are scanned: cropped by 5, 12 and 20 %
(more from the left and top), letterboxed and pillarboxed. Each copy is scanned with
the bank's region layer off (the reference: vPDQ over whole frames, as Meta's vPDQ
matches) and on, in the same run. Unrelated clips, cropped alike, measure false matches.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_video_regions.py --clips 20 --seconds 5 \\
        --output benchmarks/results/video_regions.json \\
        --markdown benchmarks/results/video_regions.md
    .venv/bin/python benchmarks/bench_video_regions.py --clips 10 --seconds 30 \\
        --output benchmarks/results/video_regions_30s.json \\
        --markdown benchmarks/results/video_regions_30s.md
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import write_outputs  # noqa: E402
from haechi.engine import Engine  # noqa: E402
from haechi.samples import make_image  # noqa: E402

SIZE = (320, 240)
FPS = 10


def _encode(frames: Iterator[np.ndarray], size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _decode(data: bytes) -> Iterator[np.ndarray]:
    with av.open(io.BytesIO(data)) as src:
        for frame in src.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def clip(seed: int, seconds: int = 5) -> bytes:
    """A clip of ``seconds`` neutral scenes, each panning 2 pixels a frame."""
    w, h = SIZE
    scenes = [np.asarray(make_image(seed * 1000 + k).resize((w + 40, h + 30)))
              for k in range(seconds)]

    def frames() -> Iterator[np.ndarray]:
        for i in range(seconds * FPS):
            dx = (i % FPS) * 2
            yield np.ascontiguousarray(scenes[i // FPS][15:15 + h, dx:dx + w])

    return _encode(frames(), SIZE)


def cropped(data: bytes, share: float) -> bytes:
    """``share`` of the width and height cut away, 70 % of it on the left and top."""
    w, h = SIZE
    x0, y0 = int(w * share * 0.7) & ~1, int(h * share * 0.7) & ~1
    cw, ch = int(w * (1 - share)) & ~1, int(h * (1 - share)) & ~1
    return _encode((np.ascontiguousarray(f[y0:y0 + ch, x0:x0 + cw]) for f in _decode(data)),
                   (cw, ch))


def barred(data: bytes, top: int, side: int) -> bytes:
    """Black bars of ``top`` rows above and below, ``side`` columns left and right."""
    w, h = SIZE

    def frames() -> Iterator[np.ndarray]:
        for f in _decode(data):
            out = np.zeros((h + 2 * top, w + 2 * side, 3), np.uint8)
            out[top:top + h, side:side + w] = f
            yield out

    return _encode(frames(), (w + 2 * side, h + 2 * top))


EDITS: dict[str, Callable[[bytes], bytes]] = {
    "crop 5 %": lambda d: cropped(d, 0.05),
    "crop 12 %": lambda d: cropped(d, 0.12),
    "crop 20 %": lambda d: cropped(d, 0.20),
    "letterbox": lambda d: barred(d, 40, 0),
    "pillarbox": lambda d: barred(d, 0, 48),
}
_REGION_KEYS = ("regions_hash_ms", "regions_match_ms", "regions_keypoints_ms")


def run(clips: int, seconds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, \
            Engine(data_dir=Path(tmp) / "d", database_url=f"sqlite:///{tmp}/d.db") as engine:
        engine.create_bank("known")
        banked = []
        for seed in range(clips):
            data = clip(seed, seconds)
            [entry] = [e for e in engine.add_media("known", data) if e.signal == "vpdq"]
            banked.append((entry.id, data))
        per: dict[str, dict[str, Any]] = {}
        for name, edit in EDITS.items():
            whole = both = 0
            by: dict[str, int] = {}
            costs = []
            for entry_id, data in banked:
                copy = edit(data)
                engine.update_bank("known", regions_enabled=False)
                whole += any(m.entry_id == entry_id for m in engine.scan_bytes(copy).matches)
                engine.update_bank("known", regions_enabled=True)
                result = engine.scan_bytes(copy)
                mine = [m for m in result.matches if m.entry_id == entry_id]
                both += bool(mine)
                for m in mine:
                    key = m.transform if m.layer == "regions" else "whole frames"
                    by[key or "whole frames"] = by.get(key or "whole frames", 0) + 1
                t = result.timings_ms
                share = sum(t.get(k, 0.0) for k in _REGION_KEYS)
                costs.append((t["total_ms"], t["total_ms"] - share))
            per[name] = {"copies": len(banked), "whole_recall": whole / len(banked),
                         "both_recall": both / len(banked), "by": by,
                         "mean_both_ms": statistics.fmean(c[0] for c in costs),
                         "mean_whole_ms": statistics.fmean(c[1] for c in costs)}
        false = 0
        for seed in range(clips):
            false += bool(engine.scan_bytes(cropped(clip(1000 + seed, seconds),
                                                    0.12)).matches)
    return {"clips": clips, "seconds": seconds, "edits": per, "unrelated_cropped": clips,
            "unrelated_matched": false}


def markdown(report: dict[str, Any], command: str) -> str:
    lines = ["## Video copies: cropped and framed re-encodes", "", f"Command: `{command}`", "",
             f"{report['clips']} clips of {report['seconds']} s.", "",
             "| edit | copies | vPDQ, whole frames | with the region layer | found by | "
             "scan ms, both layers / without the region layer's share |",
             "|---|---|---|---|---|---|"]
    for name, e in report["edits"].items():
        by = ", ".join(f"{k} {v}" for k, v in sorted(e["by"].items()))
        lines.append(f"| {name} | {e['copies']} | {e['whole_recall']:.0%} | "
                     f"{e['both_recall']:.0%} | {by} | {e['mean_both_ms']:.0f} / "
                     f"{e['mean_whole_ms']:.0f} ({e['mean_both_ms'] / e['mean_whole_ms']:.2f}x) |")
    lines += ["", f"Unrelated clips cropped by 12 %: {report['unrelated_matched']} of "
              f"{report['unrelated_cropped']} matched anything."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=5, help="length of each clip")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    command = "python benchmarks/bench_video_regions.py " + " ".join(sys.argv[1:])
    report = run(args.clips, args.seconds)
    write_outputs(report, markdown(report, command), output=args.output,
                  markdown=args.markdown)


if __name__ == "__main__":
    main()
