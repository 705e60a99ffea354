"""Back-scan throughput on Ray with 1 and 2 local workers, and its scaling.

Files: neutral generated photos (``make_photo``: shapes, text and per-pixel noise, so
JPEG decoding costs what a camera photo's does), written to a temporary folder.

Measured in the same run on the same files:

(a) baseline: one process looping ``Engine.hash_bytes(path.read_bytes())`` (the same
    hashes, nothing recorded);
(b) ``haechi backscan --workers 0``: the same in the driver process, with matching,
    the policy and batched writes to the store;
(c) ``haechi backscan --workers N`` on a local Ray, N = 1 and 2: actors hash, the
    driver matches and records. Throughput is reported in steady state (from the first
    recorded batch to the last; Ray's start and the actors' warm-up are reported apart)
    and over the whole job;
(d) the same with ``--detect`` on fewer files, against a one-process loop of hashing
    plus ``detect_all``. The detectors are those of ``DetectionSettings`` (the
    ``HAECHI_DETECTION_*`` environment), named in the results.

Scaling efficiency = rate(2 workers) / (2 x rate(1 worker)). On a 2-core machine the
driver shares the cores with the workers, so it is a lower bound for a cluster, where
the driver has a machine of its own.

    .venv/bin/python benchmarks/bench_backscan.py --count 300 --detect-count 40 \\
        --output benchmarks/results/backscan.json --markdown benchmarks/results/backscan.md
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _report import write_outputs
from fixtures_media import encode, make_photo
from haechi.detection.settings import DetectionSettings
from haechi.detection.verdicts import detect_all
from haechi.engine import Engine
from haechi.media import load_media
from haechi.scale.backscan import BackscanOptions, BackscanProgress
from haechi.scale.hashing import HashedItem, hasher_arguments
from haechi.scale.runners import InProcessRunner, RayRunner
from haechi.scale.sources import S3Options


def make_files(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"photo{i:06d}.jpg"
        path.write_bytes(encode(make_photo(i, size), "JPEG", quality=88))
        files.append(path)
    return files


def baseline(engine: Engine, files: list[Path], detect: bool) -> dict[str, Any]:
    settings = DetectionSettings()
    # Warm-up outside the clock: the models load once per process, as they do once
    # per actor in the back-scan (whose warm-up shows in "first batch after").
    engine.hash_bytes(files[0].read_bytes())
    if detect:
        detect_all(settings, load_media(files[0].read_bytes(), limits=engine.limits))
    t0, cpu0 = time.perf_counter(), time.process_time()
    for path in files:
        data = path.read_bytes()
        result = engine.hash_bytes(data, name=path.name)
        assert result.error is None, result.error
        if detect:
            detect_all(settings, load_media(data, name=path.name, limits=engine.limits))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"files": len(files), "elapsed_s": round(elapsed, 2),
            "files_per_s": round(len(files) / elapsed, 2),
            "cpu_ms_per_file": round(cpu / len(files) * 1000, 2)}


class CpuRecorder:
    """The job's own runner, passed through, keeping each item's worker CPU time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.workers = inner.workers
        self.cpu_ms: list[float] = []

    def run(self, uris: Sequence[str], batch_size: int) -> Iterator[list[HashedItem]]:
        for items in self.inner.run(uris, batch_size):
            self.cpu_ms.extend(i.cpu_ms for i in items)
            yield items

    def close(self) -> None:
        self.inner.close()


def backscan(engine: Engine, folder: Path, job: str, workers: int, batch_size: int,
             detect: bool) -> dict[str, Any]:
    marks: list[tuple[float, int]] = []
    args = hasher_arguments(engine.limits, detect, engine.detection.settings, S3Options())
    runner = CpuRecorder(InProcessRunner(args) if workers == 0
                         else RayRunner(args, workers=workers))

    def on_progress(p: BackscanProgress) -> None:
        marks.append((time.perf_counter(), p.done))

    t0, cpu0 = time.perf_counter(), time.process_time()
    report = engine.scale.backscan.run(
        BackscanOptions(source=str(folder), job=job, workers=workers, batch_size=batch_size,
                        detect=detect), runner=runner, on_progress=on_progress)
    runner.close()
    elapsed, driver_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if workers == 0:  # the hashing ran in this process: keep the driver's own share
        driver_cpu -= report.worker_cpu_s
    assert report.done == report.total and report.errors == 0, report
    (t_first, n_first), (t_last, n_last) = marks[0], marks[-1]
    steady = (n_last - n_first) / (t_last - t_first) if t_last > t_first else 0.0
    return {"workers": workers, "files": report.done, "elapsed_s": round(elapsed, 2),
            "files_per_s_whole_job": round(report.done / elapsed, 2),
            "first_batch_after_s": round(t_first - t0, 2),
            "files_per_s_steady": round(steady, 2),
            "worker_cpu_ms_per_file": round(report.worker_cpu_s / report.done * 1000, 2),
            # The median leaves out each actor's one-off model loading (first item).
            "worker_cpu_ms_median": round(statistics.median(runner.cpu_ms), 2),
            "driver_cpu_ms_per_file": round(driver_cpu / report.done * 1000, 2)}


