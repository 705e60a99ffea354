"""Train the ``synthetic-image`` probe: ``haechi train synthetic --real DIR --fake DIR``.

Every step is seeded, so the same folders give the same weights, byte for byte, on the
same CPU (the INT8 CLIP tower's kernels may round differently on another instruction
set). The data here is small and narrow (face crops), so the recipe fights shortcuts:

- both classes go through the *same* random view: a square crop, a resize to 128-256
  px with a random filter, a flip, mild colour changes, and JPEG at quality 60-95 (or
  PNG), so file format, size and compression history say nothing about the label;
- fakes get several views each (there are few of them), reals one;
- a file's views stay on one side of the split; the held-out files (chosen by a hash of
  the file name) are never seen in training, and are scored both as they are and
  through one such view;
- the regularisation strength is the largest whose cross-validated AUC is within 0.005
  of the best: the simplest probe that fits.

CLIP features are cached in ``features-<key>.npy`` under the output folder, so a second
run (another regularisation, another block set) costs seconds.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from haechi.detection.clip_features import ClipImageEncoder
from haechi.detection.spectrum import BINS, spectrum_features
from haechi.detection.synthetic_probe import BLOCKS, Probe, prior_logit
from haechi.errors import HaechiError
from haechi.evaluation.metrics import auc, tpr_at_fpr

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
#: Bump when the view recipe changes: cached features are keyed by it.
AUGMENT_VERSION = 1
#: Bump when feature extraction changes (2: one image per tower run).
FEATURE_VERSION = 2
L2_GRID = (0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
Progress = Callable[[int, int], None]


class TrainingDataError(HaechiError):
    code = "training_data"
    http_status = 422


@dataclass(frozen=True)
class TrainConfig:
    blocks: tuple[str, ...] = ("clip",)
    real_limit: int = 3000
    fake_views: int = 4
    real_views: int = 1
    heldout_fraction: float = 0.2
    seed: int = 20261125
    folds: int = 5


@dataclass
class Row:
    path: Path
    label: int
    heldout: bool
    #: -1: the file as it is; 0..: a random view.
    view: int


@dataclass
class TrainResult:
    probe: Probe
    metrics: dict[str, Any]
    out_dir: Path


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise TrainingDataError(f"{folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise TrainingDataError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def _unit_hash(*parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_heldout(path: Path, fraction: float, seed: int) -> bool:
    """By the file's name only: adding files never moves another file across the split."""
    return _unit_hash("split", seed, path.name) < fraction


def random_view(img: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """One augmented RGB view; the same distribution for real and fake inputs."""
    img = img.convert("RGB")
    w, h = img.size
    side = max(16, int(min(w, h) * np.sqrt(rng.uniform(0.6, 1.0))))
    left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    img = img.crop((left, top, left + side, top + side))
    size = int(rng.integers(128, 257))
    filters = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)
    img = img.resize((size, size), filters[int(rng.integers(0, len(filters)))])
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    if rng.random() < 0.5:
        img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.85, 1.15)))
        img = ImageEnhance.Contrast(img).enhance(float(rng.uniform(0.85, 1.15)))
        img = ImageEnhance.Color(img).enhance(float(rng.uniform(0.8, 1.2)))
    buf = io.BytesIO()
    if rng.random() < 0.85:
        img.save(buf, format="JPEG", quality=int(rng.integers(60, 96)))
    else:
        img.save(buf, format="PNG")
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def plan_rows(real: Sequence[Path], fakes: Sequence[Path], config: TrainConfig) -> list[Row]:
    """Which files, which views, which side of the split."""
    rng = np.random.default_rng(config.seed)
    chosen = list(real)
    if config.real_limit and len(chosen) > config.real_limit:
        picks = np.sort(rng.choice(len(chosen), size=config.real_limit, replace=False))
        chosen = [chosen[int(i)] for i in picks]
    rows: list[Row] = []
    for label, files, views in ((0, chosen, config.real_views), (1, fakes, config.fake_views)):
        for path in files:
            held = is_heldout(path, config.heldout_fraction, config.seed)
            if held:
                rows += [Row(path, label, True, -1), Row(path, label, True, 0)]
            else:
                rows += [Row(path, label, False, v) for v in range(views)]
    return rows


