"""``haechi train``: train the project's own detectors (needs the ``train`` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from haechi.cli.context import err_console, fail, write
from haechi.errors import HaechiError

app = typer.Typer(help="Train the project's own detectors (needs the train extra).",
                  no_args_is_help=True)


@app.command("faceswap")
def faceswap(
    data: Path = typer.Option(..., "--data", help="Folder of real, aligned face images."),
    out: Path = typer.Option(Path("faceswap-run"), "--out",
                             help="Checkpoints, metrics.json and faceswap.onnx go here."),
    epochs: int = typer.Option(8, "--epochs", min=1),
    resume: bool = typer.Option(False, "--resume", help="Continue from out/checkpoint.pt."),
    max_minutes: float | None = typer.Option(
        None, "--max-minutes", min=1,
        help="Stop after this long (the learning rate anneals to fit), then export."),
    threads: int = typer.Option(
        1, "--threads", min=1,
        help="CPU threads for torch (more only helps on cores no one else is using)."),
    faces_per_step: int = typer.Option(16, "--faces-per-step", min=2),
    validation_limit: int | None = typer.Option(
        None, "--validation-limit", min=1, help="Score only this many validation faces."),
) -> None:
    """Train the face-swap detector on self-blended pseudo-fakes of real faces, keeping a
    fixed 10% of the faces (by file-name hash) for validation; exports ONNX."""
    from haechi.training.faceswap.data import require_training_extra

    try:
        require_training_extra()
        from haechi.training.faceswap.train import TrainConfig, train

        path = train(TrainConfig(data=data, out=out, epochs=epochs, resume=resume,
                                 max_minutes=max_minutes, threads=threads,
                                 faces_per_step=faces_per_step,
                                 validation_limit=validation_limit),
                     log=lambda line: err_console.print(line, highlight=False))
    except HaechiError as exc:
        fail(exc)
    write(f"{path}\n")


@app.command("faceswap-validation")
def faceswap_validation(
    data: Path = typer.Option(..., "--data", help="The folder the model was trained from."),
    out: Path = typer.Option(..., "--out", help="Writes out/real and out/fake here."),
    limit: int | None = typer.Option(None, "--limit", min=1),
) -> None:
    """Write the held-out faces (real/) and their fixed self-blends (fake/), for
    ``haechi eval`` to reproduce the model card."""
    from haechi.training.faceswap.validation import write_validation

    try:
        count, located = write_validation(data, out, limit=limit)
    except HaechiError as exc:
        fail(exc)
    write(f"{count} real and {count} fake faces in {out} (dlib located {located})\n")


@app.command("synthetic")
def synthetic(
    real: Path = typer.Option(..., "--real", help="Folder of camera-made images."),
    fake: list[Path] = typer.Option(..., "--fake",
                                    help="Folder of generated images (repeatable)."),
    out: Path = typer.Option(Path("synthetic-run"), "--out",
                             help="synthetic-v1.json, metrics.json, the feature cache and "
                                  "heldout/ (links to the held-out files) go here."),
    real_limit: int = typer.Option(3000, "--real-limit", min=0,
                                   help="Use a seeded sample of this many real images "
                                        "(0: all)."),
    fake_views: int = typer.Option(4, "--fake-views", min=1,
                                   help="Augmented views per generated training image."),
    blocks: str = typer.Option("clip", "--blocks",
                               help="Feature blocks, from: prior, clip, spectrum."),
    seed: int = typer.Option(20261125, "--seed"),
) -> None:
    """Train the fully-generated-image probe on CLIP features (no torch needed); the
    same folders and options give the same weights."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from haechi.training.synthetic import TrainConfig, train

    config = TrainConfig(blocks=tuple(b.strip() for b in blocks.split(",") if b.strip()),
                         real_limit=real_limit, fake_views=fake_views, seed=seed)
    bar = Progress("features", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=err_console, transient=True, disable=not err_console.is_terminal)
    try:
        with bar:
            task = bar.add_task("features", total=None)
            result = train(real, fake, out, config,
                           progress=lambda done, total: bar.update(task, completed=done,
                                                                   total=total))
    except HaechiError as exc:
        fail(exc)
    held = result.metrics["heldout_as_is"]
    write(f"{out / 'synthetic-v1.json'}\nheld-out AUC {held['auc']:.4f} "
          f"({held['real']} real, {held['fake']} fake); TPR at 1% FPR "
          f"{held['tpr_at_1pct_fpr']:.3f}; l2 {result.metrics['l2']}\n")
