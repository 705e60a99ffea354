"""Validation figures from scores and labels (1 = fake): ROC AUC, TPR at fixed FPR,
accuracy at a threshold."""

from __future__ import annotations

import numpy as np


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney U statistic with ties counted half."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUC needs both real and fake examples")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    joined = np.concatenate([pos, neg])
    # average ranks over ties
    for value in np.unique(joined):
        same = joined == value
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2)
                 / (len(pos) * len(neg)))


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float) -> tuple[float, float]:
    """(TPR, threshold) where at most ``fpr`` of the real examples score at or above."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    neg = np.sort(scores[~labels])[::-1]
    allowed = int(np.floor(fpr * len(neg)))
    threshold = float(np.nextafter(neg[allowed], np.inf)) if allowed < len(neg) else 0.0
    return float((scores[labels] >= threshold).mean()), threshold


def summary(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    tpr1, t1 = tpr_at_fpr(scores, labels, 0.01)
    tpr5, t5 = tpr_at_fpr(scores, labels, 0.05)
    return {
        "auc": round(roc_auc(scores, labels), 4),
        "tpr_at_fpr_1pct": round(tpr1, 4), "threshold_fpr_1pct": round(t1, 4),
        "tpr_at_fpr_5pct": round(tpr5, 4), "threshold_fpr_5pct": round(t5, 4),
        "accuracy": round(float(((scores >= threshold) == labels).mean()), 4),
        "threshold": threshold,
        "fpr": round(float((scores[~labels] >= threshold).mean()), 4),
        "tpr": round(float((scores[labels] >= threshold).mean()), 4),
        "real": int((~labels).sum()), "fake": int(labels.sum()),
    }