def _row_image(row: Row, seed: int) -> np.ndarray:
    with Image.open(row.path) as img:
        if row.view < 0:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        rng = np.random.default_rng([seed, AUGMENT_VERSION, row.view,
                                     int(_unit_hash("view", row.path.name) * 2**32)])
        return random_view(img, rng)


def _cache_key(rows: Sequence[Row], config: TrainConfig) -> str:
    h = hashlib.sha256(f"{AUGMENT_VERSION}:{FEATURE_VERSION}:{config.seed}".encode())
    for row in rows:
        h.update(f"{row.path.resolve()}:{row.view}:{row.path.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def extract_features(rows: Sequence[Row], config: TrainConfig, out_dir: Path, *,
                     progress: Progress | None = None, batch: int = 16) -> np.ndarray:
    """``(N, 512 + 32)``: unit CLIP embedding then spectrum curve, per row; cached."""
    cache = out_dir / f"features-{_cache_key(rows, config)}.npy"
    if cache.is_file():
        cached = np.load(cache, allow_pickle=False)
        if cached.shape == (len(rows), 512 + BINS):
            return np.asarray(cached, dtype=np.float32)
    # One thread: the result must not depend on how a reduction was split across cores.
    encoder = ClipImageEncoder(threads=1)
    out = np.zeros((len(rows), 512 + BINS), dtype=np.float32)
    for start in range(0, len(rows), batch):
        images = [_row_image(r, config.seed) for r in rows[start:start + batch]]
        out[start:start + len(images), :512] = encoder.embed(images)
        out[start:start + len(images), 512:] = np.stack([spectrum_features(i) for i in images])
        if progress:
            progress(min(start + batch, len(rows)), len(rows))
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, out, allow_pickle=False)
    tmp.replace(cache)
    return out


