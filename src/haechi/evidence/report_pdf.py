"""The PDF report for police: case summary, custody timeline, per-item hashes, capture
metadata and detection findings, with blurred thumbnails only.

A thumbnail is made in code from the decrypted original: shrunk, blurred with a heavy
Gaussian, pixelated to a coarse grid and blurred again, so the report shows where
each picture sits and its colours, never what it shows. Videos get their first sampled
frame treated the same way. Nothing else from the media reaches the PDF.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageFilter
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import (  # type: ignore[import-untyped]
    ParagraphStyle,
    getSampleStyleSheet,
)
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Image as PdfImage,
)
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from haechi.errors import HaechiError
from haechi.evidence.keys import WrappedKey
from haechi.evidence.models import EvidenceBlob, EvidenceLogEntry
from haechi.evidence.note import Checkpoint
from haechi.evidence.schemas import CaseInfo, ItemInfo
from haechi.evidence.service import EvidenceService
from haechi.media import MediaKind, load_media

#: Longest side of a thumbnail in pixels, and of the pixel grid it is reduced to.
THUMB_SIZE = 96
GRID = 8
#: A font with Hangul first (Debian's fonts-nanum), then one with wide Latin coverage.
_FONT_PATHS = ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
               "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def blurred_thumbnail(rgb: np.ndarray) -> Image.Image:
    """A thumbnail no one can recognise anything in: blur, pixelate, blur."""
    img = Image.fromarray(rgb).convert("RGB")
    img.thumbnail((THUMB_SIZE, THUMB_SIZE))
    w, h = img.size
    img = img.filter(ImageFilter.GaussianBlur(radius=max(w, h) / 10))
    grid = (max(1, round(GRID * w / max(w, h))), max(1, round(GRID * h / max(w, h))))
    img = img.resize(grid, Image.Resampling.BOX).resize((w, h), Image.Resampling.NEAREST)
    return img.filter(ImageFilter.GaussianBlur(radius=2))


def _thumbnail(data: bytes, service: EvidenceService) -> Image.Image | None:
    try:
        media = load_media(data, limits=service.engine.limits)
        if media.kind is MediaKind.IMAGE:
            return blurred_thumbnail(media.rgb)
        for frame in media.frames():
            return blurred_thumbnail(frame.rgb)
    except HaechiError:
        return None
    return None


def _font() -> str:
    for path in _FONT_PATHS:
        if Path(path).exists():
            name = Path(path).stem
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, path))
            return name
    return "Helvetica"  # Latin text only; other scripts show as boxes


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def write_report(path: Path, service: EvidenceService, case: CaseInfo, items: list[ItemInfo],
                 entries: Sequence[EvidenceLogEntry], checkpoint: Checkpoint) -> None:
    font = _font()
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=font, fontSize=8,
                          leading=10)
    head = ParagraphStyle("head", parent=styles["Heading2"], fontName=font)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=font)
    mono = ParagraphStyle("mono", parent=body, fontName="Courier", fontSize=7, leading=9)
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])

    story: list[Any] = [
        _p(f"Evidence report: case {case.name}", title),
        _p(case.title, head) if case.title else Spacer(1, 2 * mm),
        _p(case.description, body),
        Spacer(1, 3 * mm),
        _p(f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} from the vault "
           f"custody log {checkpoint.origin}, tree size {checkpoint.size}.", body),
        _p(f"Signed root hash: {checkpoint.root.hex()}", mono),
        _p(f"Verifier key: {service.public_key()}", mono),
        _p("Check the package with: haechi evidence verify <package> --public-key "
           "<key file>. Thumbnails are deliberately blurred and pixelated; the originals "
           "are in data/originals/ with their SHA-256 as file name.", body),
        Spacer(1, 3 * mm),
        _p("Summary", head),
    ]
    services = sorted({i.capture.service for i in items if i.capture.service})
    times = [i.capture.captured_at for i in items]
    matched = sum(1 for i in items if i.scan.get("matches"))
    story.append(Table([[_p(k, body), _p(v, body)] for k, v in (
        ("items", len(items)), ("services", ", ".join(services) or "-"),
        ("captured", f"{min(times).isoformat()} .. {max(times).isoformat()}" if times else "-"),
        ("matched known material", matched), ("custody events", len(entries)),
        ("sealed", "yes" if case.sealed else "no"))], colWidths=[45 * mm, 125 * mm],
        style=grid))

    story.append(_p("Items", head))
    blobs = _keys(service, items)
    for item in items:
        story.append(KeepTogether(_item_block(service, item, blobs, body, mono, grid)))
        story.append(Spacer(1, 3 * mm))

    story.append(_p("Custody timeline", head))
    rows = [[_p(h, body) for h in ("seq", "time (UTC)", "event", "actor", "item", "details")]]
    for e in entries:
        entry = json.loads(e.entry)
        details = {k: v for k, v in entry.items()
                   if k not in ("v", "seq", "event", "actor", "at", "item", "sha256")}
        rows.append([_p(e.seq, body), _p(entry.get("at", ""), body), _p(e.event, body),
                     _p(entry.get("actor", ""), body), _p(entry.get("item", ""), body),
                     _p(json.dumps(details, ensure_ascii=False)[:300], mono)])
    story.append(Table(rows, colWidths=[10 * mm, 36 * mm, 22 * mm, 30 * mm, 10 * mm, 62 * mm],
                       repeatRows=1, style=grid))
    SimpleDocTemplate(str(path), pagesize=A4, title=f"Evidence report {case.name}",
                      leftMargin=18 * mm, rightMargin=18 * mm).build(story)


def _keys(service: EvidenceService, items: list[ItemInfo]) -> dict[str, WrappedKey]:
    from sqlalchemy import select

    with service.engine.db.session() as s:
        rows = s.scalars(select(EvidenceBlob).where(
            EvidenceBlob.sha256.in_([i.sha256 for i in items])))
        return {b.sha256: WrappedKey(b.kek_id, b.wrapped_key) for b in rows}


def _item_block(service: EvidenceService, item: ItemInfo, keys: dict[str, WrappedKey],
                body: ParagraphStyle, mono: ParagraphStyle, grid: TableStyle) -> list[Any]:
    cap = item.capture
    hashes = {h.get("signal"): h.get("value") for h in item.scan.get("hashes", [])}
    matches = "; ".join(
        f"bank {m.get('bank')} entry {m.get('entry_id')} ({m.get('signal')}, distance "
        f"{m.get('distance')}, category {m.get('entry', {}).get('category') or '-'})"
        for m in item.scan.get("matches", [])) or "none"
    facts = [
        ("SHA-256", item.sha256), ("MD5", hashes.get("md5") or "-"),
        ("PDQ / vPDQ", str(hashes.get("pdq") or hashes.get("vpdq") or "-")[:80]),
        ("size, format", f"{item.size} bytes, {item.media_format or 'not media'}"),
        ("service / room", f"{cap.service or '-'} / {cap.room or '-'}"),
        ("message id, URL", f"{cap.message_id or '-'} {cap.url}"),
        ("uploader", ", ".join(f"{k}={v}" for k, v in cap.uploader.items()) or "-"),
        ("forward origin", json.dumps(cap.forward_origin, ensure_ascii=False)
         if cap.forward_origin else "-"),
        ("captured", f"{cap.captured_at.isoformat()} by {cap.capturer or '-'} "
                     f"({cap.method}, {cap.tool_version})"),
        ("derivation", f"of item {item.derived_from}: {item.derivation}"
         if item.derived_from else "original"),
        ("scan", f"{item.decision}; matches: {matches}"),
        ("labels", ", ".join(cap.labels) or "-"),
    ]
    thumb: Any = _p("content deleted" if item.deleted else "no thumbnail", body)
    if not item.deleted and item.sha256 in keys:
        img = _thumbnail(service.vault.get(item.sha256, keys[item.sha256]), service)
        if img is not None:
            buf = io.BytesIO()
            img.save(buf, "PNG")
            buf.seek(0)
            thumb = PdfImage(buf, width=img.width * 0.3 * mm, height=img.height * 0.3 * mm)
    table = Table([[_p(k, body), _p(v, mono if k in ("SHA-256", "MD5", "PDQ / vPDQ") else body)]
                   for k, v in facts], colWidths=[30 * mm, 110 * mm], style=grid)
    return [_p(f"Item {item.id}: {cap.filename or '-'}", body),
            Table([[thumb, table]], colWidths=[32 * mm, 142 * mm],
                  style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))]
