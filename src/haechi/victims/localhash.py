"""Hash a victim's own folder on her own machine, the way the page does in a browser:
PDQ and MD5 for pictures, MD5 and vPDQ for videos. Nothing is sent or copied."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from haechi.victims.schemas import CaseRequest, HashFile, HashIn, ItemIn

if TYPE_CHECKING:
    from haechi.engine import Engine

KEPT = ("pdq", "md5", "vpdq")
MAX_FILES = 200


def hash_folder(engine: Engine, folder: Path) -> list[HashFile]:
    """Every file under ``folder`` (sorted, hidden ones skipped); unreadable files get an
    error each and do not stop the others."""
    if not folder.is_dir():
        return [hash_file(engine, folder)]
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and not any(part.startswith(".")
                                              for part in p.relative_to(folder).parts))
    return [hash_file(engine, p) for p in files[:MAX_FILES]]


def hash_file(engine: Engine, path: Path) -> HashFile:
    result = engine.hash_path(path)
    if result.error is not None or result.media is None:
        message = result.error.message if result.error else "unreadable"
        code = result.error.code if result.error else "error"
        return HashFile(path=str(path), error=f"[{code}] {message}")
    hashes = [HashIn(signal=h.signal, value=h.value,  # type: ignore[arg-type]
                     quality=h.quality if h.signal == "pdq" else None)
              for h in result.hashes if h.signal in KEPT]
    return HashFile(path=str(path), kind=result.media.kind, hashes=hashes)


def case_request(files: list[HashFile], *, minor: bool = False,
                 contact: str = "") -> CaseRequest:
    """What ``POST /v1/victims/cases`` takes: the hashes, no names, no paths."""
    items = [ItemIn(kind=f.kind, hashes=f.hashes)  # type: ignore[arg-type]
             for f in files if f.error is None and f.kind in ("image", "video")]
    return CaseRequest(items=items, minor=minor, contact=contact)
