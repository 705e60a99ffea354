"""``haechi victim`` in-process, mounted on a fresh Typer app the way cli/main.py will."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import typer
from typer.testing import CliRunner
from victims_helpers import recompressed

from fixtures_media import make_video
from haechi.cli.context import CliState
from haechi.cli.victim_cmd import app as victim_app
from haechi.engine import Engine
from haechi.samples import encode, make_image

runner = CliRunner()
root = typer.Typer()


@root.callback()
def _root(ctx: typer.Context, data_dir: Path = typer.Option(..., "--data-dir")) -> None:
    ctx.obj = CliState(data_dir=data_dir)


root.add_typer(victim_app, name="victim")


def run(data: Path, *args: str, code: int = 0, stdin: str | None = None) -> str:
    result = runner.invoke(root, ["--data-dir", str(data), "victim", *args], input=stdin)
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_hash_a_folder_open_a_case_and_withdraw_it(tmp_path: Path) -> None:
    data, mine = tmp_path / "data", tmp_path / "mine"
    mine.mkdir()
    picture = encode(make_image(31, (400, 300)))
    (mine / "a.jpg").write_bytes(picture)
    (mine / "b.png").write_bytes(encode(make_image(32, (300, 300)), "PNG"))
    video = make_video(33, seconds=2.0)
    (mine / "clip.mp4").write_bytes(video)
    (mine / "notes.txt").write_text("not a picture")
    request = tmp_path / "case.json"

    lines = run(data, "hash", str(mine), "--out", str(request), "--json").splitlines()
    files = {Path(f["path"]).name: f for f in map(json.loads, lines)}
    assert [h["signal"] for h in files["a.jpg"]["hashes"]] == ["md5", "pdq"]
    assert [h["signal"] for h in files["clip.mp4"]["hashes"]] == ["md5", "vpdq"]
    assert files["clip.mp4"]["hashes"][0]["value"] == hashlib.md5(video).hexdigest()
    assert files["notes.txt"]["error"].startswith("[unsupported")
    body = json.loads(request.read_text())
    assert len(body["items"]) == 3 and "mine" not in request.read_text()  # no names

    receipt = json.loads(run(data, "open", str(request), "--minor", "--json"))
    number, pin = receipt["case_number"], receipt["pin"]
    assert receipt["case"]["status"] == "active" and receipt["case"]["priority"] == 0
    with Engine(data_dir=data) as eng:
        assert eng.scan_bytes(recompressed(picture)).decision == "block"
        assert eng.scan_bytes(video).decision == "block"
    assert "active, 0 upload(s) blocked" in run(data, "status", number, stdin=pin + "\n")
    run(data, "status", number, "--pin", "WRONGPIN", code=2)

    out = json.loads(run(data, "takedown", "add", number, "--locator", "https://x.example/1",
                         "--service", "x.example", "--ground", "TAKE IT DOWN Act", "--json"))
    assert "OVERDUE" not in run(data, "takedown", "list")
    run(data, "takedown", "reply", str(out["id"]), "--state", "removed")
    assert "no takedown requests" in run(data, "takedown", "list")

    assert "withdrawn" in run(data, "withdraw", number, "--pin", pin)
    with Engine(data_dir=data) as eng:
        assert eng.scan_bytes(recompressed(picture)).decision == "allow"
    assert number in run(data, "cases")
