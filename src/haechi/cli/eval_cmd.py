"""``haechi eval``: how well a detector separates real from fake, as uploaded and after
the re-encodings images meet when they are shared."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from haechi.cli.context import err_console, fail, write
from haechi.errors import HaechiError
from haechi.evaluation.perturb import PERTURBATIONS
from haechi.evaluation.runner import EvalReport


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_table(report: EvalReport) -> Table:
    table = Table(title=f"{report.detector} v{report.version}: {report.files_real} real, "
                        f"{report.files_fake} fake; threshold {report.threshold} "
                        f"({report.threshold_source})")
    for column in ("condition", "AUC", "TPR@1%FPR", "TPR@5%FPR", "TP", "FN", "FP", "TN",
                   "mean real", "mean fake"):
        table.add_column(column, justify="left" if column == "condition" else "right")
    for c in report.conditions:
        m = c.confusion
        table.add_row(c.condition, _fmt(c.auc, 4), _fmt(c.tpr_at_1pct_fpr),
                      _fmt(c.tpr_at_5pct_fpr), str(m.true_positive), str(m.false_negative),
                      str(m.false_positive), str(m.true_negative),
                      _fmt(c.mean_score_real), _fmt(c.mean_score_fake))
    return table


def eval_command(
    detector: str = typer.Option(..., "--detector", help="A registered detector's name."),
    real: Path = typer.Option(..., "--real", help="Folder of real (negative) images."),
    fake: Path = typer.Option(..., "--fake", help="Folder of fake (positive) images."),
    threshold: float | None = typer.Option(
        None, "--threshold", min=0.0, max=1.0,
        help="For the confusion table (default: the threshold of the verdict the "
             "detector feeds, from HAECHI_DETECTION_*)."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the ROC curves to this PNG."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="A seeded sample of at most N images per folder."),
    conditions: str = typer.Option(
        ",".join(PERTURBATIONS), "--conditions",
        help="Comma-separated, from: " + ", ".join(PERTURBATIONS) + "."),
    as_json: bool = typer.Option(False, "--json", help="The full report as JSON "
                                 "(with every score)."),
) -> None:
    """Score every image in --real and --fake with one detector, as it is and after JPEG
    re-encoding (quality 95, 75, 50), a 0.5x resize and a phone screenshot; print AUC,
    TPR at 1% and 5% FPR and the confusion table. Unreadable files are counted, not
    fatal."""
    from haechi.evaluation.runner import evaluate

    bar = Progress("scoring", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=err_console, transient=True, disable=not err_console.is_terminal)
    try:
        with bar:
            task = bar.add_task("scoring", total=None)
            report = evaluate(
                detector, real, fake, threshold=threshold, limit=limit,
                conditions=[c.strip() for c in conditions.split(",") if c.strip()],
                progress=lambda done, total: bar.update(task, completed=done, total=total))
    except HaechiError as exc:
        fail(exc)
    if plot is not None:
        from haechi.evaluation.plot import plot_roc

        plot_roc(report, plot)
    if as_json:
        write(report.model_dump_json() + "\n")
    else:
        Console(width=140).print(report_table(report))
        if plot is not None:
            write(f"ROC plot: {plot}\n")
    if report.unreadable:
        err_console.print(f"{len(report.unreadable)} file/condition pairs could not be "
                          f"scored:", highlight=False)
        for item in report.unreadable[:20]:
            err_console.print(f"  {item.path} ({item.condition}): [{item.code}] "
                              f"{item.message}", highlight=False, markup=False)
