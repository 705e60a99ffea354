"""`haechi evidence ...` as a new user would run it: import a chat export, build a case,
export it, move it, verify it with only the package and the public key, tamper, verify."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from evidence_helpers import make_telegram_export
from typer.testing import CliRunner

from haechi.cli import evidence_cmd
from haechi.cli.main import root

runner = CliRunner()


def cli() -> typer.Typer:
    """A root app like haechi's with the evidence commands mounted."""
    app = typer.Typer()
    app.callback()(root)
    app.add_typer(evidence_cmd.app, name="evidence")
    return app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = runner.invoke(cli(), ["evidence", "keys", "generate"]).output.strip()
    key_file = tmp_path / "vault.key"
    key_file.write_text(key + "\n")
    monkeypatch.setenv("HAECHI_VAULT_KEY_FILE", str(key_file))
    monkeypatch.delenv("HAECHI_VAULT_KEY", raising=False)
    monkeypatch.delenv("HAECHI_DATABASE_URL", raising=False)
    return tmp_path / "data"


def run(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(cli(), ["--data-dir", str(data), "evidence", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_new_user_round_trip(env: Path, tmp_path: Path) -> None:
    export = make_telegram_export(tmp_path / "ChatExport", 3)
    run(env, "case", "create", "room-1", "--title", "Room one", "--actor", "analyst")
    out = run(env, "import-telegram", str(export), "--case", "room-1", "--actor", "analyst",
              code=3)  # one file was not included in the export: reported, nothing lost
    assert "imported 4" in out and "media_missing" in out
    assert "room-1" in run(env, "case", "list")
    shown = json.loads(run(env, "case", "show", "room-1", "--json"))
    assert len(shown["items"]) == 4
    pkg = tmp_path / "out" / "room-1-package"
    out = run(env, "export", "room-1", str(pkg), "--recipient", "police", "--no-pdf")
    vkey = run(env, "keys", "public").strip()
    assert vkey in out
    moved = tmp_path / "usb" / "package"
    moved.parent.mkdir()
    shutil.move(str(pkg), moved)
    key_file = tmp_path / "sender.vkey"
    key_file.write_text(vkey + "\n")
    out = run(env, "verify", str(moved), "--public-key", str(key_file))
    assert "OK" in out
    photo = next(i for i in shown["items"] if i["capture"]["message_id"] == "11")
    target = next(moved.glob(f"data/originals/{photo['sha256']}.*"))
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    out = run(env, "verify", str(moved), "--public-key", str(key_file), "--json", code=1)
    report = json.loads(out)
    assert {f["item_id"] for f in report["findings"] if f["code"] == "item_altered"} == {
        photo["id"]}
    assert "OK" in run(env, "verify")


def test_view_import_file_and_keys(env: Path, tmp_path: Path) -> None:
    from fixtures_media import encode, make_image

    shot = tmp_path / "screenshot.png"
    shot.write_bytes(encode(make_image(3, (64, 48)), "png"))
    out = run(env, "import-file", str(shot), "--service", "x", "--uploader", "id=42",
              "--uploader", "username=someone", "--method", "screenshot", "--label",
              "generative_ai", "--actor", "analyst")
    item_id = out.split()[1]
    record = run(env, "view", item_id)
    assert '"username": "someone"' in record and "captured" in record
    copy = tmp_path / "working.png"
    out = run(env, "view", item_id, "--output", str(copy), "--purpose", "court",
              "--actor", "detective")
    assert copy.read_bytes() == shot.read_bytes() and re.search(r"viewed\s+detective", out)
    run(env, "import-file", str(shot), "--uploader", "no-equals-sign", code=2)
    status = run(env, "keys", "status")
    assert re.search(r"\(active\)\s+1 item\(s\)", status)


def test_without_a_key_the_vault_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    monkeypatch.delenv("HAECHI_VAULT_KEY", raising=False)
    monkeypatch.delenv("HAECHI_VAULT_KEY_FILE", raising=False)
    shot = tmp_path / "a.bin"
    shot.write_bytes(b"abc")
    result = runner.invoke(cli(), ["--data-dir", str(tmp_path / "d"), "evidence",
                                   "import-file", str(shot)])
    assert result.exit_code == 2 and "no vault key" in result.output
