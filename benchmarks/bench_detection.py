#!/usr/bin/env python
"""Detection: per-image time of each detector and of the full pass on 1080p images,
pinned to one CPU core.

Images: generated 1920x1080 photo-like JPEGs (``fixtures_media.make_photo``), half of
them with one face crop from ``../shared/datasets/faces-real`` pasted at 360x360 (a
face as large as a selfie's). Intake decodes a 1080p JPEG at half scale (960x540: the
working copy every signal sees), so detectors run on that; the decode is timed apart.

Timed per image (after one warm-up pass): intake decode; ``open-nsfw``; ``dlib-faces``
(HOG detection, 5-point landmarks, aligned crop, age per face); ``dlib-faces-embed``
(the same plus the 128-d embedding, used for face alerts, not in scans); ``provenance``; and
``detect_all`` (the three together: faces + sexual + synthetic-from-provenance).
Alternatives measured on the same images: dlib's CNN (MMOD) face detector at the working
size, and the HOG detector at the full 1920x1080.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_detection.py --images 10
    .venv/bin/python benchmarks/bench_detection.py --images 10 \\
        --output benchmarks/results/detection.json --markdown benchmarks/results/detection.md
"""

from __future__ import annotations

import os

# One core: set before numpy and onnxruntime start their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _detection_images import make_images, summary, timed  # noqa: E402
from _report import write_outputs  # noqa: E402
from haechi.detection import get_detector  # noqa: E402
from haechi.detection.settings import DetectionSettings  # noqa: E402
from haechi.detection.verdicts import detect_all  # noqa: E402
from haechi.detection.weights import model_file  # noqa: E402
from haechi.media import load_media  # noqa: E402


def measure(data: bytes, detectors: dict[str, Any], settings: DetectionSettings,
            hog: Any, cnn: Any) -> tuple[dict[str, float], int]:
    """Every timing for one image, and the number of faces found."""
    out = {"decode": timed(lambda: load_media(data, name="bench.jpg").rgb)}
    media = load_media(data, name="bench.jpg")
    rgb = np.ascontiguousarray(media.rgb)  # decoded outside the detector timings
    for name, detector in detectors.items():
        out[name] = timed(lambda detector=detector: detector.detect(media))
    out["detect_all"] = timed(lambda: detect_all(settings, media))
    out["hog_detect_only"] = timed(lambda: hog(rgb, 0))
    out["cnn_detect_only"] = timed(lambda: cnn(rgb, 0))
    full = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    out["hog_full_1080p"] = timed(lambda: hog(full, 0))
    return out, len(detectors["dlib-faces"].detect(media).regions)


def run(count: int) -> dict[str, Any]:
    import dlib

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    images = make_images(count)
    settings = DetectionSettings()
    detectors = {name: get_detector(name)
                 for name in ("open-nsfw", "dlib-faces", "dlib-faces-embed", "provenance")}
    cnn = dlib.cnn_face_detection_model_v1(str(model_file(
        "face_recognition_models", "models/mmod_human_face_detector.dat")))
    hog = dlib.get_frontal_face_detector()
    measure(images[0][1], detectors, settings, hog, cnn)  # warm-up: sessions, caches
    rows: dict[str, list[float]] = {k: [] for k in LABELS}
    faces_found = []
    for label, data in images:
        times, found = measure(data, detectors, settings, hog, cnn)
        faces_found.append((label, found))
        for key, ms in times.items():
            rows[key].append(ms)
    working = load_media(images[0][1]).working_size
    return {
        "images": count, "size": "1920x1080 JPEG q90", "working_size": working,
        "faces_found": faces_found, "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(), "cores_used": 1,
        "results": {k: summary(v) for k, v in rows.items()},
    }


LABELS = {
    "decode": "intake decode (JPEG at half scale, not part of detection)",
    "open-nsfw": "sexual: `open-nsfw` (224x224 ResNet, onnxruntime, 1 thread)",
    "dlib-faces": "faces: `dlib-faces` (HOG + 5 points + aligned crop + age)",
    "dlib-faces-embed": "faces + embedding: `dlib-faces-embed` (adds the 128-d ResNet; "
                        "not in the scan pass)",
    "provenance": "synthetic: `provenance` (C2PA, XMP, text chunks, Software)",
    "detect_all": "**full pass `detect_all` (faces + sexual + synthetic)**",
    "hog_detect_only": "alternative: HOG face detection alone, working size",
    "cnn_detect_only": "alternative: CNN (MMOD) face detection alone, working size",
    "hog_full_1080p": "alternative: HOG face detection alone, full 1920x1080",
}


def markdown(report: dict[str, Any], command: str) -> str:
    lines = [
        f"Command: `{command}`", "",
        f"{report['images']} images, {report['size']}, detectors see the working copy "
        f"{report['working_size'][0]}x{report['working_size'][1]}; one core pinned "
        f"({report['cpu']}, Python {report['python']}). Faces found per image "
        f"(label: count): {', '.join(f'{a}: {b}' for a, b in report['faces_found'])}.", "",
        "| step | median ms | p95 ms | mean ms |", "|---|---:|---:|---:|",
    ]
    for key, label in LABELS.items():
        r = report["results"][key]
        lines.append(f"| {label} | {r['median_ms']} | {r['p95_ms']} | {r['mean_ms']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    report = run(args.images)
    command = "python benchmarks/bench_detection.py " + " ".join(sys.argv[1:])
    write_outputs(report, markdown(report, command.strip()), output=args.output,
                  markdown=args.markdown)


if __name__ == "__main__":
    main()
