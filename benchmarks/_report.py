"""Writing a benchmark's results: JSON for machines, Markdown for BENCHMARKS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_outputs(report: Any, text: str, *, output: Path | None,
                  markdown: Path | None) -> None:
    """Print the Markdown, and write it and the JSON report where asked."""
    print(text)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n")
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text)
