"""``haechi track`` end to end, in-process, on a temporary SQLite store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import typer
from tracking_scenario import build_export
from typer.testing import CliRunner

from haechi.cli import bank_cmd, track_cmd
from haechi.cli.main import root

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(root)
    app.add_typer(track_cmd.app, name="track")
    app.add_typer(bank_cmd.app, name="bank")
    return app


def run(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(_app(), ["--data-dir", str(data), *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_track_workflow(tmp_path: Path) -> None:
    data = tmp_path / "data"
    built = build_export(tmp_path / "export")
    run(data, "bank", "create", "known")
    run(data, "bank", "add", "known", str(built.folder / "photos" / "item.jpg"))
    out = run(data, "track", "ingest", "--json", str(built.folder))
    report = json.loads(out)
    assert report["added"] == 14 and report["media_flagged"] == 3
    again = json.loads(run(data, "track", "ingest", "--json", str(built.folder)))
    assert again["added"] == 0 and again["duplicates"] == 14

    summary = run(data, "track", "analyse", "--out", str(tmp_path / "a.json"))
    assert "rooms by risk" in summary
    analysis = json.loads((tmp_path / "a.json").read_text("utf-8"))
    assert analysis["rooms"][0]["chat_id"] == "100"

    run(data, "track", "report", str(tmp_path / "out" / "report.html"))
    assert "지인능욕방" in (tmp_path / "out" / "report.html").read_text("utf-8")

    roster = run(data, "track", "roster", "--room", "200")
    assert {r["user_key"] for r in csv.DictReader(io.StringIO(roster))} == {
        "user1004", "user1005", "user1006"}
    run(data, "track", "roster", "--out", str(tmp_path / "all.csv"))
    assert len((tmp_path / "all.csv").read_text("utf-8").splitlines()) == 10

    pushed = run(data, "track", "push-to-bank", "wild", "--create")
    assert "9 hashes added" in pushed


def test_track_errors_have_codes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = run(data, "track", "ingest", str(tmp_path / "missing.csv"), code=2)
    assert "[not_found]" in out
    (tmp_path / "odd.txt").write_text("x", "utf-8")
    assert "[unknown_format]" in run(data, "track", "ingest", str(tmp_path / "odd.txt"), code=2)
    assert "[not_found]" in run(data, "track", "roster", "--room", "nope", code=2)
    assert "[not_found]" in run(data, "track", "push-to-bank", "nope", code=2)
    assert "0 media checked" in run(data, "track", "rescan")
