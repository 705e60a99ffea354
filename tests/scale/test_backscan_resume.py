"""A back-scan killed mid-run (the whole process group, Ray included) resumes without
redoing recorded items, and ends with every item recorded once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scale_helpers import make_folder
from sqlalchemy import func, select

from haechi.engine import Engine
from haechi.scale.models import BackscanItem

pytest.importorskip("ray", reason="needs ray (pip install 'haechi[scale]')")


def _cli(database_url: str, data_dir: Path, *args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("haechi")), "--data-dir", str(data_dir),
            "--database-url", database_url, *args]


def _count(engine: Engine) -> int:
    with engine.db.session() as s:
        return s.scalar(select(func.count()).select_from(BackscanItem)) or 0


def test_killed_backscan_resumes_without_redoing_work(
        engine: Engine, database_url: str, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "store", images=60)
    total = 64
    args = ("backscan", str(folder), "--job", "crash", "--workers", "1", "--batch-size", "2",
            "--no-progress")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "first.log"
    with log.open("wb") as out:
        first = subprocess.Popen(_cli(database_url, tmp_path / "data", *args), env=env,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while _count(engine) < 8:
            assert first.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no items recorded in time"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)  # a crash: no clean-up of any kind
        first.wait()
    with engine.db.session() as s:
        before = {r.uri: (r.id, r.at) for r in s.scalars(select(BackscanItem))}
    assert 8 <= len(before) < total

    again = subprocess.run(_cli(database_url, tmp_path / "data", *args, "--resume", "--json"),
                           env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    report = again.stdout.strip().splitlines()[-1]
    assert f'"done_before":{len(before)}' in report
    assert f'"done":{total - len(before)}' in report and '"status":"done"' in report

    with engine.db.session() as s:
        rows = s.scalars(select(BackscanItem)).all()
    assert len(rows) == total and len({r.uri for r in rows}) == total
    for r in rows:
        if r.uri in before:  # recorded by the killed run: untouched, not redone
            assert (r.run, (r.id, r.at)) == (1, before[r.uri])
        else:
            assert r.run == 2
