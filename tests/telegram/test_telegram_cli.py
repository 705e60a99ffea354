"""``haechi telegram``: a clear error without a token, status and the JSON Lines export."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haechi.cli.main import app
from haechi.engine import Engine
from haechi.telegram.settings import TelegramSettings

ROOT = Path(__file__).resolve().parents[2]


def test_run_without_a_token_says_what_is_missing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiogram", reason="needs the telegram extra: pip install -e "
                        "'.[telegram]'")
    monkeypatch.delenv("HAECHI_TELEGRAM_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "telegram", "run"])
    assert result.exit_code == 2
    assert "HAECHI_TELEGRAM_TOKEN" in result.output


def test_status_and_export_on_an_empty_store(tmp_path: Path) -> None:
    pytest.importorskip("aiogram", reason="needs the telegram extra: pip install -e "
                        "'.[telegram]'")
    runner = CliRunner()
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "telegram", "status"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"counts": {}, "chats": [], "recent_errors": []}
    out = tmp_path / "updates.jsonl"
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "telegram", "export-updates",
                                 str(out)])
    assert result.exit_code == 0 and out.read_text() == ""


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "telegram.md").read_text(encoding="utf-8")
    for name in TelegramSettings.model_fields:
        assert f"HAECHI_TELEGRAM_{name.upper()}" in doc, name


def test_the_download_limit_follows_the_server() -> None:
    assert TelegramSettings().download_limit() == 20 * 1024 * 1024
    assert TelegramSettings(api_url="http://127.0.0.1:8081").download_limit() == \
        2000 * 1024 * 1024
    assert TelegramSettings(max_download_bytes=10).download_limit() == 10


def test_haechi_telegram_run_as_a_new_user_would(engine: Engine, known: list[bytes],
                                                 database_url: str, tmp_path: Path) -> None:
    """The installed command against the stand-in: a known image is deleted, the sender
    warned; SIGTERM stops it cleanly."""
    pytest.importorskip("aiogram", reason="needs the telegram extra: pip install -e "
                        "'.[telegram]'")
    from telegram_harness import GROUP_A, photo_message
    from telegram_standin import TOKEN, StandIn

    async def scenario() -> None:
        standin = StandIn()
        await standin.start()
        env = {**os.environ, "HAECHI_TELEGRAM_TOKEN": TOKEN,
               "HAECHI_TELEGRAM_API_URL": standin.url,
               "HAECHI_TELEGRAM_POLLING_TIMEOUT_S": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from haechi.cli.main import main; main()",
            "--data-dir", str(tmp_path / "data"), "--database-url", database_url,
            "telegram", "run", env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        try:
            standin.push(photo_message(GROUP_A, 7001, 120, *standin.add_file(known[0])))
            # Generous: only a broken bot waits this long (the benchmark measures speed).
            for _ in range(1200):
                if (GROUP_A, 120) in standin.deleted and len(standin.called("sendMessage")) >= 2:
                    break
                await asyncio.sleep(0.1)
            assert (GROUP_A, 120) in standin.deleted
            assert {m["chat_id"] for m in standin.called("sendMessage")} == {GROUP_A, 7001}
            proc.send_signal(signal.SIGTERM)
            output, _ = await proc.communicate()
            assert proc.returncode == 0, output.decode()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await standin.stop()

    asyncio.run(scenario())
