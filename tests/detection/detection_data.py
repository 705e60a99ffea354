"""Where the shared data sets live: ``../shared/datasets`` beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def dataset(relative: str) -> Path:
    path = ROOT / relative
    if not path.is_dir():
        pytest.skip(f"needs the shared data set {relative} at {ROOT}")
    return path


def adult_faces(count: int) -> list[Path]:
    """A fixed spread of the adult face crops: every n-th file in name order."""
    files = sorted(dataset("faces-real/utkface-adults").glob("*.jpg"))
    step = max(1, len(files) // count)
    return files[::step][:count]
