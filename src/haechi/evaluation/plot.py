"""ROC curves of one evaluation, one line per condition, saved as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import numpy as np

from haechi.evaluation.metrics import roc_curve
from haechi.evaluation.runner import EvalReport


def plot_roc(report: EvalReport, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    try:
        for cond in report.conditions:
            if not cond.scores_real or not cond.scores_fake:
                continue
            scores = np.array(cond.scores_real + cond.scores_fake)
            labels = np.array([0] * len(cond.scores_real) + [1] * len(cond.scores_fake))
            fpr, tpr, _ = roc_curve(scores, labels)
            ax.plot(fpr, tpr, label=f"{cond.condition} (AUC {cond.auc:.3f})", linewidth=1.5)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate (real flagged)",
               ylabel="true positive rate (fakes caught)",
               title=f"{report.detector} v{report.version}: "
                     f"{report.files_real} real, {report.files_fake} fake")
        ax.legend(loc="lower right", fontsize="small")
        ax.grid(alpha=0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
