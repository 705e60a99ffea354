"""``haechi mod`` in-process, mounted on a fresh Typer app the way cli/main.py will."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from haechi.cli.context import CliState
from haechi.cli.moderation_cmd import app as mod_app
from haechi.samples import encode, make_image

runner = CliRunner()
root = typer.Typer()


@root.callback()
def _root(ctx: typer.Context, data_dir: Path = typer.Option(..., "--data-dir")) -> None:
    ctx.obj = CliState(data_dir=data_dir)


root.add_typer(mod_app, name="mod")


def run(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(root, ["--data-dir", str(data), "mod", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_hold_review_confirm_and_user_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    picture = tmp_path / "p.jpg"
    picture.write_bytes(encode(make_image(5, (320, 240))))
    out = json.loads(run(data, "upload", str(picture), "--user", "u1", "--room", "r1",
                         "--score", "sexual=0.95", "--score", "real_face=0.9",
                         "--score", "synthetic=0.9", "--json"))
    assert out["decision"]["action"] == "hold"
    queued = [json.loads(line) for line in run(data, "queue", "--json").splitlines()]
    assert [q["item"]["decision"]["rule"] for q in queued] == ["synthetic-sexual-real-face"]
    assert "pending: 1" in run(data, "queue")
    claimed = json.loads(run(data, "claim", "--reviewer", "alice", "--json"))
    assert "nothing is waiting" in run(data, "claim", "--reviewer", "bob")
    decided = run(data, "decide", str(claimed["id"]), "confirm", "--reason", "deepfake",
                  "--reviewer", "alice")
    assert "3 bank entries added" in decided
    again = run(data, "upload", str(picture), "--user", "u2", "--room", "r9")
    assert "block" in again and "known-bank-match" in again
    history = run(data, "user", "u1")
    assert "active strikes 1" in history and "told (warning)" in history
    exported = json.loads(run(data, "statements"))
    assert len(exported) == 2 and exported[0]["decision_ground"]


def test_errors_exit_with_code_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    when: {always: true}\n    action: nuke\n")
    result = runner.invoke(root, ["--data-dir", str(data), "mod", "policy", str(bad)])
    assert result.exit_code == 2 and "line 4" in result.output
    assert "known-bank-match" in run(data, "policy")
    run(data, "decide", "1", "approve", "--reason", "x", "--reviewer", "a", code=2)
    run(data, "user", "nobody", code=2)
    run(data, "upload", str(bad), "--user", "u", "--room", "r", "--score", "sexual", code=2)


def test_accounts_and_audit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = runner.invoke(root, ["--data-dir", str(data), "mod", "account-add", "alice",
                                  "--role", "reviewer", "--can-reveal"],
                           input="correct horse battery\ncorrect horse battery\n")
    assert result.exit_code == 0 and "may reveal media" in result.output, result.output
    run(data, "account-add", "bob", "--role", "king", "--password", "x" * 12, code=2)
    assert "no entries" in run(data, "audit")
