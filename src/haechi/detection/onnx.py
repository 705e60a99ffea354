"""One way to open ONNX models: CPU only, a fixed small thread count, by path."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]

#: Detection runs inside scans that are already parallel per request; one thread per
#: model keeps a busy server from oversubscribing its cores.
DEFAULT_THREADS = 1


def session(path: Path, *, threads: int = DEFAULT_THREADS) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
