"""The metrics agree with their definitions, computed the slow and obvious way."""

from __future__ import annotations

import numpy as np
import pytest

from haechi.evaluation.metrics import auc, confusion, roc_curve, tpr_at_fpr


def _pairwise_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_auc_matches_the_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(3)
    scores = np.round(rng.random(300), 1)  # coarse: many ties
    labels = (rng.random(300) < scores * 0.8 + 0.1).astype(int)
    assert auc(scores, labels) == pytest.approx(_pairwise_auc(scores, labels), abs=1e-12)


def test_auc_extremes_and_empty_class() -> None:
    assert auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert auc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 0.0
    assert auc([0.5, 0.5], [1, 0]) == 0.5
    assert np.isnan(auc([0.3, 0.4], [1, 1]))


def test_roc_runs_from_origin_to_corner_and_trapezoid_equals_auc() -> None:
    rng = np.random.default_rng(5)
    scores, labels = rng.random(200), rng.integers(0, 2, 200)
    fpr, tpr, thresholds = roc_curve(scores, labels)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.isinf(thresholds[0])
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(auc(scores, labels), abs=1e-12)


def test_tpr_at_fpr_and_confusion_on_a_worked_example() -> None:
    # 10 reals: one scores high (0.95); 4 fakes: 0.99, 0.9, 0.6, 0.05.
    scores = [0.95] + [0.1] * 9 + [0.99, 0.9, 0.6, 0.05]
    labels = [0] * 10 + [1] * 4
    assert tpr_at_fpr(scores, labels, 0.0) == 0.25  # only 0.99 beats every real
    assert tpr_at_fpr(scores, labels, 0.1) == 0.75  # one real allowed: down to 0.6
    table = confusion(scores, labels, 0.6)
    assert (table.true_positive, table.false_negative) == (3, 1)
    assert (table.false_positive, table.true_negative) == (1, 9)
    assert table.tpr == 0.75 and table.fpr == 0.1
