"""The PDF report: it opens, and the only pictures in it are blurred, pixelated thumbnails."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures_media import encode, make_image
from haechi.evidence import CaptureMetadata, EvidenceService
from haechi.evidence.package import export_case
from haechi.evidence.report_pdf import GRID, THUMB_SIZE, blurred_thumbnail


def test_blurred_thumbnail_keeps_no_detail() -> None:
    original = np.asarray(make_image(5, (400, 300)))
    thumb = blurred_thumbnail(original)
    assert max(thumb.size) == THUMB_SIZE
    arr = np.asarray(thumb).astype(float)
    sharp = np.asarray(Image.fromarray(original).resize(thumb.size)).astype(float)

    def detail(a: np.ndarray) -> float:  # mean absolute difference between neighbours
        return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())

    assert detail(arr) < detail(sharp) / 4
    # Nothing finer than the coarse grid survives: reducing to the grid and back changes
    # the thumbnail very little.
    w, h = thumb.size
    coarse = thumb.resize((GRID, max(1, GRID * h // w)), Image.Resampling.BOX).resize(
        thumb.size, Image.Resampling.BILINEAR)
    assert np.abs(arr - np.asarray(coarse).astype(float)).mean() < 12


def test_report_opens_and_holds_only_thumbnails(evidence: EvidenceService,
                                                tmp_path: Path) -> None:
    ids = []
    for i in range(3):
        out = evidence.import_bytes(encode(make_image(30 + i, (400, 300)), "png"),
                                    actor="analyst", capture=CaptureMetadata(
                                        service="telegram", room="방 1", message_id=str(i),
                                        uploader={"id": f"user{i}"}, filename=f"{i}.png"))
        ids.append(out.item_id or 0)
    ids.append(evidence.import_bytes(b"plain text", actor="a", capture=CaptureMetadata(
        filename="notes.txt")).item_id or 0)
    evidence.create_case("c", actor="analyst", title="Report test")
    evidence.add_to_case("c", ids, actor="analyst")
    pkg = export_case(evidence, "c", tmp_path / "pkg", actor="analyst")
    pdf = (pkg / "data" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    sizes = image_sizes(pdf)
    assert len(sizes) == 3, "one thumbnail per picture, none for the text file"
    assert all(max(s) <= THUMB_SIZE for s in sizes), sizes
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; the PDF was not rendered")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pkg / "data" / "report.pdf"),
                    str(tmp_path / "page")], check=True, capture_output=True)
    pages = sorted(tmp_path.glob("page*.png"))
    with Image.open(pages[0]) as page:
        assert page.size[0] > 300


def image_sizes(pdf: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image XObject, from the objects' dictionaries."""
    sizes = []
    for match in re.finditer(rb"<<(.*?)>>\s*stream", pdf, re.S):
        d = match.group(1)
        if b"/Subtype /Image" in d:
            w = re.search(rb"/Width (\d+)", d)
            h = re.search(rb"/Height (\d+)", d)
            assert w and h
            sizes.append((int(w.group(1)), int(h.group(1))))
    return sizes

