"""Rendering results as JSON Lines or as tables for people."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from haechi.results import BankInfo, EntryInfo, HashResult, ScanResult

console = Console()

_DECISION_STYLE = {"block": "bold red", "allow": "green", "error": "yellow"}


def scan_table(results: Sequence[ScanResult]) -> Table:
    table = Table(show_lines=False)
    table.add_column("file", overflow="fold")
    table.add_column("decision")
    table.add_column("reason", overflow="fold")
    for r in results:
        style = _DECISION_STYLE.get(r.decision, "")
        table.add_row(escape(r.name or "-"), f"[{style}]{r.decision}[/]", escape(r.reason))
    return table


def hash_table(results: Sequence[HashResult]) -> Table:
    table = Table()
    table.add_column("file", overflow="fold")
    table.add_column("signal")
    table.add_column("value", overflow="fold")
    table.add_column("quality")
    for r in results:
        if r.error:
            table.add_row(r.name or "-", "error", escape(f"[{r.error.code}] {r.error.message}"), "")
            continue
        for h in r.hashes:
            value = h.value if len(h.value) <= 80 else h.value[:77] + "..."
            table.add_row(r.name or "-", h.signal, value,
                          "" if h.quality is None else str(h.quality))
    return table


def banks_table(banks: Sequence[BankInfo]) -> Table:
    table = Table()
    for col in ("name", "kind", "enabled", "entries", "pdq threshold", "min quality",
                "video %", "description"):
        table.add_column(col)
    for b in banks:
        table.add_row(b.name, b.kind, "yes" if b.enabled else "no", str(b.entry_count),
                      str(b.pdq_threshold), str(b.pdq_min_quality),
                      f"{b.video_match_percent:g}", b.description)
    return table


def entries_table(entries: Sequence[EntryInfo]) -> Table:
    table = Table()
    for col in ("id", "signal", "value", "quality", "enabled", "category", "source", "note"):
        table.add_column(col, overflow="fold")
    for e in entries:
        value = e.value if len(e.value) <= 66 else e.value[:63] + "..."
        table.add_row(str(e.id), e.signal, value, "" if e.quality is None else str(e.quality),
                      "yes" if e.enabled else "no", e.category, e.source, e.note)
    return table
