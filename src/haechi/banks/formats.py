"""Moving bank entries between tools.

* ``threatexchange``: one ``<signal type> <value>`` per line, as python-threatexchange's
  local-file exchange reads and its ``hash`` command prints (and so HMA, which fetches
  through those exchanges). Its names ``video_md5``/``video_sha256`` are this project's
  ``md5``/``sha256`` (both digest the file's bytes, image or video).
* ``csv``: a header row with ``signal,value`` and optional metadata columns.
* ``jsonl``: one JSON object per line with the same fields.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Literal

from pydantic import ValidationError

from haechi.banks.service import NewEntry
from haechi.errors import HaechiError, InvalidRequestError
from haechi.results import EntryInfo, EntryMetadata
from haechi.signals import get_signal

Format = Literal["threatexchange", "csv", "jsonl"]
FORMATS: tuple[str, ...] = ("threatexchange", "csv", "jsonl")

_FROM_PYTX = {"video_md5": "md5", "video_sha256": "sha256", "md5": "md5", "sha256": "sha256",
              "pdq": "pdq", "vpdq": "vpdq"}
_TO_PYTX = {"md5": "video_md5", "sha256": "video_sha256", "pdq": "pdq", "vpdq": "vpdq"}
CSV_FIELDS = ("signal", "value", "quality", "source", "category", "note", "added_by",
              "external_id")
MAX_ERRORS_LISTED = 20


class ImportError_(InvalidRequestError):
    code = "invalid_import"

    def __init__(self, errors: list[str], total_bad: int) -> None:
        more = f" (and {total_bad - len(errors)} more)" if total_bad > len(errors) else ""
        super().__init__(f"{total_bad} invalid line(s){more}: " + " | ".join(errors))
        self.errors = errors


def _entry(fields: dict[str, object], line: int) -> NewEntry:
    signal = str(fields.get("signal") or "").strip()
    value = str(fields.get("value") or "").strip()
    if not signal or not value:
        raise InvalidRequestError(f"line {line}: needs a signal and a value")
    quality_raw = fields.get("quality")
    quality = None
    if quality_raw not in (None, ""):
        try:
            quality = int(str(quality_raw))
        except ValueError:
            raise InvalidRequestError(f"line {line}: quality must be an integer") from None
    meta_fields = {k: str(v) for k, v in fields.items()
                   if k in EntryMetadata.model_fields and v is not None}
    try:
        meta = EntryMetadata(**meta_fields)
    except ValidationError as exc:
        raise InvalidRequestError(f"line {line}: {exc.errors()[0]['msg']}") from None
    canonical = get_signal(signal).parse(value)
    return NewEntry(signal=signal, value=canonical, quality=quality, metadata=meta)


def _rows(text: str, fmt: str) -> Iterator[tuple[int, dict[str, object]]]:
    if fmt == "threatexchange":
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, value = line.partition(" ")
            if kind not in _FROM_PYTX:
                yield n, {"signal": f"<unknown:{kind}>", "value": value}
                continue
            yield n, {"signal": _FROM_PYTX[kind], "value": value}
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"signal", "value"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidRequestError(f"the CSV header needs the columns {sorted(missing)}")
        for n, row in enumerate(reader, 2):
            yield n, dict(row)
    elif fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, {"__error__": f"not JSON: {exc.msg}"}
                continue
            yield n, obj if isinstance(obj, dict) else {"__error__": "not a JSON object"}
    else:
        raise InvalidRequestError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def parse_entries(
    text: str, fmt: str, *, skip_invalid: bool = False
) -> tuple[list[NewEntry], list[str]]:
    """All entries of ``text``. Any invalid line fails the whole import unless skipped,
    so a typo never leaves a bank half-imported."""
    entries: list[NewEntry] = []
    errors: list[str] = []
    for n, fields in _rows(text, fmt):
        try:
            if "__error__" in fields:
                raise InvalidRequestError(f"line {n}: {fields['__error__']}")
            entries.append(_entry(fields, n))
        except HaechiError as exc:
            msg = exc.message if exc.message.startswith("line ") else f"line {n}: {exc.message}"
            errors.append(msg)
    if errors and not skip_invalid:
        raise ImportError_(errors[:MAX_ERRORS_LISTED], len(errors))
    return entries, errors


def threatexchange_line(signal: str, value: str) -> str:
    return f"{_TO_PYTX[signal]} {value}\n"


def export_entries(entries: Iterable[EntryInfo], fmt: str) -> Iterator[str]:
    """Lines of the export, each ending in a newline."""
    if fmt == "threatexchange":
        for e in entries:
            yield threatexchange_line(e.signal, e.value)
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        yield buf.getvalue()
        for e in entries:
            buf.seek(0)
            buf.truncate()
            writer.writerow({k: getattr(e, k) if getattr(e, k) is not None else ""
                             for k in CSV_FIELDS})
            yield buf.getvalue()
    elif fmt == "jsonl":
        for e in entries:
            row = e.model_dump(mode="json", include={*CSV_FIELDS, "id", "added_at", "enabled"})
            yield json.dumps(row, ensure_ascii=False) + "\n"
    else:
        raise InvalidRequestError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