def measure(engine: Engine, folder: Path, files: list[Path], workers: list[int],
            batch_size: int, detect: bool, tag: str) -> dict[str, Any]:
    out: dict[str, Any] = {"baseline": baseline(engine, files, detect)}
    out["in_process"] = backscan(engine, folder, f"{tag}-w0", 0, batch_size, detect)
    out["ray"] = [backscan(engine, folder, f"{tag}-w{w}", w, batch_size, detect)
                  for w in workers]
    rates = {r["workers"]: r["files_per_s_steady"] for r in out["ray"]}
    if 1 in rates and 2 in rates and rates[1]:
        out["scaling_2_over_1"] = round(rates[2] / rates[1], 3)
        out["efficiency"] = round(rates[2] / (2 * rates[1]), 3)
    out["ray_1_over_baseline"] = round(rates.get(1, 0.0) / out["baseline"]["files_per_s"], 3)
    # Contention-free figures: CPU per file in an actor, against the plain loop's.
    actor_cpu = statistics.mean(r["worker_cpu_ms_median"] for r in out["ray"])
    out["per_core_files_per_s"] = round(1000 / actor_cpu, 2)
    out["cpu_efficiency"] = round(out["baseline"]["cpu_ms_per_file"] / actor_cpu, 3)
    out["driver_files_per_core_s"] = round(
        1000 / statistics.mean(r["driver_cpu_ms_per_file"] for r in out["ray"]), 1)
    return out


def table(title: str, m: dict[str, Any]) -> list[str]:
    b = m["baseline"]
    lines = [f"## {title}", "",
             "| Run | Files | Whole job | Steady state | First batch after | "
             "Worker CPU/file | Driver CPU/file |",
             "|---|---:|---:|---:|---:|---:|---:|",
             f"| Baseline: one-process loop | {b['files']} | {b['files_per_s']} files/s | "
             f"{b['files_per_s']} files/s | - | {b['cpu_ms_per_file']} ms | - |"]
    for r in [m["in_process"], *m["ray"]]:
        label = ("backscan --workers 0 (in process)" if r["workers"] == 0
                 else f"backscan on local Ray, {r['workers']} worker(s)")
        lines.append(f"| {label} | {r['files']} | {r['files_per_s_whole_job']} files/s | "
                     f"{r['files_per_s_steady']} files/s | {r['first_batch_after_s']} s | "
                     f"{r['worker_cpu_ms_per_file']} ms | {r['driver_cpu_ms_per_file']} ms |")
    lines.append("")
    lines.append(f"CPU-based (unaffected by other load; median worker CPU per file, so "
                 f"model loading is left out): one actor core hashes "
                 f"{m['per_core_files_per_s']} files/s; CPU efficiency against the plain loop "
                 f"{m['cpu_efficiency']:.0%}; one driver core records "
                 f"{m['driver_files_per_core_s']} files/s.")
    lines.append("")
    if "efficiency" in m:
        lines.append(f"Scaling 1 -> 2 workers: x{m['scaling_2_over_1']} (efficiency "
                     f"{m['efficiency']:.0%}). Ray with 1 worker vs baseline: "
                     f"x{m['ray_1_over_baseline']}.")
        lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--detect-count", type=int, default=40)
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    import ray

    w, h = (int(x) for x in args.size.split("x"))
    report: dict[str, Any] = {
        "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}, ray {ray.__version__}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "command": "python " + shlex.join(sys.argv),
    }
    settings = DetectionSettings()
    report["detectors"] = [*settings.sexual_detectors, *settings.face_detectors,
                           *settings.synthetic_detectors]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = make_files(root / "photos", args.count, (w, h))
        detect_folder = root / "detect"
        detect_folder.mkdir()
        for f in files[: args.detect_count]:
            (detect_folder / f.name).symlink_to(f)
        t0 = time.perf_counter()
        ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
        report["ray_start_s"] = round(time.perf_counter() - t0, 2)
        engine = Engine(data_dir=root / "data", database_url=args.database_url)
        try:
            report["hash_only"] = measure(engine, root / "photos", files, args.workers,
                                          args.batch_size, False, "hash")
            report["with_detection"] = measure(
                engine, detect_folder, sorted(detect_folder.iterdir()), args.workers,
                max(1, args.batch_size // 4), True, "detect")
        finally:
            engine.close(save_index=False)
            ray.shutdown()
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    lines = ["# Back-scan throughput", "",
             f"Host: {report['host']}; load average at start "
             f"{report['load_average_at_start']}, at end {report['load_average_at_end']} "
             "(the machine's 2 cores are shared with other work).",
             f"Command: `{report['command']}`", "",
             f"Files: {args.count} generated {w}x{h} JPEG photos; detection on the first "
             f"{args.detect_count}. Local Ray start: {report['ray_start_s']} s.", ""]
    lines += table("Hashing only (SHA-256, MD5, 8 PDQ variants)", report["hash_only"])
    lines += table("Hashing and detection (" + ", ".join(report["detectors"]) + ")",
                   report["with_detection"])
    write_outputs(report, "\n".join(lines), output=args.output, markdown=args.markdown)


if __name__ == "__main__":
    main()
