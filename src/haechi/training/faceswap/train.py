"""The training loop: pairs of (real face, its self-blend), checkpoints, metrics, export.

Each batch holds faces and their own pseudo-fakes side by side, as in the paper, so
the only difference the model can use is the blend. The learning rate follows a cosine
over whichever runs out first, the planned epochs or ``max_minutes``, so a run cut short
by its time cap still ends annealed. Checkpoints are written every epoch and every
``checkpoint_every`` steps (atomically); ``resume`` continues from the latest.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from haechi.detection.faceswap import CHIP_SIZE, face_chip, to_input
from haechi.training.faceswap import model as faceswap_model
from haechi.training.faceswap.augment import augment
from haechi.training.faceswap.blend import self_blend
from haechi.training.faceswap.data import (
    FaceRecord,
    TrainingDataError,
    batches,
    list_faces,
    load_rgb,
    locate_faces,
    split,
)
from haechi.training.faceswap.metrics import summary
from haechi.training.faceswap.validation import validation_seed

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
METRICS = "metrics.json"
ONNX = "faceswap.onnx"
WARMUP_STEPS = 100


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    epochs: int = 8
    #: Faces per step; each brings its self-blend, so a step sees twice as many images.
    faces_per_step: int = 16
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    max_minutes: float | None = None
    checkpoint_every: int = 200
    #: Validation faces scored after each epoch (None: the whole split).
    validation_limit: int | None = None
    threads: int = 1
    seed: int = 0
    resume: bool = False
    pretrained: bool = True


def _chip(record: FaceRecord, rgb: np.ndarray) -> np.ndarray:
    return face_chip(rgb, record.landmarks if record.found else None)


def training_pair(record: FaceRecord, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    rgb = load_rgb(record.path)
    fake, _ = self_blend(rgb, record.landmarks, rng)
    return augment(_chip(record, rgb), rng), augment(_chip(record, fake), rng)


def validation_pair(record: FaceRecord) -> tuple[np.ndarray, np.ndarray]:
    rgb = load_rgb(record.path)
    fake, _ = self_blend(rgb, record.landmarks, np.random.default_rng(
        validation_seed(record.path.name)))
    return _chip(record, rgb), _chip(record, fake)


def _save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _lr(config: TrainConfig, step: int, total_steps: int, elapsed_s: float) -> float:
    if step < WARMUP_STEPS:
        return config.learning_rate * (step + 1) / WARMUP_STEPS
    progress = step / max(1, total_steps)
    if config.max_minutes:
        progress = max(progress, elapsed_s / (config.max_minutes * 60))
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def evaluate(model: Any, records: list[FaceRecord], batch: int = 32) -> dict[str, float]:
    model.eval()
    scores: list[float] = []
    labels: list[int] = []
    for start in range(0, len(records), batch):
        real, fake = zip(*(validation_pair(r) for r in records[start:start + batch]),
                         strict=True)
        x = torch.from_numpy(to_input([*real, *fake]))
        scores += torch.sigmoid(model(x)[:, 0]).tolist()
        labels += [0] * len(real) + [1] * len(fake)
    return summary(np.asarray(scores), np.asarray(labels))


def train(config: TrainConfig, log: Callable[[str], None]) -> Path:
    """Train, validate each epoch, export the best model to ``out/faceswap.onnx``."""
    torch.set_num_threads(config.threads)
    if torch.get_num_interop_threads() != 1:
        # Only possible before torch's first parallel work (a second run in a process).
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    torch.manual_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    train_paths, val_paths = split(list_faces(config.data))
    if not train_paths or not val_paths:
        raise TrainingDataError("too few images for a training and a validation split")
    log(f"{len(train_paths)} training faces, {len(val_paths)} validation faces; locating "
        f"landmarks (cached in {out / 'landmarks.json'})")
    records = locate_faces(train_paths + val_paths, out / "landmarks.json")
    train_set, val_set = records[: len(train_paths)], records[len(train_paths):]
    if config.validation_limit is not None:
        val_set = val_set[: config.validation_limit]
    log(f"dlib found a face in {sum(r.found for r in records)} of {len(records)} images")

    model = faceswap_model.build(CHIP_SIZE, pretrained=config.pretrained)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = len(train_set) // config.faces_per_step
    total_steps = steps_per_epoch * config.epochs
    state: dict[str, Any] = {"epoch": 0, "step": 0, "elapsed_s": 0.0, "best_auc": -1.0,
                             "history": []}
    if config.resume and (out / CHECKPOINT).is_file():
        saved = torch.load(out / CHECKPOINT, weights_only=False)
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        state = saved["state"]
        log(f"resumed at epoch {state['epoch']}, step {state['step']}")

    def checkpoint() -> None:
        _save(out / CHECKPOINT, {"model": model.state_dict(), "optimiser":
                                 optimiser.state_dict(), "state": state,
                                 "config": {k: str(v) for k, v in asdict(config).items()}})

    def write_metrics() -> None:
        tmp = out / (METRICS + ".tmp")
        tmp.write_text(json.dumps({"history": state["history"], "best_auc": state["best_auc"],
                                   "steps_per_epoch": steps_per_epoch}, indent=2))
        tmp.replace(out / METRICS)

    started = time.monotonic() - state["elapsed_s"]
    out_of_time = False
    while state["epoch"] < config.epochs and not out_of_time:
        epoch = state["epoch"]
        model.train()
        faceswap_model.freeze_statistics(model)
        losses: list[float] = []
        order = np.random.default_rng((config.seed, epoch))
        for i, group in enumerate(batches(train_set, config.faces_per_step, order)):
            global_step = epoch * steps_per_epoch + i
            if global_step < state["step"]:
                continue  # done before the resume
            rng = np.random.default_rng((config.seed, epoch, i))
            real, fake = zip(*(training_pair(r, rng) for r in group), strict=True)
            x = torch.from_numpy(to_input([*real, *fake]))
            y = torch.tensor([0.0] * len(real) + [1.0] * len(fake))
            state["elapsed_s"] = time.monotonic() - started
            lr = _lr(config, global_step, total_steps, state["elapsed_s"])
            for g in optimiser.param_groups:
                g["lr"] = lr
            optimiser.zero_grad()
            loss = F.binary_cross_entropy_with_logits(model(x)[:, 0], y)
            loss.backward()  # type: ignore[no-untyped-call,unused-ignore]
            optimiser.step()
            losses.append(loss.item())
            state["step"] = global_step + 1
            if state["step"] % 20 == 0:
                log(f"epoch {epoch} step {i + 1}/{steps_per_epoch} loss "
                    f"{np.mean(losses[-20:]):.4f} lr {lr:.2e} "
                    f"{state['elapsed_s'] / 60:.1f} min")
            if state["step"] % config.checkpoint_every == 0:
                checkpoint()
            if config.max_minutes and state["elapsed_s"] > config.max_minutes * 60:
                out_of_time = True
                log(f"time cap of {config.max_minutes} minutes reached")
                break
        metrics = evaluate(model, val_set)
        state["epoch"] = epoch + (0 if out_of_time else 1)
        state["elapsed_s"] = time.monotonic() - started
        state["history"].append({"epoch": epoch, "step": state["step"],
                                 "complete": not out_of_time,
                                 "train_loss": round(float(np.mean(losses)), 4) if losses
                                 else None, "elapsed_min": round(state["elapsed_s"] / 60, 1),
                                 "validation": metrics})
        log(f"epoch {epoch} validation: {json.dumps(metrics)}")
        if metrics["auc"] > state["best_auc"]:
            state["best_auc"] = metrics["auc"]
            _save(out / BEST, {"model": model.state_dict(), "epoch": epoch,
                               "validation": metrics})
        checkpoint()
        write_metrics()
    best = torch.load(out / BEST, weights_only=False)
    model.load_state_dict(best["model"])
    faceswap_model.export_onnx(model, CHIP_SIZE, out / ONNX)
    log(f"exported the best epoch ({best['epoch']}, AUC {best['validation']['auc']}) to "
        f"{out / ONNX}")
    return out / ONNX