def block_matrix(raw: np.ndarray, blocks: Sequence[str]) -> np.ndarray:
    """The probe's input: the chosen blocks of cached features, in :data:`BLOCKS` order."""
    parts = {"prior": lambda: prior_logit(raw[:, :512]), "clip": lambda: raw[:, :512],
             "spectrum": lambda: raw[:, 512:]}
    return np.hstack([np.asarray(parts[b](), dtype=np.float64) for b in BLOCKS if b in blocks])


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float,
                 *, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method (deterministic; no solver
    randomness). The bias is not penalised."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2 * weight.sum() / n)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -60, 60)))
        grad = design.T @ (weight * (p - y)) + penalty * beta
        hess = (design * (weight * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta[:-1], float(beta[-1])


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    """Each class weighs half, so probability 0.5 means "as likely fake as real"."""
    counts = np.bincount(y.astype(np.int64), minlength=2).astype(np.float64)
    return np.asarray(np.where(y == 1, 0.5 / counts[1], 0.5 / counts[0]) * len(y))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-8, scale, 1.0)


def fit_probe(x: np.ndarray, y: np.ndarray, blocks: Sequence[str], l2: float) -> Probe:
    mean, scale = _standardise(x)
    weights, bias = fit_logistic((x - mean) / scale, y, _balanced_weights(y), l2)
    return Probe(list(blocks), mean, scale, weights, bias)


def _folds(groups: Sequence[str], folds: int, seed: int) -> np.ndarray:
    return np.array([int(_unit_hash("fold", seed, g) * folds) for g in groups])


def choose_l2(x: np.ndarray, y: np.ndarray, groups: Sequence[str], blocks: Sequence[str],
              config: TrainConfig) -> tuple[float, dict[str, float]]:
    """Cross-validated AUC per strength (folds by file); the largest within 0.005 of the
    best wins."""
    fold = _folds(groups, config.folds, config.seed)
    scores: dict[str, float] = {}
    for l2 in L2_GRID:
        predicted = np.zeros(len(y))
        for k in range(config.folds):
            test = fold == k
            predicted[test] = fit_probe(x[~test], y[~test], blocks, l2).logits(x[test])
        scores[str(l2)] = round(auc(predicted, y), 5)
    best = max(scores.values())
    chosen = max(l2 for l2 in L2_GRID if scores[str(l2)] >= best - 0.005)
    return chosen, scores


def _summary(scores: np.ndarray, labels: np.ndarray) -> dict[str, float | int]:
    return {"auc": round(auc(scores, labels), 4),
            "tpr_at_1pct_fpr": round(tpr_at_fpr(scores, labels, 0.01), 4),
            "tpr_at_5pct_fpr": round(tpr_at_fpr(scores, labels, 0.05), 4),
            "real": int((labels == 0).sum()), "fake": int((labels == 1).sum())}


def _link_heldout(rows: Sequence[Row], out_dir: Path) -> None:
    """``heldout/real`` and ``heldout/fake``: links to the held-out files, so that
    ``haechi eval`` can be pointed at exactly the split training never saw."""
    for label, name in ((0, "real"), (1, "fake")):
        folder = out_dir / "heldout" / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for row in rows:
            if row.heldout and row.view < 0 and row.label == label:
                (folder / row.path.name).symlink_to(row.path.resolve())


def train(real_dir: Path, fake_dirs: Sequence[Path], out_dir: Path,
          config: TrainConfig = TrainConfig(), *, progress: Progress | None = None
          ) -> TrainResult:
    """Extract (or reuse) features, pick the regularisation, fit, measure, and write
    ``synthetic-v1.json`` plus ``metrics.json`` into ``out_dir``."""
    unknown = set(config.blocks) - set(BLOCKS)
    if unknown or not config.blocks:
        raise TrainingDataError(f"feature blocks must be among {BLOCKS}, got {config.blocks}")
    real = image_files(real_dir)
    fakes = [p for d in fake_dirs for p in image_files(d)]
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = plan_rows(real, fakes, config)
    raw = extract_features(rows, config, out_dir, progress=progress)
    x = block_matrix(raw, config.blocks)
    y = np.array([r.label for r in rows], dtype=np.float64)
    train_mask = np.array([not r.heldout for r in rows])
    if len(set(y[train_mask])) < 2:
        raise TrainingDataError("the training split needs both real and fake images")
    groups = [r.path.name for r in rows if not r.heldout]
    l2, cv = choose_l2(x[train_mask], y[train_mask], groups, config.blocks, config)
    probe = fit_probe(x[train_mask], y[train_mask], config.blocks, l2)

    metrics: dict[str, Any] = {"l2": l2, "cv_auc_by_l2": cv}
    for name, mask in (("heldout_as_is", [r.heldout and r.view < 0 for r in rows]),
                       ("heldout_random_view", [r.heldout and r.view >= 0 for r in rows])):
        m = np.array(mask)
        metrics[name] = _summary(probe.probabilities(x[m]), y[m])
    if "prior" in config.blocks:
        m = np.array([r.heldout and r.view < 0 for r in rows])
        metrics["heldout_as_is_prior_head_alone"] = _summary(x[m][:, 0], y[m])
    probe.meta = {
        "detector": "synthetic-image",
        "trained_with": "haechi train synthetic",
        "config": {**asdict(config), "blocks": list(config.blocks),
                   "augment_version": AUGMENT_VERSION, "feature_version": FEATURE_VERSION},
        "data": {"real": _short(real_dir), "fake": [_short(d) for d in fake_dirs],
                 "real_files_available": len(real), "fake_files": len(fakes),
                 "train_rows": int(train_mask.sum()), "heldout_files": int(
                     sum(1 for r in rows if r.heldout and r.view < 0))},
        "metrics": metrics,
    }
    _write(out_dir / "synthetic-v1.json", probe.to_json())
    _write(out_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    _link_heldout(rows, out_dir)
    return TrainResult(probe, metrics, out_dir)


def _short(folder: Path) -> str:
    """The folder's last two names: the file must not depend on where the data sits."""
    return "/".join(folder.resolve().parts[-2:])


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
