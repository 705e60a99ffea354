"""Detection metrics from scores and labels: ROC, AUC, TPR at a fixed FPR, confusion.

Label 1 is the class the detector looks for (fake), 0 the other (real). Ties count
half, as in the Mann-Whitney form of the AUC.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel


class Confusion(BaseModel):
    threshold: float
    true_positive: int
    false_negative: int
    false_positive: int
    true_negative: int

    @property
    def tpr(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_negative)

    @property
    def fpr(self) -> float:
        return self.false_positive / max(1, self.false_positive + self.true_negative)


def _split(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError("scores and labels must be 1-d and of the same length")
    return s[y == 1], s[y == 0]


def auc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Area under the ROC curve; NaN when a class is empty."""
    pos, neg = _split(scores, labels)
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.sort(neg)
    below = np.searchsorted(order, pos, side="left")
    ties = np.searchsorted(order, pos, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(pos) * len(neg)))


def roc_curve(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)``: one point per distinct score, from (0, 0) to (1, 1)."""
    pos, neg = _split(scores, labels)
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    # How many of each class score at or above each threshold, by binary search.
    pos_above = len(pos) - np.searchsorted(np.sort(pos), thresholds, side="left")
    neg_above = len(neg) - np.searchsorted(np.sort(neg), thresholds, side="left")
    tpr = np.concatenate([[0.0], pos_above / max(1, len(pos))])
    fpr = np.concatenate([[0.0], neg_above / max(1, len(neg))])
    return fpr, tpr, np.concatenate([[np.inf], thresholds])


def tpr_at_fpr(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray,
               max_fpr: float) -> float:
    """The highest share of fakes caught while at most ``max_fpr`` of reals are flagged."""
    fpr, tpr, _ = roc_curve(scores, labels)
    allowed = fpr <= max_fpr + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def confusion(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray,
              threshold: float) -> Confusion:
    """Counts at ``threshold``; a score equal to it is flagged (as in the verdicts)."""
    pos, neg = _split(scores, labels)
    tp, fp = int((pos >= threshold).sum()), int((neg >= threshold).sum())
    return Confusion(threshold=threshold, true_positive=tp, false_negative=len(pos) - tp,
                     false_positive=fp, true_negative=len(neg) - fp)
